// One HTTP connection: reads a request (with limits and a read timeout),
// hands it to the router, writes the answer on the connection's strand, and
// keeps the connection alive as the client asks. Private to engine/http.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "engine/http/router.hpp"
#include "engine/http/server.hpp"

namespace blast::engine::http {

// Holds one unit of a shared count for its lifetime (an open connection).
class counted {
public:
  explicit counted(std::shared_ptr<std::atomic<size_t>> n) : n_(std::move(n)) { ++*n_; }
  ~counted() { --*n_; }
  counted(const counted&) = delete;
  counted& operator=(const counted&) = delete;

private:
  std::shared_ptr<std::atomic<size_t>> n_;
};

class session : public std::enable_shared_from_this<session> {
public:
  // `slot` counts this session among the open connections (or the refusals
  // in flight) until it ends.
  session(boost::asio::ip::tcp::socket&& socket, router& r, const server_options& opts,
          std::shared_ptr<std::atomic<size_t>> slot);
  void run();
  // Answers `res` without reading a request, then closes (a connection over
  // the limit).
  void refuse(response res);

private:
  void read();
  void read_request();
  void arm_deadline(unsigned seconds);
  void disarm_deadline();
  void on_header(boost::beast::error_code ec);
  // Checks the API key on the request's headers. False when the answer (a
  // 401/403) is already on its way and the body will not be read.
  bool authorize();
  void on_read(boost::beast::error_code ec);
  void write(response res, bool keep_alive, bool close_after);
  // A streamed body: the head, then chunks as the source produces them.
  void write_stream(response res, bool keep_alive);
  void pump(std::shared_ptr<body_source> src, bool keep_alive);
  void on_piece(std::shared_ptr<body_source> src, bool keep_alive, body_source::piece p);
  void pump_after(std::shared_ptr<body_source> src, bool keep_alive,
                  std::chrono::milliseconds wait);
  void log_answer(unsigned status, const std::string& size);
  void close();
  // Closes after a complete answer: half-closes, then reads and drops what
  // the client still sends for a moment before closing (see session.cpp).
  void linger_close();
  void drain();

  boost::beast::tcp_stream stream_;
  boost::beast::flat_buffer buffer_;
  counted slot_;
  boost::asio::steady_timer timer_;     // paces a streamed body's pieces
  boost::asio::steady_timer deadline_;  // the idle wait, then the request's read deadline
  uint64_t deadline_gen_ = 0;           // a fired deadline of an older generation is stale
  bool timed_out_ = false;              // the request's deadline cancelled its read
  std::optional<boost::beast::http::request_parser<boost::beast::http::string_body>> parser_;
  router& router_;
  const server_options& opts_;
  unsigned version_ = 11;
  bool large_request_ = false;  // trim the heap once it is answered
  bool head_request_ = false;   // HEAD: answer the headers only
  std::string log_prefix_;  // "METHOD target", for the request log line
  std::string key_name_;    // the API key's name, for the log line
  std::optional<response> denied_;  // refused at the headers, answered once the body is read
  std::chrono::steady_clock::time_point started_;
};

} // namespace blast::engine::http
