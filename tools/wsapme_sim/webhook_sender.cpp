// The webhook thread: a timer queue (std::map by due time) and a blocking
// Beast client whose every step is bounded by a timeout.
#include "tools/wsapme_sim/webhook_sender.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <condition_variable>
#include <map>
#include <mutex>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdexcept>
#include <thread>
#include <utility>

namespace beast = boost::beast;
namespace net = boost::asio;
namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;
using steady = std::chrono::steady_clock;

namespace blast::tools::wsapme_sim {

std::optional<webhook_target> parse_webhook_url(const std::string& url) {
  const std::string scheme = "http://";
  if (url.compare(0, scheme.size(), scheme) != 0)
    return std::nullopt;
  auto rest = url.substr(scheme.size());
  auto slash = rest.find('/');
  auto authority = rest.substr(0, slash);
  webhook_target t;
  t.path = slash == std::string::npos ? "/" : rest.substr(slash);
  auto colon = authority.rfind(':');
  t.host = authority.substr(0, colon);
  t.port = colon == std::string::npos ? "80" : authority.substr(colon + 1);
  if (t.host.empty() || t.port.empty() ||
      t.port.find_first_not_of("0123456789") != std::string::npos)
    return std::nullopt;
  return t;
}

std::string hmac_sha256_hex(std::string_view key, std::string_view data) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac, &len);
  static const char digits[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(len * 2);
  for (unsigned i = 0; i < len; ++i) {
    hex.push_back(digits[mac[i] >> 4]);
    hex.push_back(digits[mac[i] & 15]);
  }
  return hex;
}

struct webhook_sender::impl {
  struct pending {
    std::string body;
    unsigned attempt = 0; // attempts made so far
  };

  explicit impl(webhook_sender_options o) : opts(std::move(o)), stream(ioc) {
    auto t = parse_webhook_url(opts.url);
    if (!t)
      throw std::invalid_argument("unusable webhook URL '" + opts.url + "'");
    target = *t;
    thread = std::thread([this] { loop(); });
  }

  // Runs one asynchronous step to completion on this thread's private
  // io_context: async only so that tcp_stream's timeout applies.
  template <class Start> beast::error_code run_step(Start&& start) {
    beast::error_code result = net::error::would_block;
    stream.expires_after(std::chrono::milliseconds(opts.timeout_ms));
    start([&result](beast::error_code ec, auto&&...) { result = ec; });
    ioc.restart();
    ioc.run();
    return result;
  }

  void close_connection() {
    beast::error_code ec;
    stream.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream.close();
    connected = false;
  }

  bool connect() {
    beast::error_code ec;
    tcp::resolver resolver(ioc);
    auto endpoints = resolver.resolve(target.host, target.port, ec);
    if (ec)
      return false;
    ec = run_step([&](auto handler) { stream.async_connect(endpoints, handler); });
    connected = !ec;
    return connected;
  }

  // One attempt: true when the receiver answered 2xx.
  bool deliver(const std::string& body) {
    http::request<http::string_body> req{http::verb::post, target.path, 11};
    req.set(http::field::host, target.host + ":" + target.port);
    req.set(http::field::user_agent, "wsapme-sim");
    req.set(http::field::content_type, "application/json");
    if (!opts.secret.empty())
      req.set(opts.signature_header, "sha256=" + hmac_sha256_hex(opts.secret, body));
    req.keep_alive(true);
    req.body() = body;
    req.prepare_payload();
    // A kept-alive connection the receiver closed while idle fails on first
    // use: try once more on a fresh one. A repeat is harmless, events are
    // idempotent by eventId.
    for (int pass = 0; pass < 2; ++pass) {
      bool reused = connected;
      if (!connected && !connect())
        return false;
      auto ec = run_step([&](auto handler) { http::async_write(stream, req, handler); });
      http::response<http::string_body> res;
      if (!ec)
        ec = run_step([&](auto handler) { http::async_read(stream, buffer, res, handler); });
      if (ec) {
        close_connection();
        buffer.clear();
        if (reused)
          continue;
        return false;
      }
      if (!res.keep_alive())
        close_connection();
      return res.result_int() >= 200 && res.result_int() < 300;
    }
    return false;
  }

  void loop() {
    std::unique_lock lk(mutex);
    while (!stopping) {
      if (queue.empty()) {
        cv.wait(lk);
        continue;
      }
      auto due = queue.begin()->first.first;
      if (due > steady::now()) {
        cv.wait_until(lk, due);
        continue;
      }
      auto item = std::move(queue.begin()->second);
      queue.erase(queue.begin());
      in_flight = true;
      lk.unlock();
      bool ok = deliver(item.body);
      lk.lock();
      in_flight = false;
      ++item.attempt;
      if (ok) {
        ++stats.sent;
      } else if (item.attempt < opts.tries) {
        ++stats.retried;
        auto wait = std::chrono::milliseconds(opts.backoff_ms) * (1u << (item.attempt - 1));
        queue.emplace(std::make_pair(steady::now() + wait, next_seq++), std::move(item));
      } else {
        ++stats.failed;
      }
    }
    lk.unlock();
    if (connected)
      close_connection();
  }

  webhook_sender_options opts;
  webhook_target target;
  net::io_context ioc;
  beast::tcp_stream stream;
  beast::flat_buffer buffer;
  bool connected = false;

  mutable std::mutex mutex;
  std::condition_variable cv;
  // Keyed by (due, sequence): equal due times keep their scheduling order.
  std::map<std::pair<steady::time_point, uint64_t>, pending> queue;
  uint64_t next_seq = 0;
  bool in_flight = false;
  bool stopping = false;
  webhook_stats stats;
  std::thread thread;
};

webhook_sender::webhook_sender(webhook_sender_options opts)
    : impl_(std::make_unique<impl>(std::move(opts))) {}

webhook_sender::~webhook_sender() {
  stop();
}

void webhook_sender::schedule(steady::time_point due, std::string body) {
  {
    std::lock_guard lk(impl_->mutex);
    if (impl_->stopping)
      return;
    ++impl_->stats.scheduled;
    impl_->queue.emplace(std::make_pair(due, impl_->next_seq++), impl::pending{std::move(body)});
  }
  impl_->cv.notify_one();
}

webhook_stats webhook_sender::stats() const {
  std::lock_guard lk(impl_->mutex);
  auto s = impl_->stats;
  s.pending = impl_->queue.size() + (impl_->in_flight ? 1 : 0);
  return s;
}

void webhook_sender::stop() {
  {
    std::lock_guard lk(impl_->mutex);
    if (impl_->stopping)
      return;
    impl_->stopping = true;
  }
  impl_->cv.notify_one();
  impl_->thread.join();
}

} // namespace blast::tools::wsapme_sim
