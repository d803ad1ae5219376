// HTTP requests and responses as plain values, so that the router is a
// function of them and never sees a socket, and Beast stays in session.cpp.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace blast::engine::http {

struct request {
  std::string method;  // upper case: "GET", "POST", ...
  std::string target;  // origin form: path and query, percent-encoded
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

// A body written while it is produced, with chunked transfer encoding (CSV
// exports, Server-Sent Events). The session asks for the next piece only once
// the last one is on the wire, so a slow client holds one piece of memory and
// a fast one never waits on a buffer.
class body_source {
public:
  struct piece {
    std::string data;  // may be empty: nothing to write this time
    bool last = false;  // the body ends after `data`
    std::chrono::milliseconds wait{0};  // ask for the next piece after this long
  };
  virtual ~body_source() = default;
  // Produces the next piece and calls `done` exactly once, from any thread.
  virtual void next(std::function<void(piece)> done) = 0;
};

struct response {
  unsigned status = 200;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;                    // the whole body, unless `stream` is set
  std::shared_ptr<body_source> stream;  // set: the body comes from here instead
};

} // namespace blast::engine::http
