// webhook_bench: webhook ingestion through the whatsapp_cloud plugin. A blast of N recipients is
// sent through the plugin to an in-process Cloud API simulator (no webhooks of its own), then
// the benchmark posts Meta-shaped notifications of B statuses each (delivered then read for
// every wamid, signed with X-Hub-Signature-256) from C keep-alive connections: B = 100 is the
// batched workload, B = 1 with C = 64 the single-event one.
// Figures: statuses/s until every request is answered 2xx (each answer means the raw
// notification is durable: WAL-synced), each request's latency, and the rate until the funnel
// shows every status applied.
// With --post-to PORT the same notifications, for message ids PREFIX1..PREFIXN (--message-ids),
// go to another receiver already listening on 127.0.0.1:PORT instead (tools/bench/pg_compare.sh
// points it at pg_webhook_receiver); only the figures up to the 2xx are taken then.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

#include <boost/json.hpp>

#include "tools/bench/bench_support.hpp"
#include "tools/blastctl/csv.hpp"
#include "tools/http_client.hpp"
#include "tools/wacloud_sim/cloud_api.hpp"
#include "tools/wsapme_sim/webhook_sender.hpp" // hmac_sha256_hex

namespace json = boost::json;

namespace blast::tools::bench {

struct options {
  size_t recipients = 20'000;
  int runs = 3;
  bool keep = false;
  unsigned connections = 4;
  size_t batch = 100;
  std::string blastd = BLASTD_PATH;
  std::string plugin_dir = PLUGIN_DIR;
  unsigned post_to = 0;                // another receiver's port; 0: blastd
  std::string message_ids = "wamid.1."; // their prefix then
};

struct run_result {
  double send_s = 0, durable_s = 0, applied_s = 0, statuses = 0;
  latency request_us;
  double blastd_cpu_s = 0, client_cpu_s = 0;  // while the webhooks were posted
  double blastd_switches = 0;                  // context switches of blastd's threads meanwhile
  // The journal's group commits while the webhooks were posted: how many, their events, and the
  // time spent in their WAL syncs (the syncer's; the writer writes the next batch meanwhile),
  // from /metrics.
  double commits = 0, commit_events = 0, commit_s = 0;
};

// The journal's counters now: commits, events, seconds in WAL syncs.
std::array<double, 3> journal_totals(http_client& c) {
  auto body = expect(c, "GET", "/metrics", "", 200).body;
  std::array<double, 3> t{metric_value(body, "blastd_journal_commits_total"),
                          metric_value(body, "blastd_journal_events_total"),
                          metric_value(body, "blastd_journal_sync_seconds_sum")};
  for (double v : t)
    if (std::isnan(v))
      throw bench_error("GET /metrics lacks a journal counter:\n" + body);
  return t;
}

// Every recipient's message id (wamid), in recipient order, from the CSV export: one request
// instead of one GET per recipient.
std::vector<std::string> message_ids(http_client& c, const std::string& blast, size_t n) {
  auto csv = expect(c, "GET", "/api/blasts/" + blast + "/recipients.csv", "", 200).body;
  std::FILE* in = ::fmemopen(csv.data(), csv.size(), "r");
  if (!in)
    throw bench_error("fmemopen failed");
  csv_reader reader(in);
  std::vector<std::string> fields, ids;
  size_t column = 0;
  bool header = true;
  while (reader.next(fields)) {
    if (header) {
      column = static_cast<size_t>(
          std::find(fields.begin(), fields.end(), "messageId") - fields.begin());
      header = false;
    } else if (column < fields.size() && !fields[column].empty()) {
      ids.push_back(fields[column]);
    }
  }
  std::fclose(in);
  if (!reader.error().empty() || ids.size() != n)
    throw bench_error("the CSV export gave " + std::to_string(ids.size()) + " message ids for " +
                      std::to_string(n) + " recipients " + reader.error());
  return ids;
}

std::string notification(const std::vector<std::string>& ids, size_t from, size_t to,
                         const char* status) {
  json::array statuses;
  for (size_t i = from; i < to; ++i)
    statuses.push_back(json::object{{"id", ids[i]},
                                    {"status", status},
                                    {"timestamp", "1700000000"},
                                    {"recipient_id", "1"}});
  return json::serialize(json::object{
      {"object", "whatsapp_business_account"},
      {"entry", json::array{json::object{
                    {"id", "WABA"},
                    {"changes", json::array{json::object{
                                    {"field", "messages"},
                                    {"value", json::object{{"statuses", std::move(statuses)}}}}}}}}}});
}

// Posts every status of `wamids`, delivered then read, B per request (built and signed before
// the clock starts: the figure is the receiver's, not the client's) from C connections to
// 127.0.0.1:port, and takes the figures up to the last 2xx; `server` is the receiver's pid, whose
// CPU and context switches are taken too (blastd's), or 0.
// Sent in this order, so the delivered batches of a message mostly go before its read ones
// (either order is right for blastd). Each status has its own event id (wamid + status), so
// none is dropped as a duplicate.
void post_statuses(const options& o, const std::vector<std::string>& wamids, uint16_t port,
                   pid_t server, run_result& r) {
  std::vector<std::string> raw;
  for (const char* status : {"delivered", "read"})
    for (size_t i = 0; i < wamids.size(); i += o.batch) {
      std::string b = notification(wamids, i, std::min(wamids.size(), i + o.batch), status);
      std::string signature = "sha256=" + wsapme_sim::hmac_sha256_hex("bench-secret", b);
      raw.push_back(raw_post("/webhooks/wa", b, {{"X-Hub-Signature-256", signature}}));
    }
  r.statuses = static_cast<double>(2 * wamids.size());
  const double server_cpu0 = server ? cpu_seconds(server) : NAN;
  const double switches0 = server ? context_switches(server) : NAN;
  const double client_cpu0 = cpu_seconds(::getpid());
  auto load = run_closed_loop(port, raw, o.connections);
  r.blastd_cpu_s = server ? cpu_seconds(server) - server_cpu0 : NAN;
  r.client_cpu_s = cpu_seconds(::getpid()) - client_cpu0;
  r.blastd_switches = server ? context_switches(server) - switches0 : NAN;
  if (load.not_2xx)
    throw bench_error(std::to_string(load.not_2xx) + " webhooks were not accepted; the first:\n" +
                      load.first_error);
  r.durable_s = load.seconds;
  r.request_us = summarize(std::move(load.us));
}

run_result run_once(const options& o, const std::string& body, const std::string& root) {
  run_result r;
  if (o.post_to) {
    std::vector<std::string> wamids;
    for (size_t i = 1; i <= o.recipients; ++i)
      wamids.push_back(o.message_ids + std::to_string(i));
    post_statuses(o, wamids, static_cast<uint16_t>(o.post_to), 0, r);
    r.applied_s = r.commits = r.commit_events = r.commit_s = NAN; // blastd's figures
    return r;
  }
  wacloud_sim::cloud_options so;
  so.access_token = "bench";
  wacloud_sim::cloud_api sim(so);
  std::string cfg = root + "/blastd.json";
  std::ofstream(cfg) << R"({"defaultTransport": "wa", "transports": {"wa": {
    "plugin": "whatsapp_cloud", "baseUrl": "http://127.0.0.1:)"
                     << sim.port() << R"(", "phoneNumberId": "1000", "accessToken": "bench",
    "appSecret": "bench-secret", "workers": 8, "maxInFlight": 256}}})";
  blastd_process p;
  p.start(o.blastd, root + "/data", "warn", root + "/blastd.log", 30,
          {"--config", cfg, "--plugin-dir", o.plugin_dir});
  http_client c("127.0.0.1", p.port());
  auto t0 = steady::now();
  auto blast = parse_object(expect(c, "POST", "/api/blasts", body, 201).body);
  std::string id = std::to_string(blast.at("id").as_int64());
  while (parse_object(expect(c, "GET", "/api/blasts/" + id, "", 200).body).at("status") !=
         "completed")
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  r.send_s = seconds_since(t0);

  const std::vector<std::string> wamids = message_ids(c, id, o.recipients);
  const auto journal0 = journal_totals(c);
  const auto t1 = steady::now();  // the applied figure counts from here (load.seconds: ~same)
  post_statuses(o, wamids, p.port(), p.pid(), r);
  const auto journal1 = journal_totals(c);
  r.commits = journal1[0] - journal0[0];
  r.commit_events = journal1[1] - journal0[1];
  r.commit_s = journal1[2] - journal0[2];
  for (;;) {
    auto rep = parse_object(expect(c, "GET", "/api/blasts/" + id + "/report", "", 200).body);
    auto& funnel = rep.at("funnel").as_array();
    auto read = std::find_if(funnel.begin(), funnel.end(),
                             [](auto& s) { return s.at("stage") == "read"; });
    if (read != funnel.end() &&
        read->at("reached").to_number<double>() >= static_cast<double>(o.recipients))
      break;
    if (seconds_since(t1) > 600)
      throw bench_error("statuses not applied within 600 s");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  r.applied_s = seconds_since(t1);
  return r;
}

} // namespace blast::tools::bench

