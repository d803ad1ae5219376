// blastd + the wsapme plugin + the WSAPME simulator, all over real HTTP: a
// 250-recipient blast with duplicated and reordered webhooks, reads without
// delivered, quoted and unquoted replies and manual closes reaches exactly the
// funnel the simulator planned; the same by polling only; and webhooks that
// race the send response are applied once the message id is known.
#define BOOST_TEST_MODULE engine_wsapme_e2e
#include <fstream>
#include <map>
#include <thread>

#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include "tests/support/http_checks.hpp"
#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"
#include "tools/http_client.hpp"

namespace json = boost::json;
using namespace blast;
using namespace std::chrono_literals;

namespace {

using test::eventually;
using test::ok_json;

struct rig {
  test::temp_dir dir;
  std::unique_ptr<test::server_process> sim;
  std::unique_ptr<test::blastd_process> blastd;
  std::unique_ptr<tools::http_client> api, gw;

  // `sim_args` are wsapme-sim knobs; `webhooks` routes its events to blastd.
  rig(std::vector<std::string> sim_args, bool webhooks, const std::string& transport_extra) {
    uint16_t blastd_port = test::free_port();
    std::vector<std::string> s = {WSAPME_SIM, "--port", "0", "--token", "T0k", "--seed", "7"};
    if (webhooks) {
      s.insert(s.end(), {"--webhook-url",
                         "http://127.0.0.1:" + std::to_string(blastd_port) + "/webhooks/wa",
                         "--webhook-secret", "s3cret"});
    }
    s.insert(s.end(), sim_args.begin(), sim_args.end());
    sim = std::make_unique<test::server_process>(s, dir.path() + "/sim.log");
    std::string cfg = dir.path() + "/blastd.json";
    std::ofstream(cfg) << R"({"defaultTransport": "wa", "transports": {"wa": {"plugin": "wsapme",
      "baseUrl": "http://127.0.0.1:)" << sim->port() << R"(", "token": "T0k", "device": "5850",
      "webhookSecret": "s3cret", "retryBaseMs": 50)" << transport_extra << "}}}";
    blastd = std::make_unique<test::blastd_process>(
      BLASTD_PATH, dir.path() + "/data", dir.path() + "/blastd.log",
      std::vector<std::string>{"--config", cfg, "--plugin-dir", PLUGIN_DIR, "--listen",
                               "127.0.0.1:" + std::to_string(blastd_port)});
    api = std::make_unique<tools::http_client>("127.0.0.1", blastd->port());
    gw = std::make_unique<tools::http_client>("127.0.0.1", sim->port());
  }

  int create(int n) {
    json::array rs;
    for (int i = 0; i < n; ++i)
      rs.push_back(json::object{{"phoneNumber", "6017" + std::to_string(2000000 + i)},
                                {"name", "C" + std::to_string(i)}});
    auto b = ok_json(api->post("/api/blasts", json::serialize(json::object{
                                                {"message", "Hi {{name}}"}, {"recipients", rs}})),
                     201);
    int id = static_cast<int>(b.at("id").as_int64());
    BOOST_TEST_REQUIRE(eventually(
      [&] {
        return ok_json(api->get("/api/blasts/" + std::to_string(id)), 200)
                 .at("status")
                 .as_string() == "completed";
      },
      60s));
    return id;
  }

  // The stage the simulator's timeline says a message ends at.
  std::string planned_stage(const std::string& message_id, bool with_replies) {
    auto t = ok_json(gw->get("/sim/messages/" + message_id), 200);
    if (with_replies && !t.at("reply").is_null())
      return "replied";
    std::string best = "sent";
    for (auto& s : t.at("stages").as_array()) {
      auto st = std::string(s.at("status").as_string());
      if (st == "READ")
        best = "read";
      else if (st == "DELIVERY_ACK" && best != "read")
        best = "delivered";
      else if (st == "ERROR" && best == "sent")
        best = "failed";
    }
    return best;
  }

  // Every recipient's stage in blastd against the plan; returns the plan.
  std::map<int, std::string> check_against_plan(int blast, int n, bool with_replies,
                                                std::map<int, std::string> overrides = {}) {
    std::map<int, std::string> plan;
    for (int r = 1; r <= n; ++r) {
      auto d = ok_json(api->get("/api/blasts/" + std::to_string(blast) + "/recipients/" +
                                std::to_string(r)),
                       200);
      BOOST_TEST_REQUIRE(d.at("messageData").is_object(), "recipient " << r);
      auto id = std::string(d.at("messageData").at("key").at("id").as_string());
      plan[r] = overrides.count(r) ? overrides[r] : planned_stage(id, with_replies);
    }
    // Webhooks and polls may still be on their way: wait for the plan to hold.
    std::map<int, std::string> last_seen;
    bool matched = eventually(
      [&] {
        auto page = ok_json(api->get("/api/blasts/" + std::to_string(blast) +
                                     "/recipients?limit=1000"),
                            200);
        bool all = true;
        for (auto& item : page.at("items").as_array()) {
          int r = static_cast<int>(item.at("id").as_int64());
          last_seen[r] = std::string(item.at("stage").as_string());
          all = all && last_seen[r] == plan[r];
        }
        return all;
      },
      30s);
    if (!matched)
      for (auto& [r, s] : plan)
        BOOST_TEST(last_seen[r] == s, "recipient " << r);
    return plan;
  }
};

void check_report(tools::http_client& api, int blast, const std::map<int, std::string>& plan) {
  std::map<std::string, int64_t> count;
  for (auto& [r, s] : plan)
    ++count[s];
  auto rep = ok_json(api.get("/api/blasts/" + std::to_string(blast) + "/report"), 200);
  const char* order[] = {"sent", "delivered", "read", "replied", "closed"};
  int64_t reached = 0;
  for (int i = 4; i >= 0; --i) {
    reached += count[order[i]];
    BOOST_TEST(rep.at("funnel").at(i).at("reached").as_int64() == reached, order[i]);
  }
  BOOST_TEST(rep.at("failed").as_int64() == count["failed"]);
}

} // namespace

