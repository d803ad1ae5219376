// What the benchmarks share; see bench_support.hpp.
#include "tools/bench/bench_support.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <string_view>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <system_error>
#include <thread>
#include <type_traits>
#include <unistd.h>
#include <variant>

namespace json = boost::json;

namespace blast::tools::bench {

using namespace std::chrono_literals;

double seconds_since(steady::time_point t0) {
  return std::chrono::duration<double>(steady::now() - t0).count();
}
double micros_since(steady::time_point t0) { return seconds_since(t0) * 1e6; }

namespace {

// The running child, for the watchdog's signal handler, which may only kill(2) it.
std::atomic<pid_t> g_child{0};
// The handler's message, made before it can run: a handler may not format.
char g_watchdog_msg[128];
size_t g_watchdog_len = 0;

extern "C" void on_alarm(int) {
  [[maybe_unused]] auto n = ::write(2, g_watchdog_msg, g_watchdog_len);
  if (pid_t p = g_child.load())
    ::kill(p, SIGKILL);
}

} // namespace

void install_watchdog(const char* program) {
  int n = std::snprintf(g_watchdog_msg, sizeof g_watchdog_msg,
                        "\n%s: watchdog expired, killing blastd\n", program);
  g_watchdog_len = std::min(static_cast<size_t>(std::max(n, 0)), sizeof g_watchdog_msg - 1);
  struct sigaction sa {};
  sa.sa_handler = on_alarm;
  ::sigaction(SIGALRM, &sa, nullptr);
}

void watchdog(unsigned seconds) { ::alarm(seconds); }

double status_mib(pid_t pid, const char* field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind(field, 0) == 0)
      return std::strtod(line.c_str() + std::strlen(field), nullptr) / 1024.0;
  throw bench_error(std::string("no ") + field + " for blastd (pid " + std::to_string(pid) + ")");
}

void blastd_process::start(const std::string& exe, const std::string& data_dir, const char* level,
                           const std::string& stderr_path, unsigned timeout_s,
                           const std::vector<std::string>& extra) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0)
    throw bench_error(std::string("pipe: ") + std::strerror(errno));
  std::vector<std::string> args{exe,           "--data-dir",  data_dir, "--listen",
                                "127.0.0.1:0", "--log-level", level};
  args.insert(args.end(), extra.begin(), extra.end());
  std::vector<char*> argv;
  for (auto& a : args)
    argv.push_back(a.data());
  argv.push_back(nullptr);
  started_ = steady::now();
  pid_t pid = ::fork();
  if (pid < 0)
    throw bench_error(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    // Dies with the benchmark even when that is killed (Ctrl-C) before it can stop the child.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    int err = ::open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (err < 0 || ::dup2(fds[1], 1) < 0 || ::dup2(err, 2) < 0)
      _exit(127);
    ::execv(exe.c_str(), argv.data());
    _exit(127);
  }
  ::close(fds[1]);
  pid_ = pid;
  out_ = ::fdopen(fds[0], "r");  // open until stop: closing it early could SIGPIPE blastd
  g_child = pid;
  port_ = wait_for_port(timeout_s);
}

double blastd_process::stop(double timeout_s, std::string* how) {
  if (pid_ <= 0)
    return 0;
  auto t0 = steady::now();
  ::kill(pid_, SIGTERM);
  int status = 0;
  bool exited = false;
  while (!(exited = ::waitpid(pid_, &status, WNOHANG) == pid_) && seconds_since(t0) < timeout_s)
    std::this_thread::sleep_for(1ms);  // the resolution of the shutdown figure
  double took = seconds_since(t0);
  if (!exited) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, &status, 0);
  }
  if (how)
    *how = !exited              ? "no exit after SIGTERM within the timeout; SIGKILLed"
           : WIFEXITED(status) ? "exit code " + std::to_string(WEXITSTATUS(status))
                               : "killed by signal " + std::to_string(WTERMSIG(status));
  g_child = 0;
  pid_ = -1;
  std::fclose(out_);
  out_ = nullptr;
  return took;
}

// Reads the banner for the port; the watchdog kills a child that never prints it, which ends
// the read as would a child that exits early.
uint16_t blastd_process::wait_for_port(unsigned timeout_s) {
  static const std::string marker = "blastd listening on ";
  watchdog(timeout_s);
  char line[512];
  while (std::fgets(line, sizeof line, out_)) {
    std::string l = line, host;
    uint16_t port = 0;
    if (l.rfind(marker, 0) != 0)
      continue;
    watchdog(0);
    if (!parse_base_url(l.substr(marker.size(), l.find_last_not_of("\r\n") + 1 - marker.size()),
                        host, port))
      throw bench_error("cannot parse blastd's banner: " + l);
    return port;
  }
  watchdog(0);
  std::string how;
  stop(5, &how);
  throw bench_error("blastd exited before listening (" + how + ")");
}

http_reply expect(http_client& c, const std::string& method, const std::string& target,
                  const std::string& body, int status) {
  auto r = c.request(method, target, body);
  if (r.status != status)
    throw bench_error(method + " " + target + ": expected " + std::to_string(status) + ", got " +
                      (r.status ? std::to_string(r.status) + " " + r.body.substr(0, 400)
                                : "no response (" + r.error + ")"));
  return r;
}

json::object parse_object(const std::string& body) {
  json::error_code ec;
  auto v = json::parse(body, ec);
  if (ec || !v.is_object())
    throw bench_error("not a JSON object: " + body.substr(0, 400));
  return std::move(v.as_object());
}

void wait_healthy(const blastd_process& p, int timeout_s) {
  while (seconds_since(p.started()) < timeout_s) {
    http_client c("127.0.0.1", p.port());
    if (c.get("/healthz").status == 200)
      return;
    std::this_thread::sleep_for(1ms);
  }
  throw bench_error("GET /healthz did not answer 200 within " + std::to_string(timeout_s) + " s");
}

