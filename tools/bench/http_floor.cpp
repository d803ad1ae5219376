// http_floor: the least any HTTP server can do per request, to set blastd's webhook figures
// against: Boost.Beast on one I/O thread, as blastd's listener is by default, answering every
// request 200 {"ok":true} without reading it. tools/bench/pg_compare.sh posts webhook_bench's
// single-status workload to it (--post-to), so the table shows how much of a request's time is
// HTTP on these cores and how much is the engine behind it.
//
// usage: http_floor [--listen HOST:PORT]   (default 127.0.0.1:0)
// prints "listening on HOST:PORT" on stdout once it accepts; runs until killed.
#include <cstdio>
#include <exception>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace blast::tools::bench {
namespace {

class session : public std::enable_shared_from_this<session> {
public:
  explicit session(tcp::socket socket) : socket_(std::move(socket)) {}

  void read() {
    req_ = {};
    http::async_read(socket_, buffer_, req_,
                     [self = shared_from_this()](beast::error_code ec, std::size_t) {
                       if (!ec)
                         self->answer();
                     });
  }

private:
  void answer() {
    res_ = {http::status::ok, req_.version()};
    res_.set(http::field::content_type, "application/json");
    res_.keep_alive(req_.keep_alive());
    res_.body() = "{\"ok\":true}";
    res_.prepare_payload();
    http::async_write(socket_, res_,
                      [self = shared_from_this()](beast::error_code ec, std::size_t) {
                        if (!ec && self->res_.keep_alive())
                          self->read();
                      });
  }

  tcp::socket socket_;
  beast::flat_buffer buffer_;
  http::request<http::string_body> req_;
  http::response<http::string_body> res_;
};

void accept(tcp::acceptor& acceptor) {
  acceptor.async_accept([&acceptor](beast::error_code ec, tcp::socket socket) {
    if (!ec) {
      socket.set_option(tcp::no_delay(true));
      std::make_shared<session>(std::move(socket))->read();
    }
    accept(acceptor);
  });
}

} // namespace
} // namespace blast::tools::bench

int main(int argc, char** argv) {
  std::string host = "127.0.0.1", port = "0";
  if (argc == 3 && std::string_view(argv[1]) == "--listen") {
    std::string listen = argv[2];
    auto colon = listen.rfind(':');
    if (colon != std::string::npos)
      host = listen.substr(0, colon), port = listen.substr(colon + 1);
  } else if (argc != 1) {
    std::fprintf(stderr, "usage: http_floor [--listen HOST:PORT]\n");
    return 2;
  }
  try {
    asio::io_context io(1);
    tcp::acceptor acceptor(io, {asio::ip::make_address(host),
                                static_cast<unsigned short>(std::stoul(port))});
    std::printf("listening on %s:%u\n", host.c_str(),
                static_cast<unsigned>(acceptor.local_endpoint().port()));
    std::fflush(stdout);
    blast::tools::bench::accept(acceptor);
    io.run();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "http_floor: %s\n", e.what());
    return 1;
  }
}
