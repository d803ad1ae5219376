// The sending pipeline through the HTTP API, against the scripted test
// transport: retries, permanent failures, rate limits, pause/resume/cancel,
// scheduling, and the exact provider document; then the sim channel's pushes.
#define BOOST_TEST_MODULE engine_pipeline
#include <fstream>
#include <map>
#include <sstream>

#include "tests/support/api_harness.hpp"

namespace json = boost::json;
using namespace blast;
using namespace std::chrono_literals;

namespace {

actors::transport_options scripted(const std::string& name, const json::object& plugin_config) {
  actors::transport_options t;
  t.name = name;
  t.plugin = "scripted";
  t.plugin_config = json::serialize(plugin_config);
  t.retry_base_ms = 20;
  t.max_attempts = 4;
  return t;
}

struct fixture {
  test::temp_dir logs;
  std::string send_log = logs.path() + "/sends.log";

  actors::service_options options(std::vector<actors::transport_options> ts) {
    actors::service_options o;
    o.plugin_dir = TESTPLUGIN_DIR;
    o.transports = std::move(ts);
    o.default_transport = o.transports.front().name;
    return o;
  }

  // Lines of the scripted plugin's send log: "<to> <key> <outcome>".
  std::vector<std::vector<std::string>> sends() {
    std::vector<std::vector<std::string>> out;
    std::ifstream in(send_log);
    std::string line;
    while (std::getline(in, line)) {
      std::istringstream ss(line);
      std::vector<std::string> f;
      std::string w;
      while (ss >> w)
        f.push_back(w);
      out.push_back(f);
    }
    return out;
  }
};

std::string blast_of(std::vector<std::string> phones, const std::string& extra = "") {
  json::array rs;
  for (auto& p : phones)
    rs.push_back(json::value(p));
  auto body = json::serialize(json::object{{"message", "Hi {{name}} {{vars.code}}"},
                                           {"recipients", rs}});
  if (!extra.empty())
    body = body.substr(0, body.size() - 1) + "," + extra + "}";
  return body;
}

std::string status_of(test::api_harness& api, int blast) {
  return std::string(api.get("/api/blasts/" + std::to_string(blast)).at("status").as_string());
}

json::value recipient(test::api_harness& api, int blast, const std::string& ref) {
  return api.get("/api/blasts/" + std::to_string(blast) + "/recipients/" + ref);
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(pipeline, fixture)

BOOST_AUTO_TEST_CASE(retryable_then_success_keeps_the_exact_document) {
  test::api_harness api(options({scripted(
    "s", {{"sendLog", send_log},
          {"script", {{"60111111111", {"retryable", "throw", "ok"}}, {"60122222222", {"ok"}}}}})}));
  auto b = api.call_json("POST", "/api/blasts",
                         R"({"message":"Hi {{name}} {{vars.code}}","recipients":[
                              {"phoneNumber":"60111111111","name":"Aisyah","vars":{"code":"X1"}},
                              "60122222222"]})",
                         201);
  BOOST_TEST(b.at("transport").as_string() == "s");
  BOOST_TEST_REQUIRE(api.eventually([&] { return status_of(api, 1) == "completed"; }));
  auto r = recipient(api, 1, "60111111111");
  BOOST_TEST(r.at("sendStatus").as_string() == "sent");
  BOOST_TEST(r.at("stage").as_string() == "sent");
  BOOST_TEST(r.at("attempts").as_int64() == 3);
  // The provider's exact document, as the plugin wrote it, and the rendered text.
  auto raw = api.call("GET", "/api/blasts/1/recipients/1").body;
  BOOST_TEST(raw.find(R"("messageData":{"key":{"remoteJid":"60111111111@s.whatsapp.net",)"
                      R"("fromMe":true,"id":"S-60111111111-3"},"status":"PENDING",)"
                      R"("text":"Hi Aisyah X1","idempotencyKey":"b1-r1"}})") != std::string::npos,
             raw);
  std::vector<std::string> kinds;
  for (auto& e : r.at("events").as_array())
    kinds.push_back(std::string(e.at("type").as_string()));
  BOOST_TEST((kinds == std::vector<std::string>{"send_requested", "send_failed", "send_requested",
                                                "send_failed", "send_requested",
                                                "send_succeeded"}));
  auto s = sends();
  BOOST_TEST(s.size() == 4u);  // three attempts for one, one for the other
  auto report = api.get("/api/blasts/1/report");
  BOOST_TEST(report.at("funnel").at(0).at("reached").as_int64() == 2);
}

