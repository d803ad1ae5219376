// Tests of the wsapme transport plugin, loaded through blastd's host API and driven against a
// fake WSAPME gateway in this file (HTTP and HTTPS on 127.0.0.1, scripted answers per path).
//
// The fake gateway is deliberately tiny and blocking (a thread per connection) and is not the
// simulator in tools/: it only answers what each test scripts, and records every request and
// connection so that tests can check what the plugin put on the wire.
#define BOOST_TEST_MODULE plugins_wsapme
#include "plugins/host/transport_plugin.hpp"
#include "plugins/sdk/blast_transport.h"
#include "tests/support/send_error_print.hpp"
#include "tools/wsapme_sim/webhook_sender.hpp"

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <ostream>
#include <string>
#include <sys/socket.h>
#include <thread>
#include <utility>
#include <vector>

using namespace blast::plugins;
namespace wsapme_sim = blast::tools::wsapme_sim;
namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace ssl = net::ssl;
namespace json = boost::json;
using tcp = net::ip::tcp;


namespace {

// ---- the fake gateway ------------------------------------------------------------------------

struct fake_request {
  std::string method, target, body;
  std::map<std::string, std::string> headers; // names lower-cased
  std::string header(const std::string& lower) const {
    auto it = headers.find(lower);
    return it == headers.end() ? std::string() : it->second;
  }
};

struct fake_response {
  fake_response(int status = 200, std::string body = {},
                std::vector<std::pair<std::string, std::string>> headers = {},
                std::chrono::milliseconds delay = {}, bool drop_after = false)
      : status(status), body(std::move(body)), headers(std::move(headers)), delay(delay),
        drop_after(drop_after) {}
  int status;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  std::chrono::milliseconds delay;
  bool drop_after; // close the connection after answering, without saying so
};

using handler_fn = std::function<fake_response(const fake_request&)>;

class fake_gateway {
public:
  explicit fake_gateway(ssl::context* tls = nullptr)
      : tls_(tls), acceptor_(io_, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0)) {
    accept_thread_ = std::thread([this] { accept_loop(); });
  }

  ~fake_gateway() {
    stopping_ = true;
    {
      // Wakes the blocking accept with a connection of our own.
      net::io_context io;
      tcp::socket wake(io);
      beast::error_code ec;
      wake.connect(acceptor_.local_endpoint(), ec);
      accept_thread_.join();
    }
    {
      // Sessions never close their sockets (the fds stay theirs, so no other socket reuses a
      // number we shut down here); shutdown ends their blocking reads.
      std::lock_guard<std::mutex> lk(mu_);
      for (tcp::socket& s : sockets_)
        ::shutdown(s.native_handle(), SHUT_RDWR);
    }
    for (std::thread& t : sessions_)
      t.join();
  }

  uint16_t port() const { return acceptor_.local_endpoint().port(); }
  std::string base_url() const {
    return std::string(tls_ ? "https" : "http") + "://127.0.0.1:" + std::to_string(port());
  }

  void on(const std::string& path, handler_fn h) {
    std::lock_guard<std::mutex> lk(mu_);
    routes_[path] = std::move(h);
  }
  // Answers every request to `path` with `r`.
  void answer(const std::string& path, fake_response r) {
    on(path, [r](const fake_request&) { return r; });
  }

  std::vector<fake_request> requests() {
    std::lock_guard<std::mutex> lk(mu_);
    return requests_;
  }
  fake_request last() {
    std::lock_guard<std::mutex> lk(mu_);
    BOOST_TEST_REQUIRE(!requests_.empty());
    return requests_.back();
  }
  int connections() const { return connections_.load(); }

private:
  void accept_loop() {
    for (;;) {
      tcp::socket s(io_);
      beast::error_code ec;
      acceptor_.accept(s, ec);
      if (stopping_ || ec)
        return;
      ++connections_;
      std::lock_guard<std::mutex> lk(mu_);
      sockets_.push_back(std::move(s));
      tcp::socket& mine = sockets_.back();
      sessions_.emplace_back([this, &mine] { session(mine); });
    }
  }

  void session(tcp::socket& s) {
    try {
      if (tls_) {
        ssl::stream<tcp::socket&> stream(s, *tls_);
        beast::error_code ec;
        stream.handshake(ssl::stream_base::server, ec);
        if (!ec)
          serve(stream, s.native_handle());
      } else {
        serve(s, s.native_handle());
      }
    } catch (const std::exception&) {
      // A client gone mid-request; the test sees it from the plugin's side.
    }
  }

