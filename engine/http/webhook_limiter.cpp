// Token buckets for the webhook paths (see webhook_limiter.hpp).
#include "engine/http/webhook_limiter.hpp"

#include <algorithm>
#include <cmath>

namespace blast::engine::http {

webhook_limiter::webhook_limiter(const std::map<std::string, webhook_limit>& limits) {
  auto now = clock::now();
  for (auto& [name, l] : limits) {
    if (l.rate_per_second <= 0)
      continue;
    bucket b;
    b.rate = l.rate_per_second;
    b.burst = std::max(1.0, l.burst > 0 ? l.burst : l.rate_per_second);
    b.tokens = b.burst;  // a fresh start admits a burst at once
    b.refilled = now;
    buckets_.emplace(name, b);
  }
}

std::optional<int64_t> webhook_limiter::admit(const std::string& transport, clock::time_point now) {
  std::lock_guard lock{mu_};
  auto it = buckets_.find(transport);
  if (it == buckets_.end())
    return std::nullopt;
  auto& b = it->second;
  if (now > b.refilled) {
    b.tokens = std::min(b.burst, b.tokens + b.rate * std::chrono::duration<double>(
                                                       now - b.refilled).count());
    b.refilled = now;
  }
  if (b.tokens >= 1) {
    b.tokens -= 1;
    return std::nullopt;
  }
  // Retry-After is in whole seconds: round up, so a retry at that time finds
  // a token.
  return std::max<int64_t>(1, static_cast<int64_t>(std::ceil((1 - b.tokens) / b.rate)));
}

} // namespace blast::engine::http
