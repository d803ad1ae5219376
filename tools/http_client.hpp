// A small blocking HTTP/1.1 client over POSIX sockets for blastd's own tools
// (blastctl, benchmarks) and end-to-end tests: one request per call on a
// keep-alive connection that is reopened when the server closes it.
// Not for the open internet: no TLS, no chunked request bodies, no redirects.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace blast::tools {

struct http_reply {
  int status = 0;  // 0 when the request could not be made (see error)
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;
  std::string error;
  std::string header(const std::string& lower_name) const;
};

class http_client {
public:
  http_client(std::string host, uint16_t port);
  ~http_client();
  http_client(const http_client&) = delete;
  http_client& operator=(const http_client&) = delete;

  http_reply request(const std::string& method, const std::string& target,
                     const std::string& body = {},
                     const std::string& content_type = "application/json",
                     const std::vector<std::pair<std::string, std::string>>& headers = {});
  http_reply get(const std::string& target) { return request("GET", target); }
  // Bounds on connecting and on each wait for the socket while writing or reading; zero (the
  // default) waits as long as the system does. A request that runs into one fails with
  // status 0 and an error saying which.
  void set_timeouts(std::chrono::milliseconds connect, std::chrono::milliseconds io);
  // Called while a request is written with the bytes of it sent so far and its total size
  // (for progress displays); it runs on the caller's thread, between writes of at most 1 MiB.
  void on_upload(std::function<void(size_t sent, size_t total)> progress);
  http_reply post(const std::string& target, const std::string& body) {
    return request("POST", target, body);
  }

private:
  bool connect_socket(std::string& error);
  void close_socket();
  http_reply attempt(const std::string& head, const std::string& body, bool& retryable);

  std::string host_;
  uint16_t port_;
  int fd_ = -1;
  std::chrono::milliseconds connect_timeout_{0};
  std::chrono::milliseconds io_timeout_{0};
  std::function<void(size_t, size_t)> upload_progress_;
};

// Splits "http://host:port" (or "host:port", a trailing '/' allowed) into its parts; false for
// anything else (another scheme, a path, a port that is not a number in 1..65535).
bool parse_base_url(const std::string& url, std::string& host, uint16_t& port);

} // namespace blast::tools