  template <class Stream> void serve(Stream& stream, int fd) {
    beast::flat_buffer buffer;
    for (;;) {
      http::request<http::string_body> req;
      beast::error_code ec;
      http::read(stream, buffer, req, ec);
      if (ec)
        return;
      fake_request fr;
      fr.method = std::string(req.method_string());
      fr.target = std::string(req.target());
      fr.body = req.body();
      for (const auto& f : req) {
        std::string name(f.name_string());
        for (char& c : name)
          c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        fr.headers[name] = std::string(f.value());
      }
      handler_fn h;
      {
        std::lock_guard<std::mutex> lk(mu_);
        requests_.push_back(fr);
        auto it = routes_.find(fr.target.substr(0, fr.target.find('?')));
        if (it != routes_.end())
          h = it->second;
      }
      fake_response r = h ? h(fr) : fake_response{404, R"({"success":false,"message":"no route"})"};
      if (r.delay.count() > 0)
        std::this_thread::sleep_for(r.delay);
      http::response<http::string_body> res{static_cast<http::status>(r.status), 11};
      res.set(http::field::content_type, "application/json");
      for (const auto& [name, value] : r.headers)
        res.set(name, value);
      res.body() = r.body;
      res.keep_alive(req.keep_alive());
      res.prepare_payload();
      http::write(stream, res, ec);
      if (ec)
        return;
      if (r.drop_after || !req.keep_alive()) {
        ::shutdown(fd, SHUT_RDWR);
        return;
      }
    }
  }

  ssl::context* tls_;
  net::io_context io_;
  tcp::acceptor acceptor_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> connections_{0};
  std::thread accept_thread_;
  std::mutex mu_; // guards everything below
  std::list<tcp::socket> sockets_;
  std::vector<std::thread> sessions_;
  std::map<std::string, handler_fn> routes_;
  std::vector<fake_request> requests_;
};

// ---- the plugin ------------------------------------------------------------------------------

const std::string token = "tok-123-secret";

// Every plugin log line, to check that the token never appears in one.
std::mutex log_mu;
std::vector<std::string> log_lines;

// Loaded once: a library loaded twice shares one handle, and its log lines go to the latest
// loader's log_fn.
plugin_library& plugin() {
  static std::shared_ptr<plugin_library> lib = [] {
    std::string error;
    auto l = plugin_library::load(WSAPME_PLUGIN, error, [](int, const std::string& line) {
      std::lock_guard<std::mutex> lk(log_mu);
      log_lines.push_back(line);
    });
    BOOST_TEST_REQUIRE(bool(l), error);
    return l;
  }();
  return *lib;
}

std::unique_ptr<transport_instance> create_ok(const std::string& config) {
  std::string error;
  auto inst = plugin().create(config, {}, error);
  BOOST_TEST_REQUIRE(bool(inst), error);
  return inst;
}

std::string create_error(const std::string& config) {
  std::string error;
  auto inst = plugin().create(config, {}, error);
  BOOST_TEST(!inst);
  return error;
}

// A config for `g` with `extra` members appended (each starting with a comma).
std::string config_for(const fake_gateway& g, const std::string& extra = "") {
  return R"({"baseUrl":")" + g.base_url() + R"(","token":")" + token + R"(","device":"5850")" +
         extra + "}";
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

std::string send_ok_body(const std::string& id, const std::string& data) {
  return R"({"success":true,"message":"Sent Successfully","messageId":")" + id + R"(","data":)" +
         data + "}";
}

const std::string plain_doc =
    R"({"key":{"remoteJid":"60123456789@s.whatsapp.net","fromMe":true,"id":"3EB0ABC"},)"
    R"("message":{"extendedTextMessage":{"text":"Hello Aisyah"}},)"
    R"("messageTimestamp":"1768716040","status":"PENDING"})";


webhook_request hook(std::string body, std::vector<std::pair<std::string, std::string>> headers) {
  webhook_request req;
  req.method = "POST";
  req.path = "/webhooks/wa";
  req.headers = std::move(headers);
  req.headers.emplace_back("Content-Type", "application/json");
  req.body = std::move(body);
  return req;
}

// A self-signed certificate for 127.0.0.1, made here so that no key material lives in the tree.
std::unique_ptr<ssl::context> self_signed_server_context() {
  auto ctx = std::make_unique<ssl::context>(ssl::context::tls_server);
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* cert = X509_new();
  BOOST_TEST_REQUIRE((key && cert));
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert), -60);
  X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
  X509_set_pubkey(cert, key);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("127.0.0.1"), -1, -1, 0);
  X509_set_issuer_name(cert, name);
  BOOST_TEST_REQUIRE(X509_sign(cert, key, EVP_sha256()) > 0);
  BOOST_TEST_REQUIRE(SSL_CTX_use_certificate(ctx->native_handle(), cert) == 1);
  BOOST_TEST_REQUIRE(SSL_CTX_use_PrivateKey(ctx->native_handle(), key) == 1);
  X509_free(cert); // the context holds its own references
  EVP_PKEY_free(key);
  return ctx;
}

} // namespace

