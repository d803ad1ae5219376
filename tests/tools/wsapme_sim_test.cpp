// wsapme-sim in-process on port 0: the contract's answers byte for byte, the
// knobs, and webhooks caught by a small Beast receiver that checks signatures.
#define BOOST_TEST_MODULE tools_wsapme_sim
#include "tools/http_client.hpp"
#include "tools/wsapme_sim/simulator.hpp"

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <set>
#include <sys/socket.h>
#include <thread>
#include <vector>

namespace json = boost::json;
namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = boost::asio::ip::tcp;
using namespace blast::tools;
using namespace std::chrono_literals;

namespace {

const std::string token = "tok-123";

wsapme_sim::sim_options base_options() {
  wsapme_sim::sim_options o;
  o.token = token;
  o.device = "5850";
  o.seed = 7;
  o.delay_min_ms = 1;
  o.delay_max_ms = 5;
  return o;
}

// The simulator plus a client that carries the token.
struct sim_client {
  wsapme_sim::simulator sim;
  http_client http;

  explicit sim_client(wsapme_sim::sim_options o)
      : sim(std::move(o)), http("127.0.0.1", sim.port()) {}

  // http_client takes no extra headers; the content type is written verbatim
  // into the head, so the token rides on a header line of its own after it.
  http_reply post(const std::string& path, const std::string& body,
                  const std::string& tok = token) {
    return http.request("POST", path, body, "application/json\r\nx-wsapme-token: " + tok);
  }
  http_reply send(const std::string& to, const std::string& text = "Hello Aisyah") {
    return post("/v1/sendMessage2",
                json::serialize(json::object{{"device", "5850"}, {"to", to}, {"message", text}}));
  }
  json::object send_ok(const std::string& to) {
    auto r = send(to);
    BOOST_TEST_REQUIRE(r.status == 200, r.status << " " << r.error << " " << r.body);
    auto v = json::parse(r.body).as_object();
    BOOST_TEST_REQUIRE(v.at("success").as_bool(), r.body);
    return v;
  }
  http_reply status_of(const std::string& id) {
    return post("/v1/getMessageStatus",
                json::serialize(json::object{{"device", "5850"}, {"messageId", id}}));
  }
  json::object stats() { return json::parse(http.get("/sim/stats").body).as_object(); }
};

template <class F> bool eventually(F f, std::chrono::milliseconds timeout = 15s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (f())
      return true;
    std::this_thread::sleep_for(5ms);
  }
  return f();
}

std::vector<std::string> keys_of(const json::object& o) {
  std::vector<std::string> k;
  for (auto& kv : o)
    k.emplace_back(kv.key());
  return k;
}

// Independent of the simulator's own signing code on purpose.
std::string expected_signature(const std::string& secret, const std::string& body) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(body.data()), body.size(), mac, &len);
  std::string hex = "sha256=";
  char b[3];
  for (unsigned i = 0; i < len; ++i) {
    std::snprintf(b, sizeof b, "%02x", mac[i]);
    hex += b;
  }
  return hex;
}

// A webhook receiver on port 0: records every request (in arrival order) and
// answers 500 to the first `fail_first` of them, 200 after.
class receiver {
public:
  struct hit {
    std::string target, signature, content_type, body;
  };

  explicit receiver(int fail_first = 0)
      : acceptor_(ioc_, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0)),
        fail_left_(fail_first) {
    port_ = acceptor_.local_endpoint().port();
    accept_thread_ = std::thread([this] { accept_loop(); });
  }
  ~receiver() {
    {
      std::lock_guard lk(mutex_);
      stopping_ = true;
      for (auto& s : sockets_)
        ::shutdown(s->native_handle(), SHUT_RDWR);
    }
    // A blocked accept() does not wake on close(): connect once to free it.
    boost::system::error_code ec;
    tcp::socket poke(ioc_);
    poke.connect(acceptor_.local_endpoint(), ec);
    accept_thread_.join();
    for (auto& t : conn_threads_)
      t.join();
  }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/webhooks/wa"; }
  std::vector<hit> hits() {
    std::lock_guard lk(mutex_);
    return hits_;
  }

