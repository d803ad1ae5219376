// GET /metrics against a real blastd: every line of the exposition parses,
// every family has HELP and TYPE, histograms are cumulative with +Inf equal
// to _count, and each counter moves by exactly what the test drove over HTTP
// (requests by route template, webhook outcomes, send outcomes, group
// commits), gauges show the transports' queues and the recipient actors, and
// a crash's undecided sends are counted as unknown after the restart.
#define BOOST_TEST_MODULE engine_metrics
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <fstream>
#include <thread>

#include <boost/json.hpp>

#include "tests/support/process.hpp"
#include "tests/support/prometheus.hpp"
#include "tests/support/temp_dir.hpp"
#include "tools/http_client.hpp"

namespace json = boost::json;
using namespace blast;
using labels = std::map<std::string, std::string>;

namespace {

struct fixture {
  test::temp_dir dir;
  std::string data = dir.path() + "/data";
  std::string log = dir.path() + "/blastd.log";
  std::string config = dir.path() + "/blastd.json";
  std::unique_ptr<test::blastd_process> proc;
  std::unique_ptr<tools::http_client> http;

  fixture() {
    // "s" answers at once, per number as scripted; "slow" takes 5 s per send,
    // two at a time, so that its queue and in-flight gauges can be seen.
    std::ofstream(config) << R"({"defaultTransport": "s", "transports": {
      "s": {"plugin": "scripted", "retryBaseMs": 10, "script": {
              "60110000002": ["retryable", "ok"],
              "60110000003": ["rate_limited:20", "ok"],
              "60110000004": ["permanent"]}},
      "slow": {"plugin": "scripted", "workers": 2, "maxInFlight": 2, "default": "sleep:5000"}}})";
    start();
  }

  void start() {
    proc = std::make_unique<test::blastd_process>(
      BLASTD_PATH, data, log,
      std::vector<std::string>{"--config", config, "--plugin-dir", TESTPLUGIN_DIR,
                               "--log-level", "warn"});
    http = std::make_unique<tools::http_client>("127.0.0.1", proc->port());
  }

  // A scrape, checked for well-formedness before anything reads it.
  test::prom_text scrape() {
    auto r = http->get("/metrics");
    BOOST_TEST_REQUIRE(r.status == 200);
    BOOST_TEST(r.header("content-type") == "text/plain; version=0.0.4");
    test::prom_text p(r.body);
    for (auto& problem : p.problems())
      BOOST_ERROR("malformed exposition: " << problem);
    return p;
  }

  tools::http_reply hook(const std::string& body, const std::string& signature = "good") {
    return http->request("POST", "/webhooks/s", body, "application/json",
                         {{"x-test-signature", signature}});
  }

  json::value get_json(const std::string& target) {
    auto r = http->get(target);
    BOOST_TEST_REQUIRE(r.status == 200, target << " -> " << r.status << " " << r.body);
    return json::parse(r.body);
  }

  template <class Pred>
  bool eventually(Pred pred, std::chrono::seconds timeout = std::chrono::seconds(20)) {
    auto end = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < end) {
      if (pred())
        return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return pred();
  }
};

