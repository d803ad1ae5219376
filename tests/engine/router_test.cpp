// The HTTP API without a socket: the router over the real actor service on a
// temporary log. Every error path, and that a rejected request writes nothing.
#define BOOST_TEST_MODULE engine_router
#include <future>
#include <thread>

#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include "tests/support/api_harness.hpp"

namespace json = boost::json;
using namespace blast;
using engine::http::request;
using engine::http::response;

namespace {

struct fixture : test::api_harness {
  fixture() : test::api_harness(options(), router_options()) {}

  static actors::service_options options() {
    actors::service_options o;
    o.passivate_after_ms = 50;  // exercise passivation within a test's time
    return o;
  }
  static engine::http::router_options router_options() {
    engine::http::router_options ro;
    ro.max_recipients = 1000;
    ro.max_message_bytes = 50;
    return ro;
  }

  uint64_t last_seq() { return stats().last_seq; }

  void expect_error(const std::string& method, const std::string& target, const std::string& body,
                    unsigned status, const std::string& code) {
    auto before = last_seq();
    auto v = call_json(method, target, body, status);
    BOOST_TEST(v.at("error").at("code").as_string() == code, target << ": " << v);
    BOOST_TEST(!v.at("error").at("message").as_string().empty());
    BOOST_TEST(last_seq() == before, "a rejected request wrote to the log: " << target);
  }
};

std::string blast_body(size_t n) {
  json::array rs;
  for (size_t i = 0; i < n; ++i)
    rs.push_back(json::value("6010000" + std::to_string(1000 + i)));
  return json::serialize(json::object{{"message", "Hi"}, {"recipients", rs}});
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(router, fixture)

BOOST_AUTO_TEST_CASE(healthz) {
  auto v = call_json("GET", "/healthz", "", 200);
  BOOST_TEST(v.at("status").as_string() == "ok");
}

BOOST_AUTO_TEST_CASE(metrics_in_prometheus_format) {
  call_json("POST", "/api/blasts", blast_body(3), 201);
  auto r = call("GET", "/metrics");
  BOOST_TEST(r.status == 200u);
  BOOST_TEST(r.content_type.find("text/plain") == 0u);
  BOOST_TEST(r.body.find("# TYPE blastd_journal_commits_total counter\n") != std::string::npos);
  BOOST_TEST(r.body.find("\nblastd_blasts 1\n") != std::string::npos, r.body);
  BOOST_TEST(r.body.find("\nblastd_log_last_seq 2\n") != std::string::npos, r.body);
}

BOOST_AUTO_TEST_CASE(create_normalises_dedups_and_describes_the_blast) {
  auto v = call_json("POST", "/api/blasts",
                     R"({"message":"Hello {{name}}","blastTag":"nov",
                         "recipients":["+60 12-345 6789","60123456789",
                           {"phoneNumber":"60198765432","name":"Aisyah","vars":{"plan":"gold"}}]})",
                     201);
  BOOST_TEST(v.at("id").as_int64() == 1);
  BOOST_TEST(v.at("totalRecipients").as_int64() == 2);
  BOOST_TEST(v.at("duplicatesDropped").as_int64() == 1);
  BOOST_TEST(v.at("status").as_string() == "sending");
  BOOST_TEST(v.at("transport").as_string() == "manual");
  BOOST_TEST(v.at("blastTag").as_string() == "nov");

  auto r = call_json("GET", "/api/blasts/1/recipients/60198765432", "", 200);
  BOOST_TEST(r.at("id").as_int64() == 2);
  BOOST_TEST(r.at("name").as_string() == "Aisyah");
  BOOST_TEST(r.at("vars").at("plan").as_string() == "gold");
  BOOST_TEST(r.at("stage").as_string() == "pending");
  BOOST_TEST(r.at("messageData").is_null());
  // The same recipient by id.
  auto same = call_json("GET", "/api/blasts/1/recipients/2", "", 200);
  BOOST_TEST(same.at("phoneNumber").as_string() == "60198765432");
}

