// A small scanner over already-validated JSON that finds the byte range of a top-level member's
// value: enough structure (strings, nesting) to skip a value, nothing else.
#include "json_span.hpp"

#include <boost/json.hpp>
#include <cstddef>
#include <string>

namespace blast::plugins::wsapme {
namespace {

class scanner {
public:
  explicit scanner(std::string_view t) : t_(t) {}

  bool at_end() const { return i_ >= t_.size(); }
  char peek() const { return at_end() ? '\0' : t_[i_]; }
  size_t pos() const { return i_; }
  void advance() { ++i_; }

  void skip_ws() {
    while (!at_end() && (t_[i_] == ' ' || t_[i_] == '\t' || t_[i_] == '\n' || t_[i_] == '\r'))
      ++i_;
  }

  // At a '"': moves past the closing quote. A backslash always escapes exactly the next
  // character (\uXXXX's digits are plain characters), so skipping one after it is enough.
  bool skip_string() {
    ++i_;
    while (!at_end()) {
      char c = t_[i_];
      if (c == '\\')
        i_ += 2;
      else if (c == '"') {
        ++i_;
        return true;
      } else
        ++i_;
    }
    return false;
  }

  // Skips one value of any kind. Nested containers are skipped by counting brackets, strings
  // aside (a bracket inside a string is text).
  bool skip_value() {
    char c = peek();
    if (c == '"')
      return skip_string();
    if (c == '{' || c == '[') {
      int depth = 0;
      do {
        if (at_end())
          return false;
        c = t_[i_];
        if (c == '"') {
          if (!skip_string())
            return false;
          continue;
        }
        if (c == '{' || c == '[')
          ++depth;
        else if (c == '}' || c == ']')
          --depth;
        ++i_;
      } while (depth > 0);
      return true;
    }
    // A number or a literal: ends at a delimiter or white space.
    size_t start = i_;
    while (!at_end() && std::string_view(",}] \t\r\n").find(t_[i_]) == std::string_view::npos)
      ++i_;
    return i_ > start;
  }

private:
  std::string_view t_;
  size_t i_ = 0;
};

// A member name as written (with its quotes) compared with `name`, decoding escapes if any.
bool name_equals(std::string_view quoted, std::string_view name) {
  std::string_view inner = quoted.substr(1, quoted.size() - 2);
  if (inner.find('\\') == std::string_view::npos)
    return inner == name;
  boost::json::error_code ec;
  boost::json::value v =
      boost::json::parse(boost::json::string_view(quoted.data(), quoted.size()), ec);
  return !ec && v.is_string() &&
         std::string_view(v.get_string().data(), v.get_string().size()) == name;
}

} // namespace

std::optional<std::string_view> member_span(std::string_view text, std::string_view name) {
  scanner s(text);
  s.skip_ws();
  if (s.peek() != '{')
    return std::nullopt;
  s.advance();
  s.skip_ws();
  std::optional<std::string_view> found;
  if (s.peek() == '}')
    return found;
  for (;;) {
    if (s.peek() != '"')
      return std::nullopt;
    size_t key_begin = s.pos();
    if (!s.skip_string())
      return std::nullopt;
    std::string_view key = text.substr(key_begin, s.pos() - key_begin);
    s.skip_ws();
    if (s.peek() != ':')
      return std::nullopt;
    s.advance();
    s.skip_ws();
    size_t value_begin = s.pos();
    if (!s.skip_value() || s.pos() > text.size())
      return std::nullopt;
    if (name_equals(key, name))
      found = text.substr(value_begin, s.pos() - value_begin);
    s.skip_ws();
    if (s.peek() == ',') {
      s.advance();
      s.skip_ws();
      continue;
    }
    return s.peek() == '}' ? found : std::nullopt;
  }
}

} // namespace blast::plugins::wsapme
