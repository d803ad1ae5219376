// JSON text written straight into a string, for the payloads the engine logs
// at high rates: the same bytes as serializing a Boost.JSON value, without
// building one (and copying its strings into it) first.
#pragma once

#include <string>
#include <string_view>

#include <boost/json/serializer.hpp>

namespace blast::actors {

// `s` as a JSON string (quoted, escaped) at the end of `out`. One serializer
// per thread, reset for each string: json::serialize built one, and a
// std::string, per call.
inline void append_json_string(std::string& out, std::string_view s) {
  thread_local boost::json::serializer sr;
  sr.reset(boost::json::string_view(s.data(), s.size()));
  char buf[1024];
  while (!sr.done()) {
    auto part = sr.read(buf, sizeof buf);
    out.append(part.data(), part.size());
  }
}

} // namespace blast::actors
