// Token buckets for the webhook paths (see webhook_limiter.hpp).
#include "engine/http/webhook_limiter.hpp"

#include <algorithm>
#include <cmath>

namespace blast::engine::http {

webhook_limiter::webhook_limiter(const std::map<std::string, webhook_limit>& limits) {
  auto now = clock::now();
  for (auto& [name, l] : limits)
    if (l.rate_per_second > 0)
      buckets_.emplace(name, actors::token_bucket(l.rate_per_second,
                                                  l.burst > 0 ? l.burst : l.rate_per_second, now));
}

std::optional<int64_t> webhook_limiter::admit(const std::string& transport, clock::time_point now) {
  std::lock_guard lock{mu_};
  auto it = buckets_.find(transport);
  if (it == buckets_.end() || it->second.take(1, now) == 1)
    return std::nullopt;
  // Retry-After is in whole seconds: round up, so a retry at that time finds
  // a token.
  auto wait = std::chrono::duration<double>(it->second.until_next()).count();
  return std::max<int64_t>(1, static_cast<int64_t>(std::ceil(wait)));
}

} // namespace blast::engine::http
