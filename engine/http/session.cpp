// The HTTP session: Beast's async read → router → write loop.
#include "engine/http/session.hpp"

#include <array>
#include <charconv>
#include <cstdio>
#include <malloc.h>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>

#include "engine/log.hpp"

namespace beast = boost::beast;
namespace net = boost::asio;
namespace bhttp = boost::beast::http;

namespace blast::engine::http {

namespace {
constexpr size_t large_body = 8u << 20;
constexpr size_t big_read_buffer = 256u << 10;
constexpr size_t idle_read_size = 64u << 10;  // Beast's own bound on one read
constexpr size_t max_refused_body = 64u << 10;  // read and dropped after a 401/403
} // namespace

session::session(net::ip::tcp::socket&& socket, router& r, const server_options& opts,
                 std::shared_ptr<std::atomic<size_t>> slot,
                 std::shared_ptr<session_registry> registry)
  : stream_(std::move(socket)), slot_(std::move(slot)), timer_(stream_.get_executor()),
    deadline_(stream_.get_executor()), router_(r), opts_(opts), registry_(std::move(registry)) {}

session::~session() {
  std::lock_guard lock{registry_->mu};
  registry_->live.erase(this);
  registry_->cv.notify_all();
}

void session::run() {
  {
    std::lock_guard lock{registry_->mu};
    registry_->live.emplace(this, weak_from_this());
  }
  net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->read(); });
}

void session::refuse(response res) {
  auto answer = [self = shared_from_this(), res = std::move(res)]() mutable {
    self->started_ = std::chrono::steady_clock::now();
    self->log_prefix_ = "(connection refused)";
    self->write(std::move(res), false, true);
  };
  net::dispatch(stream_.get_executor(), std::move(answer));
}

// Deadlines are our own timer, not the stream's: a stream that times out
// closes its socket, and a client whose request was cut off is owed a 408.
// A request arms and disarms three deadlines, so arming only writes the time:
// the timer is never cancelled or moved early (each cancellation ran an
// aborted handler, each wait touched the timer queue). A wait ends at most
// min(idle, read timeout) after it began, and every deadline is armed at least
// that far ahead, so the pending wait never ends after the deadline armed;
// when it ends before, it waits again.
void session::arm_deadline(unsigned seconds) {
  deadline_at_ = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  deadline_armed_ = true;
  if (!deadline_waiting_)
    wait_deadline();
}

void session::wait_deadline() {
  const auto step = std::chrono::seconds(
    std::max(1u, std::min(opts_.idle_timeout_seconds, opts_.read_timeout_seconds)));
  deadline_waiting_ = true;
  deadline_.expires_at(std::min(deadline_at_, std::chrono::steady_clock::now() + step));
  deadline_.async_wait([self = shared_from_this()](beast::error_code ec) {
    self->deadline_waiting_ = false;
    if (ec || !self->deadline_armed_)
      return;  // closed (cancelled), or nothing to time: the next arm waits again
    if (std::chrono::steady_clock::now() < self->deadline_at_)
      return self->wait_deadline();
    self->deadline_armed_ = false;
    self->timed_out_ = true;
    beast::error_code ignored;
    self->stream_.socket().cancel(ignored);  // the pending read or write ends: operation_aborted
  });
}

void session::drain() {
  net::dispatch(stream_.get_executor(), [self = shared_from_this()] {
    if (self->streaming_)
      return self->close();  // an SSE stream never ends by itself; a CSV export is cut
    if (self->busy_)
      return;  // answered, then closed (write() and read() see the shutdown)
    // Waiting for a header: if the bytes of a request are already here, the
    // client sent it before the shutdown, so it is read and answered too.
    beast::error_code ec;
    auto arrived = self->stream_.socket().available(ec);
    if (!ec && (arrived > 0 || self->buffer_.size() > 0))
      return;
    self->close();
  });
}

void session::read() {
  key_name_.clear();
  denied_.reset();
  busy_ = false;
  streaming_ = false;
  // A shutdown began: no next request on this connection. (Checked here too,
  // not only in drain(): this session may have been busy when drain() ran.)
  if (draining())
    return close();
  parser_.emplace();
  parser_->body_limit(opts_.body_limit);
  parser_->header_limit(static_cast<uint32_t>(opts_.header_limit));
  stream_.expires_never();  // the deadlines below bound the reads
  timed_out_ = false;
  if (buffer_.size() > 0)
    return read_request();  // pipelined: the next request has begun
  // Idle between requests: wait for its first bytes, and close quietly when
  // none come (nothing was asked, so nothing is owed). A read, not a wait for
  // readability: Asio re-registers the socket with epoll (an epoll_ctl per
  // request) for a wait but not for a read, and the read takes what arrived,
  // as much as Beast's own first read would, so the header parses from it.
  arm_deadline(opts_.idle_timeout_seconds);
  stream_.socket().async_read_some(
    buffer_.prepare(beast::read_size(buffer_, idle_read_size)),
    [self = shared_from_this()](beast::error_code ec, std::size_t n) {
      self->disarm_deadline();
      if (ec)
        return self->close();
      self->buffer_.commit(n);
      self->read_request();
    });
}

