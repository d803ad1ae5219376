// The listener and the wiring: accepts connections on loopback and starts a
// session on a strand of its own for each; the I/O threads run here.
#include "tools/wsapme_sim/simulator.hpp"

#include "tools/wsapme_sim/session.hpp"
#include "tools/wsapme_sim/webhook_sender.hpp"

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>
#include <stdexcept>
#include <thread>
#include <vector>

namespace net = boost::asio;
using tcp = boost::asio::ip::tcp;

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

// Member order matters: destroyed in reverse, the threads (stopped first)
// go before the gateway, and the gateway before the sender it posts to.
struct simulator::impl {
  explicit impl(sim_options o)
      : sender(make_sender(o)), gw(o, sender.get()), ioc(static_cast<int>(o.threads)),
        acceptor(net::make_strand(ioc)) {
    boost::system::error_code ec;
    auto addr = net::ip::make_address(o.address, ec);
    if (ec)
      throw std::invalid_argument("invalid listen address '" + o.address + "'");
    tcp::endpoint ep{addr, o.port};
    acceptor.open(ep.protocol(), ec);
    if (!ec)
      acceptor.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec)
      acceptor.bind(ep, ec);
    if (!ec)
      acceptor.listen(net::socket_base::max_listen_connections, ec);
    if (ec)
      throw std::runtime_error("cannot listen on " + o.address + ":" + std::to_string(o.port) +
                               ": " + ec.message());
    port = acceptor.local_endpoint().port();
    accept();
    for (unsigned i = 0; i < std::max(1u, o.threads); ++i)
      threads.emplace_back([this] { ioc.run(); });
  }

  void accept() {
    acceptor.async_accept(net::make_strand(ioc),
                          [this](boost::system::error_code ec, tcp::socket socket) {
                            if (ec == net::error::operation_aborted)
                              return;
                            if (!ec)
                              std::make_shared<session>(std::move(socket), gw)->run();
                            accept();
                          });
  }

  void stop() {
    if (stopped)
      return;
    stopped = true;
    net::post(acceptor.get_executor(), [this] {
      boost::system::error_code ec;
      acceptor.close(ec);
    });
    ioc.stop();
    for (auto& t : threads)
      t.join();
    if (sender)
      sender->stop();
  }

  std::unique_ptr<webhook_sender> sender;
  gateway gw;
  net::io_context ioc;
  tcp::acceptor acceptor;
  std::vector<std::thread> threads;
  uint16_t port = 0;
  bool stopped = false;
};

simulator::simulator(sim_options opts) : impl_(std::make_unique<impl>(std::move(opts))) {}

simulator::~simulator() {
  stop();
}

uint16_t simulator::port() const {
  return impl_->port;
}

gateway& simulator::gw() {
  return impl_->gw;
}

void simulator::stop() {
  impl_->stop();
}

} // namespace blast::tools::wsapme_sim