private:
  void accept_loop() {
    for (;;) {
      auto s = std::make_shared<tcp::socket>(ioc_);
      boost::system::error_code ec;
      acceptor_.accept(*s, ec);
      std::lock_guard lk(mutex_);
      if (stopping_)
        return;
      if (ec)
        continue;
      sockets_.push_back(s);
      conn_threads_.emplace_back([this, s] { serve(*s); });
    }
  }

  void serve(tcp::socket& s) {
    beast::flat_buffer buf;
    for (;;) {
      bhttp::request<bhttp::string_body> req;
      boost::system::error_code ec;
      bhttp::read(s, buf, req, ec);
      if (ec)
        return;
      bool fail;
      {
        std::lock_guard lk(mutex_);
        hits_.push_back({std::string(req.target()), std::string(req["X-Wsapme-Signature"]),
                         std::string(req[bhttp::field::content_type]), req.body()});
        fail = fail_left_ > 0;
        fail_left_ -= fail;
      }
      bhttp::response<bhttp::string_body> res{
          fail ? bhttp::status::internal_server_error : bhttp::status::ok, req.version()};
      res.keep_alive(req.keep_alive());
      res.body() = fail ? "{\"error\":\"try again\"}" : "{}";
      res.prepare_payload();
      bhttp::write(s, res, ec);
      if (ec || !req.keep_alive())
        return;
    }
  }

  net::io_context ioc_;
  tcp::acceptor acceptor_;
  uint16_t port_ = 0;
  std::mutex mutex_;
  int fail_left_;
  bool stopping_ = false;
  std::vector<hit> hits_;
  std::vector<std::shared_ptr<tcp::socket>> sockets_;
  std::vector<std::thread> conn_threads_;
  std::thread accept_thread_;
};

} // namespace

BOOST_AUTO_TEST_SUITE(tools_wsapme_sim)

BOOST_AUTO_TEST_CASE(a_bad_or_missing_token_is_401_with_the_known_body) {
  sim_client c(base_options());
  const std::string expected = R"({"success":false,"message":"Unauthorised Token"})";
  auto none = c.http.post("/v1/sendMessage2", R"({"device":"5850","to":"601","message":"x"})");
  BOOST_TEST(none.status == 401);
  BOOST_TEST(none.body == expected);
  auto wrong = c.post("/v1/getMessageStatus", R"({"device":"5850","messageId":"x"})", "nope");
  BOOST_TEST(wrong.status == 401);
  BOOST_TEST(wrong.body == expected);
  BOOST_TEST(c.stats().at("unauthorised").to_number<uint64_t>() == 2u);
  BOOST_TEST(c.stats().at("sends").to_number<uint64_t>() == 0u);

  // The same answer from the gateway alone: request -> response, no socket.
  wsapme_sim::gateway g(base_options(), nullptr);
  auto r = g.handle({"POST", "/api/messageInfo", {{"X-WSAPME-TOKEN", "bad"}}, "{}"});
  BOOST_TEST(r.status == 401u);
  BOOST_TEST(r.body == expected);
}

BOOST_AUTO_TEST_CASE(send_answers_the_contract_shape_in_key_order) {
  sim_client c(base_options());
  auto before = std::chrono::system_clock::now();
  auto r = c.send("60123456789");
  BOOST_TEST_REQUIRE(r.status == 200, r.body);
  auto v = json::parse(r.body).as_object();
  std::string id(v.at("messageId").as_string());
  BOOST_TEST(id.size() == 22u);
  BOOST_TEST(id.substr(0, 4) == "3EB0");
  BOOST_TEST(id.find_first_not_of("0123456789ABCDEF", 4) == std::string::npos, id);
  std::string ts(v.at("data").at("messageTimestamp").as_string());
  auto secs = std::chrono::duration_cast<std::chrono::seconds>(before.time_since_epoch()).count();
  BOOST_TEST(std::abs(std::stoll(ts) - secs) <= 2);
  const std::string expected =
      R"({"success":true,"message":"Sent Successfully","messageId":")" + id +
      R"(","data":{"key":{"remoteJid":"60123456789@s.whatsapp.net","fromMe":true,"id":")" + id +
      R"("},"message":{"extendedTextMessage":{"text":"Hello Aisyah"}},"messageTimestamp":")" + ts +
      R"(","status":"PENDING"}})";
  BOOST_TEST(r.body == expected);

  auto bad = c.post("/v1/sendMessage2", R"({"device":"5850","to":"601"})");
  BOOST_TEST(bad.status == 400);
  auto other_device = c.post("/v1/sendMessage2", R"({"device":"1","to":"601","message":"x"})");
  BOOST_TEST(other_device.status == 404);
  BOOST_TEST(c.stats().at("sends").to_number<uint64_t>() == 1u);
}

