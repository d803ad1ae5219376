// Configuration loading: defaults < JSON file < command-line flags.
#include "engine/config.hpp"

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

namespace {

bool apply_file(const std::string& path, config& c, std::string& error) {
  std::ifstream in(path);
  if (!in) {
    error = "cannot read config file '" + path + "'";
    return false;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  json::error_code ec;
  auto v = json::parse(ss.str(), ec);
  if (ec || !v.is_object()) {
    error = "config file '" + path + "' is not a JSON object" + (ec ? ": " + ec.message() : "");
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
                          {"maxRecipients", &c.max_recipients},
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
  // "transports" is read by the plugin host (a later release); accepted here.
  return true;
}

} // namespace

config_result load_config(int argc, char** argv, config& out) {
  po::options_description desc("blastd — marketing blasts tracked through the funnel\n\nOptions");
  std::string config_file, listen, data_dir, level;
  desc.add_options()
    ("help,h", "show this help")
    ("version", "print the version")
    ("config", po::value(&config_file), "JSON configuration file")
    ("listen", po::value(&listen), "host:port to listen on (default 127.0.0.1:8080)")
    ("data-dir", po::value(&data_dir), "folder of the event log (default ./data)")
    ("log-level", po::value(&level), "error | warn | info | debug (default info)")
    ("io-threads", po::value(&out.io_threads), "HTTP I/O threads (default 1)")
    ("actor-threads", po::value(&out.actor_threads), "actor scheduler threads (default 2)");
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
  if (!level.empty() && !parse_log_level(level, out.level)) {
    std::cerr << "blastd: --log-level must be error, warn, info or debug\n";
    return config_result::exit_error;
  }
  return config_result::run;
}

} // namespace blast::engine
