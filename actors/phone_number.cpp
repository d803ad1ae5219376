// Phone number normalisation.
#include "actors/phone_number.hpp"

namespace blast::actors {

std::optional<uint64_t> parse_phone(std::string_view text) {
  uint64_t value = 0;
  int digits = 0;
  bool plus_seen = false;
  for (char c : text) {
    if (c >= '0' && c <= '9') {
      if (digits == 0 && c == '0')
        return std::nullopt;
      if (++digits > 15)
        return std::nullopt;
      value = value * 10 + static_cast<uint64_t>(c - '0');
    } else if (c == '+') {
      if (plus_seen || digits > 0)
        return std::nullopt;
      plus_seen = true;
    } else if (c != ' ' && c != '-' && c != '.' && c != '(' && c != ')') {
      return std::nullopt;
    }
  }
  if (digits < 7)
    return std::nullopt;
  return value;
}

std::string format_phone(uint64_t phone) { return std::to_string(phone); }

} // namespace blast::actors