BOOST_AUTO_TEST_CASE(get_message_status_follows_the_timeline) {
  auto o = base_options();
  o.delay_min_ms = o.delay_max_ms = 250; // wide windows: every stage is seen by polling
  o.deliver_rate = o.read_rate = 1;
  o.reply_rate = 0;
  sim_client c(o);
  auto sent = c.send_ok("60123456789");
  std::string id(sent.at("messageId").as_string());

  auto first = c.status_of(id);
  BOOST_TEST_REQUIRE(first.status == 200, first.body);
  auto fv = json::parse(first.body).as_object();
  BOOST_TEST(keys_of(fv) == (std::vector<std::string>{"success", "data"}));
  BOOST_TEST(keys_of(fv.at("data").as_object()) ==
             (std::vector<std::string>{"key", "status", "statusCode", "messageTimestamp"}));
  BOOST_TEST(fv.at("data").at("status").as_string() == "PENDING");
  BOOST_TEST(fv.at("data").at("statusCode").as_int64() == 1);
  BOOST_TEST(json::serialize(fv.at("data").at("key")) ==
             json::serialize(sent.at("data").at("key")));

  std::vector<std::string> seen{"PENDING"};
  json::object last;
  BOOST_TEST_REQUIRE(eventually([&] {
    last = json::parse(c.status_of(id).body).as_object();
    std::string s(last.at("data").at("status").as_string());
    if (s != seen.back())
      seen.push_back(s);
    return s == "READ";
  }));
  BOOST_TEST(seen == (std::vector<std::string>{"PENDING", "SERVER_ACK", "DELIVERY_ACK", "READ"}),
             json::serialize(json::value_from(seen)));
  auto& d = last.at("data").as_object();
  BOOST_TEST(d.at("statusCode").as_int64() == 4);
  BOOST_TEST(keys_of(d) == (std::vector<std::string>{"key", "status", "statusCode",
                                                     "messageTimestamp", "messageC2STimestamp"}));
  BOOST_TEST(std::stoll(std::string(d.at("messageC2STimestamp").as_string())) >=
             std::stoll(std::string(d.at("messageTimestamp").as_string())));

  auto unknown = c.status_of("3EB0000000000000000000");
  BOOST_TEST(unknown.status == 404);
  BOOST_TEST(unknown.body == R"({"success":false,"message":"Message not found"})");
}

BOOST_AUTO_TEST_CASE(message_info_echoes_the_structure_or_answers_empty) {
  auto info_body = [](const json::value& data) {
    return json::serialize(json::object{
        {"id_device", "5850"}, {"jid", data.at("key").at("remoteJid")}, {"messages", data}});
  };
  {
    auto o = base_options();
    o.extra_fields = true;
    sim_client c(o);
    auto sent = c.send_ok("60123456789");
    auto& data = sent.at("data");
    BOOST_TEST(data.as_object().contains("participant"));
    auto r = c.post("/api/messageInfo", info_body(data));
    BOOST_TEST_REQUIRE(r.status == 200, r.body);
    auto v = json::parse(r.body);
    BOOST_TEST(v.at("success").as_bool());
    BOOST_TEST(v.at("data").at("key").at("id") == sent.at("messageId"));
    BOOST_TEST(v.at("data").as_object().contains("status"));

    // A client that lost a field, or the key order, is caught.
    auto mangled = data.as_object();
    mangled.erase("participant");
    BOOST_TEST(c.post("/api/messageInfo", info_body(mangled)).status == 400);
    json::object reordered;
    reordered["status"] = data.at("status");
    for (auto& kv : data.as_object())
      if (kv.key() != "status")
        reordered[kv.key()] = kv.value();
    BOOST_TEST(c.post("/api/messageInfo", info_body(reordered)).status == 400);

    auto unknown = data.as_object();
    unknown["key"].as_object()["id"] = "3EB0FFFFFFFFFFFFFFFFFF";
    auto nf = c.post("/api/messageInfo", info_body(unknown));
    BOOST_TEST(nf.status == 404);
    BOOST_TEST(nf.body == R"({"success":false,"message":"Message not found"})");
  }
  {
    auto o = base_options();
    o.messageinfo_empty = true;
    sim_client c(o);
    auto sent = c.send_ok("60123456789");
    auto r = c.post("/api/messageInfo", info_body(sent.at("data")));
    BOOST_TEST(r.status == 200);
    BOOST_TEST(r.body == R"({"success":true,"data":{}})");
  }
}

