// What the benchmarks share: blastd as a child process, a watchdog, /proc readings, HTTP checks,
// the request body of a big blast, their command-line options, and the median / min..max table.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <stdexcept>
#include <functional>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <utility>
#include <variant>
#include <vector>

#include <boost/json.hpp>

#include "tools/http_client.hpp"

namespace blast::tools::bench {

using steady = std::chrono::steady_clock;

double seconds_since(steady::time_point t0);
double micros_since(steady::time_point t0);

// A failed check or a misbehaving server: the run stops; unwinding stops the child.
struct bench_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Installs the SIGALRM handler that kills the running blastd; `program` names the benchmark in
// its message. The client has no timeouts: killing the server makes a blocked recv return, so a
// hung request fails the run instead of hanging it.
void install_watchdog(const char* program);
void watchdog(unsigned seconds);  // 0 disarms

// A "VmRSS:"-style field of /proc/PID/status, in MiB.
double status_mib(pid_t pid, const char* field);

// blastd as a child process: started with fork/exec, its stdout read for the port, its stderr
// appended to a file. Destruction stops it, so every error path stops the child.
class blastd_process {
public:
  blastd_process() = default;
  blastd_process(const blastd_process&) = delete;
  blastd_process& operator=(const blastd_process&) = delete;
  ~blastd_process() { stop(10); }

  // Runs `exe --data-dir DATA --listen 127.0.0.1:0 --log-level LEVEL` followed by `extra`.
  void start(const std::string& exe, const std::string& data_dir, const char* level,
             const std::string& stderr_path, unsigned timeout_s,
             const std::vector<std::string>& extra = {});

  // SIGTERM, then SIGKILL after timeout_s. Returns the seconds until the exit; `how` says how.
  double stop(double timeout_s, std::string* how = nullptr);

  pid_t pid() const { return pid_; }
  uint16_t port() const { return port_; }
  steady::time_point started() const { return started_; }

private:
  uint16_t wait_for_port(unsigned timeout_s);

  pid_t pid_ = -1;
  std::FILE* out_ = nullptr;
  uint16_t port_ = 0;
  steady::time_point started_;
};

// The request, which must answer `status`; anything else is a bench_error naming what came.
http_reply expect(http_client& c, const std::string& method, const std::string& target,
                  const std::string& body, int status);

boost::json::object parse_object(const std::string& body);

// The value of an unlabelled sample `name` (a counter, a gauge, a histogram's _sum or _count)
// in a Prometheus text body such as blastd's /metrics; NAN when it is not there.
double metric_value(const std::string& metrics_body, std::string_view name);

// Polls /healthz until 200: the start-up figure ends at the first request actually served.
void wait_healthy(const blastd_process& p, int timeout_s);

// The last `lines` lines of a file, each on a new line indented by two spaces.
std::string tail(const std::string& path, size_t lines);

// The last "replayed N events: ... in X s" line of blastd's log; NAN where not found.
void find_replay(const std::string& log_path, double& events, double& seconds);

// {"message":"Hello {{name}}","blastTag":"bench","recipients":[...]}: n recipients "Customer i"
// with unique 11-digit numbers 601xxxxxxxx (n <= 99,999,999).
std::string build_body(size_t n, const std::string& transport = {});

// Runs `one(i, folder)` for i = 1..runs, each on a fresh folder under /tmp
// named after `name` (removed afterwards unless `keep`). A run fails by
// throwing; the failure is printed and no further run starts. False then.
bool each_run(const char* name, int runs, bool keep,
              const std::function<void(int, const std::string&)>& one);

// One command-line option: "--name VALUE", or "--name" alone for a bool (which it sets).
struct option {
  const char* name;
  std::variant<bool*, int*, unsigned*, size_t*, double*, std::string*> target;
};

// Parses argv[1..] into the options' targets. False on an unknown option, a missing value or a
// number that does not parse whole; the caller then checks ranges and prints its usage.
bool parse_options(int argc, char** argv, const std::vector<option>& options);

// What every benchmark takes: --recipients N, --runs R, --keep (leave the run folders in /tmp),
// --summary FILE (see print_stats_row).
std::vector<option> common_options(size_t& recipients, int& runs, bool& keep);

// User + system CPU seconds of a process so far (/proc/PID/stat); ::getpid() for this one.
double cpu_seconds(pid_t pid);

// Context switches of a process's live threads so far, voluntary (a thread went to sleep) and
// not (preempted), summed over /proc/PID/task/*/status. On a VM each costs microseconds: the
// figure shows what wake-ups a change adds or removes.
double context_switches(pid_t pid);

// "0.52 0.61 0.70": the load averages over 1, 5 and 15 minutes (/proc/loadavg).
std::string loadavg();

// "2 x AMD EPYC ...".
std::string machine();

struct latency {
  double p50 = 0, p99 = 0, max = 0;
};
latency summarize(std::vector<double> us);

// A closed-loop HTTP load generator, as wrk is: `connections` keep-alive connections to
// 127.0.0.1:port, each sending its next request the moment the previous answer is complete,
// until every request has been sent once (in order: the next unsent one goes out). One thread
// and epoll, so the client's CPU stays small beside the server's on a shared machine; requests
// are whole HTTP/1.1 messages made beforehand (raw_post), so no formatting happens while timed.
// Answers must carry a Content-Length (blastd's API answers do; a chunked one is an error).
struct load_result {
  std::vector<double> us;   // each request's latency: first byte written -> answer complete
  size_t not_2xx = 0;       // answers with another status
  std::string first_error;  // the first non-2xx answer, whole (a socket error throws instead)
  double seconds = 0;       // the first request written -> the last answer read
};
load_result run_closed_loop(uint16_t port, const std::vector<std::string>& requests,
                            unsigned connections);

// "POST target HTTP/1.1" with Host, Content-Type: application/json, Content-Length, `headers`,
// and the body: one request for run_closed_loop.
std::string raw_post(const std::string& target, const std::string& body,
                     const std::vector<std::pair<std::string, std::string>>& headers = {});

// The results table: a header, then one row per metric with the median and the range over the
// runs. NaN values are left out; a row with none is not printed. With --summary FILE, each row
// printed is also appended to FILE as one tab-separated line for tools/bench/suite.sh:
// "name, unit, median, min, max, runs" (numbers with every significant digit), so the suite
// reads the very figures the benchmark printed instead of parsing its table. An indented row is
// a detail of the unindented one above it and is named "that row / this one" there.
void print_stats_header(size_t runs, int name_width = 40);
void print_stats_row(const std::string& name, const char* unit, int decimals,
                     std::vector<double> values, int name_width = 40);

} // namespace blast::tools::bench
