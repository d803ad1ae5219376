// One HTTP connection to a simulator: read a request, let the handler answer
// it, wait the configured latency, write, and read again (keep-alive). Shared
// by the simulators in tools/ (wsapme-sim, wacloud-sim) through `listener`.
#pragma once

#include "tools/wsapme_sim/gateway.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <functional>
#include <memory>

namespace blast::tools::wsapme_sim {

// A simulator's request -> response function; runs on the I/O threads.
using handler_fn = std::function<response(const request&)>;

// Lives on its own strand; owned by the pending asynchronous operations.
// `handle` must outlive it; `latency_ms` is added to answers outside /sim/.
class session : public std::enable_shared_from_this<session> {
public:
  session(boost::asio::ip::tcp::socket&& socket, const handler_fn& handle, unsigned latency_ms);
  void run();

private:
  void read();
  void on_read(boost::beast::error_code ec);
  void write(response res);
  void close();

  boost::beast::tcp_stream stream_;
  boost::beast::flat_buffer buffer_;
  boost::beast::http::request<boost::beast::http::string_body> req_;
  boost::asio::steady_timer latency_timer_;
  const handler_fn& handle_;
  unsigned latency_ms_;
  bool keep_alive_ = true;
  unsigned version_ = 11;
};

} // namespace blast::tools::wsapme_sim
