// send_bench: end-to-end sends of one blast of N recipients (10,000 by default) through the
// simulated channel `sim` with no rate limit: POST -> every send has an outcome (sends/s), then
// the funnel filling from the channel's pushes until it settles, memory, recipient actors, group
// commits, and the report across a SIGTERM restart (which must not change it).
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

#include <boost/json.hpp>

#include "tools/bench/bench_support.hpp"
#include "tools/http_client.hpp"

namespace json = boost::json;

namespace blast::tools::bench {

using namespace std::chrono_literals;

constexpr auto poll_interval = 50ms;
constexpr auto progress_every = 30s;
constexpr int metrics_every = 5;  // polls: the peak of active recipient actors, every 250 ms
constexpr double rss_limit_mib = 2048;  // a blastd above this is misbehaving: the run stops
constexpr const char* funnel_stages[] = {"sent", "delivered", "read", "replied", "closed"};

struct options {
  size_t recipients = 10'000;
  int runs = 3;
  double time_scale = 1.0;
  unsigned timeout_s = 300;  // for each of: completion, settling, restart
  double settle_s = 2;       // the funnel is final once unchanged for this long
  double idle_wait_s = 0;    // > 0: also wait this long after settling (recipient passivation)
  bool keep = false;
  std::string blastd = BLASTD_PATH;
  std::string plugin_dir = SIM_PLUGIN_DIR;
};

// The counters of blastd's /metrics this benchmark reads.
struct metrics {
  double actors = NAN, commits = NAN, events = NAN;
};

struct funnel {
  double reached[5] = {NAN, NAN, NAN, NAN, NAN};
  double failed = NAN, pending = NAN, total = NAN;
};

struct run_result {
  double base_rss = 0;
  double post_s = 0, complete_s = 0, sends_per_s = 0, cpu_send_s = 0;
  double rss_complete = 0, hwm_complete = 0;
  metrics m_complete;
  std::string sending;  // the blast's "sending" counts at completion
  double final_after_s = 0, settled_after_s = 0;  // last funnel change / settle seen, from completion
  double cpu_settle_s = 0;
  double poll_max_ms = 0;  // the slowest GET of the blast or its report while polling
  double peak_actors = 0;  // the most recipient actors active in /metrics while polling
  double rss_settled = 0, hwm_settled = 0;
  metrics m_settled;
  funnel f;
  json::object report;  // the settled report without calculatedAt
  double idle_rss = NAN, idle_actors = NAN;
  double shutdown_s = 0, restart_s = 0, replayed = NAN, replay_s = NAN, rss_restart = 0;
  std::vector<std::string> warnings;
};

// A blastd past the limit stops the run before it takes the machine with it.
void check_rss(pid_t pid) {
  double rss = status_mib(pid, "VmRSS:");
  if (rss > rss_limit_mib) {
    char buf[160];
    std::snprintf(buf, sizeof buf, "blastd's RSS is %.0f MiB, above the %.0f MiB limit", rss,
                  rss_limit_mib);
    throw bench_error(buf);
  }
}

metrics read_metrics(http_client& c) {
  auto body = expect(c, "GET", "/metrics", {}, 200).body;
  metrics m;
  m.actors = metric_value(body, "blastd_recipient_actors_active");
  m.commits = metric_value(body, "blastd_journal_commits_total");
  m.events = metric_value(body, "blastd_journal_events_total");
  if (std::isnan(m.actors) || std::isnan(m.commits) || std::isnan(m.events))
    throw bench_error("GET /metrics lacks an expected counter:\n" + body);
  return m;
}

double number(const json::value& v) { return v.to_number<double>(); }

funnel read_funnel(const json::object& report) {
  funnel f;
  f.failed = number(report.at("failed"));
  f.pending = number(report.at("pending"));
  f.total = number(report.at("totalRecipients"));
  for (auto& s : report.at("funnel").as_array())
    for (size_t i = 0; i < 5; ++i)
      if (s.at("stage") == funnel_stages[i])
        f.reached[i] = number(s.at("reached"));
  return f;
}

std::string describe(const funnel& f) {
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "sent %.0f, delivered %.0f, read %.0f, replied %.0f, closed %.0f; failed %.0f, "
                "pending %.0f (of %.0f)",
                f.reached[0], f.reached[1], f.reached[2], f.reached[3], f.reached[4], f.failed,
                f.pending, f.total);
  return buf;
}

