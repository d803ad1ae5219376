// Crash safety, end to end: blastd under load from several clients (signed
// webhooks, manual updates, a blast sending through a transport that logs every
// provider call, a large blast being created) is killed with SIGKILL at random
// moments, again and again. After each kill: the log verifies, every request
// that got a 2xx is in it, a blast exists whole or not at all, nobody was sent
// twice, and replay of the log equals what the restarted server reports.
#define BOOST_TEST_MODULE engine_crash
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include <boost/json.hpp>

#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"
#include "tools/http_client.hpp"

namespace json = boost::json;
using namespace blast;

namespace {

constexpr int kills = 6;
constexpr int big_blast = 200'000;

using test::run_command;

std::string report_without_time(const std::string& body) {
  auto v = json::parse(body);
  v.as_object().erase("calculatedAt");
  return json::serialize(v);
}

struct fixture {
  test::temp_dir dir;
  std::string data = dir.path() + "/data";
  std::string log = dir.path() + "/blastd.log";
  std::string send_log = dir.path() + "/sends.log";
  std::string config = dir.path() + "/blastd.json";
  std::unique_ptr<test::blastd_process> proc;

  fixture() {
    // Sends take a few ms each, so that kills land in the middle of sending.
    std::ofstream(config) << R"({"defaultTransport": "s", "transports": {"s": {"plugin": "scripted",
      "workers": 2, "maxInFlight": 8, "sendLog": ")" << send_log
                          << R"(", "default": "sleep:3"}}})";
  }

  void start() {
    proc = std::make_unique<test::blastd_process>(
      BLASTD_PATH, data, log,
      std::vector<std::string>{"--config", config, "--plugin-dir", TESTPLUGIN_DIR,
                               "--log-level", "warn"});
  }

  // Numbers the transport was called for, with how many times.
  std::map<std::string, int> sends() {
    std::map<std::string, int> n;
    std::ifstream in(send_log);
    for (std::string line; std::getline(in, line);)
      ++n[line.substr(0, line.find(' '))];
    return n;
  }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(engine_crash, fixture)