BOOST_AUTO_TEST_SUITE(wsapme_e2e)

BOOST_AUTO_TEST_CASE(webhooks_duplicated_reordered_replies_and_closes) {
  rig r({"--duplicate-rate", "0.3", "--reorder", "--read-without-delivered-rate", "0.15",
         "--quote-rate", "0.5", "--reply-rate", "0.4", "--delay-ms", "10..150", "--error-numbers",
         "60172000003,60172000007"},
        true, "");
  int blast = r.create(250);
  // Manual closes: ten recipients close the sale (after whatever the channel said).
  std::map<int, std::string> closed;
  for (int i = 10; i < 20; ++i) {
    ok_json(r.api->post("/api/blasts/" + std::to_string(blast) + "/recipients/" +
                          std::to_string(i) + "/status",
                        R"({"stage":"closed"})"),
            200);
    closed[i] = "closed";
  }
  auto plan = r.check_against_plan(blast, 250, true, closed);
  check_report(*r.api, blast, plan);
  auto stats = ok_json(r.gw->get("/sim/stats"), 200);
  BOOST_TEST(stats.at("planned").at("replies").as_int64() > 0);
  BOOST_TEST(stats.at("planned").at("readWithoutDelivery").as_int64() > 0);
  BOOST_TEST(stats.at("webhooksFailed").as_int64() == 0);  // blastd took every webhook
  // Nothing was left unmatched: every webhook found its recipient.
  auto unmatched = ok_json(r.api->get("/api/unmatched?olderThan=0s"), 200);
  BOOST_TEST(unmatched.at("items").as_array().empty(), json::serialize(unmatched));
  // And a restart answers the same.
  auto before = ok_json(r.api->get("/api/blasts/1/report"), 200);
  before.as_object().erase("calculatedAt");
  BOOST_TEST(r.blastd->stop() == 0);
  r.blastd = std::make_unique<test::blastd_process>(
    BLASTD_PATH, r.dir.path() + "/data", r.dir.path() + "/blastd.log",
    std::vector<std::string>{"--config", r.dir.path() + "/blastd.json", "--plugin-dir",
                             PLUGIN_DIR});
  tools::http_client again("127.0.0.1", r.blastd->port());
  auto after = ok_json(again.get("/api/blasts/1/report"), 200);
  after.as_object().erase("calculatedAt");
  BOOST_TEST(json::serialize(after) == json::serialize(before));
}

BOOST_AUTO_TEST_CASE(polling_only) {
  rig r({"--delay-ms", "10..100", "--read-without-delivered-rate", "0.1"}, false,
        R"(, "pollIntervalSeconds": 0.2)");
  int blast = r.create(60);
  // Look-ups never report replies: the plan without them.
  auto plan = r.check_against_plan(blast, 60, false);
  check_report(*r.api, blast, plan);
  auto stats = ok_json(r.gw->get("/sim/stats"), 200);
  BOOST_TEST(stats.at("statusLookups").as_int64() > 0);
}

BOOST_AUTO_TEST_CASE(webhooks_racing_the_send_response_are_applied) {
  // The gateway answers sends slowly but reports statuses fast: the status
  // webhooks arrive before blastd knows the message ids.
  rig r({"--latency-ms", "300", "--delay-ms", "5..20", "--reply-rate", "0"}, true,
        R"(, "maxInFlight": 4)");
  int blast = r.create(8);
  auto plan = r.check_against_plan(blast, 8, true);
  check_report(*r.api, blast, plan);
  auto unmatched = ok_json(r.api->get("/api/unmatched?olderThan=0s"), 200);
  BOOST_TEST(unmatched.at("items").as_array().empty());
}

BOOST_AUTO_TEST_CASE(gateway_down_or_throttling_retries_then_fails_with_the_reason) {
  {
    // Every gateway answer is 503: retried with backoff, then failed with the reason.
    rig r({"--fail-5xx-rate", "1.0"}, true, R"(, "maxAttempts": 3)");
    int blast = r.create(3);
    auto d = ok_json(r.api->get("/api/blasts/" + std::to_string(blast) + "/recipients/1"), 200);
    BOOST_TEST(d.at("stage").as_string() == "failed");
    BOOST_TEST(d.at("sendStatus").as_string() == "failed");
    BOOST_TEST(d.at("attempts").as_int64() == 3);
    auto& last = d.at("events").as_array().back();
    BOOST_TEST(last.at("payload").at("kind").as_string() == "retryable");
    BOOST_TEST(std::string(last.at("payload").at("error").as_string()).find("503") !=
                 std::string::npos,
               last);
    BOOST_TEST(ok_json(r.api->get("/api/blasts/1/report"), 200).at("failed").as_int64() == 3);
  }
  {
    // A gateway that allows 5 sends a second: 429s slow the transport, everyone is sent.
    rig r({"--rate-limit", "5", "--reply-rate", "0"}, true, "");
    int blast = r.create(12);
    auto b = ok_json(r.api->get("/api/blasts/" + std::to_string(blast)), 200);
    BOOST_TEST(b.at("sending").at("sent").as_int64() == 12);
    auto stats = ok_json(r.gw->get("/sim/stats"), 200);
    BOOST_TEST(stats.at("rateLimited").as_int64() > 0);
    BOOST_TEST(stats.at("sends").as_int64() == 12);  // nobody twice
  }
}

BOOST_AUTO_TEST_SUITE_END()
