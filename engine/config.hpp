// blastd's configuration: one JSON file (--config) overridden by flags.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include <vector>

#include "actors/service.hpp"
#include "engine/http/auth.hpp"
#include "engine/log.hpp"

namespace blast::engine {

actors::transport_options default_sim();

// Parses one transport instance's object: "plugin" and the host's own keys
// (ratePerSecond, maxInFlight, workers, maxAttempts, retryBaseMs,
// pollIntervalSeconds, pollMaxAgeSeconds, webhookRatePerSecond, webhookBurst);
// every other key is the plugin's config. False with `error` on a bad value.
bool parse_transport(const std::string& name, const std::string& json_object,
                     actors::transport_options& out, std::string& error);

struct config {
  std::string listen_address = "127.0.0.1";
  uint16_t listen_port = 8080;
  std::string data_dir = "./data";
  std::string plugin_dir;  // default: "plugins" beside the blastd executable
  // The embedded default: the simulated channel. A config file's "transports"
  // replaces this list.
  std::vector<actors::transport_options> transports = {default_sim()};
  std::string default_transport = "sim";
  log_level level = log_level::info;
  size_t io_threads = 1;
  size_t actor_threads = 2;
  // Limits (README "Limits"); the defaults are the HTTP layer's own.
  size_t body_limit = 256ull << 20;
  size_t header_limit = 16 << 10;
  size_t max_recipients = 5'000'000;
  size_t max_message_length = 4096;  // characters (code points) of a blast's message
  size_t read_timeout_seconds = 30;
  size_t idle_timeout_seconds = 60;
  size_t max_connections = 10'000;
  size_t journal_max_queued_events = 1 << 20;
  int64_t passivate_after_ms = 10000;
  int64_t unmatched_after_ms = 60'000;  // GET /api/unmatched default age
  uint64_t snapshot_every_events = 1'000'000;  // see actors::service_options
  size_t demo_recipients = 0;  // --demo N: submit a demo blast on a fresh data folder
  // "apiKeys" (or --api-keys-file): who may call /api/*. None: blastd runs
  // open, which load_config allows only on a loopback address unless
  // allow_unauthenticated ("allowUnauthenticated", --allow-unauthenticated).
  std::vector<http::api_key> api_keys;
  bool metrics_require_key = false;  // "metricsRequireKey": /metrics needs a read key
  bool allow_unauthenticated = false;
};

enum class config_result { run, exit_ok, exit_error };

// Reads argv (and the --config file it names). Prints --help / --version or
// the error itself and says whether to run.
config_result load_config(int argc, char** argv, config& out);

// Parses "host:port" (IPv6 as "[::1]:8080").
bool parse_listen(const std::string& text, std::string& host, uint16_t& port);

// True for an address only this machine can reach: 127.0.0.0/8, ::1, an
// IPv4-mapped 127.x, "localhost". Anything else (0.0.0.0 and :: included) is not.
bool is_loopback(const std::string& host);

} // namespace blast::engine
