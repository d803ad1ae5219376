// The fuzz targets' input format: an HTTP-like text, so that seeds are
// readable and the fuzzer's mutations stay mostly well-formed.
//
//   <first line>\n          e.g. "POST /api/blasts?x=1" or a target's own directive
//   <Name>: <value>\n       zero or more header lines
//   \n
//   <body>                  every byte after the blank line, verbatim
//
// Any byte string parses: a missing blank line means no body; a header line
// without ':' is a header with an empty value.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace blast::test::fuzz {

struct text_input {
  std::string first;  // the first line, without its '\n'
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

inline text_input parse_text_input(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  text_input out;
  auto line = [&in]() {
    size_t nl = in.find('\n');
    std::string_view l = in.substr(0, nl);
    in.remove_prefix(nl == std::string_view::npos ? in.size() : nl + 1);
    if (!l.empty() && l.back() == '\r')
      l.remove_suffix(1);
    return l;
  };
  out.first = std::string(line());
  while (!in.empty()) {
    std::string_view l = line();
    if (l.empty())
      break;
    size_t colon = l.find(':');
    std::string_view name = l.substr(0, colon);
    std::string_view value = colon == std::string_view::npos ? std::string_view() : l.substr(colon + 1);
    while (!value.empty() && value.front() == ' ')
      value.remove_prefix(1);
    out.headers.emplace_back(std::string(name), std::string(value));
  }
  out.body = std::string(in);
  return out;
}

// "METHOD rest" -> {"METHOD", "rest"}; no space: {"GET", line}.
inline std::pair<std::string, std::string> split_first_word(const std::string& line) {
  size_t sp = line.find(' ');
  if (sp == std::string::npos)
    return {"GET", line};
  return {line.substr(0, sp), line.substr(sp + 1)};
}

} // namespace blast::test::fuzz
