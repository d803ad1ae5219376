// The blocking HTTP/1.1 client: writes the request, reads the head, then the
// body by Content-Length or chunked encoding.
#include "tools/http_client.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

namespace blast::tools {

namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

bool write_all(int fd, const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    auto n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

// Buffered reads of one response.
struct reader {
  int fd;
  std::string buf;
  size_t pos = 0;
  bool fill() {
    char tmp[65536];
    for (;;) {
      auto n = ::recv(fd, tmp, sizeof tmp, 0);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return false;
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
  host = rest.substr(0, colon);
  try {
    auto p = std::stoul(rest.substr(colon + 1));
    if (p == 0 || p > 65535)
      return false;
    port = static_cast<uint16_t>(p);
  } catch (...) {
    return false;
  }
  return !host.empty();
}

http_client::http_client(std::string host, uint16_t port) : host_(std::move(host)), port_(port) {}
http_client::~http_client() { close_socket(); }

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
    if (::connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
      int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
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

http_reply http_client::attempt(const std::string& wire, bool& retryable) {
  bool method_is_safe = wire.compare(0, 4, "GET ") == 0;
  http_reply r;
  retryable = false;
  bool reused = fd_ >= 0;
  if (!reused && !connect_socket(r.error))
    return r;
  if (!write_all(fd_, wire)) {
    close_socket();
    retryable = reused;  // a kept-alive connection the server had closed
    r.error = "cannot send the request";
    return r;
  }
  reader rd{fd_, {}, 0};
  std::string line;
  if (!rd.line(line)) {
    close_socket();
    retryable = reused && method_is_safe;  // the server may have acted on it
    r.error = "connection closed before a response";
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
    r.error = "connection closed in the middle of the body";
  }
  if (close_after || !ok)
    close_socket();
  return r;
}

http_reply http_client::request(const std::string& method, const std::string& target,
                                const std::string& body, const std::string& content_type,
                                const std::vector<std::pair<std::string, std::string>>& headers) {
  std::string wire = method + " " + target + " HTTP/1.1\r\nHost: " + host_ + ":" +
                     std::to_string(port_) + "\r\nConnection: keep-alive\r\n";
  for (auto& [name, value] : headers)
    wire += name + ": " + value + "\r\n";
  if (!body.empty() || method == "POST" || method == "PUT")
    wire += "Content-Type: " + content_type + "\r\nContent-Length: " +
            std::to_string(body.size()) + "\r\n";
  wire += "\r\n";
  wire += body;
  bool retryable = false;
  auto r = attempt(wire, retryable);
  if (r.status == 0 && retryable)
    r = attempt(wire, retryable);
  return r;
}

} // namespace blast::tools
