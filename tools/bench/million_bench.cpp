// million_bench: what one blast of N recipients (1,000,000 by default) costs blastd: the POST,
// memory per tracked recipient, report latency, durable updates, shutdown and restart with replay.
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include <boost/json.hpp>

#include "tools/bench/bench_support.hpp"
#include "tools/http_client.hpp"

namespace json = boost::json;

namespace blast::tools::bench {

using namespace std::chrono_literals;

constexpr int report_gets = 2000;
constexpr int updates = 2000;

struct options {
  size_t recipients = 1'000'000;
  int runs = 3;
  bool keep = false;
  std::string blastd = BLASTD_PATH;
};

struct run_result {
  double base_rss = 0, post_s = 0, rss_after = 0, hwm_after = 0, rss_settled = 0;
  latency report_us, update_us;
  double updates_per_s = 0, shutdown_s = 0, restart_s = 0, replay_s = NAN, replayed = NAN;
  double rss_restart = 0;
};

run_result run_once(const options& o, const std::string& body, const std::string& root) {
  run_result r;
  // The stderr log sits beside the data dir, so the data dir holds only blastd's own files.
  const std::string data = root + "/data", log = root + "/blastd.stderr";
  blastd_process p;
  try {
    p.start(o.blastd, data, "warn", log, 60);
    wait_healthy(p, 60);
    r.base_rss = status_mib(p.pid(), "VmRSS:");

    http_client post("127.0.0.1", p.port());
    watchdog(900);
    // Includes the client copying the body into its request buffer: a few ms at 1M.
    auto t0 = steady::now();
    auto created = parse_object(expect(post, "POST", "/api/blasts", body, 201).body);
    r.post_s = seconds_since(t0);
    watchdog(0);
    r.rss_after = status_mib(p.pid(), "VmRSS:");
    r.hwm_after = status_mib(p.pid(), "VmHWM:");
    std::this_thread::sleep_for(1s);  // lets freed request buffers and background work settle
    r.rss_settled = status_mib(p.pid(), "VmRSS:");
    const auto id = std::to_string(created.at("id").to_number<uint64_t>());
    const std::string report = "/api/blasts/" + id + "/report";

    http_client reports("127.0.0.1", p.port());  // one keep-alive connection for all the GETs
    std::vector<double> us;
    watchdog(600);
    for (int i = 0; i < report_gets; ++i) {
      auto t = steady::now();
      auto reply = expect(reports, "GET", report, {}, 200);
      us.push_back(micros_since(t));
      if (i == 0 && parse_object(reply.body).at("totalRecipients") != o.recipients)
        throw bench_error("the report does not count " + std::to_string(o.recipients) +
                          " recipients: " + reply.body);
    }
    watchdog(0);
    r.report_us = summarize(std::move(us));

    http_client updater("127.0.0.1", p.port());
    us.clear();
    watchdog(900);
    t0 = steady::now();
    for (int i = 1; i <= updates; ++i) {
      auto target = "/api/blasts/" + id + "/recipients/" + std::to_string(i) + "/status";
      auto t = steady::now();
      expect(updater, "POST", target, "{\"stage\":\"delivered\"}", 200);
      us.push_back(micros_since(t));
    }
    r.updates_per_s = updates / seconds_since(t0);
    watchdog(0);
    r.update_us = summarize(std::move(us));
    auto before = expect(updater, "GET", report, {}, 200).body;
    auto before_json = parse_object(before);
    for (auto& s : before_json.at("funnel").as_array())
      if (s.at("stage") == "delivered" && s.at("reached") != updates)
        throw bench_error("after " + std::to_string(updates) + " updates to delivered: " + before);

    std::string how;
    r.shutdown_s = p.stop(60, &how);
    if (how != "exit code 0")
      std::printf("  warning: blastd's shutdown: %s\n", how.c_str());

    // Info level for the restart only: the replay line is logged at info, and the few
    // requests that follow add a handful of access-log lines.
    p.start(o.blastd, data, "info", log, 900);
    wait_healthy(p, 900);
    r.restart_s = seconds_since(p.started());
    find_replay(log, r.replayed, r.replay_s);
    http_client after_restart("127.0.0.1", p.port());
    watchdog(300);
    auto after = expect(after_restart, "GET", report, {}, 200).body;
    watchdog(0);
    auto after_json = parse_object(after);
    // The time of calculation is the one field that may differ for an unchanged blast.
    before_json.erase("calculatedAt");
    after_json.erase("calculatedAt");
    if (after_json != before_json)
      throw bench_error("the report changed across the restart:\n  before: " + before +
                        "\n  after:  " + after);
    r.rss_restart = status_mib(p.pid(), "VmRSS:");
    p.stop(60);
  } catch (const std::exception& e) {
    watchdog(0);
    p.stop(10);  // so that its last words are in the log before we read it
    throw bench_error(std::string(e.what()) + "\nlast lines of blastd's stderr:" + tail(log, 8));
  }
  return r;
}

void print_table(const std::vector<run_result>& runs, size_t n) {
  const double per = 1048576.0 / static_cast<double>(n);  // MiB of growth -> bytes a recipient
  struct row {
    std::string name;
    const char* unit;
    int decimals;
    std::function<double(const run_result&)> get;
  };
  const row rows[] = {
    {"POST /api/blasts, " + std::to_string(n) + " recipients", "s", 3,
     [](auto& r) { return r.post_s; }},
    {"RSS baseline (empty server)", "MiB", 1, [](auto& r) { return r.base_rss; }},
    {"RSS right after the 201", "MiB", 1, [](auto& r) { return r.rss_after; }},
    {"VmHWM (peak) right after the 201", "MiB", 1, [](auto& r) { return r.hwm_after; }},
    {"RSS 1 s after the 201", "MiB", 1, [](auto& r) { return r.rss_settled; }},
    {"RSS per recipient (1 s after - base)", "B", 0,
     [&](auto& r) { return (r.rss_settled - r.base_rss) * per; }},
    {"GET report p50", "us", 0, [](auto& r) { return r.report_us.p50; }},
    {"GET report p99", "us", 0, [](auto& r) { return r.report_us.p99; }},
    {"GET report max", "us", 0, [](auto& r) { return r.report_us.max; }},
    {"status updates (sequential)", "/s", 0, [](auto& r) { return r.updates_per_s; }},
    {"status update p50", "us", 0, [](auto& r) { return r.update_us.p50; }},
    {"status update p99", "us", 0, [](auto& r) { return r.update_us.p99; }},
    {"shutdown (SIGTERM -> exit)", "s", 3, [](auto& r) { return r.shutdown_s; }},
    {"restart (exec -> /healthz 200)", "s", 3, [](auto& r) { return r.restart_s; }},
    {"  of which replay (blastd's log)", "s", 3, [](auto& r) { return r.replay_s; }},
    {"  events replayed", "", 0, [](auto& r) { return r.replayed; }},
    {"RSS after restart", "MiB", 1, [](auto& r) { return r.rss_restart; }},
    {"RSS per recipient after restart", "B", 0,
     [&](auto& r) { return (r.rss_restart - r.base_rss) * per; }},
  };
  print_stats_header(runs.size());
  for (auto& rw : rows) {
    std::vector<double> v;
    for (auto& r : runs)
      v.push_back(rw.get(r));
    print_stats_row(rw.name, rw.unit, rw.decimals, std::move(v));  // NaN: replay line not found
  }
}

bool parse_args(int argc, char** argv, options& o) {
  auto opts = common_options(o.recipients, o.runs, o.keep);
  opts.push_back({"--blastd", &o.blastd});
  // Eight digits after "601" keep every number unique; the updates need that many recipients.
  return parse_options(argc, argv, opts) && o.recipients >= updates &&
         o.recipients <= 99'999'999 && o.runs >= 1;
}

} // namespace blast::tools::bench

