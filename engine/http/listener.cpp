// The listener: accepts connections and starts a session on a strand of its
// own for each; the I/O threads run here.
#include <chrono>
#include <future>
#include <stdexcept>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>

#include "engine/http/server.hpp"
#include "engine/http/session.hpp"
#include "engine/log.hpp"

namespace net = boost::asio;
using tcp = boost::asio::ip::tcp;

namespace blast::engine::http {

struct server::impl {
  impl(router& r, server_options o)
    : router_(r), opts(std::move(o)), ioc(static_cast<int>(opts.threads)),
      acceptor(net::make_strand(ioc)) {}

  void accept() {
    acceptor.async_accept(net::make_strand(ioc), [this](boost::system::error_code ec,
                                                        tcp::socket socket) {
      if (ec == net::error::operation_aborted)
        return;
      if (ec)
        log(log_level::warn, "accept failed: " + ec.message());
      else
        std::make_shared<session>(std::move(socket), router_, opts, registry)->run();
      accept();
    });
  }

  router& router_;
  server_options opts;
  std::shared_ptr<session_registry> registry = std::make_shared<session_registry>();
  net::io_context ioc;
  // A session waiting for the router's answer (a commit) has no operation
  // pending in the io_context: without this guard, run() would return once
  // the acceptor closes at a shutdown, and those answers would never be written.
  net::executor_work_guard<net::io_context::executor_type> work{ioc.get_executor()};
  tcp::acceptor acceptor;
  std::vector<std::thread> threads;
  uint16_t port = 0;
  bool stopped = false;
};

server::server(router& r, server_options opts) : impl_(std::make_unique<impl>(r, opts)) {
  boost::system::error_code ec;
  auto addr = net::ip::make_address(impl_->opts.address, ec);
  if (ec)
    throw std::runtime_error("invalid listen address '" + impl_->opts.address + "'");
  tcp::endpoint ep{addr, impl_->opts.port};
  auto& a = impl_->acceptor;
  a.open(ep.protocol(), ec);
  if (!ec)
    a.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec)
    a.bind(ep, ec);
  if (!ec)
    a.listen(net::socket_base::max_listen_connections, ec);
  if (ec)
    throw std::runtime_error("cannot listen on " + impl_->opts.address + ":" +
                             std::to_string(impl_->opts.port) + ": " + ec.message());
  impl_->port = a.local_endpoint().port();
  impl_->accept();
  for (size_t i = 0; i < std::max<size_t>(1, impl_->opts.threads); ++i)
    impl_->threads.emplace_back([this] { impl_->ioc.run(); });
}

server::~server() { stop(); }

uint16_t server::port() const { return impl_->port; }

void server::stop() {
  if (impl_->stopped)
    return;
  impl_->stopped = true;
  auto& reg = *impl_->registry;
  // No new connection: the port refuses from now on.
  std::promise<void> closed;
  net::post(impl_->acceptor.get_executor(), [this, &closed] {
    boost::system::error_code ec;
    impl_->acceptor.close(ec);
    closed.set_value();
  });
  closed.get_future().wait();
  // Idle connections close; requests under way (a commit being made durable,
  // say) are answered with "Connection: close"; then the I/O threads stop.
  reg.draining.store(true, std::memory_order_release);
  std::vector<std::shared_ptr<session>> live;
  {
    std::lock_guard lock{reg.mu};
    for (auto& [p, weak] : reg.live)
      if (auto s = weak.lock())
        live.push_back(std::move(s));
  }
  for (auto& s : live)
    s->drain();
  live.clear();  // a session must be able to end while we wait
  {
    std::unique_lock lock{reg.mu};
    if (!reg.cv.wait_for(lock, std::chrono::seconds(impl_->opts.drain_timeout_seconds),
                         [&] { return reg.live.empty(); }))
      log(log_level::warn, std::to_string(reg.live.size()) +
                             " connections still busy at the end of the shutdown's grace "
                             "period; closing them");
  }
  impl_->work.reset();
  impl_->ioc.stop();
  for (auto& t : impl_->threads)
    t.join();
}

} // namespace blast::engine::http
