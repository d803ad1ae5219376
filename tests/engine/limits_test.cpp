// blastd's documented limits (README "Limits"), each hit over real sockets
// against a blastd process configured with a small value, and answered with
// its documented status and error code: body and header size, recipients per
// blast, message length, slow, idle and non-reading clients, pipelined
// requests, connections, webhook rates,
// and the journal's bounded queue (503 busy, nothing acknowledged is lost).
#define BOOST_TEST_MODULE engine_limits
#include <atomic>
#include <fstream>
#include <mutex>
#include <map>
#include <sstream>
#include <thread>

#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include "engine/http/webhook_limiter.hpp"
#include "tests/support/http_checks.hpp"
#include "tests/support/process.hpp"
#include "tests/support/raw_socket.hpp"
#include "tests/support/temp_dir.hpp"
#include "tools/http_client.hpp"

namespace json = boost::json;
using namespace blast;
using namespace std::chrono_literals;
using test::ok_json;

namespace {

struct fixture {
  test::temp_dir dir;
  std::string data = dir.path() + "/data";
  std::string log = dir.path() + "/blastd.log";

  // blastd with this config file (a JSON object); its transports are the
  // test plugins' (`scripted`) when it names any, else only `manual`.
  std::unique_ptr<test::blastd_process> start(std::string config) {
    if (config.find("\"transports\"") == std::string::npos)
      config.insert(1, R"("transports": {}, )");
    std::string path = dir.path() + "/blastd.json";
    std::ofstream(path) << config;
    return std::make_unique<test::blastd_process>(
      BLASTD_PATH, data, log,
      std::vector<std::string>{"--config", path, "--plugin-dir", TESTPLUGIN_DIR});
  }
};

// The JSON error code of a raw HTTP answer (its body follows the blank line).
std::string error_code_of(const std::string& raw) {
  auto body = raw.find("\r\n\r\n");
  if (body == std::string::npos)
    return {};
  json::error_code ec;
  auto v = json::parse(raw.substr(body + 4), ec);
  if (ec || !v.is_object() || !v.as_object().contains("error"))
    return {};
  return std::string(v.at("error").at("code").as_string());
}

bool has_header(const std::string& raw, const std::string& line) {
  return raw.find("\r\n" + line + "\r\n") != std::string::npos;
}

std::string error_code_of(const tools::http_reply& r) {
  return std::string(json::parse(r.body).at("error").at("code").as_string());
}

// One Prometheus sample from GET /metrics.
int64_t metric(tools::http_client& c, const std::string& name) {
  auto r = c.get("/metrics");
  BOOST_TEST_REQUIRE(r.status == 200);
  std::istringstream in(r.body);
  for (std::string line; std::getline(in, line);)
    if (line.rfind(name + " ", 0) == 0)
      return std::stoll(line.substr(name.size() + 1));
  BOOST_FAIL("no metric " << name << " in " << r.body);
  return -1;
}

const std::vector<std::pair<std::string, std::string>> signed_hook = {{"x-test-signature", "good"}};

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(limits, fixture)

BOOST_AUTO_TEST_CASE(body_size_413) {
  auto proc = start(R"({"bodyLimit": 2000})");
  // Within the limit: read and judged on its content.
  auto small = test::raw_exchange(proc->port(), "POST /api/blasts HTTP/1.1\r\nHost: x\r\n"
                                                "Content-Length: 1500\r\n\r\n" +
                                                  std::string(1500, ' '));
  BOOST_TEST(small.rfind("HTTP/1.1 400", 0) == 0u, small);  // blank is not JSON
  // Over it: 413 with the error body, and the connection closed.
  auto big = test::raw_exchange(proc->port(), "POST /api/blasts HTTP/1.1\r\nHost: x\r\n"
                                              "Content-Length: 5000\r\n\r\n" +
                                                std::string(5000, ' '));
  BOOST_TEST(big.rfind("HTTP/1.1 413", 0) == 0u, big);
  BOOST_TEST(error_code_of(big) == "body_too_large", big);
  BOOST_TEST(has_header(big, "Connection: close"), big);
  BOOST_TEST(proc->stop() == 0);
}

BOOST_AUTO_TEST_CASE(header_size_431) {
  auto proc = start(R"({"headerLimit": 4096})");
  auto fits = test::raw_exchange(proc->port(), "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Fat: " +
                                                 std::string(3000, 'a') + "\r\n\r\n",
                                 "\"ok\"}");
  BOOST_TEST(fits.rfind("HTTP/1.1 200", 0) == 0u, fits.substr(0, 200));
  auto fat = test::raw_exchange(proc->port(), "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Fat: " +
                                                std::string(5000, 'a') + "\r\n\r\n");
  BOOST_TEST(fat.rfind("HTTP/1.1 431", 0) == 0u, fat.substr(0, 200));
  BOOST_TEST(error_code_of(fat) == "headers_too_large", fat);
  BOOST_TEST(proc->stop() == 0);
}

BOOST_AUTO_TEST_CASE(recipients_per_blast_413) {
  auto proc = start(R"({"maxRecipients": 3})");
  tools::http_client c("127.0.0.1", proc->port());
  auto r = c.post("/api/blasts", R"({"message":"m","transport":"manual",)"
                                 R"("recipients":["60111111111","60122222222","60133333333",)"
                                 R"("60144444444"]})");
  BOOST_TEST(r.status == 413, r.body);
  BOOST_TEST(error_code_of(r) == "too_many_recipients");
  ok_json(c.post("/api/blasts", R"({"message":"m","transport":"manual",)"
                                R"("recipients":["60111111111","60122222222","60133333333"]})"),
          201);
  // The refused blast wrote nothing: the accepted one is blast 1.
  BOOST_TEST(ok_json(c.get("/api/blasts"), 200).at("items").as_array().size() == 1u);
  BOOST_TEST(proc->stop() == 0);
}

BOOST_AUTO_TEST_CASE(message_length_422) {
  auto proc = start(R"({"maxMessageLength": 10})");
  tools::http_client c("127.0.0.1", proc->port());
  auto blast = [](const std::string& message) {
    return R"({"transport":"manual","recipients":["60111111111"],"message":")" + message + "\"}";
  };
  auto r = c.post("/api/blasts", blast("12345678901"));
  BOOST_TEST(r.status == 422, r.body);
  BOOST_TEST(error_code_of(r) == "message_too_long");
  // Counted in characters, not bytes: ten "é" are 20 bytes and fit.
  std::string ten;
  for (int i = 0; i < 10; ++i)
    ten += "\xc3\xa9";
  ok_json(c.post("/api/blasts", blast(ten)), 201);
  BOOST_TEST(proc->stop() == 0);
}