int main(int argc, char** argv) {
  using namespace blast::tools::bench;
  options o;
  if (!parse_args(argc, argv, o)) {
    std::fprintf(stderr, "usage: million_bench [--recipients N] [--runs R] [--keep] "
                         "[--blastd PATH]\n  N: %d..99999999 (default 1000000); R >= 1 (default "
                         "3); --keep leaves the data dirs in /tmp\n"
                         "  --summary FILE appends the table's rows to FILE (tab-separated)\n",
                 updates);
    return 2;
  }
  install_watchdog("million_bench");

  std::printf("machine: %s\nblastd:  %s\n", machine().c_str(), o.blastd.c_str());
  auto t0 = steady::now();
  // The manual transport: this measures creating and tracking a blast; sending
  // is send_bench's, and sim's statuses would change the report under us.
  const std::string body = build_body(o.recipients, "manual");
  std::printf("body:    %zu recipients, %zu bytes (%.1f MiB), built in %.3f s\n", o.recipients,
              body.size(), static_cast<double>(body.size()) / 1048576.0, seconds_since(t0));
  std::fflush(stdout);

  std::vector<run_result> runs;
  bool all_ok = each_run("million_bench", o.runs, o.keep, [&](int i, const std::string& root) {
    auto& r = runs.emplace_back(run_once(o, body, root));
    std::printf("run %d/%d: POST %.3f s, RSS %.0f -> %.0f MiB, report p50 %.0f us, "
                "%.0f updates/s, restart %.3f s; report identical after restart\n",
                i, o.runs, r.post_s, r.base_rss, r.rss_settled, r.report_us.p50,
                r.updates_per_s, r.restart_s);
  });
  if (!all_ok)
    return 1;
  print_table(runs, o.recipients);
  return 0;
}
