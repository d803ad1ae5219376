// A token bucket: `rate` tokens a second, at most `burst` saved up. The
// transport actor paces sends with one; the HTTP layer admits webhooks with
// one per transport. Not thread-safe: its owner serializes the calls.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>

namespace blast::actors {

class token_bucket {
public:
  using clock = std::chrono::steady_clock;

  // Starts full: a fresh start admits a burst at once. A burst under one
  // token could never admit anything, so it is at least 1.
  token_bucket(double rate_per_second, double burst, clock::time_point now)
    : rate_(rate_per_second), burst_(std::max(1.0, burst)), tokens_(burst_), refilled_(now) {}

  // Takes up to `want` whole tokens; returns how many it took.
  size_t take(size_t want, clock::time_point now) {
    refill(now);
    auto n = std::min(want, static_cast<size_t>(tokens_));
    tokens_ -= static_cast<double>(n);
    return n;
  }

  // After a take() that came up short: how long until a whole token is there.
  clock::duration until_next() const {
    return std::chrono::duration_cast<clock::duration>(
      std::chrono::duration<double>((1.0 - tokens_) / rate_));
  }

private:
  void refill(clock::time_point now) {
    if (now <= refilled_)
      return;
    tokens_ = std::min(burst_, tokens_ + rate_ * std::chrono::duration<double>(now - refilled_).count());
    refilled_ = now;
  }

  double rate_;
  double burst_;
  double tokens_;
  clock::time_point refilled_;
};

} // namespace blast::actors
