// The logger: a line is formatted first, then written with one write(2).
#include "engine/log.hpp"

#include <atomic>
#include <chrono>
#include <unistd.h>

#include "engine/iso_time.hpp"

namespace blast::engine {

namespace {
std::atomic<int> level{static_cast<int>(log_level::info)};
constexpr const char* names[] = {"error", "warn", "info", "debug"};
} // namespace

bool parse_log_level(std::string_view s, log_level& out) {
  for (int i = 0; i < 4; ++i)
    if (s == names[i]) {
      out = static_cast<log_level>(i);
      return true;
    }
  return false;
}

void set_log_level(log_level l) { level = static_cast<int>(l); }
bool log_enabled(log_level l) { return static_cast<int>(l) <= level.load(); }

void log(log_level l, std::string_view message) {
  if (!log_enabled(l))
    return;
  using namespace std::chrono;
  auto now = duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
  std::string line = format_iso(now);
  line += ' ';
  line += names[static_cast<int>(l)];
  line += ' ';
  line += message;
  line += '\n';
  [[maybe_unused]] auto n = ::write(2, line.data(), line.size());
}

} // namespace blast::engine
