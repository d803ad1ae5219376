// The event-stream parser and its HTTP reader: Beast's response parser reads the body in
// pieces as they arrive (chunked or not) into a small buffer that feeds the parser; every wait
// is an async operation on a private io_context so that one deadline, an idle timeout and
// SIGINT can each end it.
#include "tools/blastctl/sse.hpp"

#include <algorithm>
#include <csignal>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace blast::tools {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;

bool sse_parser::feed(std::string_view bytes, const sse_handler& on_event) {
  size_t i = 0;
  const size_t n = bytes.size();
  while (i < n) {
    if (after_cr_ && bytes[i] == '\n') { // the LF of a CRLF split between two feeds
      after_cr_ = false;
      ++i;
      continue;
    }
    after_cr_ = false;
    size_t j = i;
    while (j < n && bytes[j] != '\r' && bytes[j] != '\n')
      ++j;
    line_.append(bytes.data() + i, j - i);
    if (j == n)
      break;
    after_cr_ = bytes[j] == '\r';
    i = j + 1;
    if (i < n && after_cr_ && bytes[i] == '\n') {
      after_cr_ = false;
      ++i;
    }
    if (!line(on_event))
      return false;
  }
  return true;
}

bool sse_parser::line(const sse_handler& on_event) {
  std::string_view l = line_;
  if (!started_) {
    started_ = true;
    if (l.substr(0, 3) == "\xEF\xBB\xBF")
      l.remove_prefix(3);
  }
  bool go_on = true;
  if (l.empty()) {
    if (has_data_) {
      if (event_.name.empty())
        event_.name = "message";
      event_.id = last_id_;
      go_on = on_event(event_);
    }
    event_ = {};
    has_data_ = false;
  } else if (l[0] == ':') {
    ++comments_;
  } else {
    auto colon = l.find(':');
    std::string_view field = l.substr(0, colon);
    std::string_view value =
        colon == std::string_view::npos ? std::string_view{} : l.substr(colon + 1);
    if (!value.empty() && value[0] == ' ')
      value.remove_prefix(1);
    if (field == "event") {
      event_.name = std::string(value);
    } else if (field == "data") {
      if (has_data_)
        event_.data += '\n';
      event_.data.append(value);
      has_data_ = true;
    } else if (field == "id" && value.find('\0') == std::string_view::npos) {
      last_id_ = std::string(value);
    }
  }
  line_.clear();
  return go_on;
}

namespace {

// One blocking read of an event stream; each step starts one async operation and runs the
// io_context until it completes, so a signal or timer completing first can cancel it.
class stream_reader {
public:
  stream_reader(const sse_request& req) : req_(req), stream_(ioc_), signals_(ioc_) {
    if (req_.stop_on_sigint) {
      signals_.add(SIGINT);
      signals_.async_wait([this](const beast::error_code& ec, int) {
        if (!ec) {
          interrupted_ = true;
          stream_.cancel();
        }
      });
    }
  }