// Slowloris: a byte every 200 ms never lets a per-read timeout fire; the
// request's one deadline does.
BOOST_AUTO_TEST_CASE(slow_headers_408) {
  auto proc = start(R"({"readTimeoutSeconds": 2, "idleTimeoutSeconds": 60})");
  test::raw_socket s(proc->port());
  std::string head = "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + std::string(1000, 'a');
  auto t0 = std::chrono::steady_clock::now();
  for (size_t i = 0; i < head.size() && s.received().empty() && !s.closed_by_server(); ++i) {
    s.send(head.substr(i, 1));
    s.read(200ms);
    if (seconds_since(t0) > 2 + 5)
      break;
  }
  s.read(5s, "}");
  auto took = seconds_since(t0);
  const auto& got = s.received();
  BOOST_TEST(got.rfind("HTTP/1.1 408", 0) == 0u, got);
  BOOST_TEST(error_code_of(got) == "request_timeout", got);
  BOOST_TEST(has_header(got, "Connection: close"), got);
  BOOST_TEST(has_header(got, "Content-Type: application/json"), got);
  BOOST_TEST(took >= 1.5);  // not before the deadline (a second of slack for the clocks)
  BOOST_TEST(took < 2 + 5.0);
  s.read(5s);
  BOOST_TEST(s.closed_by_server());
  BOOST_TEST(proc->stop() == 0);
}