void session::read_request() {
  // One deadline for the head and the body together, not per read, so a
  // trickle of bytes cannot hold the connection longer than a silence.
  arm_deadline(opts_.read_timeout_seconds);
  bhttp::async_read_header(stream_, buffer_, *parser_,
                           [self = shared_from_this()](beast::error_code ec, std::size_t) {
                             self->on_header(ec);
                           });
}

void session::on_header(beast::error_code ec) {
  if (ec)
    return on_read(ec);
  busy_ = true;  // a request has begun: a shutdown now waits for its answer
  method_ = std::string(parser_->get().method_string());  // for /metrics, even if refused here
  target_ = std::string(parser_->get().target());
  if (opts_.keys && !opts_.keys->empty() && !authorize())
    return;  // answered without reading the body
  // Beast reads at most the buffer's free capacity (512 bytes when it is
  // empty) per system call: give a large body large reads.
  if (auto len = parser_->content_length(); len && *len > 65536)
    buffer_.reserve(big_read_buffer);
  auto read_body = [self = shared_from_this()] {
    bhttp::async_read(self->stream_, self->buffer_, *self->parser_,
                      [self](beast::error_code ec, std::size_t) { self->on_read(ec); });
  };
  // Clients such as curl ask before sending a large body and wait a second
  // for "100 Continue" if nobody answers.
  if (beast::iequals(parser_->get()[bhttp::field::expect], "100-continue")) {
    auto cont = std::make_shared<bhttp::response<bhttp::empty_body>>(bhttp::status::continue_,
                                                                      parser_->get().version());
    bhttp::async_write(stream_, *cont,
                       [self = shared_from_this(), cont, read_body](beast::error_code ec,
                                                                    std::size_t) {
                         if (ec)
                           return self->close();
                         read_body();
                       });
    return;
  }
  read_body();
}

void session::on_read(beast::error_code ec) {
  disarm_deadline();
  if (ec && timed_out_) {
    if (!parser_->got_some() && buffer_.size() == 0)
      return close();
    started_ = std::chrono::steady_clock::now();
    log_prefix_ = "(request timeout)";
    return write(error_response(408, "request_timeout",
                                "the request did not arrive within " +
                                  std::to_string(opts_.read_timeout_seconds) + " seconds"),
                 false, true);
  }
  if (ec == bhttp::error::end_of_stream || ec == net::error::operation_aborted ||
      ec == beast::error::timeout || ec == net::error::connection_reset || ec == net::error::eof)
    return close();
  started_ = std::chrono::steady_clock::now();
  busy_ = true;
  method_.clear();
  target_.clear();
  if (parser_->is_header_done()) {
    method_ = std::string(parser_->get().method_string());
    target_ = std::string(parser_->get().target());
  }
  if (ec == bhttp::error::body_limit) {
    log_prefix_ = "(body over limit)";
    return write(error_response(413, "body_too_large",
                                "the body exceeds " + std::to_string(opts_.body_limit) + " bytes"),
                 false, true);
  }
  if (ec == bhttp::error::header_limit) {
    log_prefix_ = "(headers over limit)";
    return write(error_response(431, "headers_too_large",
                                "the headers exceed " + std::to_string(opts_.header_limit) +
                                  " bytes"),
                 false, true);
  }
  if (ec) {
    log_prefix_ = "(unparseable request)";
    return write(error_response(400, "bad_request", "malformed HTTP request: " + ec.message()),
                 false, true);
  }
  auto msg = parser_->release();
  version_ = msg.version();
  bool keep_alive = msg.keep_alive();
  if (denied_) {  // refused at the headers; the small body was read to keep the connection
    log_prefix_ = std::string(msg.method_string()) + " " + std::string(msg.target());
    head_request_ = msg.method() == bhttp::verb::head;
    auto r = std::move(*denied_);
    denied_.reset();
    return write(std::move(r), keep_alive, false);
  }
  request req;
  req.method = std::string(msg.method_string());
  req.target = std::string(msg.target());
  for (auto& f : msg)
    req.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
  req.body = std::move(msg.body());
  large_request_ = req.body.size() >= large_body;
  head_request_ = req.method == "HEAD";
  if (buffer_.capacity() >= big_read_buffer)
    buffer_.shrink_to_fit();  // idle keep-alive connections stay small
  log_prefix_ = req.method + " " + req.target;
  router_.handle(std::move(req), [self = shared_from_this(), keep_alive](response res) {
    // Called on whichever thread finished the work: back onto the connection's executor.
    net::post(self->stream_.get_executor(), [self, keep_alive, res = std::move(res)]() mutable {
      self->write(std::move(res), keep_alive, false);
    });
  });
}

