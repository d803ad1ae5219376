// The HTTP/1.1 server: a listener accepting connections and one session per
// connection (Boost.Beast), each on its own strand, handing requests to the
// router. Beast stays in the .cpp files behind this header.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "engine/http/router.hpp"

namespace blast::engine::http {

struct server_options {
  std::string address = "127.0.0.1";
  uint16_t port = 8080;              // 0 = any free port (tests)
  size_t threads = 1;                // I/O threads
  size_t body_limit = 256ull << 20;  // admits a 1M-recipient blast with names and vars
  size_t header_limit = 16 << 10;
  unsigned read_timeout_seconds = 30;
  // At stop(): how long requests under way may take to be answered.
  unsigned drain_timeout_seconds = 10;
};

class server {
public:
  // Binds and starts accepting. Throws std::runtime_error when the address
  // cannot be bound (a start-up failure).
  server(router& r, server_options opts);
  ~server();  // stop()s
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  uint16_t port() const;  // the bound port
  // Stops accepting, closes idle connections, lets the requests under way be
  // answered (for up to drain_timeout_seconds; their connections then close),
  // ends streamed bodies, and joins the I/O threads. Call it before stopping
  // the service, so that answers waiting on a commit still get it.
  void stop();

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace blast::engine::http
