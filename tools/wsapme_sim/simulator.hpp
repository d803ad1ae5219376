// The whole simulator in one object: the gateway, its webhook sender and an
// HTTP/1.1 listener on loopback, so tests can run it in-process on port 0.
#pragma once

#include "tools/wsapme_sim/gateway.hpp"
#include "tools/wsapme_sim/sim_options.hpp"

#include <cstdint>
#include <memory>

namespace blast::tools::wsapme_sim {

// Construction validates the options, listens and starts the I/O threads and
// the webhook thread; it throws std::invalid_argument or std::runtime_error
// when it cannot. stop() (or the destructor) joins them all; webhooks still
// queued are dropped.
class simulator {
public:
  explicit simulator(sim_options opts);
  ~simulator();
  simulator(const simulator&) = delete;
  simulator& operator=(const simulator&) = delete;

  uint16_t port() const;
  gateway& gw();
  void stop();

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace blast::tools::wsapme_sim
