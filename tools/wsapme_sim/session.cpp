// The simulator's HTTP session: Beast's async read -> gateway -> (latency)
// -> write loop, modelled on Beast's example/http/server/async.
#include "tools/wsapme_sim/session.hpp"

#include <boost/asio/dispatch.hpp>

namespace beast = boost::beast;
namespace net = boost::asio;
namespace http = boost::beast::http;

namespace blast::tools::wsapme_sim {

namespace {
constexpr auto idle_timeout = std::chrono::seconds(60);
} // namespace

session::session(net::ip::tcp::socket&& socket, const handler_fn& handle, unsigned latency_ms)
    : stream_(std::move(socket)), latency_timer_(stream_.get_executor()), handle_(handle),
      latency_ms_(latency_ms) {}

void session::run() {
  net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->read(); });
}

void session::read() {
  req_ = {};
  stream_.expires_after(idle_timeout);
  http::async_read(
      stream_, buffer_, req_,
      [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
}

void session::on_read(beast::error_code ec) {
  if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
      ec == net::error::operation_aborted || ec == net::error::connection_reset ||
      ec == net::error::eof)
    return close();
  if (ec) {
    keep_alive_ = false;
    response bad;
    bad.status = 400;
    bad.body = R"({"success":false,"message":"Bad Request"})";
    return write(std::move(bad));
  }
  version_ = req_.version();
  keep_alive_ = req_.keep_alive();
  request r;
  r.method = std::string(req_.method_string());
  r.target = std::string(req_.target());
  for (auto& f : req_)
    r.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
  r.body = std::move(req_.body());
  auto res = handle_(r);
  // /sim/ routes are the test harness's window, not the gateway: no latency.
  auto latency = latency_ms_;
  if (latency == 0 || r.target.compare(0, 5, "/sim/") == 0)
    return write(std::move(res));
  latency_timer_.expires_after(std::chrono::milliseconds(latency));
  latency_timer_.async_wait([self = shared_from_this(), res = std::move(res)](
                                beast::error_code) mutable { self->write(std::move(res)); });
}

void session::write(response res) {
  auto out = std::make_shared<http::response<http::string_body>>(
      static_cast<http::status>(res.status), version_);
  out->set(http::field::server, "blast-sim");
  out->set(http::field::content_type, res.content_type);
  for (auto& [k, v] : res.headers)
    out->set(k, v);
  out->keep_alive(keep_alive_);
  out->body() = std::move(res.body);
  out->prepare_payload();
  stream_.expires_after(idle_timeout);
  http::async_write(stream_, *out,
                    [self = shared_from_this(), out](beast::error_code ec, std::size_t) {
                      if (ec || !out->keep_alive())
                        return self->close();
                      self->read();
                    });
}

void session::close() {
  beast::error_code ec;
  stream_.socket().shutdown(net::ip::tcp::socket::shutdown_send, ec);
  stream_.close();
}

} // namespace blast::tools::wsapme_sim
