// One HTTP connection: reads a request (with limits and a read timeout),
// hands it to the router, writes the answer on the connection's strand, and
// keeps the connection alive as the client asks. Private to engine/http.
#pragma once

#include <array>
#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "engine/http/router.hpp"
#include "engine/http/server.hpp"

namespace blast::engine::http {

class session : public std::enable_shared_from_this<session> {
public:
  session(boost::asio::ip::tcp::socket&& socket, router& r, const server_options& opts);
  void run();

private:
  void read();
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
  void drain(size_t drained);  // reads and drops what the client still sends, then closes

  boost::beast::tcp_stream stream_;
  boost::beast::flat_buffer buffer_;
  boost::asio::steady_timer timer_;  // paces a streamed body's pieces
  std::optional<boost::beast::http::request_parser<boost::beast::http::string_body>> parser_;
  router& router_;
  const server_options& opts_;
  unsigned version_ = 11;
  bool large_request_ = false;  // trim the heap once it is answered
  bool head_request_ = false;   // HEAD: answer the headers only
  std::string log_prefix_;  // "METHOD target", for the request log line
  std::string key_name_;    // the API key's name, for the log line
  std::optional<response> denied_;  // refused at the headers, answered once the body is read
  bool linger_ = false;  // refused with the body unread: drain it before closing
  std::chrono::steady_clock::time_point started_;
};

} // namespace blast::engine::http