bool session::authorize() {
  auto& head = parser_->get();
  std::vector<std::string_view> authorization;
  for (auto& f : head)
    if (f.name() == bhttp::field::authorization)
      authorization.push_back(f.value());
  auto a = opts_.keys->authorize(head.method_string(), head.target(), authorization);
  key_name_ = std::move(a.key_name);  // the log line names the key, never the secret
  if (!a.denial)
    return true;
  // A small body is read (and dropped) so that the connection stays usable;
  // a large, chunked or expected one is not taken in from a caller without a
  // key: the answer goes out at once and the connection closes after it.
  auto len = parser_->content_length();
  bool expects = beast::iequals(head[bhttp::field::expect], "100-continue");
  if (parser_->is_done() || (len && *len <= max_refused_body && !expects)) {
    denied_ = std::move(a.denial);
    return true;
  }
  started_ = std::chrono::steady_clock::now();
  version_ = head.version();
  head_request_ = head.method() == bhttp::verb::head;
  log_prefix_ = std::string(head.method_string()) + " " + std::string(head.target());
  // Closing after the answer lingers (linger_close): the client still sending
  // the refused body reads its 401/403 instead of a reset.
  write(std::move(*a.denial), false, true);
  return false;
}

void session::log_answer(unsigned status, std::optional<size_t> bytes) {
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(
              std::chrono::steady_clock::now() - started_)
              .count();
  router_.metrics().record(method_, target_, status, us / 1e6);
  if (!log_enabled(log_level::info))
    return;
  char tail[96];
  if (bytes)
    std::snprintf(tail, sizeof tail, " %u %.2fms %zuB", status, us / 1000.0, *bytes);
  else
    std::snprintf(tail, sizeof tail, " %u %.2fms streamed", status, us / 1000.0);
  log(log_level::info, log_prefix_ + tail + (key_name_.empty() ? "" : " key=" + key_name_));
}

// The answer's head is written here, as Beast's serializer would write it
// (status line; Server, Content-Type, the route's fields, Connection when it
// differs from the version's default, Content-Length; a blank line), into a
// buffer the session keeps, and goes out with the body in one gathered write.
// Beast's serializer walked a chain of buffer views per answer and a
// heap-allocated message and field list came with it: ~7% of the I/O thread
// on single-status webhooks.
void session::write(response res, bool keep_alive, bool close_after) {
  if (res.stream)
    return write_stream(std::move(res), keep_alive);
  // At a shutdown the answer says so (Connection: close) and the connection ends.
  const bool keep = keep_alive && !close_after && !draining();
  // 1xx, 204 and 304 have no body and no Content-Length (RFC 9110, 8.6).
  const bool bodiless = res.status / 100 == 1 || res.status == 204 || res.status == 304;
  if (bodiless)
    res.body.clear();
  auto& h = answer_head_;
  h.clear();
  h += version_ == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
  char num[24];
  h.append(num, std::to_chars(num, num + sizeof num, res.status).ptr);
  h += ' ';
  h += bhttp::obsolete_reason(static_cast<bhttp::status>(res.status));
  h += "\r\nServer: blastd\r\nContent-Type: ";
  h += res.content_type;
  h += "\r\n";
  for (auto& [name, value] : res.headers) {
    h += name;
    h += ": ";
    h += value;
    h += "\r\n";
  }
  if (version_ >= 11 && !keep)
    h += "Connection: close\r\n";
  else if (version_ < 11 && keep)
    h += "Connection: keep-alive\r\n";
  if (!bodiless) {
    h += "Content-Length: ";
    h.append(num, std::to_chars(num, num + sizeof num, res.body.size()).ptr);
    h += "\r\n";
  }
  h += "\r\n";
  answer_body_ = std::move(res.body);
  log_answer(res.status, answer_body_.size());
  arm_deadline(opts_.read_timeout_seconds);  // a client that does not read its answer
  // HEAD: the headers of the GET answer (its Content-Length included), no body.
  std::array<net::const_buffer, 2> out{
    net::buffer(answer_head_), net::buffer(answer_body_.data(), head_request_ ? 0 : answer_body_.size())};
  net::async_write(stream_, out, [self = shared_from_this(), keep](beast::error_code ec, std::size_t) {
    self->disarm_deadline();
    if (self->answer_body_.capacity() > big_read_buffer)
      std::string().swap(self->answer_body_);  // an export's megabytes are not kept
    if (self->large_request_) {
      // Handling a big body (a million recipients) freed hundreds of MB
      // that glibc would otherwise keep: hand them back to the system.
      self->large_request_ = false;
      malloc_trim(0);
    }
    if (ec)
      return self->close();
    if (!keep)
      return self->linger_close();
    self->read();
  });
}