BOOST_AUTO_TEST_CASE(sigkill_under_load_loses_no_acknowledged_event) {
  start();
  {
    tools::http_client c("127.0.0.1", proc->port());
    // Blast 1 goes through the transport; blast 2 is manual, driven by a client.
    json::array rs;
    for (int i = 0; i < 3000; ++i)
      rs.push_back(json::value(std::to_string(60110000000LL + i)));
    BOOST_TEST_REQUIRE(
      c.post("/api/blasts", json::serialize(json::object{{"message", "m"}, {"recipients", rs}}))
        .status == 201);
    rs.clear();
    for (int i = 0; i < 500; ++i)
      rs.push_back(json::value(std::to_string(60120000000LL + i)));
    BOOST_TEST_REQUIRE(c.post("/api/blasts",
                              json::serialize(json::object{{"message", "m"},
                                                           {"transport", "manual"},
                                                           {"recipients", rs}}))
                         .status == 201);
  }

  std::mt19937 rng(20261128);
  std::set<std::string> acked_events;   // eventIds of webhooks answered 2xx
  uint64_t acked_updates = 0;           // manual updates answered 2xx
  bool big_acked = false;
  std::mutex mu;
  for (int round = 0; round < kills; ++round) {
    std::atomic<bool> stop{false};
    auto port = proc->port();
    std::vector<std::thread> clients;
    for (int t = 0; t < 3; ++t)
      clients.emplace_back([&, t] {
        tools::http_client c("127.0.0.1", port);
        for (int n = 0; !stop; ++n) {
          // A unique, self-delimiting id ('z' ends it) to look for in the log.
          auto id = "ev" + std::to_string(round) + "x" + std::to_string(t) + "x" +
                    std::to_string(n) + "z";
          auto r = c.request("POST", "/webhooks/s",
                             R"({"id":"no-such-message","status":2,"eventId":")" + id + "\"}",
                             "application/json", {{"x-test-signature", "good"}});
          if (r.status / 100 == 2) {
            std::lock_guard lock{mu};
            acked_events.insert(id);
          }
        }
      });
    clients.emplace_back([&] {
      tools::http_client c("127.0.0.1", port);
      std::mt19937 local(round);
      const char* stages[] = {"sent", "delivered", "read", "replied", "closed"};
      while (!stop) {
        auto r = c.post("/api/blasts/2/recipients/" + std::to_string(1 + local() % 500) + "/status",
                        std::string(R"({"stage":")") + stages[local() % 5] + "\"}");
        if (r.status == 200) {
          std::lock_guard lock{mu};
          ++acked_updates;
        }
      }
    });
    if (round == 2)  // a kill while a big blast is being created
      clients.emplace_back([&] {
        std::string body = R"({"message":"big","blastTag":"big","transport":"manual","recipients":[)";
        for (int i = 0; i < big_blast; ++i)
          body += (i ? ",\"" : "\"") + std::to_string(60130000000LL + i) + "\"";
        body += "]}";
        tools::http_client c("127.0.0.1", port);
        auto r = c.post("/api/blasts", body);
        std::lock_guard lock{mu};
        big_acked = r.status == 201;
      });

    // Round 2 kills early, while the big blast is most likely still being parsed or committed.
    auto delay = round == 2 ? 100 + rng() % 300 : 300 + rng() % 900;
    std::this_thread::sleep_for(std::chrono::milliseconds(delay));
    proc->kill_hard();
    stop = true;
    for (auto& th : clients)
      th.join();

    // Offline, on the killed server's folder: the chain holds, and every
    // acknowledged webhook is in the log.
    auto verify = run_command(std::string(BLASTCTL_PATH) + " verify --data " + data + " 2>&1");
    BOOST_TEST(verify.rc == 0, "round " << round << ": " << verify.out);
    auto events = run_command(std::string(BLASTCTL_PATH) + " events --data " + data + " 2>/dev/null");
    BOOST_TEST_REQUIRE(events.rc == 0);
    size_t missing = 0;
    for (auto& id : acked_events)
      missing += events.out.find(id) == std::string::npos;
    BOOST_TEST(missing == 0u, "round " << round << ": " << missing << " of "
                                       << acked_events.size() << " acknowledged webhooks lost");
    auto replayed = run_command(std::string(BLASTCTL_PATH) + " replay --data " + data + " --blast 2 2>/dev/null");
    BOOST_TEST_REQUIRE(replayed.rc == 0);

    start();
    tools::http_client c("127.0.0.1", proc->port());
    // Nothing drives blast 2 now: the restarted server reports what the log replays to.
    auto live = c.get("/api/blasts/2/report");
    BOOST_TEST_REQUIRE(live.status == 200);
    BOOST_TEST(report_without_time(live.body) == report_without_time(replayed.out),
               "round " << round);
    // A blast exists whole or not at all.
    auto list = json::parse(c.get("/api/blasts?blastTag=big").body);
    auto& items = list.at("items").as_array();
    if (big_acked)
      BOOST_TEST(items.size() == 1u);
    if (round == 2)
      BOOST_TEST_MESSAGE("killed during a " << big_blast << "-recipient creation: "
                                            << (big_acked ? "acknowledged, " : "not acknowledged, ")
                                            << items.size() << " blast after restart");
    for (auto& b : items)
      BOOST_TEST(b.at("totalRecipients").to_number<int>() == big_blast);
  }

  // Nobody was handed to the provider twice, across every crash.
  auto n = sends();
  int twice = 0;
  for (auto& [number, count] : n)
    twice += count > 1;
  BOOST_TEST(twice == 0);
  BOOST_TEST(n.size() > 0u);
  BOOST_TEST_MESSAGE(kills << " kills survived; " << acked_events.size() << " acknowledged webhooks and "
                           << acked_updates << " acknowledged updates checked; " << n.size()
                           << " recipients sent once each");
  BOOST_TEST(acked_events.size() > 100u);  // the load was real
  BOOST_TEST(proc->stop() == 0);
}

BOOST_AUTO_TEST_SUITE_END()