BOOST_AUTO_TEST_SUITE(plugins_wsapme)

BOOST_AUTO_TEST_CASE(describes_itself) {
  const plugin_info& info = plugin().info();
  BOOST_TEST(info.name == "wsapme");
  BOOST_TEST(info.capabilities == (BLAST_CAP_SEND | BLAST_CAP_STATUS_QUERY | BLAST_CAP_WEBHOOK));
}

BOOST_AUTO_TEST_CASE(config_errors_name_the_key) {
  std::string e = create_error(R"({"baseUrl":"http://127.0.0.1:1","device":"5850"})");
  BOOST_TEST(contains(e, "\"token\" is required"), e);
  e = create_error(R"({"baseUrl":"http://127.0.0.1:1","token":"t"})");
  BOOST_TEST(contains(e, "\"device\" is required"), e);
  e = create_error(R"({"baseUrl":"http://127.0.0.1:1","token":"t","device":5850})");
  BOOST_TEST(contains(e, "\"device\" must be a string"), e);
  e = create_error(R"({"token":"t","device":"5850"})");
  BOOST_TEST(contains(e, "\"baseUrl\" is required"), e);
  e = create_error(R"({"baseUrl":"ftp://gw.example","token":"t","device":"5850"})");
  BOOST_TEST(contains(e, "\"baseUrl\" must use http or https"), e);
  e = create_error(R"({"baseUrl":"not a url","token":"t","device":"5850"})");
  BOOST_TEST(contains(e, "\"baseUrl\""), e);
  e = create_error(R"({"baseUrl":"http://127.0.0.1:1","token":"t","device":"5850","tokn":"x"})");
  BOOST_TEST(contains(e, "unknown key \"tokn\""), e);
  BOOST_TEST(contains(e, "allowed: baseUrl, token, device"), e);
  e = create_error(
      R"({"baseUrl":"http://127.0.0.1:1","token":"t","device":"5850","statusLookup":"poll"})");
  BOOST_TEST(contains(e, "\"statusLookup\""), e);
  e = create_error(
      R"({"baseUrl":"http://127.0.0.1:1","token":"t","device":"5850","maxConnections":0})");
  BOOST_TEST(contains(e, "\"maxConnections\" must be an integer in [1, 256]"), e);
  e = create_error(
      R"({"baseUrl":"http://127.0.0.1:1","token":"t","device":"5850","sendPath":"v1/send"})");
  BOOST_TEST(contains(e, "\"sendPath\""), e);
  e = create_error("not json");
  BOOST_TEST(contains(e, "not valid JSON"), e);
  // Engine-level polling keys are accepted and ignored.
  create_ok(R"({"baseUrl":"https://gw.example/api/","token":"t","device":"5850",)"
            R"("pollIntervalSeconds":30,"pollMaxAgeSeconds":3600})");
}

BOOST_AUTO_TEST_CASE(send_keeps_the_data_document_byte_for_byte) {
  fake_gateway g;
  // Odd key order, unknown fields, nesting, 1.50, a big integer as a string and as a number,
  // unicode escapes, brackets and a fake "data" inside strings, irregular spacing.
  const std::string data =
      R"({"zeta" : 1.50, "key":{"remoteJid":"60123456789@s.whatsapp.net","fromMe":true,)"
      R"("id":"3EB0ABC"},"big":"18446744073709551617","n":123456789012345678901234,)"
      R"("u":"caf\u00e9 \ud83d\ude00 \"q\" {not} [a] \\","nested":{"a":[1,{"b":null},[]],"e":{}},)"
      R"( "spaced" :  [ 1 , 2 ] ,"message":{"extendedTextMessage":{"text":"Hello Aisyah"}},)"
      R"("messageTimestamp":"1768716040","status":"PENDING","unknownNew":{"x":-0.0e+10}})";
  const std::string body = R"({"note":"\"data\": {fake}","success":true,"messageId":"3EB0ABC",)"
                           R"("data":  )" +
                           data + R"(  ,"message":"Sent Successfully","later":{"data":"no"}})";
  g.answer("/v1/sendMessage2", {200, body});
  auto inst = create_ok(config_for(g));

  send_result r = inst->send("60123456789", "Hello Aisyah", "b1-r1");
  BOOST_TEST_REQUIRE(r.error == send_error::none, r.message);
  BOOST_TEST(r.message_id == "3EB0ABC");
  BOOST_TEST(r.document == data);

  fake_request req = g.last();
  BOOST_TEST(req.method == "POST");
  BOOST_TEST(req.target == "/v1/sendMessage2");
  BOOST_TEST(req.header("x-wsapme-token") == token);
  BOOST_TEST(req.header("content-type") == "application/json");
  BOOST_TEST(json::parse(req.body) ==
             json::parse(R"({"device":"5850","to":"60123456789","message":"Hello Aisyah"})"));

  // A recipient that is not digits never reaches the gateway.
  size_t before = g.requests().size();
  BOOST_TEST(inst->send("+60123", "x", "b1-r2").error == send_error::invalid);
  BOOST_TEST(inst->send("", "x", "b1-r3").error == send_error::invalid);
  BOOST_TEST(g.requests().size() == before);
}

BOOST_AUTO_TEST_CASE(a_base_url_path_prefixes_every_path) {
  fake_gateway g;
  g.answer("/gw/v1/sendMessage2", {200, send_ok_body("ID1", plain_doc)});
  auto inst = create_ok(R"({"baseUrl":")" + g.base_url() + R"(/gw/","token":")" + token +
                        R"(","device":"5850"})");
  send_result r = inst->send("60123456789", "hi", "k");
  BOOST_TEST(r.error == send_error::none, r.message);
  BOOST_TEST(g.last().target == "/gw/v1/sendMessage2");
}

BOOST_AUTO_TEST_CASE(send_errors_map_to_the_right_codes) {
  fake_gateway g;
  auto inst = create_ok(config_for(g));
  auto with = [&](fake_response resp) {
    g.answer("/v1/sendMessage2", std::move(resp));
    return inst->send("60123456789", "hi", "k");
  };

  send_result r = with({401, R"({"success": false, "message": "Unauthorised Token"})"});
  BOOST_TEST(r.error == send_error::permanent);
  BOOST_TEST(contains(r.message, "401"), r.message);
  BOOST_TEST(contains(r.message, "Unauthorised Token"), r.message);

  r = with({429, R"({"success":false,"message":"slow down"})", {{"Retry-After", "7"}}});
  BOOST_TEST(r.error == send_error::rate_limited);
  BOOST_TEST(r.retry_after_ms == 7000);
  r = with({429, "{}", {{"Retry-After", "Wed, 21 Oct 2015 07:28:00 GMT"}}});
  BOOST_TEST(r.error == send_error::rate_limited);
  BOOST_TEST(r.retry_after_ms == 0);
  r = with({429, "{}"});
  BOOST_TEST(r.error == send_error::rate_limited);
  BOOST_TEST(r.retry_after_ms == 0);

  r = with({503, "upstream down"});
  BOOST_TEST(r.error == send_error::retryable);
  BOOST_TEST(contains(r.message, "503"), r.message);
  BOOST_TEST(contains(r.message, "upstream down"), r.message);

  r = with({200, R"({"success":false,"message":"Device not connected"})"});
  BOOST_TEST(r.error == send_error::permanent);
  BOOST_TEST(contains(r.message, "Device not connected"), r.message);

  r = with({400, R"({"success":false,"message":"Invalid number"})"});
  BOOST_TEST(r.error == send_error::permanent);
  BOOST_TEST(contains(r.message, "Invalid number"), r.message);

  r = with({200, "<html>proxy</html>"});
  BOOST_TEST(r.error == send_error::permanent);

  // Still a working connection after all those answers.
  r = with({200, send_ok_body("ID1", plain_doc)});
  BOOST_TEST(r.error == send_error::none, r.message);
  BOOST_TEST(r.document == plain_doc);
}

BOOST_AUTO_TEST_CASE(timeouts_and_refused_connections_are_retryable) {
  {
    fake_gateway g;
    g.answer("/v1/sendMessage2",
             {200, send_ok_body("ID1", plain_doc), {}, std::chrono::milliseconds(1500)});
    auto inst = create_ok(config_for(g, R"(,"requestTimeoutMs":300)"));
    auto start = std::chrono::steady_clock::now();
    send_result r = inst->send("60123456789", "hi", "k");
    auto took = std::chrono::steady_clock::now() - start;
    BOOST_TEST(r.error == send_error::retryable);
    BOOST_TEST(contains(r.message, "timeout after 300 ms"), r.message);
    BOOST_TEST(std::chrono::duration_cast<std::chrono::milliseconds>(took).count() < 1200);
  }
  uint16_t closed_port;
  {
    net::io_context io;
    tcp::acceptor a(io, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
    closed_port = a.local_endpoint().port();
  }
  auto inst = create_ok(R"({"baseUrl":"http://127.0.0.1:)" + std::to_string(closed_port) +
                        R"(","token":"t","device":"5850"})");
  send_result r = inst->send("60123456789", "hi", "k");
  BOOST_TEST(r.error == send_error::retryable);
  BOOST_TEST(
      contains(r.message, "connect to 127.0.0.1:" + std::to_string(closed_port) + " failed: "),
      r.message);
}

BOOST_AUTO_TEST_CASE(connections_are_kept_alive_and_reopened_when_dropped) {
  fake_gateway g;
  g.answer("/v1/sendMessage2", {200, send_ok_body("ID1", plain_doc)});
  auto inst = create_ok(config_for(g));
  for (int i = 0; i < 5; ++i)
    BOOST_TEST(inst->send("60123456789", "hi", "k").error == send_error::none);
  BOOST_TEST(g.connections() == 1);

  // The gateway drops the kept-alive connection after answering: the next send finds it dead,
  // reconnects once and succeeds.
  g.answer("/v1/sendMessage2", {200, send_ok_body("ID2", plain_doc), {}, {}, true});
  BOOST_TEST(inst->send("60123456789", "hi", "k").error == send_error::none);
  std::this_thread::sleep_for(std::chrono::milliseconds(50)); // let the FIN arrive
  g.answer("/v1/sendMessage2", {200, send_ok_body("ID3", plain_doc)});
  send_result r = inst->send("60123456789", "hi", "k");
  BOOST_TEST(r.error == send_error::none, r.message);
  BOOST_TEST(r.message_id == "ID3");
  BOOST_TEST(g.connections() == 2);
}

BOOST_AUTO_TEST_CASE(concurrent_sends_share_a_bounded_pool) {
  fake_gateway g;
  g.answer("/v1/sendMessage2",
           {200, send_ok_body("ID", plain_doc), {}, std::chrono::milliseconds(5)});
  auto inst = create_ok(config_for(g, R"(,"maxConnections":2)"));
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 10; ++i)
        if (inst->send("60123456789", "hi", "k").error == send_error::none)
          ++ok;
    });
  for (auto& t : threads)
    t.join();
  BOOST_TEST(ok.load() == 40);
  BOOST_TEST(g.connections() <= 2);
}

BOOST_AUTO_TEST_CASE(get_message_status_lookups) {
  fake_gateway g;
  auto inst = create_ok(config_for(g));
  auto lookup = [&](const std::string& answer_body, std::vector<observation>& out) {
    g.answer("/v1/getMessageStatus", {200, answer_body});
    out.clear();
    return inst->query_status("3EB0ABC", plain_doc, out);
  };
  std::vector<observation> out;

  const std::string data = R"({"key":{"id":"3EB0ABC"}, "status":"DELIVERY_ACK","statusCode":3,)"
                           R"("messageTimestamp":"1768716040","messageC2STimestamp":"1768716052"})";
  call_status s = lookup(R"({"success":true,"data": )" + data + "}", out);
  BOOST_TEST_REQUIRE(s.ok(), s.message);
  fake_request req = g.last();
  BOOST_TEST(req.target == "/v1/getMessageStatus");
  BOOST_TEST(req.header("x-wsapme-token") == token);
  BOOST_TEST(json::parse(req.body) == json::parse(R"({"device":"5850","messageId":"3EB0ABC"})"));
  BOOST_TEST_REQUIRE(out.size() == 1u);
  BOOST_TEST(out[0].message_id == "3EB0ABC");
  BOOST_TEST(out[0].stage == BLAST_STAGE_DELIVERED);
  BOOST_TEST(out[0].provider_status == "DELIVERY_ACK");
  BOOST_TEST(out[0].provider_time_ms == 1768716052000);
  BOOST_TEST(out[0].raw == data);
  BOOST_TEST(!out[0].event_id.empty());
  std::string first_event = out[0].event_id;
  BOOST_TEST(lookup(R"({"success":true,"data": )" + data + "}", out).ok());
  BOOST_TEST(out.at(0).event_id == first_event); // a repeated look-up de-duplicates

  // No status yet: empty, null or missing data is an answer with no observation.
  for (const char* empty : {R"({"success":true,"data":{}})", R"({"success":true,"data":null})",
                            R"({"success":true})", R"({"success":true,"data":[]})"}) {
    s = lookup(empty, out);
    BOOST_TEST(s.ok(), s.message);
    BOOST_TEST(out.empty(), empty);
  }

  struct {
    const char* data;
    int stage;
    const char* word;
  } cases[] = {
      {R"({"status":"READ","statusCode":4})", BLAST_STAGE_READ, "READ"},
      {R"({"status":"READ_ACK"})", BLAST_STAGE_READ, "READ_ACK"},
      {R"({"statusCode":5})", BLAST_STAGE_READ, "PLAYED"},
      {R"({"status":"ERROR","statusCode":0})", BLAST_STAGE_FAILED, "ERROR"},
      {R"({"status":"SERVER_ACK","statusCode":2})", BLAST_STAGE_SENT, "SERVER_ACK"},
      {R"({"status":"SERVER_ACK","messageC2STimestamp":"1768716052"})", BLAST_STAGE_DELIVERED,
       "SERVER_ACK"},
      {R"({"status":"PENDING","messageTimestamp":"1768716040"})", BLAST_STAGE_SENT, "PENDING"},
  };
  for (const auto& c : cases) {
    s = lookup(std::string(R"({"success":true,"data":)") + c.data + "}", out);
    BOOST_TEST_REQUIRE(s.ok(), s.message);
    BOOST_TEST_REQUIRE(out.size() == 1u, c.data);
    BOOST_TEST(out[0].stage == c.stage, c.data);
    BOOST_TEST(out[0].provider_status == c.word, c.data);
  }
  BOOST_TEST(
      lookup(R"({"success":true,"data":{"status":"PENDING","messageTimestamp":"1768716040"}})", out)
          .ok());
  BOOST_TEST(out.at(0).provider_time_ms == 1768716040000);

  g.answer("/v1/getMessageStatus", {503, "busy"});
  out.clear();
  s = inst->query_status("3EB0ABC", plain_doc, out);
  BOOST_TEST(s.code == BLAST_E_RETRYABLE);
  BOOST_TEST(contains(s.message, "503"), s.message);
  BOOST_TEST(out.empty());
}

BOOST_AUTO_TEST_CASE(message_info_lookups_send_the_stored_document_verbatim) {
  fake_gateway g;
  // The [assumed] names are configurable: a different path and token header here.
  auto inst =
      create_ok(config_for(g, R"(,"statusLookup":"messageInfo",)"
                              R"("messageInfoPath":"/custom/info","tokenHeader":"X-Api-Key")"));
  // A document with spacing and an escape that a re-serialisation would change.
  const std::string doc =
      R"({ "key" : {"remoteJid":"60123456789@s.whatsapp.net","fromMe":true,"id":"3EB0ABC"},)"
      R"("message":{"extendedTextMessage":{"text":"caf\u00e9"}},"big":1.50,"status":"PENDING"})";
  g.answer("/custom/info", {200, R"({"success":true,"data":{}})"});
  std::vector<observation> out;
  call_status s = inst->query_status("3EB0ABC", doc, out);
  BOOST_TEST_REQUIRE(s.ok(), s.message);
  BOOST_TEST(out.empty()); // the real endpoint's empty data: no status yet, not an error
  fake_request req = g.last();
  BOOST_TEST(req.target == "/custom/info");
  BOOST_TEST(req.header("x-api-key") == token);
  BOOST_TEST(req.header("x-wsapme-token").empty());
  BOOST_TEST(req.body ==
             R"({"id_device":"5850","jid":"60123456789@s.whatsapp.net","messages":)" + doc + "}");

  g.answer("/custom/info",
           {200, R"({"success":true,"data":{"key":{"id":"3EB0ABC"},"status":"DELIVERY_ACK",)"
                 R"("statusCode":3,"messageC2STimestamp":"1768716052"}})"});
  s = inst->query_status("3EB0ABC", doc, out);
  BOOST_TEST_REQUIRE(s.ok(), s.message);
  BOOST_TEST_REQUIRE(out.size() == 1u);
  BOOST_TEST(out[0].stage == BLAST_STAGE_DELIVERED);

  // messageInfo needs the document's recipient; garbage is refused before any request.
  size_t before = g.requests().size();
  out.clear();
  s = inst->query_status("3EB0ABC", "not json", out);
  BOOST_TEST(s.code == BLAST_E_INVALID);
  BOOST_TEST(contains(s.message, "remoteJid"), s.message);
  BOOST_TEST(g.requests().size() == before);
}

BOOST_AUTO_TEST_CASE(signed_webhooks) {
  const std::string secret = "hook-secret";
  auto inst = create_ok(R"({"baseUrl":"http://127.0.0.1:1","token":")" + token +
                        R"(","device":"5850","webhookSecret":")" + secret + R"("})");
  const std::string status_body =
      R"({"event": "message.status", "eventId": "9b1f", "device": "5850",)"
      R"( "data": {"key": {"remoteJid": "60123456789@s.whatsapp.net", "fromMe": true,)"
      R"( "id": "3EB0ABC"}, "status": "READ", "statusCode": 4, "timestamp": 1768716100}})";
  std::vector<observation> out;

  // A good signature, with the header name in another case than the configured one.
  call_status s = inst->parse_webhook(
      hook(status_body, {{"x-wsapme-signature", "sha256=" + wsapme_sim::hmac_sha256_hex(secret, status_body)}}), out);
  BOOST_TEST_REQUIRE(s.ok(), s.message);
  BOOST_TEST_REQUIRE(out.size() == 1u);
  BOOST_TEST(out[0].message_id == "3EB0ABC");
  BOOST_TEST(out[0].stage == BLAST_STAGE_READ);
  BOOST_TEST(out[0].provider_status == "READ");
  BOOST_TEST(out[0].provider_time_ms == 1768716100000);
  BOOST_TEST(out[0].event_id == "9b1f");
  BOOST_TEST(out[0].raw == status_body);
  BOOST_TEST(out[0].sender.empty());

  out.clear();
  s = inst->parse_webhook(
      hook(status_body, {{"X-Wsapme-Signature", "sha256=" + wsapme_sim::hmac_sha256_hex("other", status_body)}}), out);
  BOOST_TEST(s.code == BLAST_E_SIGNATURE);
  BOOST_TEST(contains(s.message, "does not match"), s.message);
  s = inst->parse_webhook(
      hook(status_body + " ", {{"X-Wsapme-Signature", "sha256=" + wsapme_sim::hmac_sha256_hex(secret, status_body)}}),
      out);
  BOOST_TEST(s.code == BLAST_E_SIGNATURE); // the body changed after signing
  s = inst->parse_webhook(hook(status_body, {}), out);
  BOOST_TEST(s.code == BLAST_E_SIGNATURE);
  BOOST_TEST(contains(s.message, "missing X-Wsapme-Signature"), s.message);
  s = inst->parse_webhook(hook(status_body, {{"X-Wsapme-Signature", "sha256=zz"}}), out);
  BOOST_TEST(s.code == BLAST_E_SIGNATURE);
  BOOST_TEST(out.empty());

  // Verified but unreadable: invalid, not a signature failure.
  const std::string malformed = R"({"event": "message.status", "data": )";
  s = inst->parse_webhook(
      hook(malformed, {{"X-Wsapme-Signature", "sha256=" + wsapme_sim::hmac_sha256_hex(secret, malformed)}}), out);
  BOOST_TEST(s.code == BLAST_E_INVALID);
  const std::string no_id = R"({"event": "message.status", "data": {"status": "READ"}})";
  s = inst->parse_webhook(
      hook(no_id, {{"X-Wsapme-Signature", "sha256=" + wsapme_sim::hmac_sha256_hex(secret, no_id)}}), out);
  BOOST_TEST(s.code == BLAST_E_INVALID);
  BOOST_TEST(contains(s.message, "data.key.id"), s.message);
  BOOST_TEST(out.empty());

  webhook_request get = hook(status_body, {});
  get.method = "GET";
  BOOST_TEST(inst->parse_webhook(get, out).code == BLAST_E_INVALID);
}