BOOST_AUTO_TEST_CASE(slow_body_408) {
  auto proc = start(R"({"readTimeoutSeconds": 2})");
  test::raw_socket s(proc->port());
  auto t0 = std::chrono::steady_clock::now();
  s.send("POST /api/blasts HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
         "Content-Length: 100\r\n\r\n{\"message\":");  // then nothing more
  s.read(2s + 5s, "}}");
  auto took = seconds_since(t0);
  BOOST_TEST(s.received().rfind("HTTP/1.1 408", 0) == 0u, s.received());
  BOOST_TEST(error_code_of(s.received()) == "request_timeout", s.received());
  BOOST_TEST(took < 2 + 5.0);
  s.read(5s);
  BOOST_TEST(s.closed_by_server());
  // Nothing of it was taken for a request.
  tools::http_client c("127.0.0.1", proc->port());
  BOOST_TEST(ok_json(c.get("/api/blasts"), 200).at("items").as_array().empty());
  BOOST_TEST(proc->stop() == 0);
}

// Between keep-alive requests a quiet client is owed nothing: closed without
// an answer once idle for idleTimeoutSeconds, although the read timeout is long.
BOOST_AUTO_TEST_CASE(idle_keep_alive_closed_silently) {
  auto proc = start(R"({"readTimeoutSeconds": 60, "idleTimeoutSeconds": 1})");
  test::raw_socket s(proc->port());
  auto t0 = std::chrono::steady_clock::now();
  s.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  s.read(5s, "\"ok\"}");
  BOOST_TEST_REQUIRE(s.received().rfind("HTTP/1.1 200", 0) == 0u, s.received());
  auto extra = s.read(1s + 5s);
  BOOST_TEST(s.closed_by_server());
  BOOST_TEST(extra.empty(), extra);
  BOOST_TEST(seconds_since(t0) < 1 + 5.0);
  BOOST_TEST(proc->stop() == 0);
}

// A client that asks and then never reads its answer: once the answer fills
// the socket's buffers, the write waits, and the read timeout ends it (the
// connection is cut, not held). Reading only after that, the client gets part
// of the answer and then the close.
BOOST_AUTO_TEST_CASE(unread_answer_cut_after_read_timeout) {
  auto proc = start(R"({"readTimeoutSeconds": 2, "defaultTransport": "wa",
                        "transports": {"wa": {"plugin": "scripted"}}})");
  tools::http_client c("127.0.0.1", proc->port());
  // A 16 MiB webhook body: its GET /api/webhooks/{seq} answer outgrows what
  // the kernel buffers on both ends of a loopback connection.
  std::string hook = R"({"id":"m1","status":2,"pad":")" + std::string(16u << 20, 'p') + "\"}";
  auto seq = ok_json(c.request("POST", "/webhooks/wa", hook, "application/json", signed_hook), 200)
               .at("seq").as_int64();
  test::raw_socket s(proc->port());
  BOOST_TEST_REQUIRE(s.send("GET /api/webhooks/" + std::to_string(seq) +
                            " HTTP/1.1\r\nHost: x\r\n\r\n"));
  std::this_thread::sleep_for(2s + 2s);  // past the read timeout, reading nothing
  s.read(20s);                            // now everything the server wrote, to its close
  BOOST_TEST(s.closed_by_server());
  const auto& got = s.received();
  BOOST_TEST_REQUIRE(got.rfind("HTTP/1.1 200", 0) == 0u, got.substr(0, 200));
  BOOST_TEST(got.size() < hook.size(), got.size());  // cut: not even the body came whole
  // The server itself is fine.
  ok_json(c.get("/healthz"), 200);
  BOOST_TEST(proc->stop() == 0);
}

// Requests sent back to back in one write (HTTP/1.1 pipelining) are each
// answered, in order, on the same connection, which stays open.
BOOST_AUTO_TEST_CASE(pipelined_requests_answered_in_order) {
  auto proc = start(R"({"readTimeoutSeconds": 5, "idleTimeoutSeconds": 60})");
  test::raw_socket s(proc->port());
  BOOST_TEST_REQUIRE(s.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
                            "GET /api/blasts/424242 HTTP/1.1\r\nHost: x\r\n\r\n"
                            "GET /api/blasts HTTP/1.1\r\nHost: x\r\n\r\n"));
  s.read(5s, "\"items\"");
  s.read(200ms);
  const auto& got = s.received();
  auto first = got.find("HTTP/1.1 200");
  auto second = got.find("HTTP/1.1 404", first + 1);
  auto third = got.find("HTTP/1.1 200", second == std::string::npos ? 0 : second + 1);
  BOOST_TEST(first == 0u, got);
  BOOST_TEST(second != std::string::npos, got);
  BOOST_TEST(third != std::string::npos, got);
  BOOST_TEST(got.find("not_found") < third, got);
  BOOST_TEST(!s.closed_by_server());
  BOOST_TEST(proc->stop() == 0);
}