BOOST_AUTO_TEST_CASE(over_the_rate_limit_is_429_with_retry_after) {
  auto o = base_options();
  o.rate_limit = 3;
  sim_client c(o);
  int ok = 0, limited = 0;
  for (int i = 0; i < 8; ++i) {
    auto r = c.send("6012000000" + std::to_string(i));
    if (r.status == 200) {
      ++ok;
    } else {
      BOOST_TEST(r.status == 429);
      BOOST_TEST(r.header("retry-after") == "1");
      ++limited;
    }
  }
  BOOST_TEST(ok >= 3);
  BOOST_TEST(limited >= 1);
  BOOST_TEST(c.stats().at("rateLimited").to_number<uint64_t>() == static_cast<uint64_t>(limited));
  std::this_thread::sleep_for(1100ms);
  BOOST_TEST(c.send("60130000000").status == 200); // the window has moved on
}

BOOST_AUTO_TEST_CASE(reject_numbers_fail_at_once_error_numbers_fail_later) {
  auto o = base_options();
  o.reject_numbers = {"60111111111"};
  o.error_numbers = {"60122222222"};
  sim_client c(o);
  auto rejected = c.send("60111111111");
  BOOST_TEST(rejected.status == 200);
  BOOST_TEST(rejected.body ==
             R"({"success":false,"message":"Number is not registered on WhatsApp"})");
  auto sent = c.send_ok("60122222222");
  std::string id(sent.at("messageId").as_string());
  json::value last;
  BOOST_TEST(eventually([&] {
    last = json::parse(c.status_of(id).body);
    return last.at("data").at("status").as_string() == "ERROR";
  }));
  BOOST_TEST(last.at("data").at("statusCode").as_int64() == 0);
  BOOST_TEST(c.stats().at("rejected").to_number<uint64_t>() == 1u);
}

BOOST_AUTO_TEST_CASE(read_without_delivered_skips_delivery_ack) {
  auto o = base_options();
  o.deliver_rate = o.read_rate = o.read_without_delivered_rate = 1;
  o.reply_rate = 0;
  sim_client c(o);
  std::string id(c.send_ok("60123456789").at("messageId").as_string());
  json::value t;
  BOOST_TEST_REQUIRE(eventually([&] {
    t = json::parse(c.http.get("/sim/messages/" + id).body);
    return t.at("status").as_string() == "READ";
  }));
  std::vector<std::string> stages;
  for (auto& s : t.at("stages").as_array())
    stages.emplace_back(s.at("status").as_string());
  BOOST_TEST(stages == (std::vector<std::string>{"PENDING", "SERVER_ACK", "READ"}));
  // A read implies delivery: the look-up still carries a C2S timestamp.
  auto d = json::parse(c.status_of(id).body).at("data").as_object();
  BOOST_TEST(d.contains("messageC2STimestamp"));
  BOOST_TEST(c.stats().at("planned").at("readWithoutDelivery").to_number<uint64_t>() == 1u);
}

BOOST_AUTO_TEST_CASE(one_seed_replays_the_same_messages) {
  auto run = [](uint64_t seed) {
    auto o = base_options();
    o.seed = seed;
    sim_client c(o);
    std::vector<std::string> out;
    for (int i = 0; i < 5; ++i) {
      std::string id(c.send_ok("6019000000" + std::to_string(i % 3)).at("messageId").as_string());
      auto t = json::parse(c.http.get("/sim/messages/" + id).body);
      out.push_back(id + " " + std::to_string(t.at("stages").as_array().size()) + " " +
                    (t.at("reply").is_null() ? "no reply" : "reply"));
    }
    return out;
  };
  auto a = run(99), b = run(99), other = run(100);
  BOOST_TEST(a == b);
  BOOST_TEST(a != other);
}

