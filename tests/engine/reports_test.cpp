// Reports, audit and replay through the HTTP API (the router over the real
// service): report snapshots, point-in-time reports at the reference
// example's moments, replay equal to the live reports at those cut points (in
// process and through `blastctl replay`), stuck lists with time in stage and
// stable pagination, the report's event stream, and start-up from snapshots.
#define BOOST_TEST_MODULE engine_reports
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <cstdio>
#include <future>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "actors/clock.hpp"
#include "actors/replay.hpp"
#include "actors/snapshot.hpp"
#include "engine/http/views.hpp"
#include "engine/iso_time.hpp"
#include "tests/support/api_harness.hpp"

namespace json = boost::json;
using blast::test::api_harness;

namespace {

blast::actors::service_options manual_options() {
  blast::actors::service_options o;
  o.default_transport = "manual";
  o.sync = false;  // durability is the journal's tests' business; these are about folds
  return o;
}

uint64_t create_blast(api_harness& h, int n) {
  json::array rs;
  for (int i = 0; i < n; ++i)
    rs.push_back(json::value(std::to_string(60100000000LL + i)));
  auto b = h.call_json("POST", "/api/blasts",
                       json::serialize(json::object{{"message", "hi"}, {"recipients", rs}}), 201);
  return b.at("id").to_number<uint64_t>();
}

void mark(api_harness& h, uint64_t blast, int recipient, const char* stage) {
  auto r = h.call("POST",
                  "/api/blasts/" + std::to_string(blast) + "/recipients/" +
                    std::to_string(recipient) + "/status",
                  std::string("{\"stage\":\"") + stage + "\"}");
  BOOST_TEST_REQUIRE(r.status == 200u, r.body);
}

// A report without calculatedAt: the one field two equal funnels differ in.
std::string funnel_of(const std::string& report) {
  auto v = json::parse(report);
  v.as_object().erase("calculatedAt");
  return json::serialize(v);
}

std::string live_report(api_harness& h, uint64_t blast) {
  auto r = h.call("GET", "/api/blasts/" + std::to_string(blast) + "/report");
  BOOST_TEST_REQUIRE(r.status == 200u, r.body);
  return funnel_of(r.body);
}

// The reference example of ARCHITECTURE.md, built stage by stage: after
// phase i, `moments[i]` holds the live report, the log's last seq and a time
// between that phase's events and the next phase's.
struct moment {
  std::string report;
  uint64_t seq = 0;
  int64_t at_ms = 0;
};

std::vector<moment> build_reference_example(api_harness& h, uint64_t blast) {
  // Recipients 1..reach[i] take stage i; the rest stay behind (stuck).
  const std::pair<const char*, int> phases[] = {
    {"sent", 250}, {"delivered", 240}, {"read", 180}, {"replied", 80}, {"closed", 25}};
  std::vector<moment> moments;
  for (auto [stage, reach] : phases) {
    for (int id = 1; id <= reach; ++id)
      mark(h, blast, id, stage);
    moment m;
    // The reporting actor counts right after each commit: wait for the last one.
    BOOST_TEST_REQUIRE(h.eventually([&] {
      auto v = json::parse(live_report(h, blast));
      for (auto& f : v.at("funnel").as_array())
        if (f.at("stage").as_string() == stage)
          return f.at("reached").to_number<uint64_t>() == uint64_t(reach);
      return false;
    }));
    m.report = live_report(h, blast);
    m.seq = h.stats().last_seq;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    m.at_ms = blast::actors::now_ms();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    moments.push_back(m);
  }
  return moments;
}

std::string report_from_replay(const std::string& dir, const blast::actors::replay_cut& cut,
                               uint64_t blast) {
  blast::storage::status st;
  blast::storage::log_options lo;
  lo.audit = true;
  auto log = blast::storage::event_log::open(dir, lo, st);
  BOOST_TEST_REQUIRE(bool(log), st.message);
  blast::actors::replayed state;
  std::string error;
  BOOST_TEST_REQUIRE(blast::actors::replay(*log, cut, state, error), error);
  auto& b = *state.blasts.at(blast);
  return funnel_of(blast::engine::http::render_report({blast, b.size(), b.counts(), 0}));
}

// Runs a command and returns its standard output and exit code.
std::pair<std::string, int> run(const std::string& cmd) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  BOOST_TEST_REQUIRE(p != nullptr);
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;)
    out.append(buf, n);
  int rc = pclose(p);
  return {out, WIFEXITED(rc) ? WEXITSTATUS(rc) : -1};
}

} // namespace

