// A minimal leveled logger: one line per record on stderr, thread-safe (a
// single write per line), time-stamped in UTC.
#pragma once

#include <string>
#include <string_view>

namespace blast::engine {

enum class log_level { error = 0, warn = 1, info = 2, debug = 3 };

bool parse_log_level(std::string_view s, log_level& out);
void set_log_level(log_level l);
bool log_enabled(log_level l);
void log(log_level l, std::string_view message);

} // namespace blast::engine