BOOST_AUTO_TEST_CASE(webhooks_are_signed_duplicated_reordered_and_carry_replies) {
  receiver rx;
  auto o = base_options();
  o.webhook_url = rx.url();
  o.webhook_secret = "s3cret";
  o.deliver_rate = o.read_rate = o.reply_rate = 1;
  o.quote_rate = 0.5;
  o.duplicate_rate = 0.3;
  o.reorder = true;
  o.delay_min_ms = 1;
  o.delay_max_ms = 30;
  const int n = 30;
  std::map<std::string, std::string> id_of; // number -> message id
  {
    sim_client c(o);
    for (int i = 0; i < n; ++i) {
      std::string to = "601200000" + std::to_string(10 + i);
      id_of[to] = std::string(c.send_ok(to).at("messageId").as_string());
    }
    BOOST_TEST_REQUIRE(eventually([&] {
      auto s = c.stats();
      return s.at("webhooksPending").to_number<uint64_t>() == 0 &&
             s.at("webhooksScheduled").to_number<uint64_t>() >= uint64_t(n * 4);
    }));
    auto s = c.stats();
    BOOST_TEST(s.at("webhooksSent") == s.at("webhooksScheduled"));
    BOOST_TEST(s.at("webhooksFailed").to_number<uint64_t>() == 0u);
    BOOST_TEST(s.at("planned").at("replies").to_number<uint64_t>() == uint64_t(n));

    // The timeline lists every post, duplicates as rows of their own.
    auto t = json::parse(c.http.get("/sim/messages/" + id_of.begin()->second).body);
    BOOST_TEST(t.at("stages").as_array().size() == 4u);
    BOOST_TEST(t.at("webhooks").as_array().size() >= 4u);
  }
  auto hits = rx.hits();
  std::map<std::string, std::vector<std::string>> copies; // eventId -> bodies
  std::map<std::string, std::vector<std::string>> order;  // message id -> statuses, arrival order
  int quoted = 0, unquoted = 0;
  for (auto& h : hits) {
    BOOST_TEST(h.target == "/webhooks/wa");
    BOOST_TEST(h.content_type == "application/json");
    BOOST_TEST(h.signature == expected_signature("s3cret", h.body), h.body);
    auto ev = json::parse(h.body).as_object();
    BOOST_TEST(json::serialize(ev) == h.body); // compact, as the key order below is
    std::string event_id(ev.at("eventId").as_string());
    copies[event_id].push_back(h.body);
    bool first_copy = copies[event_id].size() == 1;
    if (ev.at("event") == "message.status") {
      BOOST_TEST(keys_of(ev) == (std::vector<std::string>{"event", "eventId", "device", "data"}));
      auto& d = ev.at("data").as_object();
      BOOST_TEST(keys_of(d) ==
                 (std::vector<std::string>{"key", "status", "statusCode", "timestamp"}));
      BOOST_TEST(ev.at("device") == "5850");
      BOOST_TEST(d.at("timestamp").is_int64());
      std::string id(d.at("key").at("id").as_string());
      std::string status(d.at("status").as_string());
      auto& seen = order[id];
      if (std::find(seen.begin(), seen.end(), status) == seen.end())
        seen.push_back(status);
    } else {
      BOOST_TEST(ev.at("event") == "message");
      std::string from(ev.at("from").as_string());
      std::string number = from.substr(0, from.find('@'));
      BOOST_TEST(from == number + "@c.us");
      BOOST_TEST(ev.at("type") == "text");
      BOOST_TEST(ev.at("message") == "Yes, interested");
      BOOST_TEST(ev.at("is_forwarded") == false);
      BOOST_TEST(ev.at("is_broadcast") == false);
      std::vector<std::string> k{"event", "eventId",   "type",         "message",
                                 "from",  "timestamp", "is_forwarded", "is_broadcast"};
      if (ev.contains("quotedId")) {
        BOOST_TEST(ev.at("quotedId").as_string() == id_of.at(number));
        k.push_back("quotedId");
        quoted += first_copy;
      } else {
        unquoted += first_copy;
      }
      BOOST_TEST(keys_of(ev) == k);
    }
  }
  BOOST_TEST(copies.size() == size_t(n * 4)); // 3 statuses and one reply per message
  int duplicated = 0;
  for (auto& [id, bodies] : copies) {
    BOOST_TEST(bodies.size() <= 2u);
    if (bodies.size() == 2) {
      ++duplicated;
      BOOST_TEST(bodies[0] == bodies[1]);
    }
  }
  BOOST_TEST(duplicated > 0);
  int read_first = 0, in_order = 0;
  for (auto& [id, seen] : order) {
    BOOST_TEST(seen.size() == 3u);
    auto read = std::find(seen.begin(), seen.end(), "READ");
    auto delivered = std::find(seen.begin(), seen.end(), "DELIVERY_ACK");
    (read < delivered ? read_first : in_order)++;
  }
  BOOST_TEST(order.size() == size_t(n));
  BOOST_TEST(read_first > 0);
  BOOST_TEST(in_order > 0);
  BOOST_TEST(quoted > 0);
  BOOST_TEST(unquoted > 0);
  BOOST_TEST(quoted + unquoted == n);
}

