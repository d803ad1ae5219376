// One HTTP connection: reads a request (with limits and a read timeout),
// hands it to the router, writes the answer on the connection's executor, and
// keeps the connection alive as the client asks. Private to engine/http.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
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

class session;

// The server's live sessions, so that a shutdown can close the idle ones and
// wait for the busy ones. Shared by the server and every session: a session
// still waiting on its answer when the shutdown gives up may outlive the stop.
struct session_registry {
  std::atomic<bool> draining{false};  // set once by the shutdown; never cleared
  std::mutex mu;
  std::condition_variable cv;  // notified when a session ends
  std::map<const session*, std::weak_ptr<session>> live;
};

class session : public std::enable_shared_from_this<session> {
public:
  // `slot` counts this session among the open connections (or the refusals
  // in flight) until it ends; `registry` lets a shutdown find it.
  session(boost::asio::ip::tcp::socket&& socket, router& r, const server_options& opts,
          std::shared_ptr<std::atomic<size_t>> slot, std::shared_ptr<session_registry> registry);
  ~session();
  void run();
  // Answers `res` without reading a request, then closes (a connection over
  // the limit).
  void refuse(response res);
  // Shutdown: an idle connection (no request begun) or a stream is closed at
  // once; a request in progress is answered, then its connection closed.
  // Thread-safe: runs on the session's executor.
  void drain();

private:
  void read();
  void read_request();
  void arm_deadline(unsigned seconds);
  void disarm_deadline() { deadline_armed_ = false; }
  void wait_deadline();
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
  void log_answer(unsigned status, std::optional<size_t> bytes);  // nullopt: streamed
  void close();
  // Closes after a complete answer: half-closes, then reads and drops what
  // the client still sends for a moment before closing (see session.cpp).
  void linger_close();
  void discard_input();
  bool draining() const { return registry_->draining.load(std::memory_order_acquire); }

  boost::beast::tcp_stream stream_;
  boost::beast::flat_buffer buffer_;
  counted slot_;
  boost::asio::steady_timer timer_;     // paces a streamed body's pieces
  // The idle wait's, then the request's read, then its answer's deadline: see arm_deadline().
  boost::asio::steady_timer deadline_;  // wakes at deadline_at_ or before
  std::chrono::steady_clock::time_point deadline_at_;
  bool deadline_armed_ = false;
  bool deadline_waiting_ = false;       // a wait on deadline_ is pending
  bool timed_out_ = false;              // the deadline cancelled the pending read or write
  std::optional<boost::beast::http::request_parser<boost::beast::http::string_body>> parser_;
  router& router_;
  const server_options& opts_;
  std::shared_ptr<session_registry> registry_;
  // On the strand only. busy_: from a request's header to its answer written;
  // streaming_: a streamed body is being written (it ends at a shutdown).
  bool busy_ = false;
  bool streaming_ = false;
  std::string method_, target_;  // of the request being answered, for /metrics
  unsigned version_ = 11;
  bool large_request_ = false;  // trim the heap once it is answered
  bool head_request_ = false;   // HEAD: answer the headers only
  std::string log_prefix_;  // "METHOD target", for the request log line
  std::string key_name_;    // the API key's name, for the log line
  std::optional<response> denied_;  // refused at the headers, answered once the body is read
  std::string answer_head_, answer_body_;  // the answer being written (write())
  std::chrono::steady_clock::time_point started_;
};

} // namespace blast::engine::http