BOOST_AUTO_TEST_CASE(permanent_and_exhausted_failures_fail_the_recipient) {
  test::api_harness api(options({scripted(
    "s", {{"script", {{"60111111111", {"permanent"}},
                      {"60122222222", {"retryable", "retryable", "retryable", "retryable",
                                       "retryable", "ok"}}}}})}));
  api.call_json("POST", "/api/blasts", blast_of({"60111111111", "60122222222", "60133333333"}),
                201);
  BOOST_TEST_REQUIRE(api.eventually([&] { return status_of(api, 1) == "completed"; }));
  auto a = recipient(api, 1, "1");
  BOOST_TEST(a.at("stage").as_string() == "failed");
  BOOST_TEST(a.at("sendStatus").as_string() == "failed");
  BOOST_TEST(a.at("attempts").as_int64() == 1);
  auto last = a.at("events").as_array().back();
  BOOST_TEST(last.at("payload").at("kind").as_string() == "permanent");
  BOOST_TEST(last.at("payload").at("final").as_bool());
  auto b = recipient(api, 1, "2");
  BOOST_TEST(b.at("stage").as_string() == "failed");
  BOOST_TEST(b.at("attempts").as_int64() == 4);  // maxAttempts
  auto report = api.get("/api/blasts/1/report");
  BOOST_TEST(report.at("failed").as_int64() == 2);
  BOOST_TEST(report.at("funnel").at(0).at("reached").as_int64() == 1);
}

BOOST_AUTO_TEST_CASE(rate_limited_slows_the_whole_transport) {
  auto t = scripted("s", {{"sendLog", send_log},
                          {"script", {{"60111111111", {"rate_limited:300", "ok"}}}}});
  t.max_in_flight = 1;  // one at a time, so the pause is visible in the order of sends
  t.workers = 1;
  test::api_harness api(options({t}));
  auto t0 = std::chrono::steady_clock::now();
  api.call_json("POST", "/api/blasts", blast_of({"60111111111", "60122222222"}), 201);
  BOOST_TEST_REQUIRE(api.eventually([&] { return status_of(api, 1) == "completed"; }));
  auto elapsed = std::chrono::steady_clock::now() - t0;
  BOOST_TEST((elapsed >= 300ms));  // the provider's retry-after was honoured
  auto s = sends();
  BOOST_TEST_REQUIRE(s.size() == 3u);
  BOOST_TEST(s[0][2] == "rate_limited:300");
  BOOST_TEST(s[1][0] == "60122222222");  // the other recipient waited for the pause too
  auto r = recipient(api, 1, "1");
  BOOST_TEST(r.at("events").at(1).at("payload").at("retryAfterMs").as_int64() == 300);
}

BOOST_AUTO_TEST_CASE(rate_limit_is_respected) {
  auto t = scripted("s", {{"sendLog", send_log}});
  t.rate_per_second = 40;
  test::api_harness api(options({t}));
  std::vector<std::string> phones;
  for (int i = 0; i < 40; ++i)
    phones.push_back("601000000" + std::to_string(10 + i));
  auto t0 = std::chrono::steady_clock::now();
  api.call_json("POST", "/api/blasts", blast_of(phones), 201);
  BOOST_TEST_REQUIRE(api.eventually([&] { return status_of(api, 1) == "completed"; }));
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  // 40 sends at 40/s with a 4-send burst: at least ~0.9 s; generous upper bound for a noisy box.
  BOOST_TEST(seconds >= 0.8, seconds);
  BOOST_TEST(sends().size() == 40u);
}

BOOST_AUTO_TEST_CASE(pause_resume_cancel_nobody_twice_nobody_skipped) {
  auto t = scripted("s", {{"sendLog", send_log}});
  t.rate_per_second = 50;
  test::api_harness api(options({t}));
  std::vector<std::string> phones;
  for (int i = 0; i < 60; ++i)
    phones.push_back("601000001" + std::to_string(10 + i));
  api.call_json("POST", "/api/blasts", blast_of(phones), 201);
  std::this_thread::sleep_for(300ms);
  auto paused = api.call_json("POST", "/api/blasts/1/pause", "", 200);
  BOOST_TEST(paused.at("status").as_string() == "paused");
  std::this_thread::sleep_for(100ms);  // sends already handed over finish
  auto during = sends().size();
  std::this_thread::sleep_for(400ms);
  BOOST_TEST(sends().size() == during, "sends went on while paused");
  BOOST_TEST(during > 0u);
  BOOST_TEST(during < 60u);
  api.call_json("POST", "/api/blasts/1/pause", "", 409);
  BOOST_TEST(api.call_json("POST", "/api/blasts/1/resume", "", 200).at("status").as_string() ==
             "sending");
  BOOST_TEST_REQUIRE(api.eventually([&] { return status_of(api, 1) == "completed"; }));
  std::map<std::string, int> per_number;
  for (auto& s : sends())
    ++per_number[s[0]];
  BOOST_TEST(per_number.size() == 60u);  // nobody skipped
  for (auto& [number, n] : per_number)
    BOOST_TEST(n == 1, number << " sent " << n << " times");
  // A completed blast cannot be resumed or cancelled.
  api.call_json("POST", "/api/blasts/1/resume", "", 409);
  api.call_json("POST", "/api/blasts/1/cancel", "", 409);
}