BOOST_AUTO_TEST_CASE(list_and_filter_blasts) {
  call_json("POST", "/api/blasts", R"({"message":"a","blastTag":"x","recipients":["60111111111"]})",
            201);
  call_json("POST", "/api/blasts", R"({"message":"b","blastTag":"y","recipients":["60111111111"]})",
            201);
  call_json("POST", "/api/blasts",
            R"({"message":"c","blastTag":"x","scheduledAt":"2999-01-01T00:00:00Z",
                "recipients":["60111111111"]})",
            201);
  BOOST_TEST(call_json("GET", "/api/blasts", "", 200).at("items").as_array().size() == 3u);
  auto x = call_json("GET", "/api/blasts?blastTag=x", "", 200).at("items").as_array();
  BOOST_TEST(x.size() == 2u);
  auto sched = call_json("GET", "/api/blasts?blastTag=x&status=scheduled", "", 200).at("items");
  BOOST_TEST(sched.as_array().size() == 1u);
  BOOST_TEST(sched.as_array()[0].at("scheduledAt").as_string() == "2999-01-01T00:00:00.000Z");
  auto one = call_json("GET", "/api/blasts/2", "", 200);
  BOOST_TEST(one.at("message").as_string() == "b");
  BOOST_TEST(one.at("stages").at("pending").as_int64() == 1);
}