std::string tail(const std::string& path, size_t lines) {
  std::ifstream in(path);
  std::vector<std::string> all;
  for (std::string l; std::getline(in, l);)
    all.push_back(l);
  std::string out;
  for (size_t i = all.size() > lines ? all.size() - lines : 0; i < all.size(); ++i)
    out += "\n  " + all[i];
  return out;
}

void find_replay(const std::string& log_path, double& events, double& seconds) {
  events = seconds = NAN;
  std::ifstream in(log_path);
  for (std::string l; std::getline(in, l);) {
    auto at = l.find("replayed ");
    unsigned long long n = 0;
    double s = 0;
    if (at != std::string::npos &&
        std::sscanf(l.c_str() + at, "replayed %llu events: %*u blasts, %*u recipients in %lf s",
                    &n, &s) == 2) {
      events = static_cast<double>(n);
      seconds = s;
    }
  }
}

bool each_run(const char* name, int runs, bool keep,
              const std::function<void(int, const std::string&)>& one) {
  for (int i = 1; i <= runs; ++i) {
    std::string root = std::string("/tmp/") + name + "-XXXXXX";
    if (!::mkdtemp(root.data())) {
      std::fprintf(stderr, "%s: mkdtemp: %s\n", name, std::strerror(errno));
      return false;
    }
    bool ok = true;
    try {
      one(i, root);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "%s: run %d: %s\n", name, i, e.what());
      ok = false;
    }
    std::error_code ec;
    if (keep)
      std::printf("  kept %s\n", root.c_str());
    else
      std::filesystem::remove_all(root, ec);
    std::fflush(stdout);
    if (!ok)
      return false;
  }
  return true;
}

// Plain appends: building a million objects through a JSON DOM would take longer than the POST.
std::string build_body(size_t n, const std::string& transport) {
  std::string b;
  b.reserve(n * 56 + 128);
  b += "{\"message\":\"Hello {{name}}\",\"blastTag\":\"bench\",";
  if (!transport.empty())
    b += "\"transport\":\"" + transport + "\",";
  b += "\"recipients\":[";
  char digits[24];
  for (size_t i = 1; i <= n; ++i) {
    auto end = std::to_chars(digits, digits + sizeof digits, i).ptr;
    b += i == 1 ? "{\"phoneNumber\":\"601" : ",{\"phoneNumber\":\"601";
    b.append(8 - static_cast<size_t>(end - digits), '0');  // 11 digits, unique per i
    b.append(digits, end);
    b += "\",\"name\":\"Customer ";
    b.append(digits, end);
    b += "\"}";
  }
  b += "]}";
  return b;
}

bool parse_options(int argc, char** argv, const std::vector<option>& options) {
  for (int i = 1; i < argc; ++i) {
    auto it = std::find_if(options.begin(), options.end(),
                           [&](const option& o) { return std::strcmp(o.name, argv[i]) == 0; });
    if (it == options.end())
      return false;
    if (auto* flag = std::get_if<bool*>(&it->target)) {
      **flag = true;
      continue;
    }
    if (++i == argc)
      return false;
    std::string_view v = argv[i];
    auto whole = [&](auto& x) {  // "12x", " 12" and "" are errors, not 12 or 0
      auto r = std::from_chars(v.data(), v.data() + v.size(), x);
      return r.ec == std::errc() && r.ptr == v.data() + v.size();
    };
    bool ok = std::visit(
      [&](auto* t) {
        using T = std::remove_pointer_t<decltype(t)>;
        if constexpr (std::is_same_v<T, std::string>) {
          *t = std::string(v);
          return true;
        } else if constexpr (std::is_same_v<T, bool>) {
          return false;  // handled above
        } else {
          return whole(*t);
        }
      },
      it->target);
    if (!ok)
      return false;
  }
  return true;
}

std::vector<option> common_options(size_t& recipients, int& runs, bool& keep) {
  return {{"--recipients", &recipients}, {"--runs", &runs}, {"--keep", &keep}};
}

std::string machine() {
  std::ifstream in("/proc/cpuinfo");
  std::string model = "unknown CPU";
  for (std::string l; std::getline(in, l);)
    if (l.rfind("model name", 0) == 0) {
      model = l.substr(l.find(':') + 2);
      break;
    }
  return std::to_string(::sysconf(_SC_NPROCESSORS_ONLN)) + " x " + model;
}

latency summarize(std::vector<double> us) {
  std::sort(us.begin(), us.end());
  auto rank = [&](double q) {  // nearest rank: a value that was actually observed
    auto k = static_cast<size_t>(std::ceil(q * static_cast<double>(us.size())));
    return us[std::max<size_t>(k, 1) - 1];
  };
  return {rank(0.50), rank(0.99), us.back()};
}

void print_stats_header(size_t runs, int name_width) {
  std::printf("\n%-*s %-4s %12s   min .. max over %zu runs\n", name_width, "metric", "unit",
              "median", runs);
}

void print_stats_row(const std::string& name, const char* unit, int decimals,
                     std::vector<double> values, int name_width) {
  values.erase(std::remove_if(values.begin(), values.end(), [](double x) { return std::isnan(x); }),
               values.end());
  if (values.empty())
    return;
  std::sort(values.begin(), values.end());
  size_t m = values.size() / 2;
  double median = values.size() % 2 ? values[m] : (values[m - 1] + values[m]) / 2;
  std::printf("%-*s %-4s %12.*f   %.*f .. %.*f\n", name_width, name.c_str(), unit, decimals,
              median, decimals, values.front(), decimals, values.back());
}

} // namespace blast::tools::bench