// The answer's framing, which session.cpp writes itself: the status line in
// the request's version, Connection where that version's default differs,
// and a HEAD answer's Content-Length that of the GET, without its body.
BOOST_AUTO_TEST_CASE(answers_are_framed_for_the_requests_version_and_method) {
  auto proc = start(R"({"idleTimeoutSeconds": 60})");
  auto header = [](const std::string& raw, const std::string& name, size_t from = 0) {
    auto at = raw.find("\r\n" + name + ": ", from);
    if (at == std::string::npos)
      return std::string();
    at += name.size() + 4;
    return raw.substr(at, raw.find("\r\n", at) - at);
  };

  // HTTP/1.0 asking to keep the connection: it says so, and stays open.
  test::raw_socket kept(proc->port());
  kept.send("GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  kept.read(5s, "}");
  std::string got = kept.received();
  BOOST_TEST(got.rfind("HTTP/1.0 200 OK\r\n", 0) == 0u, got);
  BOOST_TEST(has_header(got, "Connection: keep-alive"), got);
  auto body = got.substr(got.find("\r\n\r\n") + 4);
  BOOST_TEST(header(got, "Content-Length") == std::to_string(body.size()), got);
  kept.read(300ms);
  BOOST_TEST(!kept.closed_by_server());

  // Plain HTTP/1.0: answered, then closed.
  test::raw_socket once(proc->port());
  once.send("GET /healthz HTTP/1.0\r\n\r\n");
  once.read(5s);
  BOOST_TEST(once.received().rfind("HTTP/1.0 200 OK\r\n", 0) == 0u, once.received());
  BOOST_TEST(once.closed_by_server());

  // HEAD then GET of the dashboard on one HTTP/1.1 connection: the GET's
  // answer follows the HEAD's blank line at once, and both name the same length.
  test::raw_socket both(proc->port());
  both.send("HEAD / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n");
  both.read(5s, "</html>");
  got = both.received();
  auto end_of_head = got.find("\r\n\r\n");
  BOOST_TEST_REQUIRE(end_of_head != std::string::npos, got);
  BOOST_TEST(got.rfind("HTTP/1.1 200 OK\r\n", 0) == 0u, got);
  BOOST_TEST(got.compare(end_of_head + 4, 17, "HTTP/1.1 200 OK\r\n") == 0, got);
  auto head_length = header(got, "Content-Length");
  BOOST_TEST(!head_length.empty(), got);
  BOOST_TEST(header(got, "Content-Length", end_of_head) == head_length, got);
  BOOST_TEST(got.find("Connection:") == std::string::npos, got);
  BOOST_TEST(!both.closed_by_server());
  BOOST_TEST(proc->stop() == 0);
}