// One GET of the polling loops: timed, and failing with what was seen so far.
struct poller {
  http_client& c;
  steady::time_point t0;
  const char* phase;
  double& max_ms;
  std::string last;  // the previous answer, for the error message
  steady::time_point next_progress = steady::now() + progress_every;

  http_reply get(const std::string& target) {
    auto t = steady::now();
    auto r = c.get(target);
    if (r.status != 200) {
      char buf[160];
      std::snprintf(buf, sizeof buf, "GET %s while %s, %.1f s after the POST: ", target.c_str(),
                    phase, seconds_since(t0));
      throw bench_error(std::string(buf) +
                        (r.status ? std::to_string(r.status) + " " + r.body.substr(0, 400)
                                  : "no response (" + r.error + ")") +
                        "\n  previous answer: " + last);
    }
    max_ms = std::max(max_ms, micros_since(t) / 1000);
    last = r.body;
    if (steady::now() >= next_progress) {  // a sign of life on long runs
      std::fprintf(stderr, "send_bench: still %s %.0f s after the POST: %s\n", phase,
                   seconds_since(t0), r.body.c_str());
      next_progress = steady::now() + progress_every;
    }
    return r;
  }
};

json::object without_time(json::object report) {
  // The time of calculation is the one field that may differ for an unchanged funnel.
  report.erase("calculatedAt");
  return report;
}

std::string config_json(const options& o) {
  char buf[320];
  std::snprintf(buf, sizeof buf,
                "{\"transports\": {\"sim\": {\"plugin\": \"sim\", \"seed\": 42, \"timeScale\": %g, "
                "\"maxInFlight\": 1024, \"workers\": 2}}, \"defaultTransport\": \"sim\"}",
                o.time_scale);
  return buf;
}

