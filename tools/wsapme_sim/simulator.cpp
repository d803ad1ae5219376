// The wiring: the gateway, its webhook sender and a listener serving the gateway.
#include "tools/wsapme_sim/simulator.hpp"

#include "tools/wsapme_sim/listener.hpp"
#include "tools/wsapme_sim/webhook_sender.hpp"

namespace blast::tools::wsapme_sim {

namespace {

std::unique_ptr<webhook_sender> make_sender(const sim_options& o) {
  validate(o);
  if (o.webhook_url.empty())
    return nullptr;
  webhook_sender_options w;
  w.url = o.webhook_url;
  w.secret = o.webhook_secret;
  w.tries = o.webhook_tries;
  w.backoff_ms = o.webhook_backoff_ms;
  w.timeout_ms = o.webhook_timeout_ms;
  return std::make_unique<webhook_sender>(std::move(w));
}

} // namespace

// Member order matters: destroyed in reverse, the listener's threads (stopped first) go
// before the gateway, and the gateway before the sender it posts to.
struct simulator::impl {
  explicit impl(sim_options o)
      : sender(make_sender(o)), gw(o, sender.get()),
        server(o.address, o.port, o.threads, [this](const request& r) { return gw.handle(r); },
               o.latency_ms) {}

  void stop() {
    server.stop();
    if (sender)
      sender->stop();
  }

  std::unique_ptr<webhook_sender> sender;
  gateway gw;
  listener server;
};

simulator::simulator(sim_options opts) : impl_(std::make_unique<impl>(std::move(opts))) {}

simulator::~simulator() {
  stop();
}

uint16_t simulator::port() const {
  return impl_->server.port();
}

gateway& simulator::gw() {
  return impl_->gw;
}

void simulator::stop() {
  impl_->stop();
}

} // namespace blast::tools::wsapme_sim
