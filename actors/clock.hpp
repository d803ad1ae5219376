// Wall-clock time as the actors record it: ms since the Unix epoch, UTC.
#pragma once

#include <chrono>
#include <cstdint>
#include <limits>

namespace blast::actors {

inline int64_t now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

// `t - span`, clamped to int64's range: both may come from a log or a snapshot
// an auditor handed over damaged, where plain subtraction would overflow (UB).
inline int64_t ms_before(int64_t t, int64_t span) {
  int64_t out;
  if (__builtin_sub_overflow(t, span, &out))
    return span > 0 ? std::numeric_limits<int64_t>::min() : std::numeric_limits<int64_t>::max();
  return out;
}

} // namespace blast::actors
