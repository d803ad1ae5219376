// The dashboard's files as blastd serves them: embedded bytes equal to
// engine/web/, content types, ETag revalidation, 404s and 405s, the API
// untouched beside them, and HEAD over a real socket (the session drops the body).
#define BOOST_TEST_MODULE engine_web
#include <boost/test/unit_test.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include <boost/json.hpp>

#include "engine/http/static_files.hpp"
#include "tests/support/api_harness.hpp"
#include "tests/support/process.hpp"
#include "tests/support/raw_socket.hpp"
#include "tests/support/temp_dir.hpp"

namespace json = boost::json;
using namespace blast;
using engine::http::request;
using engine::http::response;

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  BOOST_TEST_REQUIRE(in.good(), "cannot read " << path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string header(const response& r, const std::string& name) {
  for (auto& [k, v] : r.headers)
    if (k == name)
      return v;
  return {};
}

struct fixture : test::api_harness {
  response call_with(const std::string& method, const std::string& target,
                     std::vector<std::pair<std::string, std::string>> headers) {
    std::promise<response> p;
    auto f = p.get_future();
    router().handle(request{method, target, std::move(headers), {}},
                    [&](response r) { p.set_value(std::move(r)); });
    BOOST_TEST_REQUIRE((f.wait_for(std::chrono::seconds(10)) == std::future_status::ready));
    return f.get();
  }
};

// One request on a fresh connection; everything the server sends until it closes.
std::string raw_exchange(uint16_t port, const std::string& req) {
  int fd = blast::test::connect_loopback(port);
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  BOOST_TEST_REQUIRE(::send(fd, req.data(), req.size(), 0) == ssize_t(req.size()));
  std::string out;
  char buf[8192];
  for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;)
    out.append(buf, static_cast<size_t>(n));
  ::close(fd);
  return out;
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(web, fixture)

BOOST_AUTO_TEST_CASE(index_and_assets_are_the_files_of_engine_web_with_their_types) {
  struct expect {
    const char* target;
    const char* file;
    const char* type;
  };
  for (auto e : {expect{"/", "index.html", "text/html; charset=utf-8"},
                 expect{"/index.html", "index.html", "text/html; charset=utf-8"},
                 expect{"/app.js", "app.js", "text/javascript; charset=utf-8"},
                 expect{"/app.css", "app.css", "text/css; charset=utf-8"}}) {
    auto r = call("GET", e.target);
    BOOST_TEST(r.status == 200u, e.target);
    BOOST_TEST(r.content_type == e.type, e.target);
    // Byte for byte what is in the source tree: the embedding loses nothing.
    BOOST_TEST((r.body == read_file(std::string(WEB_DIR) + "/" + e.file)), e.target);
    BOOST_TEST(header(r, "Cache-Control") == "no-cache");
    auto etag = header(r, "ETag");
    BOOST_TEST(etag.size() == 18u, e.target << " ETag " << etag);  // '"' + 16 hex + '"'
  }
  BOOST_TEST(header(call("GET", "/app.js"), "ETag") != header(call("GET", "/app.css"), "ETag"));
}

BOOST_AUTO_TEST_CASE(a_matching_if_none_match_answers_304_without_a_body) {
  auto etag = header(call("GET", "/app.js"), "ETag");
  auto r = call_with("GET", "/app.js", {{"if-none-match", etag}});
  BOOST_TEST(r.status == 304u);
  BOOST_TEST(r.body.empty());
  BOOST_TEST(header(r, "ETag") == etag);
  auto stale = call_with("GET", "/app.js", {{"If-None-Match", "\"0000000000000000\""}});
  BOOST_TEST(stale.status == 200u);
  BOOST_TEST(!stale.body.empty());
}

BOOST_AUTO_TEST_CASE(unknown_assets_are_json_404s_and_writes_are_405s) {
  for (auto t : {"/nope.js", "/app.js.map", "/web/app.js", "/api/app.js", "/embed.cmake"}) {
    auto r = call("GET", t);
    BOOST_TEST(r.status == 404u, t);
    BOOST_TEST(r.content_type == "application/json", t);
    BOOST_TEST(json::parse(r.body).at("error").at("code").as_string() == "not_found", t);
  }
  auto r = call("POST", "/app.js");
  BOOST_TEST(r.status == 405u);
  BOOST_TEST(header(r, "Allow") == "GET, HEAD");
}

BOOST_AUTO_TEST_CASE(the_api_beside_the_dashboard_is_unchanged) {
  BOOST_TEST(get("/healthz").at("status").as_string() == "ok");
  BOOST_TEST(get("/api/blasts").at("items").as_array().empty());
  BOOST_TEST(call("GET", "/metrics").content_type.find("text/plain") == 0u);
  BOOST_TEST(call("GET", "/api/blasts/1").status == 404u);
  // Methods other than GET on API paths keep their own answers (HEAD is not
  // added to the API).
  BOOST_TEST(call("HEAD", "/healthz").status == 405u);
}

BOOST_AUTO_TEST_CASE(content_types_by_extension) {
  BOOST_TEST(std::string(engine::http::content_type_for("/x.svg")) == "image/svg+xml");
  BOOST_TEST(std::string(engine::http::content_type_for("/x.bin")) ==
             "application/octet-stream");
}

BOOST_AUTO_TEST_SUITE_END()

// Over TCP against a blastd process started from another folder: the files
// come from the binary, HEAD has GET's headers and no body, and the
// connection stays usable after it (a body sent anyway would be read as the
// next response).
BOOST_AUTO_TEST_CASE(head_over_a_socket_sends_headers_only) {
  test::temp_dir dir;
  BOOST_TEST_REQUIRE(::chdir(dir.path().c_str()) == 0);
  test::blastd_process proc{BLASTD_PATH, dir.path() + "/data", dir.path() + "/blastd.log",
                            {"--log-level", "warn"}};
  auto size = read_file(std::string(WEB_DIR) + "/app.js").size();
  auto out = raw_exchange(proc.port(), "HEAD /app.js HTTP/1.1\r\nHost: t\r\n\r\n"
                                       "GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
  BOOST_TEST(out.find("HTTP/1.1 200 OK\r\n") == 0u, out);
  BOOST_TEST(out.find("Content-Type: text/javascript; charset=utf-8\r\n") != std::string::npos);
  BOOST_TEST(out.find("Content-Length: " + std::to_string(size) + "\r\n") != std::string::npos);
  // Right after the HEAD answer's blank line comes the second response.
  auto end = out.find("\r\n\r\n");
  BOOST_TEST_REQUIRE(end != std::string::npos);
  BOOST_TEST(out.compare(end + 4, 17, "HTTP/1.1 200 OK\r\n") == 0, out.substr(end + 4, 200));
  BOOST_TEST(out.find("{\"status\":\"ok\"}") != std::string::npos);
}
