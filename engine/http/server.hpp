// The HTTP/1.1 server: a listener accepting connections and one session per
// connection (Boost.Beast), serialized on its executor, handing requests to the
// router. Beast stays in the .cpp files behind this header.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "engine/http/auth.hpp"
#include "engine/http/router.hpp"

namespace blast::engine::http {

struct server_options {
  std::string address = "127.0.0.1";
  uint16_t port = 8080;              // 0 = any free port (tests)
  size_t threads = 1;                // I/O threads
  size_t body_limit = 256ull << 20;  // admits a 1M-recipient blast with names and vars
  size_t header_limit = 16 << 10;
  // A deadline for a whole request, head and body, from its first byte: a
  // client trickling a byte at a time is cut off as surely as a silent one
  // (408). Also bounds each write of an answer.
  unsigned read_timeout_seconds = 30;
  // Checked on each request's headers, before its body is read, so that a
  // caller without a key cannot make blastd take in a 256 MiB body. Null or
  // empty: every request is let through (see the loopback rule in main).
  std::shared_ptr<const api_keys> keys;
  // How long a keep-alive connection may wait for the first byte of its next
  // request; past it the connection is closed without an answer.
  unsigned idle_timeout_seconds = 60;
  // Open connections at most; past it a new one is answered 503 and closed.
  // Lowered at start-up (with a warning) when the file descriptor limit
  // cannot hold it.
  size_t max_connections = 10'000;
  // The number of open connections, shared with whoever reports it
  // (/metrics); the server makes its own when this is null.
  std::shared_ptr<std::atomic<size_t>> connections;
  // At stop(): how long requests under way may take to be answered.
  unsigned drain_timeout_seconds = 10;
};

class server {
public:
  // Binds and starts accepting. Throws std::runtime_error when the address
  // cannot be bound, or the I/O backend cannot start (a start-up failure).
  server(router& r, server_options opts);
  ~server();  // stop()s
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  uint16_t port() const;  // the bound port
  size_t max_connections() const;  // as in effect (see server_options)
  // The I/O backend built in: "io_uring" or "epoll" (CMake's BLASTD_IO_URING).
  static const char* io_backend();
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