BOOST_AUTO_TEST_SUITE(engine_reports)

BOOST_AUTO_TEST_CASE(report_snapshots_are_events_listed_newest_first) {
  api_harness h(manual_options());
  auto blast = create_blast(h, 3);
  auto url = "/api/blasts/" + std::to_string(blast) + "/reports";
  BOOST_TEST(h.get(url).at("items").as_array().empty());

  auto first = h.call_json("POST", url, "", 201);
  mark(h, blast, 1, "delivered");
  BOOST_TEST_REQUIRE(h.eventually([&] {
    return live_report(h, blast).find("\"pending\":2") != std::string::npos;
  }));
  auto second = h.call_json("POST", url, "", 201);
  BOOST_TEST(second.at("seq").to_number<uint64_t>() > first.at("seq").to_number<uint64_t>());
  BOOST_TEST(first.at("report").at("pending").to_number<uint64_t>() == 3u);
  BOOST_TEST(second.at("report").at("pending").to_number<uint64_t>() == 2u);

  // Stored as events: they survive a restart, newest first, verbatim.
  h.restart();
  auto items = h.get(url).at("items").as_array();
  BOOST_TEST_REQUIRE(items.size() == 2u);
  BOOST_TEST(json::serialize(items[0]) == json::serialize(second));
  BOOST_TEST(json::serialize(items[1]) == json::serialize(first));
  // A report snapshot is no change of state: the funnel is as it was.
  BOOST_TEST(live_report(h, blast) == funnel_of(json::serialize(second.at("report"))));

  BOOST_TEST(h.call("GET", "/api/blasts/99/reports").status == 404u);
  BOOST_TEST(h.call("POST", "/api/blasts/99/reports").status == 404u);
  BOOST_TEST(h.call("DELETE", url).status == 405u);
}

