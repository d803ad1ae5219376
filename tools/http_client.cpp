// The blocking HTTP/1.1 client: writes the request, reads the head, then the
// body by Content-Length or chunked encoding.
#include "tools/http_client.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace blast::tools {

namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

bool timed_out() { return errno == EAGAIN || errno == EWOULDBLOCK; }

// Sends `head` then `body`. With a progress callback, writes go out in pieces of at most 1 MiB
// so that it is called regularly; without one, one send per kernel buffer-full.
bool write_all(int fd, const std::string& head, const std::string& body,
               const std::function<void(size_t, size_t)>& progress) {
  constexpr size_t piece = 1 << 20;
  const size_t total = head.size() + body.size();
  size_t done = 0;
  for (const std::string* data : {&head, &body}) {
    size_t off = 0;
    while (off < data->size()) {
      size_t len = progress ? std::min(piece, data->size() - off) : data->size() - off;
      auto n = ::send(fd, data->data() + off, len, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return false;
      off += static_cast<size_t>(n);
      done += static_cast<size_t>(n);
      if (progress)
        progress(done, total);
    }
  }
  return true;
}

// connect(2) bounded by `timeout` (zero: the system's own, minutes): a non-blocking connect
// waited for with poll, then the socket is made blocking again.
int connect_within(int fd, const sockaddr* addr, socklen_t len, std::chrono::milliseconds timeout) {
  if (timeout.count() <= 0)
    return ::connect(fd, addr, len);
  int flags = ::fcntl(fd, F_GETFL, 0);
  ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
  int rc = ::connect(fd, addr, len);
  if (rc != 0 && errno == EINPROGRESS) {
    pollfd p{fd, POLLOUT, 0};
    int ready;
    do
      ready = ::poll(&p, 1, static_cast<int>(timeout.count()));
    while (ready < 0 && errno == EINTR);
    if (ready == 0) {
      errno = ETIMEDOUT;
      rc = -1;
    } else if (ready > 0) {
      int err = 0;
      socklen_t elen = sizeof err;
      ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen);
      errno = err;
      rc = err ? -1 : 0;
    }
  }
  int saved = errno;
  ::fcntl(fd, F_SETFL, flags);
  errno = saved;
  return rc;
}

// Buffered reads of one response.
struct reader {
  int fd;
  std::string buf;
  size_t pos = 0;
  bool timeout = false;  // the last fill failed because the I/O timeout ran out
  bool fill() {
    char tmp[65536];
    for (;;) {
      auto n = ::recv(fd, tmp, sizeof tmp, 0);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0) {
        timeout = n < 0 && timed_out();
        return false;
      }
      buf.append(tmp, static_cast<size_t>(n));
      return true;
    }
  }
  bool line(std::string& out) {
    for (;;) {
      auto e = buf.find("\r\n", pos);
      if (e != std::string::npos) {
        out = buf.substr(pos, e - pos);
        pos = e + 2;
        return true;
      }
      if (!fill())
        return false;
    }
  }
  bool take(size_t n, std::string& out) {
    while (buf.size() - pos < n)
      if (!fill())
        return false;
    out.append(buf, pos, n);
    pos += n;
    return true;
  }
  bool rest(std::string& out) {
    out.append(buf, pos, std::string::npos);
    pos = buf.size();
    while (fill()) {
      out.append(buf, pos, std::string::npos);
      pos = buf.size();
    }
    return true;
  }
};

} // namespace

std::string http_reply::header(const std::string& lower_name) const {
  for (auto& [k, v] : headers)
    if (k == lower_name)
      return v;
  return {};
}

bool parse_base_url(const std::string& url, std::string& host, uint16_t& port) {
  std::string rest = url;
  if (rest.rfind("http://", 0) == 0)
    rest = rest.substr(7);
  while (!rest.empty() && rest.back() == '/')
    rest.pop_back();
  auto colon = rest.rfind(':');
  if (colon == std::string::npos)
    return false;
  std::string digits = rest.substr(colon + 1);
  // "https://h:443" or "h:80/api" would otherwise pass as a host name or a port.
  if (digits.empty() || digits.size() > 5 ||
      digits.find_first_not_of("0123456789") != std::string::npos ||
      rest.find('/') != std::string::npos)
    return false;
  auto p = std::stoul(digits);
  if (p == 0 || p > 65535)
    return false;
  host = rest.substr(0, colon);
  port = static_cast<uint16_t>(p);
  return !host.empty();
}

http_client::http_client(std::string host, uint16_t port) : host_(std::move(host)), port_(port) {}
http_client::~http_client() { close_socket(); }

void http_client::set_timeouts(std::chrono::milliseconds connect, std::chrono::milliseconds io) {
  connect_timeout_ = connect;
  io_timeout_ = io;
}

void http_client::on_upload(std::function<void(size_t, size_t)> progress) {
  upload_progress_ = std::move(progress);
}

