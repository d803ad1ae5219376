// blastd + the whatsapp_cloud plugin + the Cloud API simulator (in-process), over real HTTP:
// a blast whose statuses arrive in signed batches of up to 100, shuffled and duplicated, with
// reads that never had a delivered, replies with and without context, and Graph errors of
// each class, ends at exactly the funnel the simulator planned; the GET verification
// handshake is answered by the plugin (good and bad token); a bad signature is a 401.
#define BOOST_TEST_MODULE engine_whatsapp_cloud_e2e
#include <fstream>
#include <map>
#include <tuple>
#include <thread>

#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include "tests/support/http_checks.hpp"
#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"
#include "tools/http_client.hpp"
#include "tools/wacloud_sim/cloud_api.hpp"
#include "tools/wsapme_sim/webhook_sender.hpp"

namespace json = boost::json;
using namespace blast;
using namespace std::chrono_literals;

namespace {

using test::eventually;
using test::ok_json;

std::string number(int i) {
  return "6019" + std::to_string(3000000 + i);
}

struct rig {
  test::temp_dir dir;
  std::unique_ptr<tools::wacloud_sim::cloud_api> sim;
  std::unique_ptr<test::blastd_process> blastd;
  std::unique_ptr<tools::http_client> api;

  // `transport_extra`: more keys for the transport's config object (", \"k\": v ...").
  explicit rig(tools::wacloud_sim::cloud_options o, const std::string& transport_extra = "") {
    uint16_t blastd_port = test::free_port();
    o.access_token = "T0k";
    o.app_secret = "s3cret";
    o.webhook_url = "http://127.0.0.1:" + std::to_string(blastd_port) + "/webhooks/wa";
    sim = std::make_unique<tools::wacloud_sim::cloud_api>(o);
    std::string cfg = dir.path() + "/blastd.json";
    std::ofstream(cfg) << R"({"defaultTransport": "wa", "transports": {"wa": {
      "plugin": "whatsapp_cloud", "baseUrl": "http://127.0.0.1:)"
                       << sim->port() << R"(", "phoneNumberId": "1000", "accessToken": "T0k",
      "appSecret": "s3cret", "verifyToken": "vt-42", "retryBaseMs": 20, "maxAttempts": 2)"
                       << transport_extra << "}}}";
    blastd = std::make_unique<test::blastd_process>(
        BLASTD_PATH, dir.path() + "/data", dir.path() + "/blastd.log",
        std::vector<std::string>{"--config", cfg, "--plugin-dir", PLUGIN_DIR, "--listen",
                                 "127.0.0.1:" + std::to_string(blastd_port)});
    api = std::make_unique<tools::http_client>("127.0.0.1", blastd->port());
  }

  int create(int n) {
    json::array rs;
    for (int i = 0; i < n; ++i)
      rs.push_back(json::object{{"phoneNumber", number(i)}, {"name", "C" + std::to_string(i)}});
    return create(std::move(rs));
  }

  // Submits the recipients and waits until every send has an outcome.
  int create(json::array rs) {
    auto b = ok_json(api->post("/api/blasts", json::serialize(json::object{
                                                  {"message", "Hi {{name}}"}, {"recipients", rs}})),
                     201);
    int id = static_cast<int>(b.at("id").as_int64());
    BOOST_TEST_REQUIRE(eventually(
        [&] {
          return ok_json(api->get("/api/blasts/" + std::to_string(id)), 200).at("status") ==
                 "completed";
        },
        60s));
    return id;
  }

  json::value recipient(int blast, int r) {
    return ok_json(api->get("/api/blasts/" + std::to_string(blast) + "/recipients/" +
                            std::to_string(r)),
                   200);
  }
};

} // namespace

BOOST_AUTO_TEST_SUITE(whatsapp_cloud_e2e)