BOOST_AUTO_TEST_CASE(max_connections_503) {
  auto proc = start(R"({"maxConnections": 3, "idleTimeoutSeconds": 60})");
  std::vector<std::unique_ptr<test::raw_socket>> held;
  for (int i = 0; i < 3; ++i) {
    held.push_back(std::make_unique<test::raw_socket>(proc->port()));
    // A request answered: the server has taken this connection as a session.
    held.back()->send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    held.back()->read(5s, "\"ok\"}");
    BOOST_TEST_REQUIRE(held.back()->received().rfind("HTTP/1.1 200", 0) == 0u);
  }
  // The fourth is answered at once, without sending anything, and closed.
  test::raw_socket fourth(proc->port());
  fourth.read(5s);
  const auto& got = fourth.received();
  BOOST_TEST(got.rfind("HTTP/1.1 503", 0) == 0u, got);
  BOOST_TEST(error_code_of(got) == "too_many_connections", got);
  BOOST_TEST(has_header(got, "Retry-After: 1"), got);
  BOOST_TEST(fourth.closed_by_server());
  // An HTTP client that sends its request at once reads the same answer.
  tools::http_client turned_away("127.0.0.1", proc->port());
  auto r = turned_away.get("/healthz");
  BOOST_TEST(r.status == 503, r.status << " " << r.error);
  BOOST_TEST(r.header("retry-after") == "1");

  // The gauge, asked over a held connection.
  held[0]->send("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  held[0]->read(5s, "blastd_http_connections 3\n");
  BOOST_TEST(held[0]->received().find("blastd_http_connections 3\n") != std::string::npos,
             held[0]->received());

  // A closed connection frees its place.
  held.pop_back();
  tools::http_client c("127.0.0.1", proc->port());
  BOOST_TEST(test::eventually([&] { return c.get("/healthz").status == 200; }, 5s));
  BOOST_TEST(proc->stop() == 0);
}

BOOST_AUTO_TEST_CASE(webhook_rate_limit_429) {
  auto proc = start(R"({"defaultTransport": "wa", "transports": {
      "wa": {"plugin": "scripted", "webhookRatePerSecond": 1, "webhookBurst": 2},
      "wb": {"plugin": "scripted"}}})");
  tools::http_client c("127.0.0.1", proc->port());
  auto hook = [&](const std::string& transport, int n) {
    return c.request("POST", "/webhooks/" + transport,
                     R"({"id":"m)" + std::to_string(n) + R"(","status":2})", "application/json",
                     signed_hook);
  };
  ok_json(hook("wa", 1), 200);
  ok_json(hook("wa", 2), 200);  // the burst
  auto before = metric(c, "blastd_log_last_seq");
  auto refused = hook("wa", 3);
  BOOST_TEST(refused.status == 429, refused.body);
  BOOST_TEST(error_code_of(refused) == "rate_limited");
  BOOST_TEST(refused.header("retry-after") == "1");
  // Refused before the log: nothing written, not even as rejected.
  BOOST_TEST(metric(c, "blastd_log_last_seq") == before);
  BOOST_TEST(ok_json(c.get("/api/webhooks/rejected"), 200).at("items").as_array().empty());
  // Another transport's path has its own (here: no) limit.
  for (int i = 0; i < 5; ++i)
    ok_json(hook("wb", 10 + i), 200);
  // After Retry-After, the provider's retry goes through.
  std::this_thread::sleep_for(std::chrono::seconds(std::stoi(refused.header("retry-after"))));
  ok_json(hook("wa", 3), 200);
  BOOST_TEST(proc->stop() == 0);
}

// A flood of concurrent webhooks against a journal that queues at most one
// submission behind the one being written: some get 503 busy, and exactly the
// acknowledged ones are in the log after a crash and a restart.
BOOST_AUTO_TEST_CASE(journal_backpressure_503_loses_nothing_acknowledged) {
  const char* config = R"({"journalMaxQueuedEvents": 1, "defaultTransport": "wa",
                          "transports": {"wa": {"plugin": "scripted"}}})";
  auto proc = start(config);
  std::mutex mu;
  std::map<std::string, uint64_t> acknowledged;  // message id → seq
  std::atomic<int> busy{0}, other{0};
  std::string other_example;
  std::vector<std::thread> clients;
  for (int t = 0; t < 16; ++t)
    clients.emplace_back([&, t] {
      tools::http_client c("127.0.0.1", proc->port());
      for (int i = 0; i < 40; ++i) {
        std::string id = "flood-" + std::to_string(t) + "-" + std::to_string(i);
        auto r = c.request("POST", "/webhooks/wa", R"({"id":")" + id + R"(","status":2})",
                           "application/json", signed_hook);
        std::lock_guard lock{mu};
        if (r.status == 200) {
          acknowledged[id] = json::parse(r.body).at("seq").to_number<uint64_t>();
        } else if (r.status == 503 && error_code_of(r) == "busy" &&
                   r.header("retry-after") == "1") {
          ++busy;
        } else {
          ++other;
          other_example = std::to_string(r.status) + " " + r.error + " " + r.body;
        }
      }
    });
  for (auto& t : clients)
    t.join();
  BOOST_TEST_MESSAGE(acknowledged.size() << " acknowledged, " << busy << " busy");
  BOOST_TEST(other == 0, other_example);
  BOOST_TEST(busy > 0);
  BOOST_TEST(!acknowledged.empty());

  // A crash right after, then a restart on the same log.
  proc->kill_hard();
  proc = start(config);
  tools::http_client c("127.0.0.1", proc->port());
  ok_json(c.get("/healthz"), 200);
  BOOST_TEST(proc->stop() == 0);

  auto verify = test::run_command(std::string(BLASTCTL_PATH) + " verify --data " + data + " 2>&1");
  BOOST_TEST(verify.rc == 0, verify.out);
  auto events = test::run_command(std::string(BLASTCTL_PATH) + " events --json --data " + data);
  BOOST_TEST_REQUIRE(events.rc == 0);
  std::map<std::string, uint64_t> logged;
  std::istringstream in(events.out);
  for (std::string line; std::getline(in, line);) {
    auto e = json::parse(line);
    if (e.at("type").as_string() != "webhook_received")
      continue;
    auto body = json::parse(e.at("payload").at("body").as_string());
    logged[std::string(body.at("id").as_string())] = e.at("seq").to_number<uint64_t>();
  }
  // Every acknowledged webhook at the seq it was acknowledged with; none of
  // the refused ones.
  BOOST_TEST((logged == acknowledged), logged.size() << " logged, " << acknowledged.size()
                                                     << " acknowledged");
}

