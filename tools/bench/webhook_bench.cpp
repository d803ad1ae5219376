// webhook_bench: the batched-webhook ingestion rate through the whatsapp_cloud plugin. A blast
// of N recipients is sent through the plugin to an in-process Cloud API simulator (no webhooks
// of its own), then the benchmark posts Meta-shaped notifications of 100 statuses each
// (delivered then read for every wamid, signed with X-Hub-Signature-256) from C connections.
// Figures: statuses/s until every request is answered 2xx (each answer means the raw
// notification is durable: WAL-synced), and until the funnel shows every status applied.
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <boost/json.hpp>

#include "tools/bench/bench_support.hpp"
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
};

struct run_result {
  double send_s = 0, durable_s = 0, applied_s = 0, statuses = 0;
};

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

run_result run_once(const options& o, const std::string& body, const std::string& root) {
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
  run_result r;
  auto t0 = steady::now();
  auto blast = parse_object(expect(c, "POST", "/api/blasts", body, 201).body);
  std::string id = std::to_string(blast.at("id").as_int64());
  while (parse_object(expect(c, "GET", "/api/blasts/" + id, "", 200).body).at("status") !=
         "completed")
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  r.send_s = seconds_since(t0);

  std::vector<std::string> wamids;
  for (size_t i = 1; i <= o.recipients; ++i) {
    auto d = parse_object(
        expect(c, "GET", "/api/blasts/" + id + "/recipients/" + std::to_string(i), "", 200).body);
    wamids.emplace_back(d.at("messageData").at("messages").at(0).at("id").as_string());
  }
  // Built and signed before the clock starts: the figure is blastd's, not the client's.
  std::vector<std::pair<std::string, std::string>> requests;
  for (const char* status : {"delivered", "read"})
    for (size_t i = 0; i < wamids.size(); i += o.batch) {
      std::string b = notification(wamids, i, std::min(wamids.size(), i + o.batch), status);
      requests.emplace_back(std::move(b), "");
      requests.back().second = "sha256=" + wsapme_sim::hmac_sha256_hex("bench-secret",
                                                                       requests.back().first);
    }
  r.statuses = static_cast<double>(2 * wamids.size());
  // Each connection takes every C-th request in order, so the delivered batches of a message
  // mostly go before its read ones (either order is right for blastd).
  std::atomic<bool> failed{false};
  auto t1 = steady::now();
  std::vector<std::thread> senders;
  for (unsigned k = 0; k < o.connections; ++k)
    senders.emplace_back([&, k] {
      http_client w("127.0.0.1", p.port());
      for (size_t i = k; i < requests.size(); i += o.connections) {
        auto a = w.request("POST", "/webhooks/wa", requests[i].first, "application/json",
                           {{"X-Hub-Signature-256", requests[i].second}});
        if (a.status != 200) {
          std::fprintf(stderr, "webhook answered %d: %s\n", a.status, a.body.c_str());
          failed = true;
          return;
        }
      }
    });
  for (auto& t : senders)
    t.join();
  if (failed)
    throw bench_error("a webhook was not accepted");
  r.durable_s = seconds_since(t1);
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
  if (!parse_options(argc, argv, opts) || o.recipients < 1 || o.runs < 1 || o.connections < 1 ||
      o.batch < 1 || o.batch > 1000) {
    std::fprintf(stderr, "usage: webhook_bench [--recipients N] [--runs R] [--connections C] "
                         "[--batch B] [--keep] [--blastd PATH] [--plugin-dir DIR]\n"
                         "  defaults: N 20000, R 3, C 4, B 100 statuses per request\n");
    return 2;
  }
  install_watchdog("webhook_bench");
  std::printf("machine: %s\nblastd:  %s\n%zu recipients, 2 statuses each, %zu per request, "
              "%u connections\n",
              machine().c_str(), o.blastd.c_str(), o.recipients, o.batch, o.connections);
  const std::string body = build_body(o.recipients, "wa");
  std::vector<run_result> runs;
  bool ok = each_run("webhook_bench", o.runs, o.keep, [&](int i, const std::string& root) {
    auto& r = runs.emplace_back(run_once(o, body, root));
    std::printf("run %d/%d: sent in %.2f s; %.0f statuses durable in %.3f s (%.0f/s), "
                "applied in %.3f s (%.0f/s)\n",
                i, o.runs, r.send_s, r.statuses, r.durable_s, r.statuses / r.durable_s,
                r.applied_s, r.statuses / r.applied_s);
    std::fflush(stdout);
  });
  if (!ok)
    return 1;
  std::vector<double> durable, applied;
  for (auto& r : runs) {
    durable.push_back(r.statuses / r.durable_s);
    applied.push_back(r.statuses / r.applied_s);
  }
  print_stats_header(runs.size());
  print_stats_row("statuses durable (2xx), 100/request", "/s", 0, durable);
  print_stats_row("statuses applied to the funnel", "/s", 0, applied);
  return 0;
}