double delta(const test::prom_text& before, const test::prom_text& after, const std::string& name,
             const labels& l = {}) {
  return after.value_or_zero(name, l) - before.value_or_zero(name, l);
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(engine_metrics, fixture)

BOOST_AUTO_TEST_CASE(exposition_is_well_formed_and_keeps_the_old_names) {
  auto p = scrape();
  // The names the README listed before the registry, still there with their types.
  for (auto [name, type] : std::vector<std::pair<const char*, const char*>>{
         {"blastd_blasts", "gauge"},
         {"blastd_recipient_actors_active", "gauge"},
         {"blastd_journal_commits_total", "counter"},
         {"blastd_journal_events_total", "counter"},
         {"blastd_log_last_seq", "gauge"},
         {"blastd_snapshot_seq", "gauge"},
         {"blastd_log_level0_files", "gauge"},
         {"blastd_log_index_lag_events", "gauge"},
         {"blastd_http_requests_total", "counter"},
         {"blastd_http_request_duration_seconds", "histogram"},
         {"blastd_webhook_events_total", "counter"},
         {"blastd_journal_batch_events", "histogram"},
         {"blastd_journal_sync_seconds", "histogram"},
         {"blastd_journal_queued_events", "gauge"},
         {"blastd_recipient_actors", "gauge"},
         {"blastd_sends_total", "counter"},
         {"blastd_transport_queued_sends", "gauge"},
         {"blastd_transport_in_flight_sends", "gauge"},
         {"blastd_storage_available", "gauge"}}) {
    auto t = p.types().find(name);
    BOOST_TEST((t != p.types().end() && t->second == type), name << " should be a " << type);
  }
  BOOST_TEST(p.value("blastd_storage_available") == 1);
  // Every transport has every outcome from the start, so rate() works at once.
  for (auto* t : {"manual", "s", "slow"})
    for (auto* o : {"applied", "duplicate", "parked", "unmatched", "ignored", "rejected"})
      BOOST_TEST(p.value("blastd_webhook_events_total", {{"transport", t}, {"outcome", o}}) == 0);
}

BOOST_AUTO_TEST_CASE(counters_move_by_what_was_driven) {
  json::array rs;
  for (int i = 1; i <= 6; ++i)
    rs.push_back(json::value("6011000000" + std::to_string(i)));
  auto before = scrape();

  // Sends: 1 and 5, 6 ok; 2 retryable then ok; 3 rate limited then ok; 4 permanent.
  auto created = http->post("/api/blasts", json::serialize(json::object{
                                             {"message", "m"}, {"recipients", rs}}));
  BOOST_TEST_REQUIRE(created.status == 201);
  BOOST_TEST_REQUIRE(eventually([&] {
    auto b = get_json("/api/blasts/1");
    auto& s = b.at("sending").as_object();
    return s.at("sent").to_number<int>() == 5 && s.at("failed").to_number<int>() == 1;
  }));

  // Webhooks: one applied, then the same event id three more times (duplicates),
  // one for a message id nobody knows (parked), a reply from a stranger
  // (unmatched), a bad signature (401) and an unparseable body (400): rejected.
  auto applied = R"({"id":"S-60110000001-1","status":2,"eventId":"e-1"})";
  for (int i = 0; i < 4; ++i)
    BOOST_TEST(hook(applied).status == 200);
  BOOST_TEST(hook(R"({"id":"S-nobody","status":2,"eventId":"e-2"})").status == 200);
  BOOST_TEST(hook(R"({"id":"","status":4,"from":"60999999999","eventId":"e-3"})").status == 200);
  BOOST_TEST(hook(applied, "bad").status == 401);
  BOOST_TEST(hook(R"({"no":"id"})").status == 400);

  // Requests by route template: 3 reports, 2 unknown blasts, a raw path that
  // is no route, a recipient by number and a manual update of one by id.
  for (int i = 0; i < 3; ++i)
    BOOST_TEST(http->get("/api/blasts/1/report").status == 200);
  for (int i = 0; i < 2; ++i)
    BOOST_TEST(http->get("/api/blasts/99").status == 404);
  BOOST_TEST(http->get("/no/such/path/12345").status == 404);
  BOOST_TEST(http->get("/api/blasts/1/recipients/60110000005").status == 200);
  BOOST_TEST(http->post("/api/blasts/1/recipients/6/status", R"({"stage":"closed"})").status == 200);

  auto after = scrape();
  auto sends = [&](const char* outcome) {
    return delta(before, after, "blastd_sends_total", {{"transport", "s"}, {"outcome", outcome}});
  };
  BOOST_TEST(sends("succeeded") == 5);
  BOOST_TEST(sends("retried") == 1);
  BOOST_TEST(sends("rate_limited") == 1);
  BOOST_TEST(sends("failed") == 1);
  BOOST_TEST(sends("unknown") == 0);

  auto hooks = [&](const char* outcome) {
    return delta(before, after, "blastd_webhook_events_total",
                 {{"transport", "s"}, {"outcome", outcome}});
  };
  BOOST_TEST(hooks("applied") == 1);
  BOOST_TEST(hooks("duplicate") == 3);
  BOOST_TEST(hooks("parked") == 1);
  BOOST_TEST(hooks("unmatched") == 1);
  BOOST_TEST(hooks("rejected") == 2);
  BOOST_TEST(hooks("ignored") == 0);

  auto requests = [&](const char* route, const char* method, const char* status) {
    return delta(before, after, "blastd_http_requests_total",
                 {{"route", route}, {"method", method}, {"status", status}});
  };
  BOOST_TEST(requests("/api/blasts", "POST", "201") == 1);
  BOOST_TEST(requests("/api/blasts/{id}/report", "GET", "200") == 3);
  BOOST_TEST(requests("/api/blasts/{id}", "GET", "404") == 2);
  BOOST_TEST(requests("other", "GET", "404") == 1);
  BOOST_TEST(requests("/api/blasts/{id}/recipients/{recipient}", "GET", "200") == 1);
  BOOST_TEST(requests("/api/blasts/{id}/recipients/{recipient}/status", "POST", "200") == 1);
  BOOST_TEST(requests("/webhooks/{transport}", "POST", "200") == 6);
  BOOST_TEST(requests("/webhooks/{transport}", "POST", "401") == 1);
  BOOST_TEST(requests("/webhooks/{transport}", "POST", "400") == 1);
  // The first scrape was answered before the second one was rendered.
  BOOST_TEST(requests("/metrics", "GET", "200") == 1);
  // No raw path ever becomes a label.
  for (auto& s : after.samples())
    if (s.name == "blastd_http_requests_total")
      BOOST_TEST(s.labels.at("route").find("99") == std::string::npos);
  BOOST_TEST(delta(before, after, "blastd_http_request_duration_seconds_count",
                   {{"route", "/api/blasts/{id}/report"}}) == 3);

  // Group commits: one histogram observation per commit, and the batches'
  // sizes add up to the events committed; nothing failed.
  auto commits = delta(before, after, "blastd_journal_commits_total");
  BOOST_TEST(commits > 0);
  BOOST_TEST(delta(before, after, "blastd_journal_batch_events_count") == commits);
  BOOST_TEST(delta(before, after, "blastd_journal_batch_events_sum") ==
             delta(before, after, "blastd_journal_events_total"));
  BOOST_TEST(delta(before, after, "blastd_journal_sync_seconds_count") == commits);
  BOOST_TEST(after.value("blastd_journal_failed_commits_total") == 0);
  BOOST_TEST(after.value("blastd_log_last_seq") == after.value("blastd_journal_events_total"));

  // The manual update activated one recipient actor (it passivates after 10 s
  // idle); the other five are rows of the blast's table.
  BOOST_TEST(after.value("blastd_recipient_actors", {{"state", "active"}}) == 1);
  BOOST_TEST(after.value("blastd_recipient_actors", {{"state", "passivated"}}) == 5);
  BOOST_TEST(after.value("blastd_recipient_actors_active") == 1);
  BOOST_TEST(after.value("blastd_blasts") == 1);
}

BOOST_AUTO_TEST_CASE(queue_gauges_and_unknown_sends_after_a_crash) {
  json::array rs;
  for (int i = 1; i <= 5; ++i)
    rs.push_back(json::value("6012000000" + std::to_string(i)));
  BOOST_TEST_REQUIRE(http->post("/api/blasts", json::serialize(json::object{
                                                 {"message", "m"},
                                                 {"transport", "slow"},
                                                 {"recipients", rs}}))
                       .status == 201);
  // Two in the plugin's hands (maxInFlight 2), three waiting behind them.
  BOOST_TEST(eventually([&] {
    auto p = scrape();
    return p.value("blastd_transport_in_flight_sends", {{"transport", "slow"}}) == 2 &&
           p.value("blastd_transport_queued_sends", {{"transport", "slow"}}) == 3;
  }));
  // A crash while they wait: every requested send without an answer is
  // `unknown` after the restart, and counted so.
  proc->kill_hard();
  start();
  auto b = get_json("/api/blasts/1");
  auto unknown = b.at("sending").at("unknown").to_number<int>();
  BOOST_TEST(unknown == 5);
  auto p = scrape();
  BOOST_TEST(p.value("blastd_sends_total", {{"transport", "slow"}, {"outcome", "unknown"}}) ==
             unknown);
  BOOST_TEST(p.value("blastd_transport_in_flight_sends", {{"transport", "slow"}}) == 0);
  BOOST_TEST(p.value("blastd_transport_queued_sends", {{"transport", "slow"}}) == 0);
  BOOST_TEST(proc->stop() == 0);
}

BOOST_AUTO_TEST_SUITE_END()