run_result run_once(const options& o, const std::string& body, const std::string& root) {
  run_result r;
  // The config and the stderr log sit beside the data dir, which holds only blastd's own files.
  const std::string data = root + "/data", log = root + "/blastd.stderr",
                    config = root + "/blastd.json";
  {
    std::ofstream out(config);
    out << config_json(o) << "\n";
    if (!out)
      throw bench_error("cannot write " + config);
  }
  const std::vector<std::string> extra{"--config", config, "--plugin-dir", o.plugin_dir};
  blastd_process p;
  try {
    p.start(o.blastd, data, "warn", log, 60, extra);
    wait_healthy(p, 60);
    r.base_rss = status_mib(p.pid(), "VmRSS:");

    http_client c("127.0.0.1", p.port());  // one keep-alive connection for every request
    double cpu0 = cpu_seconds(p.pid());
    watchdog(o.timeout_s + 60);  // a backstop for a request that hangs; the loops time out first
    auto t0 = steady::now();
    auto created = parse_object(expect(c, "POST", "/api/blasts", body, 201).body);
    r.post_s = seconds_since(t0);
    const auto id = std::to_string(created.at("id").to_number<uint64_t>());
    const std::string blast = "/api/blasts/" + id, report = blast + "/report";

    // Sending: until every recipient's send has an outcome.
    poller sending{c, t0, "sending", r.poll_max_ms, {}};
    auto next = steady::now();
    int polls = 0;
    for (;;) {
      auto reply = sending.get(blast);
      auto b = parse_object(reply.body);
      auto& status = b.at("status").as_string();
      if (status == "completed") {
        r.complete_s = seconds_since(t0);
        r.sending = json::serialize(b.at("sending"));
        auto& s = b.at("sending").as_object();
        if (number(b.at("totalRecipients")) != static_cast<double>(o.recipients))
          throw bench_error("the blast does not count " + std::to_string(o.recipients) +
                            " recipients: " + reply.body);
        if (number(s.at("none")) + number(s.at("requested")) + number(s.at("retrying")) != 0)
          r.warnings.push_back("completed with sends still to do: " + r.sending);
        break;
      }
      if (status != "sending" && status != "pending")
        throw bench_error("the blast became '" + std::string(status) + "': " + reply.body);
      check_rss(p.pid());
      if (++polls % metrics_every == 0)
        r.peak_actors = std::max(r.peak_actors, read_metrics(c).actors);
      if (seconds_since(t0) > o.timeout_s)
        throw bench_error("the blast did not complete within " + std::to_string(o.timeout_s) +
                          " s; last answer: " + reply.body);
      std::this_thread::sleep_until(next += poll_interval);
    }
    r.sends_per_s = static_cast<double>(o.recipients) / r.complete_s;
    r.cpu_send_s = cpu_seconds(p.pid()) - cpu0;
    r.rss_complete = status_mib(p.pid(), "VmRSS:");
    r.hwm_complete = status_mib(p.pid(), "VmHWM:");
    r.m_complete = read_metrics(c);
    r.peak_actors = std::max(r.peak_actors, r.m_complete.actors);
    watchdog(0);

    // Settling: the channel's pushes keep moving recipients along the funnel after their send.
    const double completed_at = seconds_since(t0);
    std::string last;
    double last_change = 0;
    watchdog(o.timeout_s + 60);
    poller settling{c, t0, "settling", r.poll_max_ms, {}};
    next = steady::now();
    for (;;) {
      auto reply = settling.get(report);
      double now = seconds_since(t0);
      auto obj = without_time(parse_object(reply.body));
      auto text = json::serialize(obj);
      if (text != last) {
        last = std::move(text);
        last_change = now;
        r.report = std::move(obj);
      } else if (now - last_change >= o.settle_s) {
        r.final_after_s = last_change - completed_at;
        r.settled_after_s = now - completed_at;
        break;
      }
      check_rss(p.pid());
      if (++polls % metrics_every == 0)
        r.peak_actors = std::max(r.peak_actors, read_metrics(c).actors);
      if (now - completed_at > o.timeout_s)
        throw bench_error("the funnel did not settle within " + std::to_string(o.timeout_s) +
                          " s of completion; last report: " + reply.body);
      std::this_thread::sleep_until(next += poll_interval);
    }
    r.cpu_settle_s = cpu_seconds(p.pid()) - cpu0 - r.cpu_send_s;
    r.rss_settled = status_mib(p.pid(), "VmRSS:");
    r.hwm_settled = status_mib(p.pid(), "VmHWM:");
    r.m_settled = read_metrics(c);
    r.peak_actors = std::max(r.peak_actors, r.m_settled.actors);
    watchdog(0);
    r.f = read_funnel(r.report);
    if (r.f.total != static_cast<double>(o.recipients) ||
        r.f.reached[0] + r.f.failed + r.f.pending != r.f.total)
      r.warnings.push_back("the settled funnel does not add up to " +
                           std::to_string(o.recipients) + " recipients: " + describe(r.f));

    if (o.idle_wait_s > 0) {
      std::this_thread::sleep_for(std::chrono::duration<double>(o.idle_wait_s));
      watchdog(60);
      r.idle_actors = read_metrics(c).actors;
      r.idle_rss = status_mib(p.pid(), "VmRSS:");
      auto again = without_time(parse_object(expect(c, "GET", report, {}, 200).body));
      watchdog(0);
      if (again != r.report)
        r.warnings.push_back("the funnel changed during the idle wait: " + json::serialize(again));
    }

    std::string how;
    r.shutdown_s = p.stop(60, &how);
    if (how != "exit code 0")
      r.warnings.push_back("blastd's shutdown: " + how);

    // Info level for the restart only: the replay line is logged at info, and the few requests
    // that follow add a handful of access-log lines.
    p.start(o.blastd, data, "info", log, o.timeout_s, extra);
    wait_healthy(p, static_cast<int>(o.timeout_s));
    r.restart_s = seconds_since(p.started());
    find_replay(log, r.replayed, r.replay_s);
    http_client after("127.0.0.1", p.port());
    watchdog(60);
    auto first = expect(after, "GET", report, {}, 200).body;
    std::this_thread::sleep_for(1s);  // and it stays so: nothing replayed moves it again
    auto second = expect(after, "GET", report, {}, 200).body;
    watchdog(0);
    for (auto* answer : {&first, &second})
      if (without_time(parse_object(*answer)) != r.report)
        throw bench_error(std::string("the report ") +
                          (answer == &first ? "right after" : "1 s after") +
                          " the restart differs from the settled one:\n  settled: " +
                          json::serialize(r.report) + "\n  after:   " + *answer);
    r.rss_restart = status_mib(p.pid(), "VmRSS:");
    p.stop(60);
  } catch (const std::exception& e) {
    watchdog(0);
    p.stop(10);  // so that its last words are in the log before we read it
    throw bench_error(std::string(e.what()) + "\nlast lines of blastd's stderr:" + tail(log, 12));
  }
  return r;
}

