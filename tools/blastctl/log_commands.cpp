// blastctl verify / events: read the event log directly, never through blastd.
#include "tools/blastctl/log_commands.hpp"

#include <unistd.h>

#include <chrono>
#include <iomanip>
#include <iostream>

#include <boost/json.hpp>

#include "storage/event_log.hpp"

namespace json = boost::json;

namespace blast::tools {

namespace {

using steady = std::chrono::steady_clock;

std::unique_ptr<storage::event_log> open_log(const std::string& dir) {
  storage::status st;
  storage::log_options opts;
  // Read-only: the folder is left exactly as found (a missing log is not
  // created), and a log whose tail disagrees with meta still opens, so that
  // verify can name the bad seq instead of refusing.
  opts.audit = true;
  auto log = storage::event_log::open(dir, opts, st);
  if (!log)
    std::cout << "FAIL: " << st.message  // "cannot open event log in DIR: ..."
              << (st.message.find("No such file") != std::string::npos
                    ? " (no event log there? or, if blastd is running on this folder, a file it "
                      "removed during the open, which is not tampering: retry, or use a copy)"
                    : "")
              << "\n";
  return log;
}

// A one-line progress report on stderr, rewritten in place, for logs that
// take more than a moment; silent when stderr is not a terminal (pipes, tests).
class progress_line {
public:
  explicit progress_line(steady::time_point start) : start_(start), on_(::isatty(2) == 1) {}
  ~progress_line() {
    if (shown_)
      std::cerr << "\r\033[K" << std::flush;  // leave the terminal clean for the verdict
  }
  progress_line(const progress_line&) = delete;
  progress_line& operator=(const progress_line&) = delete;

  void update(uint64_t done, uint64_t total) {
    auto now = steady::now();
    using std::chrono::milliseconds;
    if (!on_ || now - start_ < milliseconds(1000) || now - last_ < milliseconds(250))
      return;
    last_ = now;
    shown_ = true;
    std::cerr << "\rverifying: " << done << " of " << total << " events";
    if (total != 0 && done <= total)
      std::cerr << " (" << done * 100 / total << "%)";
    std::cerr << ", " << static_cast<uint64_t>(done / seconds_since(start_, now)) << " events/s"
              << std::flush;
  }

  static double seconds_since(steady::time_point start, steady::time_point now = steady::now()) {
    return std::chrono::duration<double>(now - start).count();
  }

private:
  steady::time_point start_;
  steady::time_point last_{};
  bool on_;
  bool shown_ = false;
};

json::object event_json(const storage::event& e) {
  json::object o{{"seq", e.seq},
                 {"type", storage::to_string(e.type)},
                 {"source", storage::to_string(e.source)},
                 {"timeMs", e.time_ms},
                 {"blast", e.blast},
                 {"recipient", e.recipient},
                 {"prevHash", storage::to_hex(e.prev_hash)}};
  if (!e.message_id.empty())
    o["messageId"] = e.message_id;
  json::error_code ec;
  auto payload = json::parse(e.payload, ec);
  o["payload"] = ec ? json::value(e.payload) : payload;
  return o;
}

} // namespace

int verify_log(const std::string& data_dir) {
  auto log = open_log(data_dir);
  if (!log)
    return 1;
  storage::verify_result r;
  auto start = steady::now();
  storage::status st;
  double seconds = 0;
  {
    progress_line progress{start};
    st = log->verify(&r, [&](uint64_t done, uint64_t total) { progress.update(done, total); });
    seconds = progress_line::seconds_since(start);
  }
  if (!st) {
    std::cout << "FAIL: " << st.message << "\n";
    return 1;
  }
  std::cout << "ok: " << r.events << " events, seq 1.." << r.last_seq
            << " continuous, hash chain intact, meta agrees\n"
            << "last seq: " << r.last_seq << "\n"
            << "chain head: " << storage::to_hex(r.head) << "\n"
            << "verified " << r.events << " events in " << std::fixed << std::setprecision(3)
            << seconds << " s (" << std::setprecision(0)
            << (seconds > 0 ? static_cast<double>(r.events) / seconds : 0.0) << " events/s)\n";
  return 0;
}

int print_events(const events_query& q) {
  auto log = open_log(q.data_dir);
  if (!log)
    return 1;
  auto print = [&](const storage::event& e) {
    if (q.json) {
      std::cout << json::serialize(event_json(e)) << "\n";
    } else {
      std::cout << e.seq << '\t' << e.time_ms << '\t' << storage::to_string(e.type) << '\t'
                << storage::to_string(e.source) << '\t' << e.blast << '/' << e.recipient << '\t'
                << (e.message_id.empty() ? "-" : e.message_id) << '\t' << e.payload << "\n";
    }
    return true;
  };
  auto st = q.blast ? log->scan_stream(*q.blast, q.recipient.value_or(0), print)
                    : log->scan(1, print);
  if (!st) {
    std::cerr << "blastctl: reading the log failed: " << st.message << "\n";
    return 1;
  }
  return 0;
}

} // namespace blast::tools
