// Configuration loading: defaults < JSON file < command-line flags.
#include "engine/config.hpp"

#include <arpa/inet.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include <boost/json.hpp>
#include <boost/program_options.hpp>

namespace po = boost::program_options;
namespace json = boost::json;

namespace blast::engine {

bool parse_listen(const std::string& text, std::string& host, uint16_t& port) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos || colon + 1 >= text.size())
    return false;
  std::string h = text.substr(0, colon);
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']')
    h = h.substr(1, h.size() - 2);
  unsigned long p = 0;
  try {
    size_t used = 0;
    p = std::stoul(text.substr(colon + 1), &used);
    if (used != text.size() - colon - 1 || p > 65535)
      return false;
  } catch (...) {
    return false;
  }
  host = h.empty() ? "0.0.0.0" : h;
  port = static_cast<uint16_t>(p);
  return true;
}

bool is_loopback(const std::string& host) {
  if (host == "localhost")
    return true;
  unsigned char a[16];
  if (inet_pton(AF_INET, host.c_str(), a) == 1)
    return a[0] == 127;
  if (inet_pton(AF_INET6, host.c_str(), a) != 1)
    return false;  // a name other than localhost: it may resolve to anything
  static const unsigned char loop6[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return std::memcmp(a, loop6, 16) == 0 || (std::memcmp(a, mapped, 12) == 0 && a[12] == 127);
}

actors::transport_options default_sim() {
  actors::transport_options t;
  t.name = "sim";
  t.plugin = "sim";
  t.plugin_config = R"({"seed":42})";
  return t;
}

bool parse_transport(const std::string& name, const std::string& text,
                     actors::transport_options& out, std::string& error) {
  json::error_code ec;
  auto v = json::parse(text, ec);
  auto* o = ec ? nullptr : v.if_object();
  auto fail = [&](const std::string& why) {
    error = "transport '" + name + "': " + why;
    return false;
  };
  if (!o)
    return fail("must be a JSON object");
  out = actors::transport_options{};
  out.name = name;
  if (name.empty() || name.find('/') != std::string::npos)
    return fail("a transport name must be non-empty and contain no '/'");
  auto* plugin = o->if_contains("plugin");
  if (!plugin || !plugin->is_string() || plugin->get_string().empty())
    return fail("\"plugin\" (the plugin's name, e.g. \"sim\") is required");
  out.plugin = std::string(plugin->get_string());
  if (out.plugin.find('/') != std::string::npos)
    return fail("\"plugin\" is a name, not a path: plugins are found in pluginDir");
  json::object rest;
  for (auto& member : *o) {
    // Named references, not a structured binding: C++17 lambdas cannot capture a binding
    // (clang refuses it; the fuzzing build compiles this file with clang).
    const json::string_view key = member.key();
    const json::value& value = member.value();
    auto number = [&](double lo, double hi, double& dst) {
      double d = value.is_int64() ? static_cast<double>(value.get_int64())
                 : value.is_uint64() ? static_cast<double>(value.get_uint64())
                 : value.is_double() ? value.get_double() : -1;
      if (d < lo || d > hi)
        return fail("\"" + std::string(key) + "\" must be a number in [" +
                    std::to_string(lo) + ", " + std::to_string(hi) + "]");
      dst = d;
      return true;
    };
    double d = 0;
    if (key == "plugin") {
      continue;
    } else if (key == "ratePerSecond") {
      if (!number(0, 1e7, d))
        return false;
      out.rate_per_second = d;
    } else if (key == "maxInFlight") {
      if (!number(1, 1e6, d))
        return false;
      out.max_in_flight = static_cast<uint32_t>(d);
    } else if (key == "workers") {
      if (!number(1, 256, d))
        return false;
      out.workers = static_cast<uint32_t>(d);
    } else if (key == "maxAttempts") {
      if (!number(1, 100, d))
        return false;
      out.max_attempts = static_cast<uint32_t>(d);
    } else if (key == "retryBaseMs") {
      if (!number(1, 3.6e6, d))
        return false;
      out.retry_base_ms = static_cast<int64_t>(d);
    } else if (key == "pollIntervalSeconds") {
      if (!number(0, 86400, d))
        return false;
      out.poll_interval_ms = static_cast<int64_t>(d * 1000);
    } else if (key == "pollMaxAgeSeconds") {
      if (!number(1, 90 * 86400.0, d))
        return false;
      out.poll_max_age_ms = static_cast<int64_t>(d * 1000);
    } else if (key == "webhookRatePerSecond") {
      if (!number(0, 1e6, d))
        return false;
      out.webhook_rate_per_second = d;
    } else if (key == "webhookBurst") {
      if (!number(0, 1e6, d))
        return false;
      out.webhook_burst = d;
    } else {
      rest[key] = value;
    }
  }
  out.plugin_config = json::serialize(rest);
  return true;
}

namespace {

bool read_json(const std::string& path, const char* what, json::value& v, std::string& error) {
  std::ifstream in(path);
  if (!in) {
    error = std::string("cannot read ") + what + " '" + path + "'";
    return false;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  json::error_code ec;
  v = json::parse(ss.str(), ec);
  if (ec) {
    error = std::string(what) + " '" + path + "' is not JSON: " + ec.message();
    return false;
  }
  return true;
}

bool apply_file(const std::string& path, config& c, std::string& error) {
  json::value v;
  if (!read_json(path, "config file", v, error))
    return false;
  if (!v.is_object()) {
    error = "config file '" + path + "' is not a JSON object";
    return false;
  }
  auto& o = v.get_object();
  auto str = [&](const char* key, std::string& dst) {
    if (auto* x = o.if_contains(key)) {
      if (!x->is_string()) {
        error = std::string("config: '") + key + "' must be a string";
        return false;
      }
      dst = std::string(x->get_string());
    }
    return true;
  };
  std::string listen, level;
  if (!str("listen", listen) || !str("dataDir", c.data_dir) || !str("pluginDir", c.plugin_dir) ||
      !str("defaultTransport", c.default_transport) || !str("logLevel", level))
    return false;
  if (!listen.empty() && !parse_listen(listen, c.listen_address, c.listen_port)) {
    error = "config: 'listen' must be host:port, got '" + listen + "'";
    return false;
  }
  if (!level.empty() && !parse_log_level(level, c.level)) {
    error = "config: 'logLevel' must be error, warn, info or debug";
    return false;
  }
  for (auto [key, dst] : {std::pair<const char*, size_t*>{"bodyLimit", &c.body_limit},
                          {"headerLimit", &c.header_limit},
                          {"maxRecipients", &c.max_recipients},
                          {"maxMessageLength", &c.max_message_length},
                          {"readTimeoutSeconds", &c.read_timeout_seconds},
                          {"idleTimeoutSeconds", &c.idle_timeout_seconds},
                          {"maxConnections", &c.max_connections},
                          {"journalMaxQueuedEvents", &c.journal_max_queued_events},
                          {"ioThreads", &c.io_threads},
                          {"actorThreads", &c.actor_threads}}) {
    if (auto* x = o.if_contains(key)) {
      auto n = x->if_int64();
      if (!n || *n <= 0) {
        error = std::string("config: '") + key + "' must be a positive integer";
        return false;
      }
      *dst = static_cast<size_t>(*n);
    }
  }
  if (auto* x = o.if_contains("unmatchedAfterSeconds")) {
    auto n = x->if_int64();
    if (!n || *n < 0) {
      error = "config: 'unmatchedAfterSeconds' must be a non-negative integer";
      return false;
    }
    c.unmatched_after_ms = *n * 1000;
  }
  if (auto* x = o.if_contains("snapshotEveryEvents")) {
    auto n = x->if_int64();
    if (!n || *n < 0) {
      error = "config: 'snapshotEveryEvents' must be a non-negative integer (0 = no snapshots)";
      return false;
    }
    c.snapshot_every_events = static_cast<uint64_t>(*n);
  }
  for (auto [key, dst] : {std::pair<const char*, bool*>{"metricsRequireKey", &c.metrics_require_key},
                          {"allowUnauthenticated", &c.allow_unauthenticated}}) {
    if (auto* x = o.if_contains(key)) {
      if (!x->is_bool()) {
        error = std::string("config: '") + key + "' must be true or false";
        return false;
      }
      *dst = x->get_bool();
    }
  }
  if (auto* keys = o.if_contains("apiKeys")) {
    if (!http::parse_api_keys(*keys, c.api_keys, error)) {
      error = "config: " + error;
      return false;
    }
  }
  if (auto* ts = o.if_contains("transports")) {
    if (!ts->is_object()) {
      error = "config: 'transports' must be an object of named transport instances";
      return false;
    }
    c.transports.clear();
    for (auto& [name, t] : ts->get_object()) {
      actors::transport_options opts;
      if (!parse_transport(std::string(name), json::serialize(t), opts, error)) {
        error = "config: " + error;
        return false;
      }
      c.transports.push_back(std::move(opts));
    }
    if (!o.if_contains("defaultTransport"))
      c.default_transport = c.transports.empty() ? "manual" : c.transports.front().name;
  }
  return true;
}

} // namespace

config_result load_config(int argc, char** argv, config& out) {
  po::options_description desc("blastd — marketing blasts tracked through the funnel\n\nOptions");
  std::string config_file, listen, data_dir, level, plugin_dir, default_transport, keys_file;
  bool allow_unauthenticated = false;
  desc.add_options()
    ("help,h", "show this help")
    ("version", "print the version")
    ("config", po::value(&config_file), "JSON configuration file")
    ("listen", po::value(&listen), "host:port to listen on (default 127.0.0.1:8080)")
    ("data-dir", po::value(&data_dir), "folder of the event log (default ./data)")
    ("plugin-dir", po::value(&plugin_dir), "folder of transport plugins (default: plugins/ "
                                          "beside the blastd executable)")
    ("default-transport", po::value(&default_transport), "transport of blasts that name none")
    ("log-level", po::value(&level), "error | warn | info | debug (default info)")
    ("io-threads", po::value(&out.io_threads), "HTTP I/O threads (default 1)")
    ("demo", po::value(&out.demo_recipients)->implicit_value(1000),
     "on an empty data folder, submit a demo blast of N recipients (default 1000)")
    ("actor-threads", po::value(&out.actor_threads), "actor scheduler threads (default 2)")
    ("snapshot-every", po::value(&out.snapshot_every_events),
     "write a state snapshot each time the log grows by N events, so that start-up "
     "replays only the tail (default 1000000; 0 = never)")
    ("api-keys-file", po::value(&keys_file),
     "JSON file holding the API keys (the array the config's \"apiKeys\" takes); replaces "
     "them. Keys are never taken on the command line, where `ps` would show them")
    ("allow-unauthenticated", po::bool_switch(&allow_unauthenticated),
     "run without API keys on a non-loopback address: /api/* open to the network");
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, desc), vm);
    po::notify(vm);
  } catch (const std::exception& e) {
    std::cerr << "blastd: " << e.what() << "\n" << desc << "\n";
    return config_result::exit_error;
  }
  if (vm.count("help")) {
    std::cout << desc << "\n";
    return config_result::exit_ok;
  }
  if (vm.count("version")) {
    std::cout << "blastd 0.1.0\n";
    return config_result::exit_ok;
  }
  std::string error;
  if (!config_file.empty() && !apply_file(config_file, out, error)) {
    std::cerr << "blastd: " << error << "\n";
    return config_result::exit_error;
  }
  // Flags override the file.
  if (!listen.empty() && !parse_listen(listen, out.listen_address, out.listen_port)) {
    std::cerr << "blastd: --listen must be host:port, got '" << listen << "'\n";
    return config_result::exit_error;
  }
  if (!data_dir.empty())
    out.data_dir = data_dir;
  if (!plugin_dir.empty())
    out.plugin_dir = plugin_dir;
  if (!default_transport.empty())
    out.default_transport = default_transport;
  if (out.plugin_dir.empty()) {
    // Beside the executable: build/blastd finds build/plugins from any folder.
    std::error_code ec;
    auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
    out.plugin_dir = ec ? "./plugins" : (exe.parent_path() / "plugins").string();
  }
  if (!level.empty() && !parse_log_level(level, out.level)) {
    std::cerr << "blastd: --log-level must be error, warn, info or debug\n";
    return config_result::exit_error;
  }
  if (!keys_file.empty()) {
    json::value v;
    if (!read_json(keys_file, "API keys file", v, error) ||
        !http::parse_api_keys(v, out.api_keys, error)) {
      std::cerr << "blastd: --api-keys-file: " << error << "\n";
      return config_result::exit_error;
    }
  }
  if (allow_unauthenticated)
    out.allow_unauthenticated = true;
  // Creating blasts messages real people: an API open to the network is
  // something an operator must ask for, not get by omission.
  if (out.api_keys.empty() && !out.allow_unauthenticated && !is_loopback(out.listen_address)) {
    std::cerr << "blastd: no API keys configured and " << out.listen_address
              << " is not a loopback address: anyone who can reach it could create blasts. "
                 "Configure \"apiKeys\" (README: Security), or listen on 127.0.0.1, or pass "
                 "--allow-unauthenticated to run open anyway\n";
    return config_result::exit_error;
  }
  return config_result::run;
}

} // namespace blast::engine
