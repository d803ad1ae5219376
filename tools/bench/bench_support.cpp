// What the benchmarks share; see bench_support.hpp.
#include "tools/bench/bench_support.hpp"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
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

// --summary FILE, shared by every benchmark through common_options; empty: no summary.
std::string g_summary;
// The last unindented row printed: an indented row ("  rate") is a detail of it, and is named
// "parent / rate" in the summary, where it stands alone.
std::string g_section;

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
  return {{"--recipients", &recipients}, {"--runs", &runs}, {"--keep", &keep},
          {"--summary", &g_summary}};
}

double metric_value(const std::string& metrics_body, std::string_view name) {
  for (size_t at = 0; at < metrics_body.size();) {
    size_t end = metrics_body.find('\n', at);
    if (end == std::string::npos)
      end = metrics_body.size();
    std::string_view line{metrics_body.data() + at, end - at};
    if (line.size() > name.size() && line.substr(0, name.size()) == name &&
        line[name.size()] == ' ')
      return std::strtod(std::string(line.substr(name.size() + 1)).c_str(), nullptr);
    at = end + 1;
  }
  return NAN;
}

double cpu_seconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto close = s.rfind(')');  // the command name may hold spaces and parentheses
  if (close == std::string::npos)
    throw bench_error("cannot read /proc/" + std::to_string(pid) + "/stat");
  std::istringstream fields(s.substr(close + 2));
  std::string skip;
  for (int i = 3; i < 14; ++i)  // state (field 3) .. cmajflt (field 13)
    fields >> skip;
  double utime = 0, stime = 0;
  fields >> utime >> stime;
  return (utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

double context_switches(pid_t pid) {
  double total = 0;
  std::error_code ec;
  for (auto& task : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec)) {
    std::ifstream in(task.path() / "status");
    for (std::string line; std::getline(in, line);)
      if (line.rfind("voluntary_ctxt_switches:", 0) == 0 ||
          line.rfind("nonvoluntary_ctxt_switches:", 0) == 0)
        total += std::strtod(line.c_str() + line.find(':') + 1, nullptr);
  }
  if (ec)
    throw bench_error("cannot list /proc/" + std::to_string(pid) + "/task: " + ec.message());
  return total;
}

std::string loadavg() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  in >> a >> b >> c;
  return a + " " + b + " " + c;
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

std::string raw_post(const std::string& target, const std::string& body,
                     const std::vector<std::pair<std::string, std::string>>& headers) {
  std::string r = "POST " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                  "Content-Type: application/json\r\nContent-Length: " +
                  std::to_string(body.size()) + "\r\n";
  for (auto& [k, v] : headers)
    r += k + ": " + v + "\r\n";
  return r + "\r\n" + body;
}

namespace {

// One connection of the load generator: the request it is writing (index, bytes written), then
// the answer it is reading.
struct load_conn {
  int fd = -1;
  size_t request = SIZE_MAX;  // SIZE_MAX: idle, nothing left to send
  size_t written = 0;
  bool want_out = false;  // EPOLLOUT asked for: the request did not go in one write
  std::string in;
  steady::time_point t0;
};

int connect_loopback(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    throw bench_error(std::string("socket: ") + std::strerror(errno));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);  // small requests, no Nagle wait
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    int e = errno;
    ::close(fd);
    throw bench_error(std::string("connect: ") + std::strerror(e));
  }
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  return fd;
}

// The length of the complete answer at the start of `in`, 0 while incomplete; its status in
// `status`. Throws on what this client does not read (no Content-Length).
size_t complete_answer(const std::string& in, int& status) {
  auto end = in.find("\r\n\r\n");
  if (end == std::string::npos)
    return 0;
  if (in.size() < 12 || in.compare(0, 5, "HTTP/") != 0)
    throw bench_error("not an HTTP answer: " + in.substr(0, 80));
  status = std::atoi(in.c_str() + 9);
  size_t length = SIZE_MAX;
  for (size_t line = in.find("\r\n") + 2; line < end;) {
    size_t eol = in.find("\r\n", line);
    static constexpr std::string_view name = "content-length:";
    if (eol - line > name.size() &&
        std::equal(name.begin(), name.end(), in.begin() + static_cast<long>(line),
                   [](char a, char b) { return a == std::tolower(static_cast<unsigned char>(b)); }))
      length = std::strtoul(in.c_str() + line + name.size(), nullptr, 10);
    line = eol + 2;
  }
  if (length == SIZE_MAX)
    throw bench_error("an answer without Content-Length: " + in.substr(0, end));
  return in.size() >= end + 4 + length ? end + 4 + length : 0;
}

} // namespace

