// blast_http.hpp — an optional SDK helper for network plugins (compile blast_http.cpp into the
// plugin; needs Boost.Beast/Asio/URL and OpenSSL): a blocking HTTP/1.1 client for one provider
// origin (http or https) with a bounded pool of keep-alive connections, connect and request
// timeouts, and errors written for an operator. Used by wsapme and whatsapp_cloud.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace blast_sdk {

struct http_origin {
  bool tls = false;
  std::string host;
  uint16_t port = 0;
  bool verify_tls = true; // peer certificate and host name checked against the system CA store
  std::chrono::milliseconds connect_timeout{5000};  // name resolution excluded (see .cpp)
  std::chrono::milliseconds request_timeout{15000}; // writing the request and reading the answer
  size_t max_connections = 8;
};

struct http_answer {
  int status = 0;          // 0: no answer, see `error`
  std::string error;       // why there is no answer (connect, TLS, timeout, ...)
  std::string body;        // the raw body, untouched
  std::string retry_after; // the Retry-After header, if any
};

// Thread-safe: post() may run on many threads at once; each call borrows one connection for
// its duration (so at most max_connections requests are in flight, the others wait for one).
// Destroying the pool closes its idle connections; no post() may be running then.
// Reads `url` (http[s]://host[:port][/path], no credentials, query or fragment) into `origin`
// (tls, host, port; other fields untouched) and `base_path` (its path without a trailing '/').
// False with `why` (an operator's sentence) when it is not such a URL.
bool parse_base_url(const std::string& url, http_origin& origin, std::string& base_path,
                    std::string& why);

// A Retry-After header in ms: delta-seconds; an HTTP date (or nothing) is unknown, 0.
int64_t retry_after_ms(const std::string& header);

class http_pool {
public:
  // Throws std::runtime_error when the TLS context cannot be set up.
  explicit http_pool(http_origin origin);
  ~http_pool();
  http_pool(const http_pool&) = delete;
  http_pool& operator=(const http_pool&) = delete;

  // POSTs `body` as application/json to `target` (an origin-form path) with extra `headers`.
  // Never throws for network trouble: that is an answer with status 0 and an error.
  http_answer post(std::string_view target,
                   const std::vector<std::pair<std::string, std::string>>& headers,
                   std::string_view body);

  const http_origin& origin() const;

  struct impl;

private:
  std::unique_ptr<impl> impl_;
};

} // namespace blast_sdk