void print_table(const std::vector<run_result>& runs, const options& o) {
  const double per = 1048576.0 / static_cast<double>(o.recipients);  // MiB -> B a recipient
  struct row {
    std::string name;
    const char* unit;
    int decimals;
    std::function<double(const run_result&)> get;
  };
  auto ratio = [](double a, double b) { return b > 0 ? a / b : NAN; };
  std::vector<row> rows = {
    {"POST /api/blasts -> 201", "s", 3, [](auto& r) { return r.post_s; }},
    {"POST -> blast completed (every send done)", "s", 3, [](auto& r) { return r.complete_s; }},
    {"sends/s (N / POST->completed)", "/s", 0, [](auto& r) { return r.sends_per_s; }},
    {"blastd CPU, POST->completed", "s", 2, [](auto& r) { return r.cpu_send_s; }},
    {"blastd CPU per 1000 sends", "ms", 1,
     [&](auto& r) { return r.cpu_send_s * 1e6 / static_cast<double>(o.recipients); }},
    {"funnel final, after completion", "s", 2, [](auto& r) { return r.final_after_s; }},
    {"  seen settled (unchanged for --settle)", "s", 2, [](auto& r) { return r.settled_after_s; }},
    {"blastd CPU, completed->settled", "s", 2, [](auto& r) { return r.cpu_settle_s; }},
    {"slowest GET blast/report while polling", "ms", 1, [](auto& r) { return r.poll_max_ms; }},
    {"  reached sent", "", 0, [](auto& r) { return r.f.reached[0]; }},
    {"  reached delivered", "", 0, [](auto& r) { return r.f.reached[1]; }},
    {"  reached read", "", 0, [](auto& r) { return r.f.reached[2]; }},
    {"  reached replied", "", 0, [](auto& r) { return r.f.reached[3]; }},
    {"  reached closed", "", 0, [](auto& r) { return r.f.reached[4]; }},
    {"  failed", "", 0, [](auto& r) { return r.f.failed; }},
    {"  pending", "", 0, [](auto& r) { return r.f.pending; }},
    {"RSS baseline (empty server)", "MiB", 1, [](auto& r) { return r.base_rss; }},
    {"RSS at completion", "MiB", 1, [](auto& r) { return r.rss_complete; }},
    {"VmHWM (peak) at completion", "MiB", 1, [](auto& r) { return r.hwm_complete; }},
    {"RSS after settling", "MiB", 1, [](auto& r) { return r.rss_settled; }},
    {"VmHWM (peak) after settling", "MiB", 1, [](auto& r) { return r.hwm_settled; }},
    {"RSS per recipient, settled - base", "B", 0,
     [&](auto& r) { return (r.rss_settled - r.base_rss) * per; }},
    {"recipient actors active at completion", "", 0, [](auto& r) { return r.m_complete.actors; }},
    {"recipient actors active after settling", "", 0, [](auto& r) { return r.m_settled.actors; }},
    {"recipient actors active, peak (250 ms)", "", 0, [](auto& r) { return r.peak_actors; }},
    {"journal commits at completion", "", 0, [](auto& r) { return r.m_complete.commits; }},
    {"journal events at completion", "", 0, [](auto& r) { return r.m_complete.events; }},
    {"  events per commit, POST->completed", "", 2,
     [&](auto& r) { return ratio(r.m_complete.events, r.m_complete.commits); }},
    {"journal commits after settling", "", 0, [](auto& r) { return r.m_settled.commits; }},
    {"journal events after settling", "", 0, [](auto& r) { return r.m_settled.events; }},
    {"  events per commit, completed->settled", "", 2,
     [&](auto& r) {
       return ratio(r.m_settled.events - r.m_complete.events,
                    r.m_settled.commits - r.m_complete.commits);
     }},
    {"  events per recipient", "", 2,
     [&](auto& r) { return r.m_settled.events / static_cast<double>(o.recipients); }},
  };
  if (o.idle_wait_s > 0) {
    char name[80];
    std::snprintf(name, sizeof name, "recipient actors active %.0f s later", o.idle_wait_s);
    rows.push_back({name, "", 0, [](auto& r) { return r.idle_actors; }});
    std::snprintf(name, sizeof name, "RSS %.0f s later", o.idle_wait_s);
    rows.push_back({name, "MiB", 1, [](auto& r) { return r.idle_rss; }});
  }
  rows.insert(rows.end(), {
    {"shutdown (SIGTERM -> exit)", "s", 3, [](auto& r) { return r.shutdown_s; }},
    {"restart (exec -> /healthz 200)", "s", 3, [](auto& r) { return r.restart_s; }},
    {"  of which replay (blastd's log)", "s", 3, [](auto& r) { return r.replay_s; }},
    {"  events replayed", "", 0, [](auto& r) { return r.replayed; }},
    {"RSS after restart", "MiB", 1, [](auto& r) { return r.rss_restart; }},
  });
  constexpr int width = 42;
  print_stats_header(runs.size(), width);
  for (auto& rw : rows) {
    std::vector<double> v;
    for (auto& r : runs)
      v.push_back(rw.get(r));
    print_stats_row(rw.name, rw.unit, rw.decimals, std::move(v), width);
  }
}

