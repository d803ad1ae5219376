// HTTP requests and responses as plain values, so that the router is a
// function of them and never sees a socket, and Beast stays in session.cpp.
#pragma once

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

struct response {
  unsigned status = 200;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

} // namespace blast::engine::http
