// The simulated WSAPME gateway: its messages, their planned stage timelines,
// and the HTTP API as a function request -> response that never sees a socket.
#pragma once

#include "tools/wsapme_sim/sim_options.hpp"

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace blast::tools::wsapme_sim {

class webhook_sender;

struct request {
  std::string method; // "GET", "POST"
  std::string target; // origin form, may carry a query
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // Value of the first header named `name` (case-insensitive), or "".
  std::string header(std::string_view name) const;
};

struct response {
  unsigned status = 200;
  std::vector<std::pair<std::string, std::string>> headers; // besides Content-Type
  std::string body;
  std::string content_type = "application/json";
};

// Every accepted send gets a plan the moment it is accepted: stage offsets,
// webhook due times and event ids, drawn from an RNG seeded by (--seed, the
// number, how many sends that number had before). So a blast's outcome per
// recipient does not depend on the order concurrent sends arrive in.
// Look-ups report the stage reached by the plan at the time of the look-up.
//
// Thread-safe: handle() may run on several I/O threads at once.
class gateway {
public:
  // `sender` may be null (no webhooks); it must outlive the gateway.
  gateway(sim_options opts, webhook_sender* sender);
  ~gateway();
  gateway(const gateway&) = delete;
  gateway& operator=(const gateway&) = delete;

  response handle(const request& req);
  const sim_options& options() const;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace blast::tools::wsapme_sim
