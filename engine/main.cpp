// blastd: boots storage and actors (replaying the log), serves HTTP, and
// shuts down cleanly on SIGINT/SIGTERM.
#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <future>
#include <iostream>

#include "actors/service.hpp"
#include "engine/config.hpp"
#include "engine/http/router.hpp"
#include "engine/http/server.hpp"
#include "engine/log.hpp"

using namespace blast;

namespace {

// A first blast for a newcomer to watch: made through the router, exactly as
// an HTTP client would make it.
void submit_demo(engine::http::router& router, size_t n, const std::string& transport,
                 const std::string& base) {
  static const char* names[] = {"Aisyah", "Wei Ling", "Arjun", "Siti", "Daniel", "Mei", "Hafiz"};
  std::string body = R"({"message":"Hi {{name}}, our year-end sale starts today!",)"
                     R"("blastTag":"demo","recipients":[)";
  for (size_t i = 0; i < n; ++i) {
    body += i ? "," : "";
    body += R"({"phoneNumber":"6012)" + std::to_string(1000000 + i) + R"(","name":")" +
            names[i % 7] + "\"}";
  }
  body += "]}";
  std::promise<engine::http::response> done;
  router.handle({"POST", "/api/blasts", {}, std::move(body)},
                [&](engine::http::response r) { done.set_value(std::move(r)); });
  auto r = done.get_future().get();
  if (r.status != 201) {
    engine::log(engine::log_level::warn, "demo blast not created: " + r.body);
    return;
  }
  std::cout << "demo: blast 1 (" << n << " recipients) is sending through '" << transport
            << "'; watch its funnel fill:\n"
            << "      watch -n1 curl -s " << base << "/api/blasts/1/report\n"
            << std::flush;
}

} // namespace

int main(int argc, char** argv) {
  engine::config cfg;
  switch (engine::load_config(argc, argv, cfg)) {
    case engine::config_result::exit_ok: return 0;
    case engine::config_result::exit_error: return 2;
    case engine::config_result::run: break;
  }
  engine::set_log_level(cfg.level);

  // Block the signals before any thread starts, so that only sigwait sees them.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);

  actors::service_options so;
  so.data_dir = cfg.data_dir;
  so.default_transport = cfg.default_transport;
  so.plugin_dir = cfg.plugin_dir;
  so.transports = cfg.transports;
  so.log = [](int level, const std::string& message) {
    engine::log(static_cast<engine::log_level>(std::clamp(level, 0, 3)), message);
  };
  so.threads = cfg.actor_threads;
  so.passivate_after_ms = cfg.passivate_after_ms;
  so.snapshot_every_events = cfg.snapshot_every_events;
  so.journal_max_queued_events = cfg.journal_max_queued_events;
  std::string error;
  auto svc = actors::service::start(so, error);
  if (!svc) {
    engine::log(engine::log_level::error, error);
    return 1;
  }
  auto& st = svc->startup();
  char line[240];
  std::snprintf(line, sizeof line,
                "replayed %llu events: %llu blasts, %llu recipients in %.3f s "
                "(after the snapshot at seq %llu; data: %s)",
                static_cast<unsigned long long>(st.events_replayed),
                static_cast<unsigned long long>(st.blasts),
                static_cast<unsigned long long>(st.recipients), st.replay_seconds,
                static_cast<unsigned long long>(st.snapshot_seq), cfg.data_dir.c_str());
  engine::log(engine::log_level::info, line);

  engine::http::router_options ro;
  ro.max_recipients = cfg.max_recipients;
  ro.unmatched_after_ms = cfg.unmatched_after_ms;
  ro.max_message_bytes = cfg.max_message_length;
  for (auto& t : cfg.transports)
    ro.webhook_limits[t.name] = {t.webhook_rate_per_second, t.webhook_burst};
  auto connections = std::make_shared<std::atomic<size_t>>(0);
  ro.http_connections = connections;
  engine::http::router router(*svc, ro);
  engine::http::server_options ho;
  ho.address = cfg.listen_address;
  ho.port = cfg.listen_port;
  ho.threads = cfg.io_threads;
  ho.body_limit = cfg.body_limit;
  ho.header_limit = cfg.header_limit;
  auto seconds = [](size_t s) { return static_cast<unsigned>(std::min<size_t>(s, 86400)); };
  ho.read_timeout_seconds = seconds(cfg.read_timeout_seconds);
  ho.idle_timeout_seconds = seconds(cfg.idle_timeout_seconds);
  ho.max_connections = cfg.max_connections;
  ho.connections = connections;
  size_t key_count = cfg.api_keys.size();
  ho.keys = std::make_shared<const engine::http::api_keys>(std::move(cfg.api_keys),
                                                          cfg.metrics_require_key);
  std::unique_ptr<engine::http::server> server;
  try {
    server = std::make_unique<engine::http::server>(router, ho);
  } catch (const std::exception& e) {
    engine::log(engine::log_level::error, e.what());
    return 1;
  }
  std::string base = "http://" + cfg.listen_address + ":" + std::to_string(server->port());
  engine::log(engine::log_level::info, "blastd listening on " + base + " (HTTP I/O: " +
                                         engine::http::server::io_backend() + ")");
  // load_config refused a non-loopback address without keys unless allowed.
  std::string reach = (cfg.listen_address.find(':') != std::string::npos
                         ? "[" + cfg.listen_address + "]" : cfg.listen_address) +
                      ":" + std::to_string(server->port());
  if (key_count > 0)
    engine::log(engine::log_level::info,
                std::to_string(key_count) + " API key(s) guard /api/*" +
                  (cfg.metrics_require_key ? " and /metrics" : ""));
  else if (engine::is_loopback(cfg.listen_address))
    engine::log(engine::log_level::warn,
                "no API keys configured: /api/* is open to anyone who can reach " + reach +
                  " (fine on this machine; configure \"apiKeys\" before listening elsewhere)");
  else  // at error level: shown whatever --log-level says
    engine::log(engine::log_level::error,
                "!!! no API keys configured and allowUnauthenticated is set: /api/* (creating "
                "blasts, manual updates) is open to ANYONE who can reach " + reach + " !!!");
  std::cout << "blastd listening on " << base << "\n"
            << "try:  curl -s -X POST " << base << "/api/blasts -H 'Content-Type: application/json' "
            << "-d '{\"message\":\"Hello {{name}}\",\"recipients\":[\"60123456789\",\"60198765432\"]}'\n"
            << "      curl -s " << base << "/api/blasts/1/report\n"
            << std::flush;

  if (cfg.demo_recipients > 0 && svc->startup().blasts == 0)
    submit_demo(router, cfg.demo_recipients, cfg.default_transport, base);

  int sig = 0;
  sigwait(&sigs, &sig);
  engine::log(engine::log_level::info,
              std::string("received ") + (sig == SIGINT ? "SIGINT" : "SIGTERM") +
                ", shutting down");
  server->stop();
  svc->stop();
  engine::log(engine::log_level::info, "stopped; every acknowledged event is on disk");
  return 0;
}