BOOST_AUTO_TEST_CASE(point_in_time_and_replay_equal_the_live_reports_at_each_moment) {
  api_harness h(manual_options());
  auto before = blast::actors::now_ms();
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  auto blast = create_blast(h, 250);
  auto moments = build_reference_example(h, blast);

  // The final moment is the reference table itself (percent as served: 96.0).
  auto served = h.call("GET", "/api/blasts/" + std::to_string(blast) + "/report").body;
  BOOST_TEST(funnel_of(served) == moments.back().report);
  auto ref = json::parse(served);
  const uint64_t reached[] = {250, 240, 180, 80, 25};
  const char* percent[] = {"100.0", "96.0", "72.0", "32.0", "10.0"};
  auto funnel = ref.at("funnel").as_array();
  for (size_t i = 0; i < 5; ++i) {
    BOOST_TEST(funnel[i].at("reached").to_number<uint64_t>() == reached[i]);
    BOOST_TEST(served.find(std::string("\"percent\":") + percent[i]) != std::string::npos);
  }
  BOOST_TEST(json::serialize(ref.at("stuck")) ==
             R"({"sent":10,"delivered":60,"read":100,"replied":55})");

  auto url = "/api/blasts/" + std::to_string(blast) + "/report";
  for (size_t i = 0; i < moments.size(); ++i) {
    auto& m = moments[i];
    // Point in time over HTTP: the funnel as it stood, calculatedAt the moment asked.
    auto iso = blast::engine::format_iso(m.at_ms);
    auto r = h.call("GET", url + "?at=" + iso);
    BOOST_TEST_REQUIRE(r.status == 200u, r.body);
    BOOST_TEST(funnel_of(r.body) == m.report, "moment " << i);
    BOOST_TEST(json::parse(r.body).at("calculatedAt").as_string() == iso);
  }
  BOOST_TEST(h.call("GET", url + "?at=" + blast::engine::format_iso(before)).status == 404u);
  BOOST_TEST(h.call("GET", url + "?at=yesterday").status == 422u);

  // Replay of the log cut at each moment's seq, and at each moment's time,
  // in process and through the auditor's CLI on the stopped server's folder.
  h.stop();
  for (size_t i = 0; i < moments.size(); ++i) {
    auto& m = moments[i];
    blast::actors::replay_cut by_seq;
    by_seq.until_seq = m.seq;
    BOOST_TEST(report_from_replay(h.data_dir(), by_seq, blast) == m.report, "moment " << i);
    blast::actors::replay_cut by_time;
    by_time.until_ms = m.at_ms;
    BOOST_TEST(report_from_replay(h.data_dir(), by_time, blast) == m.report, "moment " << i);

    auto [out, rc] = run(std::string(BLASTCTL_PATH) + " replay --data " + h.data_dir() +
                         " --until-seq " + std::to_string(m.seq) + " 2>/dev/null");
    BOOST_TEST(rc == 0);
    BOOST_TEST(funnel_of(out) == m.report, "moment " << i);
    auto iso = blast::engine::format_iso(m.at_ms);
    std::tie(out, rc) = run(std::string(BLASTCTL_PATH) + " replay --data " + h.data_dir() +
                            " --blast " + std::to_string(blast) + " --until " + iso +
                            " 2>/dev/null");
    BOOST_TEST(rc == 0);
    BOOST_TEST(funnel_of(out) == m.report, "moment " << i);
    BOOST_TEST(out.find(iso) != std::string::npos);  // calculatedAt is the cut's time
  }
  auto [out, rc] = run(std::string(BLASTCTL_PATH) + " replay --data " + h.data_dir() +
                       " --blast 7 2>/dev/null");
  BOOST_TEST(rc == 1);
  h.start();
}

BOOST_AUTO_TEST_CASE(stuck_lists_by_time_in_stage) {
  api_harness h(manual_options());
  auto blast = create_blast(h, 4);
  mark(h, blast, 1, "sent");
  mark(h, blast, 2, "sent");
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  mark(h, blast, 3, "sent");
  auto base = "/api/blasts/" + std::to_string(blast) + "/recipients?stage=sent&stuck=true";
  auto ids = [&](const std::string& target) {
    std::vector<uint64_t> out;
    auto page = h.get(target);
    for (auto& r : page.at("items").as_array())
      out.push_back(r.at("id").to_number<uint64_t>());
    return out;
  };
  BOOST_TEST(ids(base) == (std::vector<uint64_t>{1, 2, 3}), boost::test_tools::per_element());
  BOOST_TEST(ids(base + "&olderThan=1s") == (std::vector<uint64_t>{1, 2}),
             boost::test_tools::per_element());
  BOOST_TEST(ids(base + "&olderThan=1h").empty());
  // Pending since the blast was created, also more than a second ago.
  BOOST_TEST(ids("/api/blasts/" + std::to_string(blast) +
                 "/recipients?stage=pending&stuck=true&olderThan=1s") ==
               (std::vector<uint64_t>{4}),
             boost::test_tools::per_element());

  auto rs = "/api/blasts/" + std::to_string(blast) + "/recipients";
  BOOST_TEST(h.call("GET", rs + "?stuck=true").status == 422u);
  BOOST_TEST(h.call("GET", rs + "?stage=closed&stuck=true").status == 422u);
  BOOST_TEST(h.call("GET", rs + "?stage=sent&olderThan=soon").status == 422u);
  BOOST_TEST(h.call("GET", rs + "?stage=sent&stuck=maybe").status == 422u);
}

