// One HTTP connection to the simulator: read a request, let the gateway
// answer it, wait the configured latency, write, and read again (keep-alive).
#pragma once

#include "tools/wsapme_sim/gateway.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <memory>

namespace blast::tools::wsapme_sim {

// Lives on its own strand; owned by the pending asynchronous operations.
class session : public std::enable_shared_from_this<session> {
public:
  session(boost::asio::ip::tcp::socket&& socket, gateway& gw);
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
  gateway& gw_;
  bool keep_alive_ = true;
  unsigned version_ = 11;
};

} // namespace blast::tools::wsapme_sim
