// The simulators' listener: Beast's async accept loop on loopback, a session per connection on
// a strand of its own, and the I/O threads that run them.
#include "tools/wsapme_sim/listener.hpp"

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

struct listener::impl {
  impl(const std::string& address, uint16_t port_wanted, unsigned n_threads, handler_fn h,
       unsigned latency)
      : handle(std::move(h)), latency_ms(latency), ioc(static_cast<int>(n_threads)),
        acceptor(net::make_strand(ioc)) {
    boost::system::error_code ec;
    auto addr = net::ip::make_address(address, ec);
    if (ec)
      throw std::invalid_argument("invalid listen address '" + address + "'");
    tcp::endpoint ep{addr, port_wanted};
    acceptor.open(ep.protocol(), ec);
    if (!ec)
      acceptor.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec)
      acceptor.bind(ep, ec);
    if (!ec)
      acceptor.listen(net::socket_base::max_listen_connections, ec);
    if (ec)
      throw std::runtime_error("cannot listen on " + address + ":" + std::to_string(port_wanted) +
                               ": " + ec.message());
    port = acceptor.local_endpoint().port();
    accept();
    for (unsigned i = 0; i < std::max(1u, n_threads); ++i)
      threads.emplace_back([this] { ioc.run(); });
  }

  void accept() {
    acceptor.async_accept(net::make_strand(ioc),
                          [this](boost::system::error_code ec, tcp::socket socket) {
                            if (ec == net::error::operation_aborted)
                              return;
                            if (!ec)
                              std::make_shared<session>(std::move(socket), handle, latency_ms)
                                  ->run();
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
  }

  handler_fn handle;
  unsigned latency_ms;
  net::io_context ioc;
  tcp::acceptor acceptor;
  std::vector<std::thread> threads;
  uint16_t port = 0;
  bool stopped = false;
};

listener::listener(const std::string& address, uint16_t port, unsigned threads,
                   handler_fn handle, unsigned latency_ms)
    : impl_(std::make_unique<impl>(address, port, threads, std::move(handle), latency_ms)) {}

listener::~listener() {
  stop();
}

uint16_t listener::port() const {
  return impl_->port;
}

void listener::stop() {
  impl_->stop();
}

} // namespace blast::tools::wsapme_sim
