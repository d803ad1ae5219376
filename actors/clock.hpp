// Wall-clock time as the actors record it: ms since the Unix epoch, UTC.
#pragma once

#include <chrono>
#include <cstdint>

namespace blast::actors {

inline int64_t now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

} // namespace blast::actors