int main(int argc, char** argv) {
  using namespace blast::tools::bench;
  options o;
  auto opts = common_options(o.recipients, o.runs, o.keep);
  opts.push_back({"--connections", &o.connections});
  opts.push_back({"--batch", &o.batch});
  opts.push_back({"--blastd", &o.blastd});
  opts.push_back({"--plugin-dir", &o.plugin_dir});
  opts.push_back({"--post-to", &o.post_to});
  opts.push_back({"--message-ids", &o.message_ids});
  if (!parse_options(argc, argv, opts) || o.recipients < 1 || o.runs < 1 || o.connections < 1 ||
      o.batch < 1 || o.batch > 1000 || o.post_to > 65535) {
    std::fprintf(stderr, "usage: webhook_bench [--recipients N] [--runs R] [--connections C] "
                         "[--batch B] [--keep] [--summary FILE] [--blastd PATH] "
                         "[--plugin-dir DIR] [--post-to PORT [--message-ids PREFIX]]\n"
                         "  defaults: N 20000, R 3, C 4, B 100 statuses per request (B = 1, C = 64:\n"
                         "  the single-event workload); --summary FILE appends the table's rows;\n"
                         "  --post-to: post to that receiver on 127.0.0.1 instead of blastd, for\n"
                         "  message ids PREFIX1..PREFIXN (default wamid.1.)\n");
    return 2;
  }
  install_watchdog("webhook_bench");
  const std::string receiver =
    o.post_to ? "127.0.0.1:" + std::to_string(o.post_to) + " (--post-to)" : "blastd " + o.blastd;
  std::printf("machine:  %s\nload:     %s (1, 5, 15 min)\nreceiver: %s\n%zu recipients, 2 "
              "statuses each, %zu per request, %u keep-alive connections\n",
              machine().c_str(), loadavg().c_str(), receiver.c_str(), o.recipients, o.batch,
              o.connections);
  const std::string body = o.post_to ? std::string() : build_body(o.recipients, "wa");
  std::vector<run_result> runs;
  bool ok = each_run("webhook_bench", o.runs, o.keep, [&](int i, const std::string& root) {
    auto& r = runs.emplace_back(run_once(o, body, root));
    if (o.post_to)
      std::printf("run %d/%d: %.0f statuses durable in %.3f s (%.0f/s, request p50 %.2f ms, "
                  "p99 %.2f ms); CPU client %.2f s; load %s\n",
                  i, o.runs, r.statuses, r.durable_s, r.statuses / r.durable_s,
                  r.request_us.p50 / 1e3, r.request_us.p99 / 1e3, r.client_cpu_s,
                  loadavg().c_str());
    else
      std::printf("run %d/%d: sent in %.2f s; %.0f statuses durable in %.3f s (%.0f/s, request "
                "p50 %.2f ms, p99 %.2f ms), applied in %.3f s (%.0f/s); CPU blastd %.2f s, "
                "client %.2f s; load %s\n",
                i, o.runs, r.send_s, r.statuses, r.durable_s, r.statuses / r.durable_s,
                r.request_us.p50 / 1e3, r.request_us.p99 / 1e3, r.applied_s,
                r.statuses / r.applied_s, r.blastd_cpu_s, r.client_cpu_s, loadavg().c_str());
    std::fflush(stdout);
  });
  if (!ok)
    return 1;
  // The names are stable (the batch size is in the header above): tools/bench/suite.sh reads
  // these rows from --summary by name.
  std::vector<double> durable, applied, p50, p99, max, blastd_cpu, client_cpu, switches,
    per_commit, commit_ms, busy;
  for (auto& r : runs) {
    durable.push_back(r.statuses / r.durable_s);
    applied.push_back(r.statuses / r.applied_s);
    p50.push_back(r.request_us.p50 / 1e3);
    p99.push_back(r.request_us.p99 / 1e3);
    max.push_back(r.request_us.max / 1e3);
    blastd_cpu.push_back(r.blastd_cpu_s * 1e6 / r.statuses);
    client_cpu.push_back(r.client_cpu_s * 1e6 / r.statuses);
    switches.push_back(r.blastd_switches / r.statuses);
    per_commit.push_back(r.commit_events / r.commits);
    commit_ms.push_back(r.commit_s * 1e3 / r.commits);
    busy.push_back(100 * r.commit_s / r.durable_s);
  }
  print_stats_header(runs.size());
  print_stats_row("statuses durable (2xx)", "/s", 0, durable);
  print_stats_row("request latency p50", "ms", 2, p50);
  print_stats_row("request latency p99", "ms", 2, p99);
  print_stats_row("request latency max", "ms", 2, max);
  print_stats_row("statuses applied to the funnel", "/s", 0, applied);
  print_stats_row("blastd CPU per status, until durable", "us", 1, blastd_cpu);
  print_stats_row("client CPU per status, until durable", "us", 1, client_cpu);
  print_stats_row("blastd context switches per status", "", 2, switches);
  print_stats_row("events per group commit", "", 1, per_commit);
  print_stats_row("WAL sync (one per group commit), mean", "ms", 2, commit_ms);
  print_stats_row("journal's syncer in syncs", "%", 0, busy);
  return 0;
}
