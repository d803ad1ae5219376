// Delivers the simulator's webhooks: one dedicated thread draining a queue
// ordered by due time, over one keep-alive connection, with signed bodies.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace blast::tools::wsapme_sim {

struct webhook_target {
  std::string host;
  std::string port;
  std::string path; // origin form, "/" at least
};

// "http://host:port/path" (the port defaults to 80); nullopt otherwise.
std::optional<webhook_target> parse_webhook_url(const std::string& url);

// Lower-case hex of HMAC-SHA256(key, data), as in X-Wsapme-Signature.
std::string hmac_sha256_hex(std::string_view key, std::string_view data);

struct webhook_stats {
  uint64_t scheduled = 0; // copies handed to schedule()
  uint64_t sent = 0;      // copies answered 2xx
  uint64_t failed = 0;    // copies given up after every try
  uint64_t retried = 0;   // attempts after a first failure
  uint64_t pending = 0;   // copies queued or in flight
};

struct webhook_sender_options {
  std::string url;
  std::string secret; // empty = unsigned
  std::string signature_header = "X-Wsapme-Signature"; // carries sha256=<hex HMAC of the body>
  unsigned tries = 3;
  unsigned backoff_ms = 200;
  unsigned timeout_ms = 5000;
};

// Thread-safe: schedule() and stats() may be called from any thread. A copy
// answered non-2xx or lost to a connection error is tried again after a
// doubling backoff, up to `tries` attempts. Events still queued at stop()
// are dropped: the simulator is a test double, not a durable outbox.
class webhook_sender {
public:
  // Throws std::invalid_argument when the URL is unusable. Starts the thread.
  explicit webhook_sender(webhook_sender_options opts);
  ~webhook_sender();
  webhook_sender(const webhook_sender&) = delete;
  webhook_sender& operator=(const webhook_sender&) = delete;

  // POSTs `body` (a JSON document) once `due` has passed.
  void schedule(std::chrono::steady_clock::time_point due, std::string body);
  webhook_stats stats() const;
  void stop();

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace blast::tools::wsapme_sim
