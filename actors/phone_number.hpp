// Phone numbers as blastd stores them: E.164 digits without '+', packed in a
// uint64 (15 digits fit), so a million recipients cost 8 bytes each.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace blast::actors {

// Normalises user input ("+60 12-345 6789", "(601) 23456789") to its digits.
// Accepts '+', spaces, '-', '.', '(' and ')' as decoration; the result must
// have 7 to 15 digits and not start with 0 (E.164: country codes never do).
std::optional<uint64_t> parse_phone(std::string_view text);
std::string format_phone(uint64_t phone);

} // namespace blast::actors
