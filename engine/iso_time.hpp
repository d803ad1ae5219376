// ISO 8601 UTC times as the HTTP API speaks them ("2026-11-28T06:00:00.123Z").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace blast::engine {

std::string format_iso(int64_t ms_since_epoch);
// Accepts "YYYY-MM-DDTHH:MM:SS[.fff…](Z|±HH:MM)"; a time zone is required so
// that no time is silently read as local.
std::optional<int64_t> parse_iso(std::string_view text);

} // namespace blast::engine
