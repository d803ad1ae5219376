// Per-path rate limits for /webhooks/{transport}: one token bucket per
// configured transport, so a provider (or anyone posting to its path) that
// floods blastd is answered 429 before its requests reach the log.
//
// Thread safety: admit() may be called from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "actors/token_bucket.hpp"

namespace blast::engine::http {

struct webhook_limit {
  double rate_per_second = 0;  // 0 = unlimited
  double burst = 0;            // bucket size; 0 = one second's worth (at least 1)
};

class webhook_limiter {
public:
  using clock = actors::token_bucket::clock;

  // One bucket per entry with a rate; the set is fixed here, so memory does
  // not grow with the paths clients make up.
  explicit webhook_limiter(const std::map<std::string, webhook_limit>& limits);

  // Takes a token of `transport`'s bucket: nullopt when the request may go
  // on, otherwise the whole seconds until a token is there (for Retry-After,
  // at least 1). A transport without a limit is always admitted.
  std::optional<int64_t> admit(const std::string& transport, clock::time_point now = clock::now());

private:
  std::mutex mu_;
  std::map<std::string, actors::token_bucket, std::less<>> buckets_;
};

} // namespace blast::engine::http