BOOST_AUTO_TEST_CASE(manual_updates_history_and_report) {
  call_json("POST", "/api/blasts", blast_body(4), 201);
  auto u = call_json("POST", "/api/blasts/1/recipients/1/status",
                     R"({"stage":"read","note":"seen in the app"})", 200);
  BOOST_TEST(u.at("outcome").as_string() == "advanced");
  BOOST_TEST(u.at("previousStage").as_string() == "pending");
  BOOST_TEST(u.at("recipient").at("deliveredAt").is_null());
  BOOST_TEST(!u.at("recipient").at("readAt").is_null());
  u = call_json("POST", "/api/blasts/1/recipients/1/status", R"({"stage":"delivered"})", 200);
  BOOST_TEST(u.at("outcome").as_string() == "backfilled");
  BOOST_TEST(u.at("recipient").at("stage").as_string() == "read");
  u = call_json("POST", "/api/blasts/1/recipients/1/status", R"({"stage":"read"})", 200);
  BOOST_TEST(u.at("outcome").as_string() == "duplicate");
  call_json("POST", "/api/blasts/1/recipients/2/status", R"({"stage":"failed"})", 200);

  auto d = call_json("GET", "/api/blasts/1/recipients/1", "", 200);
  auto& events = d.at("events").as_array();
  BOOST_TEST_REQUIRE(events.size() == 3u);  // duplicates are evidence: logged
  BOOST_TEST(events[0].at("payload").at("note").as_string() == "seen in the app");
  BOOST_TEST(events[0].at("source").as_string() == "manual");
  BOOST_TEST(events[1].at("payload").at("outcome").as_string() == "backfilled");
  BOOST_TEST(events[2].at("payload").at("outcome").as_string() == "duplicate");
  BOOST_TEST(events[0].at("seq").as_int64() < events[1].at("seq").as_int64());

  auto rep = call_json("GET", "/api/blasts/1/report", "", 200);
  BOOST_TEST(rep.at("totalRecipients").as_int64() == 4);
  BOOST_TEST(rep.at("pending").as_int64() == 2);
  BOOST_TEST(rep.at("failed").as_int64() == 1);
  BOOST_TEST(rep.at("funnel").at(2).at("stage").as_string() == "read");
  BOOST_TEST(rep.at("funnel").at(2).at("reached").as_int64() == 1);
  BOOST_TEST(rep.at("funnel").at(2).at("percent").as_double() == 25.0);
  BOOST_TEST(rep.at("stuck").at("read").as_int64() == 1);

  // Idle recipient actors are passivated, and come back with their state.
  BOOST_TEST(stats().active_recipient_actors > 0u);
  for (int i = 0; i < 100 && stats().active_recipient_actors > 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  BOOST_TEST(stats().active_recipient_actors == 0u);
  u = call_json("POST", "/api/blasts/1/recipients/1/status", R"({"stage":"replied"})", 200);
  BOOST_TEST(u.at("previousStage").as_string() == "read");
  BOOST_TEST(!u.at("recipient").at("deliveredAt").is_null());
}

BOOST_AUTO_TEST_CASE(recipient_pages_by_stage_with_cursor) {
  call_json("POST", "/api/blasts", blast_body(30), 201);
  for (int id : {3, 7, 8, 15, 22, 29})
    call_json("POST", "/api/blasts/1/recipients/" + std::to_string(id) + "/status",
              R"({"stage":"delivered"})", 200);
  std::vector<int64_t> seen;
  std::string cursor;
  int pages = 0;
  do {
    auto p = call_json("GET", "/api/blasts/1/recipients?stage=delivered&limit=4" +
                                (cursor.empty() ? "" : "&cursor=" + cursor),
                       "", 200);
    for (auto& r : p.at("items").as_array()) {
      BOOST_TEST(r.at("stage").as_string() == "delivered");
      seen.push_back(r.at("id").as_int64());
    }
    cursor = p.at("nextCursor").is_null() ? "" : std::string(p.at("nextCursor").as_string());
    ++pages;
  } while (!cursor.empty() && pages < 10);
  BOOST_TEST(pages == 2);
  BOOST_TEST((seen == std::vector<int64_t>{3, 7, 8, 15, 22, 29}));
  auto all = call_json("GET", "/api/blasts/1/recipients?limit=1000", "", 200);
  BOOST_TEST(all.at("items").as_array().size() == 30u);
  BOOST_TEST(all.at("nextCursor").is_null());
}

BOOST_AUTO_TEST_CASE(bad_input_gets_clear_errors_and_writes_nothing) {
  call_json("POST", "/api/blasts", blast_body(2), 201);
  expect_error("POST", "/api/blasts", "{\"message\": ", 400, "malformed_json");
  expect_error("POST", "/api/blasts", "[1,2]", 422, "invalid_body");
  expect_error("POST", "/api/blasts", R"({"recipients":["60111111111"]})", 422, "invalid_message");
  expect_error("POST", "/api/blasts", R"({"message":"","recipients":["60111111111"]})", 422,
               "invalid_message");
  expect_error("POST", "/api/blasts",
               R"({"message":")" + std::string(51, 'x') + R"(","recipients":["60111111111"]})",
               422, "message_too_long");
  expect_error("POST", "/api/blasts", R"({"message":"m"})", 422, "invalid_recipients");
  expect_error("POST", "/api/blasts", R"({"message":"m","recipients":[]})", 422,
               "invalid_recipients");
  expect_error("POST", "/api/blasts", blast_body(1001), 413, "too_many_recipients");
  expect_error("POST", "/api/blasts",
               R"({"message":"m","recipients":["60111111111"],"scheduledAt":"tomorrow"})", 422,
               "invalid_scheduled_at");
  expect_error("POST", "/api/blasts",
               R"({"message":"m","recipients":["60111111111"],"transport":"pigeon"})", 422,
               "invalid");
  expect_error("POST", "/api/blasts/1/recipients/1/status", R"({"stage":"pending"})", 422,
               "invalid_stage");
  expect_error("POST", "/api/blasts/1/recipients/1/status", R"({"stage":"opened"})", 422,
               "invalid_stage");
  expect_error("POST", "/api/blasts/1/recipients/1/status", R"({"stage":"read","note":5})", 422,
               "invalid_note");
  expect_error("POST", "/api/blasts/1/recipients/1/status", "nope", 400, "malformed_json");
  expect_error("POST", "/api/blasts/9/recipients/1/status", R"({"stage":"read"})", 404,
               "not_found");
  expect_error("POST", "/api/blasts/1/recipients/60999999999/status", R"({"stage":"read"})", 404,
               "not_found");
  expect_error("POST", "/api/blasts/1/recipients/3/status", R"({"stage":"read"})", 404,
               "not_found");
  expect_error("GET", "/api/blasts/9", "", 404, "not_found");
  expect_error("GET", "/api/blasts/abc", "", 404, "not_found");
  expect_error("GET", "/api/blasts/9/report", "", 404, "not_found");
  expect_error("GET", "/api/blasts/1/recipients?stage=opened", "", 422, "invalid_stage");
  expect_error("GET", "/api/blasts/1/recipients?limit=0", "", 422, "invalid_limit");
  expect_error("GET", "/api/blasts/1/recipients?cursor=x", "", 422, "invalid_cursor");
  expect_error("GET", "/api/blasts?status=done", "", 422, "invalid_status");
  expect_error("DELETE", "/api/blasts/1", "", 405, "method_not_allowed");
  expect_error("GET", "/nowhere", "", 404, "not_found");
}

BOOST_AUTO_TEST_CASE(invalid_recipients_are_each_named) {
  auto before = last_seq();
  auto v = call_json("POST", "/api/blasts",
                     R"({"message":"m","recipients":["60111111111","12",{"name":"x"},
                         {"phoneNumber":"60122222222","vars":[1]},"0123456789",42]})",
                     422);
  auto& details = v.at("error").at("details").as_array();
  BOOST_TEST_REQUIRE(details.size() == 5u);
  std::vector<int64_t> idx;
  for (auto& d : details)
    idx.push_back(d.at("index").as_int64());
  BOOST_TEST((idx == std::vector<int64_t>{1, 2, 3, 4, 5}));
  BOOST_TEST(details[0].at("value").as_string() == "12");
  BOOST_TEST(std::string(v.at("error").at("message").as_string()).find("5 of 6") == 0u);
  BOOST_TEST(last_seq() == before);
}

BOOST_AUTO_TEST_SUITE_END()
