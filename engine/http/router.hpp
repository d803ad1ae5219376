// The HTTP API as a function from request to response: parses and validates
// input, calls the actor service, renders JSON. No socket, no Beast, no CAF:
// tests drive it directly, the session drives it over TCP.
//
// Threading: handle() may be called from any thread; `done` is called exactly
// once, possibly on another thread (an actor's), and must not block.
#pragma once

#include <atomic>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "actors/service.hpp"
#include "engine/http/message.hpp"
#include "engine/http/metrics.hpp"
#include "engine/http/streams.hpp"
#include "engine/http/webhook_limiter.hpp"

namespace blast::engine::http {

struct router_options {
  size_t max_recipients = 5'000'000;  // per blast
  size_t max_message_bytes = 4096;    // WhatsApp's text limit
  size_t max_page = 1000;             // recipients per page
  int64_t unmatched_after_ms = 60'000; // GET /api/unmatched lists what waited longer than this
  report_stream_options report_stream;  // GET /api/blasts/{id}/report/stream
  // Per transport: POST /webhooks/{transport} over its rate gets 429.
  std::map<std::string, webhook_limit> webhook_limits;
  // The server's open connections, for /metrics (blastd_http_connections); null: not shown.
  std::shared_ptr<const std::atomic<size_t>> http_connections;
};

class router {
public:
  using done_fn = std::function<void(response)>;
  router(actors::service& svc, router_options opts = {});
  void handle(request req, done_fn done);

  // The HTTP figures /metrics renders; the server records each answer here.
  http_metrics& metrics() { return metrics_; }

private:
  actors::service& svc_;
  router_options opts_;
  std::unique_ptr<webhook_limiter> webhook_limiter_;
  http_metrics metrics_;
};

// An error response: {"error": {"code", "message"}}.
response error_response(unsigned status, const char* code, const std::string& message);

} // namespace blast::engine::http