BOOST_AUTO_TEST_CASE(inbound_replies_and_unsigned_webhooks) {
  // No secret: webhooks are accepted unsigned.
  auto inst =
      create_ok(R"({"baseUrl":"http://127.0.0.1:1","token":")" + token + R"(","device":"5850"})");
  const std::string quoted =
      R"({"event": "message", "eventId": "77aa", "type": "text", "message": "Yes, interested",)"
      R"( "from": "60123456789@c.us", "timestamp": 1768716200, "is_forwarded": false,)"
      R"( "is_broadcast": false, "quotedId": "3EB0ABC"})";
  std::vector<observation> out;
  call_status s = inst->parse_webhook(hook(quoted, {}), out);
  BOOST_TEST_REQUIRE(s.ok(), s.message);
  BOOST_TEST_REQUIRE(out.size() == 1u);
  BOOST_TEST(out[0].stage == BLAST_STAGE_REPLIED);
  BOOST_TEST(out[0].sender == "60123456789");
  BOOST_TEST(out[0].quoted_id == "3EB0ABC");
  BOOST_TEST(out[0].message_id.empty());
  BOOST_TEST(out[0].event_id == "77aa");
  BOOST_TEST(out[0].provider_time_ms == 1768716200000);
  BOOST_TEST(out[0].raw == quoted);

  const std::string unquoted = R"({"event":"message","eventId":"77ab","message":"Hi",)"
                               R"("from":"60123456789@c.us","timestamp":1768716300})";
  out.clear();
  s = inst->parse_webhook(hook(unquoted, {{"X-Wsapme-Signature", "sha256=ignored"}}), out);
  BOOST_TEST_REQUIRE(s.ok(), s.message);
  BOOST_TEST_REQUIRE(out.size() == 1u);
  BOOST_TEST(out[0].sender == "60123456789");
  BOOST_TEST(out[0].quoted_id.empty());

  out.clear();
  s = inst->parse_webhook(hook(R"({"event":"presence.update","eventId":"p1"})", {}), out);
  BOOST_TEST(s.ok(), s.message);
  BOOST_TEST(out.empty());
  s = inst->parse_webhook(hook(R"({"event":"message","message":"no sender"})", {}), out);
  BOOST_TEST(s.code == BLAST_E_INVALID);
  s = inst->parse_webhook(hook("[1,2", {}), out);
  BOOST_TEST(s.code == BLAST_E_INVALID);
  BOOST_TEST(out.empty());
}

BOOST_AUTO_TEST_CASE(tls_verifies_certificates_unless_told_not_to) {
  auto server_ctx = self_signed_server_context();
  fake_gateway g(server_ctx.get());
  g.answer("/v1/sendMessage2", {200, send_ok_body("TLS1", plain_doc)});

  auto verified = create_ok(config_for(g));
  send_result r = verified->send("60123456789", "hi", "k");
  BOOST_TEST(r.error == send_error::retryable);
  BOOST_TEST(contains(r.message, "TLS handshake with 127.0.0.1:" + std::to_string(g.port()) +
                                     " failed: certificate verify failed"),
             r.message);
  BOOST_TEST(g.requests().empty());

  auto unverified = create_ok(config_for(g, R"(,"verifyTls":false)"));
  for (int i = 0; i < 3; ++i) {
    r = unverified->send("60123456789", "hi", "k");
    BOOST_TEST_REQUIRE(r.error == send_error::none, r.message);
    BOOST_TEST(r.document == plain_doc);
  }
  BOOST_TEST(g.last().header("x-wsapme-token") == token);
  // One refused handshake, then one kept-alive TLS connection for the three sends.
  BOOST_TEST(g.connections() == 2);
}

BOOST_AUTO_TEST_CASE(the_token_never_reaches_the_log) {
  create_ok(R"({"baseUrl":"http://127.0.0.1:1","token":")" + token + R"(","device":"5850"})");
  std::lock_guard<std::mutex> lk(log_mu);
  BOOST_TEST(!log_lines.empty());
  for (const std::string& line : log_lines)
    BOOST_TEST(!contains(line, token), line);
}

BOOST_AUTO_TEST_SUITE_END()