BOOST_AUTO_TEST_CASE(failed_webhooks_are_retried_then_given_up) {
  auto o = base_options();
  o.deliver_rate = 0; // one webhook per message: SERVER_ACK
  o.webhook_backoff_ms = 20;
  o.webhook_secret = "k";
  {
    receiver rx(2); // two 500s, then 200
    o.webhook_url = rx.url();
    sim_client c(o);
    c.send_ok("60123456789");
    BOOST_TEST_REQUIRE(
        eventually([&] { return c.stats().at("webhooksSent").to_number<uint64_t>() == 1; }));
    auto s = c.stats();
    BOOST_TEST(s.at("webhooksRetried").to_number<uint64_t>() == 2u);
    BOOST_TEST(s.at("webhooksFailed").to_number<uint64_t>() == 0u);
    auto hits = rx.hits();
    BOOST_TEST_REQUIRE(hits.size() == 3u);
    BOOST_TEST(hits[0].body == hits[2].body);
  }
  {
    receiver rx(100);
    o.webhook_url = rx.url();
    sim_client c(o);
    c.send_ok("60123456789");
    BOOST_TEST_REQUIRE(
        eventually([&] { return c.stats().at("webhooksFailed").to_number<uint64_t>() == 1; }));
    BOOST_TEST(c.stats().at("webhooksRetried").to_number<uint64_t>() == 2u);
    BOOST_TEST(rx.hits().size() == 3u);
  }
  {
    // Nobody listening: connection errors count as failures too.
    o.webhook_url = "http://127.0.0.1:1/webhooks/wa";
    sim_client c(o);
    c.send_ok("60123456789");
    BOOST_TEST(
        eventually([&] { return c.stats().at("webhooksFailed").to_number<uint64_t>() == 1; }));
  }
}

BOOST_AUTO_TEST_CASE(latency_and_503s_apply_to_the_gateway_routes) {
  auto o = base_options();
  o.latency_ms = 150;
  o.fail_5xx_rate = 1;
  sim_client c(o);
  auto t0 = std::chrono::steady_clock::now();
  auto r = c.send("60123456789");
  BOOST_TEST(r.status == 503);
  BOOST_TEST((std::chrono::steady_clock::now() - t0 >= 150ms));
  BOOST_TEST(c.stats().at("unavailable").to_number<uint64_t>() == 1u);
}

BOOST_AUTO_TEST_CASE(the_command_line_parses_every_knob) {
  const char* argv[] = {"wsapme-sim",
                        "--token",
                        "t",
                        "--delay-ms",
                        "10..20",
                        "--reorder",
                        "--reject-numbers",
                        "601, 602",
                        "--error-numbers",
                        "603",
                        "--rate-limit",
                        "5",
                        "--messageinfo-empty"};
  std::ostringstream help;
  auto o = wsapme_sim::parse_command_line(static_cast<int>(std::size(argv)), argv, help);
  BOOST_TEST_REQUIRE(o.has_value());
  BOOST_TEST(o->delay_min_ms == 10u);
  BOOST_TEST(o->delay_max_ms == 20u);
  BOOST_TEST(o->reorder);
  BOOST_TEST(o->messageinfo_empty);
  BOOST_TEST(o->rate_limit == 5u);
  BOOST_TEST(o->reject_numbers == (std::set<std::string>{"601", "602"}));
  BOOST_TEST(o->error_numbers == (std::set<std::string>{"603"}));
  const char* no_token[] = {"wsapme-sim"};
  BOOST_CHECK_THROW(wsapme_sim::parse_command_line(1, no_token, help), std::invalid_argument);
  const char* bad_rate[] = {"wsapme-sim", "--token", "t", "--read-rate", "1.5"};
  BOOST_CHECK_THROW(wsapme_sim::parse_command_line(5, bad_rate, help), std::invalid_argument);
}

BOOST_AUTO_TEST_SUITE_END()