BOOST_AUTO_TEST_CASE(batched_shuffled_duplicated_statuses_reach_the_planned_funnel) {
  tools::wacloud_sim::cloud_options o;
  o.seed = 11;
  o.read_rate = 0.7;
  o.reply_rate = 0.5;
  o.quote_rate = 0.5;
  o.duplicate_rate = 0.5;
  o.reorder = true;
  o.read_without_delivered_rate = 0.4;
  o.batch_interval_ms = 100; // long enough that a batch gathers many messages' events
  o.fail_numbers = {number(3)};
  o.error_numbers = {{number(5), 131049}, {number(6), 132001}, {number(7), 130429}};
  rig r(o);
  const int n = 150;
  int blast = r.create(n);

  std::map<int, std::string> plan;
  for (int i = 0; i < n; ++i) {
    auto d = r.recipient(blast, i + 1);
    if (i == 5 || i == 6 || i == 7) {
      plan[i + 1] = "failed"; // refused by the API: no wamid, failed with the Graph code
      continue;
    }
    BOOST_TEST_REQUIRE(d.at("messageData").is_object(), "recipient " << i + 1);
    auto wamid = std::string(d.at("messageData").at("messages").at(0).at("id").as_string());
    plan[i + 1] = r.sim->planned_stage(wamid);
    BOOST_TEST_REQUIRE(!plan[i + 1].empty(), wamid);
  }
  std::map<int, std::string> seen;
  bool matched = eventually(
      [&] {
        r.sim->flush();
        auto page = ok_json(r.api->get("/api/blasts/" + std::to_string(blast) +
                                       "/recipients?limit=1000"),
                            200);
        bool all = true;
        for (auto& item : page.at("items").as_array()) {
          int id = static_cast<int>(item.at("id").as_int64());
          seen[id] = std::string(item.at("stage").as_string());
          all = all && seen[id] == plan[id];
        }
        return all;
      },
      30s);
  if (!matched)
    for (auto& [id, s] : plan)
      BOOST_TEST(seen[id] == s, "recipient " << id);

  // The plan exercised what it was meant to: batches, duplicates, reads and replies.
  auto stats = r.sim->stats();
  BOOST_TEST(stats.requests * 2 < stats.events, "events " << stats.events << " in "
                                                          << stats.requests << " requests");
  BOOST_TEST(stats.events > stats.accepted * 2);
  size_t reads = 0, replies = 0;
  for (auto& [id, s] : plan) {
    reads += s == "read";
    replies += s == "replied";
  }
  BOOST_TEST(reads > 10u);
  BOOST_TEST(replies > 10u);
  // Each Graph error class ends in the event with its code: permanent at once, retryable after
  // maxAttempts (2).
  for (auto [r_id, code, kind, attempts] :
       {std::tuple{6, "131049", "permanent", 1}, std::tuple{7, "132001", "permanent", 1},
        std::tuple{8, "130429", "retryable", 2}}) {
    auto d = r.recipient(blast, r_id);
    BOOST_TEST(d.at("sendStatus").as_string() == "failed");
    BOOST_TEST(d.at("attempts").as_int64() == attempts);
    auto& last = d.at("events").as_array().back();
    BOOST_TEST(last.at("payload").at("kind").as_string() == kind, last);
    BOOST_TEST(std::string(last.at("payload").at("error").as_string()).find(code) !=
                   std::string::npos,
               last);
  }
  // The report counts every read (with or without its delivered, which the simulator dropped
  // for 40% of reads) as delivered: reached(delivered) = delivered + read + replied plans.
  auto report = ok_json(r.api->get("/api/blasts/" + std::to_string(blast) + "/report"), 200);
  BOOST_TEST(report.at("failed").as_int64() == 4);
  int64_t delivered_or_later = 0;
  for (auto& [id, s] : plan)
    delivered_or_later += s == "delivered" || s == "read" || s == "replied";
  for (auto& row : report.at("funnel").as_array())
    if (row.at("stage") == "delivered")
      BOOST_TEST(row.at("reached").as_int64() == delivered_or_later, row);
  auto unmatched = ok_json(r.api->get("/api/unmatched?olderThan=0s"), 200);
  BOOST_TEST(unmatched.at("items").as_array().empty(), unmatched);
}