void session::write_stream(response res, bool keep_alive) {
  auto head = std::make_shared<bhttp::response<bhttp::empty_body>>(
    static_cast<bhttp::status>(res.status), version_);
  head->set(bhttp::field::server, "blastd");
  head->set(bhttp::field::content_type, res.content_type);
  for (auto& [k, v] : res.headers)
    head->set(k, v);
  head->keep_alive(keep_alive);
  head->chunked(true);
  streaming_ = true;
  log_answer(res.status, std::nullopt);
  auto sr = std::make_shared<bhttp::response_serializer<bhttp::empty_body>>(*head);
  stream_.expires_after(std::chrono::seconds(opts_.read_timeout_seconds));
  bhttp::async_write_header(stream_, *sr,
                            [self = shared_from_this(), head, sr, src = std::move(res.stream),
                             keep_alive](beast::error_code ec, std::size_t) {
                              if (ec)
                                return self->close();
                              self->pump(src, keep_alive);
                            });
}

void session::pump(std::shared_ptr<body_source> src, bool keep_alive) {
  stream_.expires_never();  // a source may take its time (a page read, a quiet report)
  src->next([self = shared_from_this(), src, keep_alive](body_source::piece p) {
    net::post(self->stream_.get_executor(), [self, src, keep_alive, p = std::move(p)]() mutable {
      self->on_piece(std::move(src), keep_alive, std::move(p));
    });
  });
}

void session::on_piece(std::shared_ptr<body_source> src, bool keep_alive, body_source::piece p) {
  auto finish = [self = shared_from_this(), keep_alive] {
    self->stream_.expires_after(std::chrono::seconds(self->opts_.read_timeout_seconds));
    net::async_write(self->stream_, bhttp::make_chunk_last(),
                     [self, keep_alive](beast::error_code ec, std::size_t) {
                       if (ec || !keep_alive)
                         return self->close();
                       self->read();
                     });
  };
  if (p.data.empty()) {
    if (p.last)
      return finish();
    return pump_after(std::move(src), keep_alive, p.wait);
  }
  auto data = std::make_shared<std::string>(std::move(p.data));
  // A client that stops reading would hold the connection forever: each
  // chunk must be taken within the read timeout.
  stream_.expires_after(std::chrono::seconds(opts_.read_timeout_seconds));
  net::async_write(stream_, bhttp::make_chunk(net::buffer(*data)),
                   [self = shared_from_this(), data, src = std::move(src), keep_alive,
                    last = p.last, wait = p.wait, finish](beast::error_code ec,
                                                          std::size_t) mutable {
                     if (ec)
                       return self->close();
                     if (last)
                       return finish();
                     self->pump_after(std::move(src), keep_alive, wait);
                   });
}

void session::pump_after(std::shared_ptr<body_source> src, bool keep_alive,
                         std::chrono::milliseconds wait) {
  if (wait.count() <= 0)
    return pump(std::move(src), keep_alive);
  timer_.expires_after(wait);
  timer_.async_wait([self = shared_from_this(), src = std::move(src),
                     keep_alive](beast::error_code ec) mutable {
    if (ec)
      return self->close();
    self->pump(std::move(src), keep_alive);
  });
}

void session::linger_close() {
  // Closing a socket with the client's bytes still unread (the rest of a
  // body over the limit, a slow client's trickle) makes the kernel send a
  // reset, which may reach the client before it has read our answer. So:
  // half-close (the client reads the answer, then our FIN), drop whatever it
  // still sends, and close when it closes or after a short grace.
  beast::error_code ec;
  stream_.socket().shutdown(net::ip::tcp::socket::shutdown_send, ec);
  if (ec)
    return close();
  stream_.expires_after(std::chrono::seconds(2));
  discard_input();
}

void session::discard_input() {
  stream_.async_read_some(buffer_.prepare(4096),
                          [self = shared_from_this()](beast::error_code ec, std::size_t) {
                            if (ec)
                              return self->close();
                            self->discard_input();  // not committed: the bytes are dropped
                          });
}

void session::close() {
  beast::error_code ec;
  timer_.cancel();
  disarm_deadline();
  deadline_.cancel();  // its pending wait holds this session
  stream_.socket().shutdown(net::ip::tcp::socket::shutdown_send, ec);
  stream_.close();
}

} // namespace blast::engine::http
