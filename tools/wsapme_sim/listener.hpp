// An HTTP/1.1 listener on loopback for the simulators in tools/: accepts connections and runs a
// `session` per connection on its own strand, on I/O threads of its own.
#pragma once

#include "tools/wsapme_sim/session.hpp"

#include <cstdint>
#include <memory>
#include <string>

namespace blast::tools::wsapme_sim {

// Construction listens and starts the threads; it throws std::invalid_argument (bad address)
// or std::runtime_error (cannot listen). stop() (or the destructor) closes and joins. `handle`
// runs on the I/O threads, concurrently when threads > 1.
class listener {
public:
  listener(const std::string& address, uint16_t port, unsigned threads, handler_fn handle,
           unsigned latency_ms);
  ~listener();
  listener(const listener&) = delete;
  listener& operator=(const listener&) = delete;

  uint16_t port() const;
  void stop();

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace blast::tools::wsapme_sim
