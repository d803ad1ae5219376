// A plain TCP client for tests that must misbehave where an HTTP client
// would not: send bytes slowly, stop half-way, hold a connection idle, and
// see exactly what the server wrote and whether it closed.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <string>

#include <boost/test/unit_test.hpp>

namespace blast::test {

// A TCP socket connected to 127.0.0.1:`port` (the test stops if it cannot be).
inline int connect_loopback(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  BOOST_TEST_REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  return fd;
}

class raw_socket {
public:
  explicit raw_socket(uint16_t port) {
    fd_ = connect_loopback(port);
  }
  ~raw_socket() { close(); }
  raw_socket(const raw_socket&) = delete;
  raw_socket& operator=(const raw_socket&) = delete;

  // False once the server has closed (or reset) the connection.
  bool send(const std::string& bytes) {
    return ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) ==
           static_cast<ssize_t>(bytes.size());
  }

  // Reads what arrives within `wait` (stopping early once `until` is in
  // `received()` or the server closes); returns the bytes read this time.
  std::string read(std::chrono::milliseconds wait, const std::string& until = {}) {
    std::string got;
    auto end = std::chrono::steady_clock::now() + wait;
    while (!closed_) {
      if (!until.empty() && received_.find(until) != std::string::npos)
        break;
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        end - std::chrono::steady_clock::now());
      if (left.count() <= 0)
        break;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0)
        break;
      char buf[4096];
      auto n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) {
        closed_ = true;
        break;
      }
      got.append(buf, static_cast<size_t>(n));
      received_.append(buf, static_cast<size_t>(n));
    }
    return got;
  }

  const std::string& received() const { return received_; }
  bool closed_by_server() const { return closed_; }
  void close() {
    if (fd_ >= 0)
      ::close(fd_);
    fd_ = -1;
  }

private:
  int fd_ = -1;
  std::string received_;
  bool closed_ = false;
};

// Sends `bytes` on a new connection and returns everything the server answers
// until it closes, `until` appears, or 5 s pass.
inline std::string raw_exchange(uint16_t port, const std::string& bytes,
                                const std::string& until = {}) {
  raw_socket s(port);
  s.send(bytes);
  s.read(std::chrono::seconds(5), until);
  return s.received();
}

} // namespace blast::test