  sse_result run(const sse_handler& on_event,
                 const std::function<sse_clock::time_point()>& deadline) {
    sse_result r;
    tcp::resolver resolver(ioc_);
    beast::error_code ec;
    auto endpoints = resolver.resolve(req_.host, std::to_string(req_.port), ec);
    if (ec)
      return unreachable(r, "cannot resolve " + req_.host + ": " + ec.message());
    stream_.expires_after(req_.connect_timeout);
    wait([&](auto done) { stream_.async_connect(endpoints, [done](auto e, auto&&) { done(e); }); },
         ec);
    if (interrupted_)
      return end(r, sse_end::interrupted);
    if (ec)
      return unreachable(r, "cannot connect to " + req_.host + ":" + std::to_string(req_.port) +
                                ": " + message(ec));

    bhttp::request<bhttp::empty_body> get{bhttp::verb::get, req_.target, 11};
    get.set(bhttp::field::host, req_.host + ":" + std::to_string(req_.port));
    get.set(bhttp::field::accept, "text/event-stream");
    get.set(bhttp::field::cache_control, "no-cache");
    for (auto& [name, value] : req_.headers)
      get.set(name, value);
    stream_.expires_after(req_.connect_timeout);
    wait([&](auto done) { bhttp::async_write(stream_, get, [done](auto e, size_t) { done(e); }); },
         ec);
    if (interrupted_)
      return end(r, sse_end::interrupted);
    if (ec)
      return unreachable(r, "cannot send the request: " + message(ec));

    bhttp::response_parser<bhttp::buffer_body> parser;
    parser.body_limit(boost::none); // an event stream has no end
    stream_.expires_after(req_.idle_timeout);
    wait(
        [&](auto done) {
          bhttp::async_read_header(stream_, buffer_, parser, [done](auto e, size_t) { done(e); });
        },
        ec);
    if (interrupted_)
      return end(r, sse_end::interrupted);
    if (ec)
      return unreachable(r, "no answer: " + message(ec));
    r.status = static_cast<int>(parser.get().result_int());
    auto type = parser.get()[bhttp::field::content_type];
    bool is_stream = r.status == 200 && type.substr(0, 17) == "text/event-stream";

    // The body is parsed here rather than with http::async_read_some: that returns at once,
    // having read nothing, when the buffer ends inside a chunk (Beast 1.81's parser then
    // reports neither progress nor need_more), and would spin. So: parse what is buffered,
    // and read from the socket only when the parser can go no further.
    parser.eager(true);
    sse_parser events;
    char piece[16384];
    auto take = [&](size_t got) { // false when the handler said stop
      if (!is_stream) {
        r.body.append(piece, std::min(got, 65536 - std::min<size_t>(r.body.size(), 65536)));
        return true;
      }
      return events.feed(std::string_view(piece, got), on_event);
    };
    for (;;) {
      while (buffer_.size() > 0 && !parser.is_done()) {
        parser.get().body().data = piece;
        parser.get().body().size = sizeof piece;
        size_t used = parser.put(buffer_.data(), ec);
        buffer_.consume(used);
        size_t got = sizeof piece - parser.get().body().size;
        if (ec == bhttp::error::need_buffer || ec == bhttp::error::need_more)
          ec = {};
        else if (ec)
          return unreachable(r, "a malformed answer: " + ec.message());
        if (got && !take(got))
          return end(r, sse_end::stopped);
        if (used == 0 && got == 0)
          break;
      }
      if (parser.is_done())
        return end(r, is_stream ? sse_end::closed : sse_end::http_error);
      // Wake up at the caller's deadline or when the stream has been silent too long,
      // whichever comes first; the heartbeats keep a healthy stream from the latter.
      auto now = sse_clock::now();
      auto until = deadline();
      if (is_stream && now >= until)
        return end(r, sse_end::deadline);
      auto idle = now + req_.idle_timeout;
      bool by_deadline = is_stream && until < idle;
      stream_.expires_at(by_deadline ? until : idle);
      size_t n = 0;
      wait(
          [&](auto done) {
            stream_.async_read_some(buffer_.prepare(65536), [done, &n](auto e, size_t got) {
              n = got;
              done(e);
            });
          },
          ec);
      buffer_.commit(n);
      if (interrupted_)
        return end(r, sse_end::interrupted);
      if (ec == net::error::eof) {
        // The end of a body without a length; for any other it is a cut-off answer.
        parser.put_eof(ec);
        return end(r, is_stream ? sse_end::closed : sse_end::http_error);
      }
      if (ec == beast::error::timeout && by_deadline)
        return end(r, sse_end::deadline);
      if (ec == beast::error::timeout)
        return unreachable(r, "nothing received for " +
                                  std::to_string(req_.idle_timeout.count() / 1000) +
                                  " s, not even a heartbeat");
      if (ec)
        return unreachable(r, "the stream failed: " + message(ec));
    }
  }

private:
  // Starts `op(done)` and runs the io_context until `done(error)` was called.
  template <class Op> void wait(Op op, beast::error_code& ec) {
    bool finished = false;
    op([&](beast::error_code e) {
      ec = e;
      finished = true;
    });
    while (!finished && ioc_.run_one() > 0) {
    }
  }

  static std::string message(const beast::error_code& ec) {
    return ec == beast::error::timeout ? "timed out" : ec.message();
  }
  sse_result& end(sse_result& r, sse_end how) {
    r.end = how;
    return r;
  }
  sse_result& unreachable(sse_result& r, std::string why) {
    r.end = sse_end::unreachable;
    r.error = std::move(why);
    return r;
  }

  const sse_request& req_;
  net::io_context ioc_;
  beast::tcp_stream stream_;
  net::signal_set signals_;
  beast::flat_buffer buffer_;
  bool interrupted_ = false;
};

} // namespace

sse_result read_event_stream(const sse_request& request, const sse_handler& on_event,
                             const std::function<sse_clock::time_point()>& deadline) {
  stream_reader reader(request);
  return reader.run(on_event, deadline);
}

} // namespace blast::tools