load_result run_closed_loop(uint16_t port, const std::vector<std::string>& requests,
                            unsigned connections) {
  load_result r;
  r.us.reserve(requests.size());
  std::vector<load_conn> conns(std::max(1u, connections));
  int ep = ::epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0)
    throw bench_error(std::string("epoll_create1: ") + std::strerror(errno));
  size_t next = 0, in_flight = 0;
  auto cleanup = [&] {
    for (auto& c : conns)
      if (c.fd >= 0)
        ::close(c.fd);
    ::close(ep);
  };
  // Writes what it can of the connection's request; EPOLLOUT is asked for only while some of
  // it is left (a request of a few hundred bytes goes in one write).
  auto pump = [&](size_t k) {
    auto& c = conns[k];
    const std::string& req = requests[c.request];
    while (c.written < req.size()) {
      ssize_t n = ::send(c.fd, req.data() + c.written, req.size() - c.written, MSG_NOSIGNAL);
      if (n < 0 && errno == EAGAIN)
        break;
      if (n <= 0)
        throw bench_error(std::string("send: ") + std::strerror(errno));
      c.written += static_cast<size_t>(n);
    }
    if (bool want = c.written < req.size(); want != c.want_out) {
      epoll_event ev{};
      ev.events = EPOLLIN | (want ? EPOLLOUT : 0u);
      ev.data.u64 = k;
      ::epoll_ctl(ep, EPOLL_CTL_MOD, c.fd, &ev);
      c.want_out = want;
    }
  };
  auto start_next = [&](size_t k) {
    auto& c = conns[k];
    if (next == requests.size()) {
      c.request = SIZE_MAX;
      return;
    }
    c.request = next++;
    c.written = 0;
    ++in_flight;
    c.t0 = steady::now();
    pump(k);
  };
  try {
    for (size_t k = 0; k < conns.size(); ++k) {
      conns[k].fd = connect_loopback(port);
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.u64 = k;
      ::epoll_ctl(ep, EPOLL_CTL_ADD, conns[k].fd, &ev);
    }
    auto t0 = steady::now();
    for (size_t k = 0; k < conns.size(); ++k)
      start_next(k);
    std::vector<epoll_event> events(conns.size());
    char buf[16384];
    while (in_flight > 0) {
      int n = ::epoll_wait(ep, events.data(), static_cast<int>(events.size()), -1);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        throw bench_error(std::string("epoll_wait: ") + std::strerror(errno));
      for (int e = 0; e < n; ++e) {
        size_t k = events[e].data.u64;
        auto& c = conns[k];
        if (events[e].events & EPOLLOUT)
          pump(k);
        if (!(events[e].events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
          continue;
        if (c.request == SIZE_MAX) {  // done, waiting for the others: an idle close is fine
          ::epoll_ctl(ep, EPOLL_CTL_DEL, c.fd, nullptr);
          continue;
        }
        // A short read means the socket is drained for now (epoll is level-triggered, so what
        // comes later wakes it again): no extra recv just to see EAGAIN.
        for (;;) {
          ssize_t got = ::recv(c.fd, buf, sizeof buf, 0);
          if (got < 0 && errno == EAGAIN)
            break;
          if (got <= 0)
            throw bench_error(got == 0 ? "blastd closed a connection"
                                       : std::string("recv: ") + std::strerror(errno));
          c.in.append(buf, static_cast<size_t>(got));
          if (static_cast<size_t>(got) < sizeof buf)
            break;
        }
        int status = 0;
        size_t len = complete_answer(c.in, status);
        if (len == 0)
          continue;
        r.us.push_back(micros_since(c.t0));
        if (status < 200 || status > 299) {
          if (r.not_2xx++ == 0)
            r.first_error = c.in.substr(0, len);
        }
        c.in.erase(0, len);
        --in_flight;
        start_next(k);
      }
    }
    r.seconds = seconds_since(t0);
  } catch (...) {
    cleanup();
    throw;
  }
  cleanup();
  return r;
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
  std::string key = name;
  if (auto first = name.find_first_not_of(' '); first == 0 || first == std::string::npos)
    g_section = name;
  else
    key = g_section + " / " + name.substr(first);
  if (g_summary.empty())
    return;
  // Appended, not truncated: the suite gives each benchmark a file of its own, and a benchmark
  // that prints several tables (or is run twice) adds to it.
  std::FILE* f = std::fopen(g_summary.c_str(), "a");
  if (!f)
    throw bench_error("--summary " + g_summary + ": " + std::strerror(errno));
  std::fprintf(f, "%s\t%s\t%.17g\t%.17g\t%.17g\t%zu\n", key.c_str(), unit, median,
               values.front(), values.back(), values.size());
  std::fclose(f);
}

} // namespace blast::tools::bench