BOOST_AUTO_TEST_CASE(cancel_stops_for_good_and_survives_restart) {
  auto t = scripted("s", {{"sendLog", send_log}});
  t.rate_per_second = 20;
  test::api_harness api(options({t}));
  std::vector<std::string> phones;
  for (int i = 0; i < 40; ++i)
    phones.push_back("601000002" + std::to_string(10 + i));
  api.call_json("POST", "/api/blasts", blast_of(phones), 201);
  std::this_thread::sleep_for(200ms);
  BOOST_TEST(api.call_json("POST", "/api/blasts/1/cancel", "", 200).at("status").as_string() ==
             "cancelled");
  std::this_thread::sleep_for(200ms);
  auto sent = sends().size();
  std::this_thread::sleep_for(300ms);
  BOOST_TEST(sends().size() == sent);
  api.call_json("POST", "/api/blasts/1/resume", "", 409);
  api.restart();  // the cancellation is in the log: nothing resumes
  std::this_thread::sleep_for(300ms);
  BOOST_TEST(sends().size() == sent);
  BOOST_TEST(status_of(api, 1) == "cancelled");
  auto listed = api.get("/api/blasts?status=cancelled");
  BOOST_TEST(listed.at("items").as_array().size() == 1u);
}

BOOST_AUTO_TEST_CASE(scheduled_blast_waits_for_its_time) {
  test::api_harness api(options({scripted("s", {{"sendLog", send_log}})}));
  auto at = std::chrono::system_clock::now() + 700ms;
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(at.time_since_epoch()).count();
  time_t secs = ms / 1000;
  char iso[40];
  std::strftime(iso, sizeof iso, "%Y-%m-%dT%H:%M:%S", std::gmtime(&secs));
  auto when = std::string(iso) + "." + std::to_string(1000 + ms % 1000).substr(1) + "Z";
  auto b = api.call_json("POST", "/api/blasts",
                         blast_of({"60111111111"}, "\"scheduledAt\":\"" + when + "\""), 201);
  BOOST_TEST(b.at("status").as_string() == "scheduled");
  std::this_thread::sleep_for(300ms);
  BOOST_TEST(sends().empty());
  BOOST_TEST_REQUIRE(api.eventually([&] { return status_of(api, 1) == "completed"; }));
  BOOST_TEST(sends().size() == 1u);
  BOOST_TEST((std::chrono::system_clock::now() >= at));
}

BOOST_AUTO_TEST_CASE(pushed_statuses_reach_the_funnel_and_replay_equal) {
  test::api_harness api(options({scripted("s", {{"pushDelivered", true}})}));
  api.call_json("POST", "/api/blasts", blast_of({"60111111111", "60122222222", "60133333333"}),
                201);
  BOOST_TEST_REQUIRE(api.eventually([&] {
    return api.get("/api/blasts/1/report").at("funnel").at(1).at("reached").as_int64() == 3;
  }));
  auto r = recipient(api, 1, "2");
  BOOST_TEST(r.at("stage").as_string() == "delivered");
  auto& last = r.at("events").as_array().back();
  BOOST_TEST(last.at("source").as_string() == "transport");
  BOOST_TEST(last.at("payload").at("providerStatus").as_string() == "DELIVERY_ACK");
  // A push is logged nowhere else: its status event keeps the raw fragment.
  BOOST_TEST(json::parse(last.at("payload").at("raw").as_string()).at("status").as_string() ==
             "DELIVERY_ACK");
  BOOST_TEST(!last.at("payload").as_object().contains("webhook"));
  auto before = api.get("/api/blasts/1/report");
  before.as_object().erase("calculatedAt");
  api.restart();
  auto after = api.get("/api/blasts/1/report");
  after.as_object().erase("calculatedAt");
  BOOST_TEST(json::serialize(after) == json::serialize(before));
}