// A template blast whose parameters come from each recipient's vars (ABI 1.2), through a rate
// limit that passes (Retry-After honoured; it does not use up the recipient's attempts: three
// attempts with maxAttempts 2), a throughput error that passes within maxAttempts, and a
// recipient without the var the template needs (invalid, named, never sent).
BOOST_AUTO_TEST_CASE(template_parameters_from_vars_and_limits_that_pass) {
  tools::wacloud_sim::cloud_options o;
  o.keep_bodies = true;
  o.transient_errors = {{number(1), {80007, 2}}, {number(2), {130429, 1}}};
  rig r(o, R"(, "messageType": "template", "template": {"name": "promo", "language": "en",
      "components": [{"type": "body", "parameters": [{"type": "text", "text": "{{vars.first}}"},
                                                    {"type": "text", "text": "{{vars.code}}"}]}]})");
  json::array rs;
  for (int i = 0; i < 5; ++i) {
    json::object vars{{"first", "F" + std::to_string(i)}};
    if (i != 3)
      vars["code"] = "K" + std::to_string(i);
    rs.push_back(json::object{{"phoneNumber", number(i)}, {"vars", vars}});
  }
  int blast = r.create(std::move(rs));

  for (int i : {0, 1, 2, 4}) {
    auto d = r.recipient(blast, i + 1);
    BOOST_TEST(d.at("sendStatus").as_string() == "sent", d);
    auto sent = json::parse(r.sim->last_send_body(number(i)));
    BOOST_TEST(sent.at("type").as_string() == "template");
    auto params = sent.at("template").at("components").at(0).at("parameters").as_array();
    BOOST_TEST(params.at(0).at("text").as_string() == "F" + std::to_string(i));
    BOOST_TEST(params.at(1).at("text").as_string() == "K" + std::to_string(i));
  }
  auto limited = r.recipient(blast, 2);
  BOOST_TEST(limited.at("attempts").as_int64() == 3);
  int rate_limited = 0;
  for (auto& e : limited.at("events").as_array())
    if (e.at("payload").as_object().if_contains("kind")) {
      BOOST_TEST(e.at("payload").at("kind").as_string() == "rate_limited", e);
      BOOST_TEST(e.at("payload").at("retryAfterMs").as_int64() == 1000, e);
      BOOST_TEST(std::string(e.at("payload").at("error").as_string()).find("80007") !=
                     std::string::npos,
                 e);
      ++rate_limited;
    }
  BOOST_TEST(rate_limited == 2);
  auto throttled = r.recipient(blast, 3);
  BOOST_TEST(throttled.at("attempts").as_int64() == 2);
  int succeeded = 0;
  for (auto& e : throttled.at("events").as_array())
    succeeded += e.at("type") == "send_succeeded";
  BOOST_TEST(succeeded == 1, throttled);

  auto no_code = r.recipient(blast, 4);
  BOOST_TEST(no_code.at("sendStatus").as_string() == "failed", no_code);
  BOOST_TEST(no_code.at("attempts").as_int64() == 1);
  auto& last = no_code.at("events").as_array().back();
  BOOST_TEST(last.at("payload").at("kind").as_string() == "invalid", last);
  BOOST_TEST(std::string(last.at("payload").at("error").as_string()).find("vars.code") !=
                 std::string::npos,
             last);
  BOOST_TEST(r.sim->last_send_body(number(3)).empty()); // never reached the API
}

BOOST_AUTO_TEST_CASE(handshake_and_signatures_at_the_webhook_endpoint) {
  rig r({});
  auto good = r.api->get("/webhooks/wa?hub.mode=subscribe&hub.verify_token=vt-42&hub.challenge=99");
  BOOST_TEST(good.status == 200, good.body);
  BOOST_TEST(good.body == "99");
  auto bad = r.api->get("/webhooks/wa?hub.mode=subscribe&hub.verify_token=nope&hub.challenge=99");
  BOOST_TEST(bad.status == 403, bad.body);
  BOOST_TEST(bad.body.find("99") == std::string::npos);
  // A POST whose signature is not over its body: 401, and nothing is logged as received.
  std::string body = R"({"object":"whatsapp_business_account","entry":[]})";
  auto forged = r.api->request("POST", "/webhooks/wa", body, "application/json",
                               {{"X-Hub-Signature-256", "sha256=" + std::string(64, '0')}});
  BOOST_TEST(forged.status == 401, forged.body);
  auto ok = r.api->request(
      "POST", "/webhooks/wa", body, "application/json",
      {{"X-Hub-Signature-256", "sha256=" + tools::wsapme_sim::hmac_sha256_hex("s3cret", body)}});
  BOOST_TEST(ok.status == 200, ok.body);
  BOOST_TEST(ok_json(ok, 200).at("observations").as_int64() == 0);
}

BOOST_AUTO_TEST_SUITE_END()