BOOST_AUTO_TEST_CASE(pagination_never_repeats_or_skips_while_updates_arrive) {
  api_harness h(manual_options());
  const int n = 600;
  auto blast = create_blast(h, n);
  for (int id = 1; id <= n; ++id)
    mark(h, blast, id, "sent");
  // Every third recipient stays at sent; the others move on, in random order,
  // while the stuck list is paged through.
  std::vector<int> movers;
  for (int id = 1; id <= n; ++id)
    if (id % 3 != 0)
      movers.push_back(id);
  std::shuffle(movers.begin(), movers.end(), std::mt19937(7));
  std::atomic<bool> go{false};
  auto updater = std::async(std::launch::async, [&] {
    while (!go)
      std::this_thread::yield();
    for (int id : movers)
      mark(h, blast, id, "delivered");
  });
  std::vector<uint64_t> seen;
  std::string cursor;
  go = true;
  do {
    auto page = h.get("/api/blasts/" + std::to_string(blast) +
                      "/recipients?stage=sent&stuck=true&limit=17" +
                      (cursor.empty() ? "" : "&cursor=" + cursor));
    for (auto& r : page.at("items").as_array())
      seen.push_back(r.at("id").to_number<uint64_t>());
    auto& next = page.at("nextCursor");
    cursor = next.is_null() ? "" : std::string(next.as_string());
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  } while (!cursor.empty());
  updater.get();
  BOOST_TEST(std::is_sorted(seen.begin(), seen.end()));
  BOOST_TEST(std::set<uint64_t>(seen.begin(), seen.end()).size() == seen.size());  // no repeats
  std::set<uint64_t> got(seen.begin(), seen.end());
  for (int id = 3; id <= n; id += 3)
    BOOST_TEST(got.count(id) == 1u, "stayed at sent but skipped: " << id);
}

