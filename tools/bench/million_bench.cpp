// million_bench: what one blast of N recipients (1,000,000 by default) costs blastd: the POST,
// memory per tracked recipient, report latency, durable updates, shutdown and restart with replay.
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <functional>
#include <stdexcept>
#include <string>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include <boost/json.hpp>

#include "tools/http_client.hpp"

namespace json = boost::json;

namespace blast::tools::bench {

using steady = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr int report_gets = 2000;
constexpr int updates = 2000;

double seconds_since(steady::time_point t0) {
  return std::chrono::duration<double>(steady::now() - t0).count();
}
double micros_since(steady::time_point t0) { return seconds_since(t0) * 1e6; }

// A failed check or a misbehaving server: the run stops; unwinding stops the child.
struct bench_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The running child, for the watchdog's signal handler, which may only kill(2) it.
std::atomic<pid_t> g_child{0};

extern "C" void on_alarm(int) {
  // The client has no timeouts: killing the server makes a blocked recv return, so a hung
  // request fails the run instead of hanging it.
  static const char msg[] = "\nmillion_bench: watchdog expired, killing blastd\n";
  [[maybe_unused]] auto n = ::write(2, msg, sizeof msg - 1);
  if (pid_t p = g_child.load())
    ::kill(p, SIGKILL);
}

void watchdog(unsigned seconds) { ::alarm(seconds); }  // 0 disarms

// A "VmRSS:"-style field of /proc/PID/status, in MiB.
double status_mib(pid_t pid, const char* field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind(field, 0) == 0)
      return std::strtod(line.c_str() + std::strlen(field), nullptr) / 1024.0;
  throw bench_error(std::string("no ") + field + " for blastd (pid " + std::to_string(pid) + ")");
}

// blastd as a child process: started with fork/exec, its stdout read for the port, its stderr
// appended to a file. Destruction stops it, so every error path stops the child.
class blastd_process {
public:
  blastd_process() = default;
  blastd_process(const blastd_process&) = delete;
  blastd_process& operator=(const blastd_process&) = delete;
  ~blastd_process() { stop(10); }

  void start(const std::string& exe, const std::string& data_dir, const char* level,
             const std::string& stderr_path, unsigned timeout_s) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0)
      throw bench_error(std::string("pipe: ") + std::strerror(errno));
    std::vector<std::string> args{exe,           "--data-dir",  data_dir, "--listen",
                                  "127.0.0.1:0", "--log-level", level};
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

  // SIGTERM, then SIGKILL after timeout_s. Returns the seconds until the exit; `how` says how.
  double stop(double timeout_s, std::string* how = nullptr) {
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

  pid_t pid() const { return pid_; }
  uint16_t port() const { return port_; }
  steady::time_point started() const { return started_; }

private:
  // Reads the banner for the port; the watchdog kills a child that never prints it, which ends
  // the read as would a child that exits early.
  uint16_t wait_for_port(unsigned timeout_s) {
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

  pid_t pid_ = -1;
  std::FILE* out_ = nullptr;
  uint16_t port_ = 0;
  steady::time_point started_;
};

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

// Polls /healthz until 200: the start-up figure ends at the first request actually served.
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

// Plain appends: building a million objects through a JSON DOM would take longer than the POST.
std::string build_body(size_t n) {
  std::string b;
  b.reserve(n * 56 + 128);
  b += "{\"message\":\"Hello {{name}}\",\"blastTag\":\"bench\",\"recipients\":[";
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

struct latency {
  double p50 = 0, p99 = 0, max = 0;
};

latency summarize(std::vector<double> us) {
  std::sort(us.begin(), us.end());
  auto rank = [&](double q) {  // nearest rank: a value that was actually observed
    auto k = static_cast<size_t>(std::ceil(q * static_cast<double>(us.size())));
    return us[std::max<size_t>(k, 1) - 1];
  };
  return {rank(0.50), rank(0.99), us.back()};
}

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
    std::ifstream in(log);
    for (std::string l; std::getline(in, l);) {
      auto at = l.find("replayed ");
      unsigned long long events = 0;
      if (at != std::string::npos &&
          std::sscanf(l.c_str() + at, "replayed %llu events: %*u blasts, %*u recipients in %lf s",
                      &events, &r.replay_s) == 2)
        r.replayed = static_cast<double>(events);
    }
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
  std::printf("\n%-40s %-4s %12s   min .. max over %zu runs\n", "metric", "unit", "median",
              runs.size());
  for (auto& rw : rows) {
    std::vector<double> v;
    for (auto& r : runs)
      if (double x = rw.get(r); !std::isnan(x))
        v.push_back(x);
    if (v.empty())
      continue;  // the replay line was not found in the log
    std::sort(v.begin(), v.end());
    size_t m = v.size() / 2;
    double median = v.size() % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
    std::printf("%-40s %-4s %12.*f   %.*f .. %.*f\n", rw.name.c_str(), rw.unit, rw.decimals,
                median, rw.decimals, v.front(), rw.decimals, v.back());
  }
}

bool parse_args(int argc, char** argv, options& o) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    bool has_value = i + 1 < argc;
    if (a == "--keep")
      o.keep = true;
    else if (a == "--recipients" && has_value)
      o.recipients = std::strtoull(argv[++i], nullptr, 10);
    else if (a == "--runs" && has_value)
      o.runs = std::atoi(argv[++i]);
    else if (a == "--blastd" && has_value)
      o.blastd = argv[++i];
    else
      return false;
  }
  // Eight digits after "601" keep every number unique; the updates need that many recipients.
  return o.recipients >= updates && o.recipients <= 99'999'999 && o.runs >= 1;
}

} // namespace blast::tools::bench