bool parse_args(int argc, char** argv, options& o) {
  auto opts = common_options(o.recipients, o.runs, o.keep);
  opts.insert(opts.end(), {{"--time-scale", &o.time_scale},
                           {"--timeout", &o.timeout_s},
                           {"--settle", &o.settle_s},
                           {"--idle-wait", &o.idle_wait_s},
                           {"--blastd", &o.blastd},
                           {"--plugin-dir", &o.plugin_dir}});
  // Eight digits after "601" keep every number unique.
  return parse_options(argc, argv, opts) && o.recipients >= 1 && o.recipients <= 99'999'999 &&
         o.runs >= 1 && o.time_scale >= 0 && o.time_scale <= 1000 && o.timeout_s >= 1 &&
         o.settle_s > 0 && o.idle_wait_s >= 0;
}

} // namespace blast::tools::bench

int main(int argc, char** argv) {
  using namespace blast::tools::bench;
  options o;
  if (!parse_args(argc, argv, o)) {
    std::fprintf(stderr,
                 "usage: send_bench [--recipients N] [--runs R] [--time-scale T] [--timeout S] "
                 "[--settle S] [--idle-wait S] [--keep] [--blastd PATH] [--plugin-dir DIR]\n"
                 "  N: 1..99999999 (default 10000); R >= 1 (default 3)\n"
                 "  T: sim's timeScale, 0..1000 (default 1 = realistic delays, 0 = at once)\n"
                 "  --timeout: seconds allowed for completion, for settling and for the restart "
                 "(default 300)\n"
                 "  --settle: the funnel is final once unchanged this long (default 2 s)\n"
                 "  --idle-wait: then wait this long and count active recipient actors again "
                 "(default 0 = no; idle recipient actors passivate)\n"
                 "  --keep leaves the data dirs in /tmp\n"
                 "  --summary FILE appends the table's rows to FILE (tab-separated)\n");
    return 2;
  }
  install_watchdog("send_bench");

  std::printf("machine: %s\nblastd:  %s\nplugins: %s\nconfig:  %s\n", machine().c_str(),
              o.blastd.c_str(), o.plugin_dir.c_str(), config_json(o).c_str());
  auto t0 = steady::now();
  const std::string body = build_body(o.recipients);
  std::printf("body:    %zu recipients, %zu bytes (%.1f MiB), built in %.3f s\n", o.recipients,
              body.size(), static_cast<double>(body.size()) / 1048576.0, seconds_since(t0));
  std::fflush(stdout);

  std::vector<run_result> runs;
  bool all_ok = each_run("send_bench", o.runs, o.keep, [&](int i, const std::string& root) {
    auto& r = runs.emplace_back(run_once(o, body, root));
    std::printf("run %d/%d: 201 in %.3f s, completed in %.3f s (%.0f sends/s), funnel final "
                "%.2f s later; RSS %.0f -> %.0f -> %.0f MiB; %.0f -> %.0f actors active (peak %.0f); "
                "%.2f events/commit; restart %.3f s; report identical after restart\n",
                i, o.runs, r.post_s, r.complete_s, r.sends_per_s, r.final_after_s, r.base_rss,
                r.rss_complete, r.rss_settled, r.m_complete.actors, r.m_settled.actors, r.peak_actors,
                r.m_settled.events / r.m_settled.commits, r.restart_s);
    std::printf("  sending at completion: %s\n  funnel: %s\n", r.sending.c_str(),
                describe(r.f).c_str());
    for (auto& w : r.warnings)
      std::printf("  WARNING: %s\n", w.c_str());
    if (runs.size() > 1 && r.report != runs.front().report)
      std::printf("  WARNING: the settled funnel differs from run 1's (sim is seeded): %s\n",
                  json::serialize(r.report).c_str());
  });
  if (!all_ok)
    return 1;
  print_table(runs, o);
  return 0;
}