BOOST_AUTO_TEST_CASE(the_report_stream_pushes_changes_coalesced_with_heartbeats) {
  blast::engine::http::router_options ro;
  ro.report_stream.interval = std::chrono::milliseconds(50);
  ro.report_stream.heartbeat = std::chrono::milliseconds(300);
  api_harness h(manual_options(), ro);
  auto blast = create_blast(h, 5);
  auto res = h.call("GET", "/api/blasts/" + std::to_string(blast) + "/report/stream");
  BOOST_TEST(res.status == 200u);
  BOOST_TEST(res.content_type == "text/event-stream");
  BOOST_TEST_REQUIRE(bool(res.stream));
  using piece = blast::engine::http::body_source::piece;
  auto next = [&] {
    std::promise<piece> p;
    res.stream->next([&](piece x) { p.set_value(std::move(x)); });
    auto f = p.get_future();
    BOOST_TEST_REQUIRE((f.wait_for(std::chrono::seconds(5)) == std::future_status::ready));
    auto x = f.get();
    BOOST_TEST(!x.last);
    BOOST_TEST(x.wait.count() == 50);  // at most one update per interval
    return x;
  };
  auto first = next();
  BOOST_TEST(first.data.find("event: report\ndata: {\"blastId\":") != std::string::npos);
  BOOST_TEST(first.data.find("\"pending\":5") != std::string::npos);
  // Nothing changes: nothing is sent, then a heartbeat comment.
  auto t0 = std::chrono::steady_clock::now();
  std::string data;
  while ((data = next().data).empty())
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  BOOST_TEST(data == ": heartbeat\n\n");
  BOOST_TEST((std::chrono::steady_clock::now() - t0 >= std::chrono::milliseconds(250)));
  // A change is pushed.
  mark(h, blast, 2, "read");
  for (int i = 0; i < 100 && (data = next().data).find("event: report") == std::string::npos; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  BOOST_TEST(data.find("\"pending\":4") != std::string::npos, data);
  BOOST_TEST(data.substr(data.size() - 2) == "\n\n");
  BOOST_TEST(h.call("GET", "/api/blasts/42/report/stream").status == 404u);
}

BOOST_AUTO_TEST_CASE(start_up_from_a_snapshot_equals_a_full_replay) {
  auto opts = manual_options();
  opts.snapshot_every_events = 100;
  api_harness h(opts);
  auto blast = create_blast(h, 150);
  for (int id = 1; id <= 150; ++id)
    mark(h, blast, id, "sent");
  // The snapshotter looks every 2 s.
  BOOST_TEST_REQUIRE(h.eventually([&] { return h.stats().snapshot_seq > 0; },
                                  std::chrono::seconds(15)));
  for (int id = 1; id <= 20; ++id)  // a tail after the snapshot
    mark(h, blast, id, id % 2 ? "delivered" : "failed");
  BOOST_TEST_REQUIRE(h.eventually([&] {
    return live_report(h, blast).find("\"failed\":10") != std::string::npos;
  }));
  auto report = live_report(h, blast);
  auto page = json::serialize(h.get("/api/blasts/1/recipients?limit=1000"));
  auto last_seq = h.stats().last_seq;

  h.restart();
  auto& st = h.service().startup();
  BOOST_TEST(st.snapshot_seq > 0u);
  BOOST_TEST(st.events_replayed < last_seq);
  BOOST_TEST(st.snapshot_seq + st.events_replayed == last_seq);
  BOOST_TEST(live_report(h, blast) == report);
  BOOST_TEST(json::serialize(h.get("/api/blasts/1/recipients?limit=1000")) == page);
  h.stop();

  // Bit for bit: snapshot + tail saves to the same bytes as the whole log.
  {
    blast::storage::status s;
    auto log = blast::storage::event_log::open(h.data_dir(), {}, s);
    BOOST_TEST_REQUIRE(bool(log), s.message);
    blast::actors::replayed full, from_snapshot;
    std::string error, why;
    BOOST_TEST_REQUIRE(blast::actors::replay(*log, {}, full, error), error);
    BOOST_TEST_REQUIRE(blast::actors::load_snapshot(*log, from_snapshot, why), why);
    BOOST_TEST(from_snapshot.last_seq < full.last_seq);
    BOOST_TEST_REQUIRE(blast::actors::replay(*log, {}, from_snapshot, error), error);
    BOOST_TEST(from_snapshot.save() == full.save());

    // A damaged snapshot is refused, and start-up replays the whole log.
    auto manifest = json::parse(*log->get_snapshot("state"));
    manifest.as_object()["checksum"] = std::string(64, '0');
    BOOST_TEST_REQUIRE(bool(log->put_snapshot("state", json::serialize(manifest))));
    blast::actors::replayed refused;
    BOOST_TEST(!blast::actors::load_snapshot(*log, refused, why));
    BOOST_TEST(why.find("checksum") != std::string::npos, why);
  }
  h.start();
  BOOST_TEST(h.service().startup().snapshot_seq == 0u);
  BOOST_TEST(h.service().startup().events_replayed == last_seq);
  BOOST_TEST(live_report(h, blast) == report);
}

BOOST_AUTO_TEST_CASE(a_start_up_that_fails_on_its_transports_says_why_and_stops_cleanly) {
  blast::test::temp_dir dir;
  auto o = manual_options();
  o.data_dir = dir.path();
  o.plugin_dir = dir.path();  // no plugin there
  blast::actors::transport_options t;
  t.name = "wa";
  t.plugin = "missing";
  o.transports.push_back(t);
  std::string error;
  auto svc = blast::actors::service::start(o, error);
  BOOST_TEST(!svc);
  BOOST_TEST(error.find("transport 'wa'") != std::string::npos, error);
}

BOOST_AUTO_TEST_SUITE_END()
