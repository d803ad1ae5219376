// The SDK's HTTP client for plugins: Beast over a pool of keep-alive connections, each with its own
// io_context so that a borrowed connection is driven by the borrowing thread alone.
//
// Why async operations run to completion on a private io_context instead of plain sync calls:
// Beast's tcp_stream timeouts (expires_at) only apply to asynchronous operations. Running them
// on the connection's own io_context keeps the call blocking for the plugin, with real
// timeouts on connect, TLS handshake, write and read, and no thread of our own.
#include "blast_http.hpp"
#include "blast_transport.hpp" // iequals

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/url/parse.hpp>
#include <condition_variable>
#include <mutex>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <optional>
#include <stdexcept>

namespace blast_sdk {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using steady = std::chrono::steady_clock;

// A gateway answer is a small JSON document; anything this big is a misdirected request.
constexpr uint64_t max_body_bytes = 8 * 1024 * 1024;

struct connection {
  net::io_context ioc{1};
  std::optional<beast::tcp_stream> plain;
  std::optional<beast::ssl_stream<beast::tcp_stream>> secure;
  beast::flat_buffer buffer;

  bool is_open() const { return plain.has_value() || secure.has_value(); }
  beast::tcp_stream& tcp() { return secure ? beast::get_lowest_layer(*secure) : *plain; }

  // Only called with no operation pending (run() drains the io_context before returning), so
  // the streams can be destroyed here. No TLS close_notify: it costs a round trip the gateway
  // does not need, and a kept-alive connection is only closed when it is already unusable.
  void close() {
    if (is_open()) {
      beast::error_code ec;
      tcp().socket().shutdown(tcp::socket::shutdown_both, ec);
      tcp().socket().close(ec);
    }
    secure.reset();
    plain.reset();
    buffer.clear();
  }
  ~connection() { close(); }
};

// Runs the asynchronous operation `start` begins until it completes. The stream's expiry ends
// it with beast::error::timeout at the deadline; run_until is only a backstop (a grace period
// later) for an operation that has no expiry, whose socket is then closed to cancel it.
template <class Start>
beast::error_code run(connection& c, steady::time_point deadline, Start&& start) {
  std::optional<beast::error_code> result;
  start([&result](beast::error_code ec, auto&&...) { result = ec; });
  c.ioc.restart();
  c.ioc.run_until(deadline + std::chrono::milliseconds(200));
  if (!result) {
    beast::error_code ignored;
    c.tcp().socket().close(ignored);
    c.ioc.restart();
    c.ioc.run();
    return beast::error::timeout;
  }
  return *result;
}

// Errors meaning a kept-alive connection was closed by the other side while idle: the request
// did not reach the gateway, so sending it once more on a new connection is safe.
bool is_stale(const beast::error_code& ec) {
  return ec == http::error::end_of_stream || ec == net::error::eof ||
         ec == net::error::connection_reset || ec == net::error::connection_aborted ||
         ec == net::error::broken_pipe || ec == ssl::error::stream_truncated;
}

bool is_ip_literal(const std::string& host) {
  beast::error_code ec;
  net::ip::make_address(host, ec);
  return !ec;
}

std::string ms_text(std::chrono::milliseconds d) {
  return std::to_string(d.count()) + " ms";
}

} // namespace

struct http_pool::impl {
  http_origin o;
  std::string where; // "host:port", for messages
  std::optional<ssl::context> tls;

  std::mutex mu; // guards idle and busy
  std::condition_variable freed;
  std::vector<std::unique_ptr<connection>> idle; // open connections, most recently used last
  size_t busy = 0;                               // connections lent out

  explicit impl(http_origin origin) : o(std::move(origin)) {
    where = o.host + ":" + std::to_string(o.port);
    if (!o.tls)
      return;
    tls.emplace(ssl::context::tls_client);
    SSL_CTX_set_min_proto_version(tls->native_handle(), TLS1_2_VERSION);
    if (o.verify_tls) {
      beast::error_code ec;
      tls->set_default_verify_paths(ec);
      if (ec)
        throw std::runtime_error("cannot load the system CA certificates: " + ec.message());
      tls->set_verify_mode(ssl::verify_peer);
    } else {
      tls->set_verify_mode(ssl::verify_none);
    }
  }