int main(int argc, char** argv) {
  using namespace blast::tools::bench;
  options o;
  if (!parse_args(argc, argv, o)) {
    std::fprintf(stderr, "usage: million_bench [--recipients N] [--runs R] [--keep] "
                         "[--blastd PATH]\n  N: %d..99999999 (default 1000000); R >= 1 (default "
                         "3); --keep leaves the data dirs in /tmp\n",
                 updates);
    return 2;
  }
  struct sigaction sa {};
  sa.sa_handler = on_alarm;
  ::sigaction(SIGALRM, &sa, nullptr);

  std::printf("machine: %s\nblastd:  %s\n", machine().c_str(), o.blastd.c_str());
  auto t0 = steady::now();
  const std::string body = build_body(o.recipients);
  std::printf("body:    %zu recipients, %zu bytes (%.1f MiB), built in %.3f s\n", o.recipients,
              body.size(), static_cast<double>(body.size()) / 1048576.0, seconds_since(t0));
  std::fflush(stdout);

  std::vector<run_result> runs;
  for (int i = 1; i <= o.runs; ++i) {
    char root[] = "/tmp/million_bench-XXXXXX";
    if (!::mkdtemp(root)) {
      std::fprintf(stderr, "million_bench: mkdtemp: %s\n", std::strerror(errno));
      return 1;
    }
    bool ok = true;
    try {
      auto& r = runs.emplace_back(run_once(o, body, root));
      std::printf("run %d/%d: POST %.3f s, RSS %.0f -> %.0f MiB, report p50 %.0f us, "
                  "%.0f updates/s, restart %.3f s; report identical after restart\n",
                  i, o.runs, r.post_s, r.base_rss, r.rss_settled, r.report_us.p50,
                  r.updates_per_s, r.restart_s);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "million_bench: run %d: %s\n", i, e.what());
      ok = false;
    }
    std::error_code ec;
    if (o.keep)
      std::printf("  kept %s\n", root);
    else
      std::filesystem::remove_all(root, ec);
    std::fflush(stdout);
    if (!ok)
      return 1;
  }
  print_table(runs, o.recipients);
  return 0;
}