BOOST_AUTO_TEST_CASE(polling_finds_statuses_without_webhooks) {
  auto t = scripted("s", {});  // its look-up answers "delivered" for every id it issued
  t.poll_interval_ms = 100;
  test::api_harness api(options({t}));
  api.call_json("POST", "/api/blasts", blast_of({"60111111111", "60122222222"}), 201);
  BOOST_TEST_REQUIRE(api.eventually([&] {
    return api.get("/api/blasts/1/report").at("funnel").at(1).at("reached").as_int64() == 2;
  }));
  auto r = recipient(api, 1, "1");
  auto& last = r.at("events").as_array().back();
  BOOST_TEST(last.at("source").as_string() == "poll");
  BOOST_TEST(last.at("payload").at("stage").as_string() == "delivered");
  // A look-up's answer is logged nowhere else: the status event keeps it (here: the send document).
  BOOST_TEST(json::parse(last.at("payload").at("raw").as_string()) == r.at("messageData"),
             json::serialize(r));
  // Later rounds find nothing new: the same look-up event id is applied once.
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  BOOST_TEST(recipient(api, 1, "1").at("events").as_array().size() == r.at("events").as_array().size());
}

BOOST_AUTO_TEST_CASE(resend_only_those_without_the_message) {
  test::api_harness api(options({scripted(
    "s", {{"sendLog", send_log}, {"script", {{"60111111111", {"permanent", "ok"}}}}})}));
  api.call_json("POST", "/api/blasts", blast_of({"60111111111", "60122222222"}), 201);
  BOOST_TEST_REQUIRE(api.eventually([&] { return status_of(api, 1) == "completed"; }));
  api.call_json("POST", "/api/blasts/1/resend", R"({"stages":["sent"]})", 422);
  auto n = api.call_json("POST", "/api/blasts/1/resend", R"({"stages":["failed","unknown"]})", 200);
  BOOST_TEST(n.at("resent").as_int64() == 1);
  BOOST_TEST_REQUIRE(api.eventually([&] {
    return recipient(api, 1, "1").at("sendStatus").as_string() == "sent";
  }));
  BOOST_TEST_REQUIRE(api.eventually([&] { return status_of(api, 1) == "completed"; }));
  BOOST_TEST(sends().size() == 3u);  // 1 failed + 1 resent + 1 sent once, never twice
  BOOST_TEST(recipient(api, 1, "1").at("stage").as_string() == "sent");
  // A manual update answers the whole row, send status included.
  auto u = api.call_json("POST", "/api/blasts/1/recipients/1/status", R"({"stage":"read"})", 200);
  BOOST_TEST(u.at("recipient").at("sendStatus").as_string() == "sent");
  BOOST_TEST(u.at("recipient").at("attempts").as_int64() == 2);
  BOOST_TEST(u.at("recipient").at("stage").as_string() == "read");
}

BOOST_AUTO_TEST_CASE(sim_fills_the_funnel_deterministically) {
  actors::transport_options sim;
  sim.name = "sim";
  sim.plugin = "sim";
  sim.plugin_config = R"({"seed":7,"timeScale":0})";
  auto o = options({sim});
  o.plugin_dir = SIM_PLUGIN_DIR;
  std::vector<std::string> phones;
  for (int i = 0; i < 300; ++i)
    phones.push_back("6019" + std::to_string(1000000 + i));
  std::string reports[2];
  for (auto& rep : reports) {
    test::api_harness api(o);
    api.call_json("POST", "/api/blasts", blast_of(phones), 201);
    // Settled: every message has an outcome and no push is still on its way.
    std::string last;
    BOOST_TEST_REQUIRE(api.eventually(
      [&] {
        auto r = api.get("/api/blasts/1/report");
        r.as_object().erase("calculatedAt");
        auto now = json::serialize(r);
        bool same = now == last && status_of(api, 1) == "completed";
        last = now;
        if (!same)
          std::this_thread::sleep_for(200ms);
        return same;
      },
      20s));
    rep = last;
    auto r = api.get("/api/blasts/1/report");
    BOOST_TEST(r.at("funnel").at(0).at("reached").as_int64() + r.at("failed").as_int64() == 300);
    BOOST_TEST(r.at("funnel").at(1).at("reached").as_int64() > 200);  // delivered, mostly
    BOOST_TEST(r.at("funnel").at(3).at("reached").as_int64() > 0);    // some replied
  }
  BOOST_TEST(reports[0] == reports[1]);  // same seed, same funnel
}

BOOST_AUTO_TEST_SUITE_END()