void http_client::close_socket() {
  if (fd_ >= 0)
    ::close(fd_);
  fd_ = -1;
}

bool http_client::connect_socket(std::string& error) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  int rc = ::getaddrinfo(host_.c_str(), std::to_string(port_).c_str(), &hints, &res);
  if (rc != 0) {
    error = std::string("cannot resolve ") + host_ + ": " + gai_strerror(rc);
    return false;
  }
  for (auto* ai = res; ai; ai = ai->ai_next) {
    int fd = ::socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
    if (fd < 0)
      continue;
    if (connect_within(fd, ai->ai_addr, ai->ai_addrlen, connect_timeout_) == 0) {
      int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      if (io_timeout_.count() > 0) {
        timeval tv{static_cast<time_t>(io_timeout_.count() / 1000),
                   static_cast<suseconds_t>(io_timeout_.count() % 1000 * 1000)};
        ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
      }
      fd_ = fd;
      break;
    }
    ::close(fd);
  }
  ::freeaddrinfo(res);
  if (fd_ < 0)
    error = "cannot connect to " + host_ + ":" + std::to_string(port_) + ": " +
            std::strerror(errno);
  return fd_ >= 0;
}

http_reply http_client::attempt(const std::string& head, const std::string& body,
                                bool& retryable) {
  bool method_is_safe = head.compare(0, 4, "GET ") == 0;
  http_reply r;
  retryable = false;
  bool reused = fd_ >= 0;
  if (!reused && !connect_socket(r.error))
    return r;
  if (!write_all(fd_, head, body, upload_progress_)) {
    bool timeout = timed_out();
    close_socket();
    retryable = reused && !timeout;  // a kept-alive connection the server had closed
    r.error = timeout ? "timed out sending the request" : "cannot send the request";
    return r;
  }
  reader rd{fd_, {}, 0};
  std::string line;
  if (!rd.line(line)) {
    close_socket();
    retryable = reused && method_is_safe && !rd.timeout;  // the server may have acted on it
    r.error = rd.timeout ? "no response within " + std::to_string(io_timeout_.count()) + " ms"
                         : "connection closed before a response";
    return r;
  }
  if (line.size() < 12 || line.compare(0, 5, "HTTP/") != 0) {
    close_socket();
    r.error = "not an HTTP response: " + line;
    return r;
  }
  r.status = std::atoi(line.c_str() + 9);
  bool close_after = false, chunked = false;
  long long length = -1;
  while (rd.line(line) && !line.empty()) {
    auto colon = line.find(':');
    if (colon == std::string::npos)
      continue;
    auto name = lower(line.substr(0, colon));
    auto value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(" \t"));
    if (name == "content-length")
      length = std::atoll(value.c_str());
    else if (name == "transfer-encoding" && lower(value).find("chunked") != std::string::npos)
      chunked = true;
    else if (name == "connection" && lower(value) == "close")
      close_after = true;
    r.headers.emplace_back(name, value);
  }
  bool ok = true;
  if (chunked) {
    for (;;) {
      if (!rd.line(line)) {
        ok = false;
        break;
      }
      auto size = std::stoull(line, nullptr, 16);
      if (size == 0) {
        rd.line(line);
        break;
      }
      if (!rd.take(size, r.body) || !rd.line(line)) {
        ok = false;
        break;
      }
    }
  } else if (length >= 0) {
    ok = rd.take(static_cast<size_t>(length), r.body);
  } else {
    rd.rest(r.body);
    close_after = true;
  }
  if (!ok) {
    r.status = 0;
    r.error = rd.timeout ? "timed out in the middle of the body"
                         : "connection closed in the middle of the body";
  }
  if (close_after || !ok)
    close_socket();
  return r;
}

http_reply http_client::request(const std::string& method, const std::string& target,
                                const std::string& body, const std::string& content_type,
                                const std::vector<std::pair<std::string, std::string>>& headers) {
  std::string head = method + " " + target + " HTTP/1.1\r\nHost: " + host_ + ":" +
                     std::to_string(port_) + "\r\nConnection: keep-alive\r\n";
  for (auto& [name, value] : headers)
    head += name + ": " + value + "\r\n";
  if (!body.empty() || method == "POST" || method == "PUT")
    head += "Content-Type: " + content_type + "\r\nContent-Length: " +
            std::to_string(body.size()) + "\r\n";
  head += "\r\n";
  // A small request goes out in one write (one packet); a large body is sent from where it
  // is rather than copied behind the head (a million recipients are ~80 MB).
  const bool small = body.size() < (64 << 10);
  if (small)
    head += body;
  const std::string nothing;
  const std::string& rest = small ? nothing : body;  // both lvalues: no copy
  bool retryable = false;
  auto r = attempt(head, rest, retryable);
  if (r.status == 0 && retryable)
    r = attempt(head, rest, retryable);
  return r;
}

} // namespace blast::tools