  // Borrows a connection (open or not) or nullptr if none frees up before `deadline`.
  std::unique_ptr<connection> acquire(steady::time_point deadline) {
    std::unique_lock<std::mutex> lk(mu);
    if (!freed.wait_until(lk, deadline,
                          [&] { return !idle.empty() || busy + idle.size() < o.max_connections; }))
      return nullptr;
    ++busy;
    if (!idle.empty()) {
      // The most recently used connection is the least likely to have been closed by the server.
      std::unique_ptr<connection> c = std::move(idle.back());
      idle.pop_back();
      return c;
    }
    return std::make_unique<connection>();
  }

  void release(std::unique_ptr<connection> c) {
    {
      std::lock_guard<std::mutex> lk(mu);
      --busy;
      if (c && c->is_open())
        idle.push_back(std::move(c));
    }
    freed.notify_one();
    // A closed connection is dropped here, outside the lock.
  }

  // Opens `c`: resolve, TCP connect, and the TLS handshake if https. Empty string on success.
  // Name resolution is synchronous (getaddrinfo, bounded by the resolver's own timeouts): asio's
  // asynchronous resolver would start a thread per io_context, so one per connection.
  std::string connect(connection& c) {
    steady::time_point deadline = steady::now() + o.connect_timeout;
    tcp::resolver resolver(c.ioc);
    beast::error_code ec;
    auto endpoints = resolver.resolve(o.host, std::to_string(o.port), ec);
    if (ec)
      return "resolving " + o.host + " failed: " + ec.message();
    if (tls)
      c.secure.emplace(c.ioc, *tls);
    else
      c.plain.emplace(c.ioc);
    c.tcp().expires_at(deadline);
    ec = run(c, deadline, [&](auto handler) { c.tcp().async_connect(endpoints, handler); });
    if (ec) {
      c.close();
      if (ec == beast::error::timeout)
        return "connect to " + where + " failed: timeout after " + ms_text(o.connect_timeout);
      return "connect to " + where + " failed: " + ec.message();
    }
    if (!tls)
      return {};

    SSL* native = c.secure->native_handle();
    if (is_ip_literal(o.host)) {
      // SNI carries host names only (RFC 6066); an IP is checked against the certificate's IPs.
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(native), o.host.c_str());
    } else {
      SSL_set_tlsext_host_name(native, o.host.c_str());
      SSL_set1_host(native, o.host.c_str());
    }
    c.tcp().expires_at(deadline);
    ec = run(c, deadline,
             [&](auto handler) { c.secure->async_handshake(ssl::stream_base::client, handler); });
    if (ec) {
      std::string why = ec == beast::error::timeout ? "timeout after " + ms_text(o.connect_timeout)
                                                    : ec.message();
      long verify = SSL_get_verify_result(native);
      if (o.verify_tls && verify != X509_V_OK)
        why = std::string("certificate verify failed (") + X509_verify_cert_error_string(verify) +
              ")";
      c.close();
      return "TLS handshake with " + where + " failed: " + why;
    }
    return {};
  }

  // One request on an open connection. `stale` is set when the failure says the connection
  // had been closed before our request reached the server.
  http_answer exchange(connection& c, const http::request<http::string_body>& req, bool& stale) {
    http_answer a;
    steady::time_point deadline = steady::now() + o.request_timeout;
    auto fail = [&](const beast::error_code& ec, const char* during) {
      a.error = ec == beast::error::timeout
                    ? "POST " + std::string(req.target()) + " to " + where + ": timeout after " +
                          ms_text(o.request_timeout)
                    : std::string(during) + " " + where + " failed: " + ec.message();
      return a;
    };
    c.tcp().expires_at(deadline);
    beast::error_code ec = run(c, deadline, [&](auto handler) {
      if (c.secure)
        http::async_write(*c.secure, req, handler);
      else
        http::async_write(*c.plain, req, handler);
    });
    if (ec) {
      stale = is_stale(ec);
      return fail(ec, "sending the request to");
    }
    http::response_parser<http::string_body> parser;
    parser.body_limit(max_body_bytes);
    ec = run(c, deadline, [&](auto handler) {
      if (c.secure)
        http::async_read(*c.secure, c.buffer, parser, handler);
      else
        http::async_read(*c.plain, c.buffer, parser, handler);
    });
    if (ec) {
      stale = !parser.got_some() && is_stale(ec);
      return fail(ec, "reading the answer from");
    }
    c.tcp().expires_never();
    auto& res = parser.get();
    a.status = static_cast<int>(res.result_int());
    a.body = std::move(res.body());
    a.retry_after = std::string(res[http::field::retry_after]);
    if (!res.keep_alive())
      c.close();
    return a;
  }
};