// The bucket's arithmetic on a clock of our own: the burst, the refill, and
// Retry-After rounded up to whole seconds.
BOOST_AUTO_TEST_CASE(webhook_bucket_arithmetic) {
  engine::http::webhook_limiter l({{"a", {0.5, 2}}, {"b", {10, 0}}, {"c", {0, 0}}});
  auto t = engine::http::webhook_limiter::clock::now();
  BOOST_TEST(!l.admit("a", t));
  BOOST_TEST(!l.admit("a", t));
  BOOST_TEST(l.admit("a", t).value_or(0) == 2);  // a token every 2 s
  BOOST_TEST(l.admit("a", t + 1500ms).value_or(0) == 1);  // 0.75 of a token: 0.5 s to go
  BOOST_TEST(!l.admit("a", t + 2s));
  BOOST_TEST(l.admit("a", t + 2s).value_or(0) == 2);
  // Refill stops at the burst: after a long quiet, two at once, not more.
  BOOST_TEST(!l.admit("a", t + 1h));
  BOOST_TEST(!l.admit("a", t + 1h));
  BOOST_TEST(l.admit("a", t + 1h).has_value());
  // Burst 0 = one second's worth.
  for (int i = 0; i < 10; ++i)
    BOOST_TEST(!l.admit("b", t));
  BOOST_TEST(l.admit("b", t).value_or(0) == 1);
  // No rate, or not configured: never limited.
  for (int i = 0; i < 100; ++i) {
    BOOST_TEST(!l.admit("c", t));
    BOOST_TEST(!l.admit("made-up", t));
  }
}

// A limit set to nonsense stops blastd at start-up, naming the key.
BOOST_AUTO_TEST_CASE(bad_limit_values_refused_at_start) {
  for (auto [config, key] : {std::pair<const char*, const char*>{R"({"maxConnections": 0})",
                                                                  "maxConnections"},
                             {R"({"readTimeoutSeconds": -3})", "readTimeoutSeconds"},
                             {R"({"journalMaxQueuedEvents": "many"})", "journalMaxQueuedEvents"},
                             {R"({"transports": {"wa": {"plugin": "scripted",
                                  "webhookRatePerSecond": -1}}})", "webhookRatePerSecond"}}) {
    std::string path = dir.path() + "/bad.json";
    std::ofstream(path) << config;
    auto r = test::run_command(std::string(BLASTD_PATH) + " --data-dir " + data +
                               " --listen 127.0.0.1:0 --config " + path + " 2>&1");
    BOOST_TEST(r.rc == 2, config << ": " << r.out);
    BOOST_TEST(r.out.find(key) != std::string::npos, r.out);
  }
}

BOOST_AUTO_TEST_SUITE_END()
