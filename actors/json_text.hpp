// JSON text written straight into a string, for the payloads the engine logs
// at high rates: the same bytes as serializing a Boost.JSON value, without
// building one (and copying its strings into it) first. And the bytes a client
// sends (webhook bodies, headers) as JSON text, which must be UTF-8.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/serializer.hpp>

namespace blast::actors {

// `s` as a JSON string (quoted, escaped) at the end of `out`. One serializer
// per thread, reset for each string: json::serialize built one, and a
// std::string, per call. `s` must be UTF-8 (the serializer copies any other
// byte through, which no JSON parser then reads).
inline void append_json_string(std::string& out, std::string_view s) {
  thread_local boost::json::serializer sr;
  sr.reset(boost::json::string_view(s.data(), s.size()));
  char buf[1024];
  while (!sr.done()) {
    auto part = sr.read(buf, sizeof buf);
    out.append(part.data(), part.size());
  }
}

// Whether `s` is UTF-8 (RFC 3629: no overlongs, no surrogates, nothing past U+10FFFF).
bool is_utf8(std::string_view s);
// `s` with each byte that does not begin a valid UTF-8 sequence replaced by U+FFFD: for text
// shown to people (error messages) that may quote what a client sent, and for a request's line
// and headers in the log.
std::string to_utf8(std::string_view s);
// append_json_string of to_utf8(s), with no copy when `s` is UTF-8 already.
void append_json_text(std::string& out, std::string_view s);
// `members` as a JSON object of such strings, the bytes serializing a boost::json::object
// filled by o[to_utf8(key)] = to_utf8(value) would give: a repeated key keeps its first place
// and its last value.
void append_json_text_object(std::string& out,
                             const std::vector<std::pair<std::string, std::string>>& members);

// Bytes kept verbatim in JSON: as the string member `key` when they are UTF-8, otherwise as
// `key` + "Base64" (RFC 4648), so that a body a provider sent in another encoding is kept byte
// for byte and the text around it still parses.
void append_bytes_member(std::string& out, std::string_view key, std::string_view bytes);
void put_bytes_member(boost::json::object& o, std::string_view key, std::string_view bytes);
// The bytes such a member holds in `o`; nullopt when it has neither form.
std::optional<std::string> bytes_member(const boost::json::object& o, std::string_view key);

} // namespace blast::actors