int64_t retry_after_ms(const std::string& header) {
  size_t b = header.find_first_not_of(" \t");
  size_t e = header.find_last_not_of(" \t");
  if (b == std::string::npos || e - b + 1 > 9)
    return 0;
  std::string v = header.substr(b, e - b + 1);
  if (v.find_first_not_of("0123456789") != std::string::npos)
    return 0;
  return std::stoll(v) * 1000;
}

bool parse_base_url(const std::string& url, http_origin& origin, std::string& base_path,
                    std::string& why) {
  auto parsed = boost::urls::parse_absolute_uri(url);
  auto bad = [&](const char* what) {
    why = what;
    return false;
  };
  if (!parsed)
    return bad("is not an absolute URL");
  const boost::urls::url_view& u = *parsed;
  std::string scheme(u.scheme());
  bool tls = iequals(scheme, "https");
  if (!tls && !iequals(scheme, "http"))
    return bad("must use http or https");
  if (!u.has_authority() || u.host_address().empty())
    return bad("has no host");
  if (u.has_userinfo())
    return bad("must not carry credentials (use \"token\")");
  if (u.has_query() || u.has_fragment())
    return bad("must not have a query or fragment");
  uint16_t port = tls ? 443 : 80;
  if (u.has_port()) {
    if (u.port().empty() || u.port_number() == 0)
      return bad("has an invalid port");
    port = u.port_number();
  }
  origin.tls = tls;
  origin.host = std::string(u.host_address());
  origin.port = port;
  base_path = std::string(u.encoded_path());
  while (!base_path.empty() && base_path.back() == '/')
    base_path.pop_back();
  return true;
}

http_pool::http_pool(http_origin origin) : impl_(std::make_unique<impl>(std::move(origin))) {}
http_pool::~http_pool() = default;

const http_origin& http_pool::origin() const {
  return impl_->o;
}

http_answer http_pool::post(std::string_view target,
                            const std::vector<std::pair<std::string, std::string>>& headers,
                            std::string_view body) {
  impl& p = *impl_;
  http::request<http::string_body> req{http::verb::post,
                                       beast::string_view(target.data(), target.size()), 11};
  bool default_port = p.o.port == (p.o.tls ? 443 : 80);
  req.set(http::field::host, default_port ? p.o.host : p.where);
  req.set(http::field::user_agent, "blastd-wsapme/1.0");
  req.set(http::field::content_type, "application/json");
  req.set(http::field::accept, "application/json");
  for (const auto& [name, value] : headers)
    req.set(name, value);
  req.body() = std::string(body);
  req.keep_alive(true);
  req.prepare_payload();

  // Waiting for a free connection counts against the request's time.
  std::unique_ptr<connection> c = p.acquire(steady::now() + p.o.request_timeout);
  if (!c) {
    http_answer a;
    a.error = "no free connection to " + p.where + " within " + ms_text(p.o.request_timeout) +
              " (maxConnections " + std::to_string(p.o.max_connections) + ")";
    return a;
  }
  // Hands the connection back however this function is left (an exception included).
  struct lease {
    impl& p;
    std::unique_ptr<connection>& c;
    ~lease() { p.release(std::move(c)); }
  } returned{p, c};

  http_answer a;
  for (int attempt = 0; attempt < 2; ++attempt) {
    bool reused = c->is_open();
    if (!reused) {
      a.error = p.connect(*c);
      if (!a.error.empty())
        return a;
    }
    bool stale = false;
    a = p.exchange(*c, req, stale);
    if (a.status != 0)
      return a;
    c->close();
    // Only a kept-alive connection the server had dropped earns a second try, once.
    if (!(reused && stale))
      break;
  }
  return a;
}

} // namespace blast_sdk
