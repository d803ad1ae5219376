// /metrics: the HTTP figures the server keeps (requests by route, method and
// status; durations by route) and the Prometheus text rendering of them and
// of the service's figures (journal, storage, transports, actors).
//
// Label sets are bounded by construction: routes are the API's templates
// (`/api/blasts/{id}/recipients/{recipient}`, never a raw path; anything else
// is `other`), methods and statuses come from fixed lists (a status outside
// the list counts under its class, `5xx`), transports from the configuration.
//
// Threading: record() from any thread (lock-free: one relaxed atomic
// increment and a histogram observation); render from any thread.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "actors/service.hpp"
#include "storage/histogram.hpp"

namespace blast::engine::http {

// The route template of a request target ("/api/blasts/7/report?x=1" →
// "/api/blasts/{id}/report"); "other" when it is no route of the API.
std::string_view route_of(std::string_view target);

class http_metrics {
public:
  http_metrics();
  http_metrics(const http_metrics&) = delete;
  http_metrics& operator=(const http_metrics&) = delete;

  // One answered request. `target` may be empty (a request too malformed to
  // have one): it counts under `other`.
  void record(std::string_view method, std::string_view target, unsigned status, double seconds);

  // The server's count of open connections, rendered as blastd_http_connections;
  // set once, before any request.
  void track_connections(std::shared_ptr<const std::atomic<size_t>> open) {
    connections_ = std::move(open);
  }

  // Appends blastd_http_requests_total and blastd_http_request_duration_seconds
  // (and blastd_http_connections when tracked).
  void render(std::string& out) const;

  static constexpr size_t route_count = 21;
  static constexpr size_t method_count = 8;
  static constexpr size_t status_count = 34;

private:
  std::unique_ptr<std::atomic<uint64_t>[]> requests_;  // [route][method][status]
  std::array<std::unique_ptr<storage::histogram>, route_count> durations_;
  std::shared_ptr<const std::atomic<size_t>> connections_;
};

// The whole exposition (text format 0.0.4): the service's figures and the
// server's. Every family has its HELP and TYPE lines.
std::string render_metrics(const actors::service_stats& s, const http_metrics& http);

} // namespace blast::engine::http
