// startup_bench: what start-up costs on a big log (1,000,000 recipients, 5,000,000 events): the
// fold's rate over the whole log, start-up without a snapshot, and from one with a tail.
//
// Each phase runs in a child process of its own (fork, no exec), so that its peak RSS is its own
// (wait4's ru_maxrss) and no phase warms the next one's heap. This process stays single-threaded
// and never opens the log, so forking it is safe.
#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <iterator>
#include <map>
#include <memory>
#include <string>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

#include "actors/blast_state.hpp"
#include "actors/clock.hpp"
#include "actors/message_template.hpp"
#include "actors/replay.hpp"
#include "actors/service.hpp"
#include "actors/snapshot.hpp"
#include "storage/event_log.hpp"
#include "tools/bench/bench_support.hpp"

namespace blast::tools::bench {

namespace fs = std::filesystem;
using actors::stage;
using storage::event_source;

struct options {
  size_t recipients = 1'000'000;
  size_t events = 5'000'000;
  size_t tail = 0;  // 0: a tenth of the events
  int runs = 3;
  bool keep = false;
  std::string replay_only;  // a data folder: only fold it, in this process (for perf record)
  std::string reuse;        // a log folder an earlier --keep left: measure it again
};

// ---------------------------------------------------------------------------------------------
// Phases as child processes.

// What a phase reports: "name value" pairs, numbers printed with every digit.
class figures {
public:
  void set(const std::string& k, double v) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "%.17g", v);
    values_[k] = buf;
  }
  void set(const std::string& k, std::string v) { values_[k] = std::move(v); }
  double num(const std::string& k) const { return std::strtod(str(k).c_str(), nullptr); }
  const std::string& str(const std::string& k) const {
    auto it = values_.find(k);
    if (it == values_.end())
      throw bench_error("a phase did not report '" + k + "'");
    return it->second;
  }
  std::string encode() const {
    std::string out;
    for (auto& [k, v] : values_)
      out += k + ' ' + v + '\n';
    return out;
  }
  static figures decode(const std::string& text) {
    figures f;
    size_t at = 0;
    while (at < text.size()) {
      auto nl = text.find('\n', at);
      auto line = text.substr(at, nl - at);
      auto sp = line.find(' ');
      if (sp != std::string::npos)
        f.values_[line.substr(0, sp)] = line.substr(sp + 1);
      at = nl == std::string::npos ? text.size() : nl + 1;
    }
    return f;
  }
  double peak_mib = NAN;  // the child's ru_maxrss

private:
  std::map<std::string, std::string> values_;
};

// Runs `fn` in a forked child that dies with us and after `timeout_s` (SIGALRM's default
// action); returns what it reported and its peak RSS. A throw in the child, or its death, is a
// bench_error here. `fn` must close what it opens: the child leaves through _exit.
figures in_child(const char* what, unsigned timeout_s, const std::function<void(figures&)>& fn) {
  std::fflush(stdout);
  std::fflush(stderr);
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0)
    throw bench_error(std::string("pipe: ") + std::strerror(errno));
  pid_t pid = ::fork();
  if (pid < 0)
    throw bench_error(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    ::close(fds[0]);
    ::alarm(timeout_s);
    std::string out;
    int code = 0;
    try {
      figures f;
      fn(f);
      out = f.encode();
    } catch (const std::exception& e) {
      out = e.what();
      code = 1;
    }
    for (size_t at = 0; at < out.size();) {
      auto n = ::write(fds[1], out.data() + at, out.size() - at);
      if (n <= 0)
        break;
      at += static_cast<size_t>(n);
    }
    std::fflush(stdout);
    std::fflush(stderr);
    ::_exit(code);
  }
  ::close(fds[1]);
  std::string text;
  char buf[4096];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) != 0;) {
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      break;
    text.append(buf, static_cast<size_t>(n));
  }
  ::close(fds[0]);
  int status = 0;
  struct rusage ru {};
  while (::wait4(pid, &status, 0, &ru) < 0 && errno == EINTR) {
  }
  if (WIFSIGNALED(status))
    throw bench_error(std::string(what) + ": killed by signal " + std::to_string(WTERMSIG(status)) +
                      (WTERMSIG(status) == SIGALRM
                         ? " (took longer than " + std::to_string(timeout_s) + " s)"
                         : ""));
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    throw bench_error(std::string(what) + ": " + text);
  auto f = figures::decode(text);
  f.peak_mib = static_cast<double>(ru.ru_maxrss) / 1024.0;  // KiB on Linux
  return f;
}

// CPU seconds of this thread or of this whole process: with other work on the machine, the
// fold's rate by CPU time is steadier than by wall time.
double cpu_s(clockid_t which) {
  timespec ts{};
  ::clock_gettime(which, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// This process's VmHWM (peak RSS so far), MiB: a peak within a phase, before its last steps.
double hwm_mib() {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("VmHWM:", 0) == 0)
      return std::strtod(line.c_str() + 6, nullptr) / 1024.0;
  return NAN;
}

// An existing log (not `create`) opens as blastd's start-up opens it: compactions wait until
// the caller's replay is done (storage::log_options::defer_compactions) and resume_compactions().
std::unique_ptr<storage::event_log> open_log(const std::string& dir, bool create, bool sync) {
  storage::log_options lo;
  lo.create = create;
  lo.sync = sync;
  lo.defer_compactions = !create;
  storage::status st;
  auto log = storage::event_log::open(dir, lo, st);
  if (!log)
    throw bench_error("cannot open the log in " + dir + ": " + st.message);
  return log;
}

void resume_compactions(storage::event_log& log) {
  if (auto st = log.resume_compactions(); !st)
    throw bench_error("resume_compactions: " + st.message);
}

// A state's bytes, named by their SHA-256: phases in different processes compare states by it.
std::string digest(const std::string& bytes) {
  return storage::to_hex(storage::chain_hash(0, bytes));
}

std::string counts_text(const std::array<uint64_t, actors::stage_count>& c) {
  std::string s;
  for (size_t i = 0; i < c.size(); ++i)
    s += (i ? "," : "") + std::to_string(c[i]);
  return s;
}

// ---------------------------------------------------------------------------------------------
// The log: written straight through storage with the actors' own event makers, the funnel's
// from/to/outcome decided by blast_state::apply_status as the engine decides them.

constexpr uint64_t blast_id = 1;
constexpr size_t append_batch = 10'000;
constexpr uint32_t block = 1000;  // recipients per step of the pipeline below
// How many blocks each kind of evidence trails the sends by: sends go out block after block
// while the statuses of earlier blocks come back, as they would in time.
constexpr int lag_ack = 1, lag_outcome = 2, lag_read = 5, lag_reply = 20, lag_close = 60;
// Shares of all recipients (replied and closed are subsets of read and replied).
constexpr double share_failed = 0.04, share_read = 0.70, share_replied = 0.30, share_closed = 0.10;
// Events per recipient besides the provider's "sent" acknowledgement: two for the send, one
// delivered-or-failed, then read, replied, closed.
constexpr double base_per_recipient = 3 + share_read + share_replied + share_closed;

uint64_t mix(uint64_t x) {  // splitmix64: the recipient's fate, the same every run
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}
double uniform(uint64_t h) { return static_cast<double>(h >> 11) * 0x1p-53; }

struct fate {
  bool ack = false, failed = false, read = false, replied = false, closed = false;
  uint64_t h = 0;
};
fate fate_of(uint32_t id, double p_ack) {
  fate f;
  f.h = mix(id);
  f.failed = uniform(f.h) < share_failed;
  f.read = !f.failed && uniform(mix(f.h ^ 1)) < share_read / (1 - share_failed);
  f.replied = f.read && uniform(mix(f.h ^ 2)) < share_replied / share_read;
  f.closed = f.replied && uniform(mix(f.h ^ 3)) < share_closed / share_replied;
  f.ack = uniform(mix(f.h ^ 4)) < p_ack;
  return f;
}

actors::blast_spec make_spec(size_t n) {
  actors::blast_spec spec;
  spec.message = "Hello {{name}}, your {{vars.tier}} offer is waiting. Reply YES to hear more.";
  spec.tag = "startup-bench";
  spec.transport = "sim";  // not configured at start-up: its blast sends nothing
  spec.recipients.reserve(n);
  for (size_t i = 1; i <= n; ++i) {
    actors::recipient_input r;
    r.phone = 60'100'000'000ull + i;
    r.name = "Customer " + std::to_string(i);
    if (i % 4 == 0)
      r.vars_json = "{\"tier\":\"gold\",\"visits\":" + std::to_string(i % 97) + "}";
    spec.recipients.push_back(std::move(r));
  }
  return spec;
}

class log_writer {
public:
  log_writer(storage::event_log& log, uint64_t target) : log_(log), target_(target) {
    batch_.reserve(append_batch);
  }
  bool full() const { return written_ >= target_; }
  uint64_t written() const { return written_; }
  uint64_t payload_bytes() const { return payload_bytes_; }
  // False, and nothing written, once the log holds its target.
  bool emit(storage::event e) {
    if (full())
      return false;
    payload_bytes_ += e.payload.size() + e.message_id.size();
    batch_.push_back(std::move(e));
    ++written_;
    if (batch_.size() == append_batch)
      flush();
    return true;
  }
  void append_whole(std::vector<storage::event>& events) {  // one submission, as the engine does
    flush();
    for (auto& e : events)
      payload_bytes_ += e.payload.size();
    check(log_.append(events));
    written_ += events.size();
  }
  void flush() {
    if (batch_.empty())
      return;
    check(log_.append(batch_));
    batch_.clear();
  }

private:
  static void check(const storage::status& st) {
    if (!st)
      throw bench_error("append failed: " + st.message);
  }
  storage::event_log& log_;
  uint64_t target_;
  uint64_t written_ = 0, payload_bytes_ = 0;
  std::vector<storage::event> batch_;
};

// The raw fragment a WSAPME-shaped push carries (see plugins/sim).
std::string status_raw(const std::string& event_id, const std::string& to, const std::string& id,
                       const char* status, int code, int64_t t) {
  return "{\"event\":\"message.status\",\"eventId\":\"" + event_id +
         "\",\"data\":{\"key\":{\"remoteJid\":\"" + to + "@s.whatsapp.net\",\"fromMe\":true,\"id\":\"" +
         id + "\"},\"status\":\"" + status + "\",\"statusCode\":" + std::to_string(code) +
         ",\"timestamp\":" + std::to_string(t / 1000) + "}}";
}

void generate(const std::string& dir, const options& o, figures& f) {
  auto t0 = steady::now();
  auto log = open_log(dir, true, false);  // no fsync per batch: the generation is not measured
  const size_t n = o.recipients;
  const int64_t base = actors::now_ms() - 6 * 3'600'000;

  actors::blast_state b;
  auto created = actors::make_blast_events(make_spec(n), blast_id, base);
  for (auto& e : created)
    if (!b.apply(e))
      throw bench_error("make_blast_events wrote an event blast_state does not apply");
  const double per_recipient =
    (static_cast<double>(o.events) - static_cast<double>(created.size()) - 1) / static_cast<double>(n);
  const double p_ack = std::clamp(per_recipient - base_per_recipient, 0.0, 1.0);
  log_writer w(*log, o.events);
  w.append_whole(created);
  created = {};

  std::map<std::string, uint64_t> kinds;
  auto send_time = [&](uint32_t id) { return base + int64_t{id} * 3; };
  auto message_id = [](uint32_t id) { return "sim-" + std::to_string(id); };
  auto status = [&](uint32_t id, stage s, int64_t t, const char* provider, int code,
                    const char* step) {
    actors::status_evidence ev;
    ev.observed = s;
    ev.time_ms = t;
    if (s == stage::closed) {  // an agent closes the conversation by hand
      ev.source = event_source::manual;
      ev.note = "closed by agent";
    } else {
      auto mid = message_id(id), to = std::to_string(b.phone(id));
      ev.source = event_source::transport;
      ev.provider_status = provider;
      ev.event_id = mid + "-" + step;
      ev.raw = s == stage::replied
                 ? "{\"event\":\"message\",\"eventId\":\"" + ev.event_id +
                     "\",\"type\":\"text\",\"message\":\"Yes, interested\",\"from\":\"" + to +
                     "@c.us\",\"timestamp\":" + std::to_string(t / 1000) + ",\"quotedId\":\"" +
                     mid + "\"}"
                 : status_raw(ev.event_id, to, mid, provider, code, t);
    }
    auto from = b.funnel_of(id).current;
    auto out = b.apply_status(id, s, t);
    if (!w.emit(actors::make_status_event(blast_id, id, ev, from, b.funnel_of(id).current, out)))
      return false;
    ++kinds[s == stage::sent ? "ack" : actors::to_string(s)];  // "sent": a duplicate of the send
    return true;
  };
  auto sends = [&](uint32_t id) {
    auto t = send_time(id);
    auto req = actors::make_send_requested(
      blast_id, id, 1, actors::render_message(b.def.message, b.name(id), b.vars_json(id), b.phone(id)),
      t);
    b.apply(req);
    if (!w.emit(std::move(req)))
      return false;
    auto to = std::to_string(b.phone(id)), mid = message_id(id);
    auto doc = "{\"key\":{\"remoteJid\":\"" + to + "@s.whatsapp.net\",\"fromMe\":true,\"id\":\"" +
               mid + "\"},\"messageTimestamp\":\"" + std::to_string(t / 1000) +
               "\",\"status\":\"PENDING\"}";
    auto ok = actors::make_send_succeeded(blast_id, id, mid, doc, t + 40);
    b.apply(ok);
    if (!w.emit(std::move(ok)))
      return false;
    ++kinds["sends"];
    return true;
  };
  // One kind of evidence for the recipients of block k (none outside the blast).
  auto for_block = [&](long k, const std::function<bool(uint32_t, const fate&)>& each) {
    if (k < 0 || static_cast<size_t>(k) * block >= n)
      return true;
    auto first = static_cast<uint32_t>(k * block + 1);
    auto last = static_cast<uint32_t>(std::min<size_t>(n, (k + 1) * size_t{block}));
    for (uint32_t id = first; id <= last; ++id)
      if (!each(id, fate_of(id, p_ack)))
        return false;
    return true;
  };
  const long blocks = static_cast<long>((n + block - 1) / block);
  for (long k = 0; k < blocks + lag_close && !w.full(); ++k) {
    for_block(k, [&](uint32_t id, const fate&) { return sends(id); });
    if (k == blocks - 1 && !w.full()) {  // every send has an outcome: the engine completes it
      auto done = actors::make_blast_status(blast_id, actors::blast_status::completed,
                                            "every recipient has an outcome",
                                            event_source::system, send_time(uint32_t(n)) + 50);
      b.apply(done);
      w.emit(std::move(done));
    }
    for_block(k - lag_ack, [&](uint32_t id, const fate& x) {
      return !x.ack || status(id, stage::sent, send_time(id) + 900, "SERVER_ACK", 2, "sent");
    });
    for_block(k - lag_outcome, [&](uint32_t id, const fate& x) {
      auto t = send_time(id) + 3000 + int64_t(x.h % 5000);
      return x.failed ? status(id, stage::failed, t, "ERROR", 0, "failed")
                      : status(id, stage::delivered, t, "DELIVERY_ACK", 3, "delivered");
    });
    for_block(k - lag_read, [&](uint32_t id, const fate& x) {
      return !x.read ||
             status(id, stage::read, send_time(id) + 60'000 + int64_t(x.h % 1'800'000), "READ", 4,
                    "read");
    });
    for_block(k - lag_reply, [&](uint32_t id, const fate& x) {
      return !x.replied || status(id, stage::replied,
                                  send_time(id) + 300'000 + int64_t(x.h % 3'300'000), "message",
                                  0, "reply");
    });
    for_block(k - lag_close, [&](uint32_t id, const fate& x) {
      return !x.closed || status(id, stage::closed, send_time(id) + 7'200'000, "", 0, "");
    });
  }
  // Short of the target (more events than the funnel gives): agents confirm stages by hand.
  for (uint32_t id = 1; !w.full(); id = id % uint32_t(n) + 1) {
    actors::status_evidence ev;
    ev.observed = b.funnel_of(id).current;
    ev.time_ms = send_time(id) + 9'000'000;
    ev.source = event_source::manual;
    ev.note = "confirmed by agent";
    if (ev.observed == stage::pending)
      ev.observed = stage::sent;
    auto from = b.funnel_of(id).current;
    auto out = b.apply_status(id, ev.observed, ev.time_ms);
    w.emit(actors::make_status_event(blast_id, id, ev, from, b.funnel_of(id).current, out));
    ++kinds["confirmed"];
  }
  w.flush();
  f.set("events", static_cast<double>(w.written()));
  f.set("recipients", static_cast<double>(n));
  f.set("last_seq", static_cast<double>(log->last_seq()));
  f.set("payload_mib", static_cast<double>(w.payload_bytes()) / 1048576.0);
  f.set("p_ack", p_ack);
  std::string k;
  for (auto& [name, count] : kinds)
    k += (k.empty() ? "" : ",") + name + "=" + std::to_string(count);
  f.set("kinds", k);
  f.set("counts", counts_text(b.counts()));
  auto t = steady::now();
  log.reset();  // flushes the memtables: part of making the log
  f.set("close_s", seconds_since(t));
  f.set("seconds", seconds_since(t0));
}

// Opens the log made above and waits until the compactions RocksDB starts on opening it have
// finished (their events in the folder's LOG, written by the open), then closes it. Otherwise
// the first phase to open the log would pay for them: a 29 s compaction beside the fold on a
// 2-core machine doubled the first start-up. A log blastd wrote over time has settled long ago.
void settle(const std::string& dir, figures& f) {
  auto t0 = steady::now();
  auto log = open_log(dir, false, true);
  resume_compactions(*log);
  auto count = [](const std::string& text, const char* event) {
    size_t n = 0;
    for (auto at = text.find(event); at != std::string::npos; at = text.find(event, at + 1))
      ++n;
    return n;
  };
  size_t started = 0, quiet = 0;
  for (;;) {
    ::usleep(500'000);
    std::ifstream in(dir + "/LOG");  // this open's own: RocksDB renames the one before
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto s = count(text, "\"event\": \"compaction_started\"") +
             count(text, "\"event\": \"flush_started\"");
    auto done = count(text, "\"event\": \"compaction_finished\"") +
                count(text, "\"event\": \"flush_finished\"");
    quiet = s == done && s == started ? quiet + 1 : 0;
    started = s;
    if (quiet == 4)  // nothing new for 2 s, nothing running
      break;
  }
  f.set("compactions", static_cast<double>(started));
  log.reset();
  f.set("seconds", seconds_since(t0));
}

// ---------------------------------------------------------------------------------------------
// The measured phases.

// The whole log folded by actors::replay, then its state's bytes written as the snapshot at the
// log's end (a zero tail).
void full_replay(const std::string& dir, figures& f) {
  auto t = steady::now();
  auto log = open_log(dir, false, true);
  f.set("open_s", seconds_since(t));
  actors::replayed state;
  std::string error;
  t = steady::now();
  // The fold runs on this thread, the reading and decoding on scan_ahead's.
  auto cpu0 = cpu_s(CLOCK_THREAD_CPUTIME_ID);
  if (!actors::replay(*log, actors::replay_cut{}, state, error))
    throw bench_error("replay: " + error);
  f.set("replay_s", seconds_since(t));
  f.set("replay_cpu_s", cpu_s(CLOCK_THREAD_CPUTIME_ID) - cpu0);
  resume_compactions(*log);
  f.set("hwm_fold_mib", hwm_mib());
  f.set("events", static_cast<double>(state.events));
  f.set("last_seq", static_cast<double>(state.last_seq));
  const size_t id_bytes = 8 * state.event_ids.size();  // as save() writes them: a fingerprint each
  f.set("event_ids", static_cast<double>(state.event_ids.size()));
  f.set("event_id_bytes", static_cast<double>(id_bytes));
  auto& b = state.blasts.at(blast_id);
  f.set("counts", counts_text(b->counts()));
  f.set("recipients", static_cast<double>(b->size()));
  t = steady::now();
  auto bytes = state.save();
  f.set("serialise_s", seconds_since(t));
  f.set("bytes", static_cast<double>(bytes.size()));
  t = steady::now();
  if (auto st = actors::save_snapshot(*log, bytes, state.last_seq); !st)
    throw bench_error("save_snapshot: " + st.message);
  f.set("write_s", seconds_since(t));
  f.set("digest", digest(bytes));
  t = steady::now();
  log.reset();
  f.set("close_s", seconds_since(t));
}

// The snapshot at `seq` (the fold up to it, saved): leaves a tail after it.
void write_snapshot_at(const std::string& dir, uint64_t seq, figures& f) {
  auto log = open_log(dir, false, true);
  actors::replayed state;
  std::string error;
  actors::replay_cut cut;
  cut.until_seq = seq;
  if (!actors::replay(*log, cut, state, error))
    throw bench_error("replay to " + std::to_string(seq) + ": " + error);
  resume_compactions(*log);
  auto t = steady::now();
  auto bytes = state.save();
  f.set("serialise_s", seconds_since(t));
  f.set("bytes", static_cast<double>(bytes.size()));
  t = steady::now();
  if (auto st = actors::save_snapshot(*log, bytes, state.last_seq); !st)
    throw bench_error("save_snapshot: " + st.message);
  f.set("write_s", seconds_since(t));
  f.set("seq", static_cast<double>(state.last_seq));
}

// load_snapshot, then the tail: the state must save to the full replay's bytes.
void load_and_tail(const std::string& dir, figures& f) {
  auto log = open_log(dir, false, true);
  actors::replayed state;
  std::string why, error;
  auto t = steady::now();
  if (!actors::load_snapshot(*log, state, why))
    throw bench_error("load_snapshot: " + (why.empty() ? std::string("no snapshot") : why));
  f.set("load_s", seconds_since(t));
  f.set("snapshot_seq", static_cast<double>(state.last_seq));
  auto before = state.events;
  t = steady::now();
  if (!actors::replay(*log, actors::replay_cut{}, state, error))
    throw bench_error("replaying the tail: " + error);
  resume_compactions(*log);
  f.set("tail_s", seconds_since(t));
  f.set("tail_events", static_cast<double>(state.events - before));
  f.set("hwm_mib", hwm_mib());
  f.set("digest", digest(state.save()));
}

// A request to the service whose answer (and when it came, after `t0`) a future holds.
template <class T>
struct asked {
  std::promise<actors::result<T>> answer;
  double at_s = NAN;
  std::future<actors::result<T>> ask(const std::function<void(actors::callback<T>)>& call,
                                     steady::time_point t0) {
    auto fut = answer.get_future();
    call([this, t0](actors::result<T> r) {
      at_s = seconds_since(t0);
      answer.set_value(std::move(r));
    });
    return fut;
  }
};

template <class T>
T value_of(std::future<actors::result<T>>& fut, const char* what) {
  auto r = fut.get();
  if (!r.value)
    throw bench_error(std::string(what) + ": " + r.err.message);
  return std::move(*r.value);
}

// actors::service::start on the folder, until it answers, then stop.
void start_service(const std::string& dir, uint64_t snapshot_every, figures& f) {
  actors::service_options so;
  so.data_dir = dir;
  so.snapshot_every_events = snapshot_every;
  so.log = [](int level, const std::string& m) {
    if (level <= 1)
      std::fprintf(stderr, "  blastd: %s\n", m.c_str());
  };
  std::string error;
  auto t0 = steady::now();
  auto cpu0 = cpu_s(CLOCK_PROCESS_CPUTIME_ID);
  auto svc = actors::service::start(so, error);
  if (!svc)
    throw bench_error("service::start: " + error);
  f.set("start_s", seconds_since(t0));
  f.set("start_cpu_s", cpu_s(CLOCK_PROCESS_CPUTIME_ID) - cpu0);
  // Asked together, each actor's answer comes once it has worked through what start-up queued
  // for it: the manager (the blasts), the reporting actor, the ingest actor (seeded with every
  // applied provider event id and every sent message).
  asked<actors::service_stats> stats;
  asked<actors::report> report;
  asked<std::vector<actors::unmatched_item>> unmatched;
  auto f_stats = stats.ask([&](auto cb) { svc->get_stats(std::move(cb)); }, t0);
  auto f_report = report.ask([&](auto cb) { svc->get_report(blast_id, std::move(cb)); }, t0);
  auto f_unmatched = unmatched.ask([&](auto cb) { svc->list_unmatched(0, std::move(cb)); }, t0);
  value_of(f_stats, "get_stats");
  auto rep = value_of(f_report, "get_report");
  value_of(f_unmatched, "list_unmatched");
  f.set("stats_s", stats.at_s);
  f.set("report_s", report.at_s);
  f.set("unmatched_s", unmatched.at_s);
  f.set("ready_s", seconds_since(t0));
  f.set("hwm_mib", hwm_mib());
  auto& s = svc->startup();
  f.set("snapshot_seq", static_cast<double>(s.snapshot_seq));
  f.set("events_replayed", static_cast<double>(s.events_replayed));
  f.set("replay_s", s.replay_seconds);
  f.set("blasts", static_cast<double>(s.blasts));
  f.set("recipients", static_cast<double>(s.recipients));
  f.set("counts", counts_text(rep.counts));
  auto t = steady::now();
  svc->stop();
  svc.reset();
  f.set("stop_s", seconds_since(t));
}

// ---------------------------------------------------------------------------------------------

struct run_result {
  figures nosnap, full, load0, svc0, snap_t, load_t, svc_t;
};

double folder_mib(const std::string& dir) {
  uintmax_t bytes = 0;
  for (auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file())
      bytes += e.file_size();
  return static_cast<double>(bytes) / 1048576.0;
}

void expect_eq(double got, double want, const std::string& what) {
  if (got != want)
    throw bench_error(what + ": " + std::to_string(got) + ", expected " + std::to_string(want));
}
void expect_same(const std::string& got, const std::string& want, const std::string& what) {
  if (got != want)
    throw bench_error(what + ": " + got + ", expected " + want);
}

// One run on a copy of the generated log (`gen` says what it holds), in `root`.
run_result run_once(const options& o, const figures& gen, const std::string& log_dir,
                    const std::string& root) {
  run_result r;
  const std::string dir = root + "/data";
  const double n = static_cast<double>(o.recipients), events = static_cast<double>(o.events);
  const uint64_t tail = o.tail ? o.tail : o.events / 10;
  fs::copy(log_dir, dir, fs::copy_options::recursive);

  // Without snapshots: no snapshot exists yet, and none is loaded or written.
  r.nosnap = in_child("start-up without snapshots", 900,
                      [&](figures& f) { start_service(dir, 0, f); });
  expect_eq(r.nosnap.num("snapshot_seq"), 0, "start-up without snapshots: snapshot_seq");
  expect_eq(r.nosnap.num("events_replayed"), events, "start-up without snapshots: events");
  expect_eq(r.nosnap.num("blasts"), 1, "start-up without snapshots: blasts");
  expect_eq(r.nosnap.num("recipients"), n, "start-up without snapshots: recipients");
  expect_same(r.nosnap.str("counts"), gen.str("counts"),
              "start-up without snapshots: the funnel (per stage)");

  r.full = in_child("full replay", 900, [&](figures& f) { full_replay(dir, f); });
  expect_eq(r.full.num("events"), events, "full replay: events");
  expect_same(r.full.str("counts"), gen.str("counts"), "full replay: the funnel (per stage)");

  // A snapshot at the end, then one leaving `tail` events: each loaded, then started from.
  auto from_snapshot = [&](uint64_t t, figures& load, figures& svc) {
    const std::string at = " (tail " + std::to_string(t) + ")";
    load = in_child(("snapshot load + tail" + at).c_str(), 900,
                    [&](figures& f) { load_and_tail(dir, f); });
    expect_eq(load.num("snapshot_seq"), events - double(t), "snapshot load" + at + ": seq");
    expect_eq(load.num("tail_events"), double(t), "snapshot load" + at + ": tail events");
    expect_same(load.str("digest"), r.full.str("digest"),
                "snapshot + tail" + at + ": SHA-256 of the state's bytes vs the full replay's");
    svc = in_child(("start-up from a snapshot" + at).c_str(), 900,
                   [&](figures& f) { start_service(dir, actors::service_options{}.snapshot_every_events, f); });
    expect_eq(svc.num("snapshot_seq"), events - double(t), "start-up from a snapshot" + at + ": seq");
    expect_eq(svc.num("events_replayed"), double(t), "start-up from a snapshot" + at + ": tail");
    expect_eq(svc.num("blasts"), r.nosnap.num("blasts"), "start-up from a snapshot" + at + ": blasts");
    expect_eq(svc.num("recipients"), r.nosnap.num("recipients"),
              "start-up from a snapshot" + at + ": recipients");
    expect_same(svc.str("counts"), r.nosnap.str("counts"),
                "start-up from a snapshot" + at + ": the funnel (per stage)");
  };
  from_snapshot(0, r.load0, r.svc0);
  r.snap_t = in_child("snapshot write", 900, [&](figures& f) {
    write_snapshot_at(dir, o.events - tail, f);
  });
  from_snapshot(tail, r.load_t, r.svc_t);
  return r;
}

void print_table(const std::vector<run_result>& runs, const options& o) {
  const uint64_t tail = o.tail ? o.tail : o.events / 10;
  const std::string t = std::to_string(tail / 1000) + "k";
  const double n = static_cast<double>(o.recipients);
  constexpr double mib = 1048576.0;
  struct row {
    std::string name;
    const char* unit;
    int decimals;
    std::function<double(const run_result&)> get;
  };
  const std::vector<row> rows = {
    {"full replay (actors::replay)", "s", 3, [](auto& r) { return r.full.num("replay_s"); }},
    {"  rate", "ev/s", 0,
     [](auto& r) { return r.full.num("events") / r.full.num("replay_s"); }},
    {"  CPU time (its thread)", "s", 3, [](auto& r) { return r.full.num("replay_cpu_s"); }},
    {"  rate by CPU time", "ev/s", 0,
     [](auto& r) { return r.full.num("events") / r.full.num("replay_cpu_s"); }},
    {"  peak RSS of the fold (VmHWM)", "MiB", 0, [](auto& r) { return r.full.num("hwm_fold_mib"); }},
    {"  open the log", "s", 3, [](auto& r) { return r.full.num("open_s"); }},
    {"start-up, no snapshot: service::start", "s", 3,
     [](auto& r) { return r.nosnap.num("start_s"); }},
    {"  CPU time (process)", "s", 3, [](auto& r) { return r.nosnap.num("start_cpu_s"); }},
    {"  startup_stats.replay_seconds", "s", 3, [](auto& r) { return r.nosnap.num("replay_s"); }},
    {"  start -> first answers", "s", 3, [](auto& r) { return r.nosnap.num("ready_s"); }},
    {"    get_report answered", "s", 3, [](auto& r) { return r.nosnap.num("report_s"); }},
    {"    list_unmatched (ingest) answered", "s", 3,
     [](auto& r) { return r.nosnap.num("unmatched_s"); }},
    {"  peak RSS (ru_maxrss)", "MiB", 0, [](auto& r) { return r.nosnap.peak_mib; }},
    {"  stop", "s", 3, [](auto& r) { return r.nosnap.num("stop_s"); }},
    {"snapshot at the end: size", "MiB", 1, [=](auto& r) { return r.full.num("bytes") / mib; }},
    {"  per recipient", "B", 0, [=](auto& r) { return r.full.num("bytes") / n; }},
    {"  of which provider event ids", "B", 0,
     [=](auto& r) { return r.full.num("event_id_bytes") / n; }},
    {"  serialise (replayed::save)", "s", 3, [](auto& r) { return r.full.num("serialise_s"); }},
    {"  write (save_snapshot)", "s", 3, [](auto& r) { return r.full.num("write_s"); }},
    {"  load (load_snapshot)", "s", 3, [](auto& r) { return r.load0.num("load_s"); }},
    {"  peak RSS loading it (VmHWM)", "MiB", 0, [](auto& r) { return r.load0.num("hwm_mib"); }},
    {"start-up, snapshot, tail 0: start", "s", 3, [](auto& r) { return r.svc0.num("start_s"); }},
    {"  CPU time (process)", "s", 3, [](auto& r) { return r.svc0.num("start_cpu_s"); }},
    {"  startup_stats.replay_seconds", "s", 3, [](auto& r) { return r.svc0.num("replay_s"); }},
    {"  start -> first answers", "s", 3, [](auto& r) { return r.svc0.num("ready_s"); }},
    {"    get_report answered", "s", 3, [](auto& r) { return r.svc0.num("report_s"); }},
    {"    list_unmatched (ingest) answered", "s", 3,
     [](auto& r) { return r.svc0.num("unmatched_s"); }},
    {"  peak RSS (ru_maxrss)", "MiB", 0, [](auto& r) { return r.svc0.peak_mib; }},
    {"snapshot at seq " + std::to_string(o.events - tail) + ": size", "MiB", 1,
     [=](auto& r) { return r.snap_t.num("bytes") / mib; }},
    {"  write (save_snapshot)", "s", 3, [](auto& r) { return r.snap_t.num("write_s"); }},
    {"  load + " + t + " tail (fold)", "s", 3,
     [](auto& r) { return r.load_t.num("load_s") + r.load_t.num("tail_s"); }},
    {"  of which the tail", "s", 3, [](auto& r) { return r.load_t.num("tail_s"); }},
    {"start-up, snapshot, tail " + t + ": start", "s", 3,
     [](auto& r) { return r.svc_t.num("start_s"); }},
    {"  CPU time (process)", "s", 3, [](auto& r) { return r.svc_t.num("start_cpu_s"); }},
    {"  startup_stats.replay_seconds", "s", 3, [](auto& r) { return r.svc_t.num("replay_s"); }},
    {"  start -> first answers", "s", 3, [](auto& r) { return r.svc_t.num("ready_s"); }},
    {"    get_report answered", "s", 3, [](auto& r) { return r.svc_t.num("report_s"); }},
    {"    list_unmatched (ingest) answered", "s", 3,
     [](auto& r) { return r.svc_t.num("unmatched_s"); }},
    {"  peak RSS (ru_maxrss)", "MiB", 0, [](auto& r) { return r.svc_t.peak_mib; }},
  };
  constexpr int width = 42;
  print_stats_header(runs.size(), width);
  for (auto& rw : rows) {
    std::vector<double> v;
    for (auto& r : runs)
      v.push_back(rw.get(r));
    print_stats_row(rw.name, rw.unit, rw.decimals, std::move(v), width);
  }
}

constexpr const char* made_file = "generated";  // the generator's figures, beside data/

// Makes the log in a new folder under /tmp (named in `made` at once, for the cleanup).
figures make_log(const options& o, std::string& made) {
  made = "/tmp/startup_bench-log-XXXXXX";
  if (!::mkdtemp(made.data()))
    throw bench_error(std::string("mkdtemp: ") + std::strerror(errno));
  auto gen = in_child("generate", 900, [&](figures& f) { generate(made + "/data", o, f); });
  expect_eq(gen.num("events"), static_cast<double>(o.events), "events generated");
  expect_eq(gen.num("last_seq"), static_cast<double>(o.events), "the log's last seq");
  auto settled = in_child("settle", 900, [&](figures& f) { settle(made + "/data", f); });
  gen.set("settle_s", settled.num("seconds"));
  gen.set("settle_jobs", settled.num("compactions"));
  std::ofstream(made + "/" + made_file) << gen.encode();
  return gen;
}

// What make_log left in o.reuse; its recipients and events replace the options'.
figures reuse_log(options& o) {
  std::ifstream in(o.reuse + "/" + made_file);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (text.empty() || !fs::is_directory(o.reuse + "/data"))
    throw bench_error(o.reuse + " holds no log made by startup_bench --keep");
  auto gen = figures::decode(text);
  o.recipients = static_cast<size_t>(gen.num("recipients"));
  o.events = static_cast<size_t>(gen.num("events"));
  if ((o.tail ? o.tail : o.events / 10) >= o.events)
    throw bench_error("--tail must be less than the log's " + std::to_string(o.events) + " events");
  return gen;
}

bool parse_args(int argc, char** argv, options& o) {
  auto opts = common_options(o.recipients, o.runs, o.keep);
  opts.insert(opts.end(),
              {{"--events", &o.events}, {"--tail", &o.tail}, {"--replay-only", &o.replay_only},
               {"--log", &o.reuse}});
  // Eight digits after "601" keep every number unique; the blast's own events must fit.
  return parse_options(argc, argv, opts) && o.recipients >= 1 && o.recipients <= 99'999'999 &&
         o.runs >= 1 && o.events >= 2 + o.recipients / 10'000 + 1 &&
         (o.tail ? o.tail : o.events / 10) < o.events;
}

} // namespace blast::tools::bench

int main(int argc, char** argv) {
  using namespace blast::tools::bench;
  namespace actors = blast::actors;
  options o;
  if (!parse_args(argc, argv, o)) {
    std::fprintf(stderr,
                 "usage: startup_bench [--recipients N] [--events E] [--tail T] [--runs R] "
                 "[--keep]\n"
                 "  N: 1..99999999 (default 1000000); E: events in the log, more than the blast's "
                 "own (default 5000000)\n"
                 "  T: events after the second snapshot, < E (default E/10); R >= 1 (default 3)\n"
                 "  --keep leaves the data dirs in /tmp\n"
                 "  --summary FILE appends the table's rows to FILE (tab-separated)\n"
                 "  --log DIR: measure the log an earlier --keep left in DIR (its recipients and "
                 "events; not removed) instead of making one\n"
                 "  --replay-only DIR: only fold the log in DIR (a kept run's data folder), in "
                 "this process, to profile the fold (perf record -g)\n");
    return 2;
  }
  if (!o.replay_only.empty()) {
    try {
      auto log = open_log(o.replay_only, false, true);
      actors::replayed state;
      std::string error;
      auto t = steady::now();
      if (!actors::replay(*log, actors::replay_cut{}, state, error))
        throw bench_error("replay: " + error);
      double s = seconds_since(t);
      resume_compactions(*log);
      std::printf("replayed %llu events in %.3f s = %.0f events/s, VmHWM %.0f MiB\n",
                  static_cast<unsigned long long>(state.events), s,
                  static_cast<double>(state.events) / s, hwm_mib());
      return 0;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "startup_bench: %s\n", e.what());
      return 1;
    }
  }
  std::printf("machine: %s\nload:    %s (1, 5, 15 min)\n", machine().c_str(), loadavg().c_str());
  // The log is made once (or was, by an earlier --keep); every run starts from a copy of it.
  std::string made = o.reuse;
  figures gen;
  try {
    gen = made.empty() ? make_log(o, made) : reuse_log(o);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "startup_bench: %s\n", e.what());
    if (o.reuse.empty() && !made.empty() && !o.keep)
      fs::remove_all(made);
    return 1;
  }
  const std::string log_dir = made + "/data";
  std::printf("log:     1 blast of %zu recipients, %zu events, %.0f MiB on disk, %.0f MiB of "
              "payloads, in %s\n         events by kind: %s\n",
              o.recipients, o.events, folder_mib(log_dir), gen.num("payload_mib"), made.c_str(),
              gen.str("kinds").c_str());
  if (o.reuse.empty())
    std::printf("made:    in %.1f s (%.0f events/s; closing the log %.1f s), then %.0f compaction "
                "jobs on reopening it in %.1f s\n",
                gen.num("seconds"), gen.num("events") / gen.num("seconds"), gen.num("close_s"),
                gen.num("settle_jobs"), gen.num("settle_s"));
  std::fflush(stdout);

  std::vector<run_result> runs;
  bool all_ok = each_run("startup_bench", o.runs, o.keep, [&](int i, const std::string& root) {
    auto& r = runs.emplace_back(run_once(o, gen, log_dir, root));
    std::printf("run %d/%d: replay %.3f s = %.0f ev/s; start-up %.3f s without a snapshot, "
                "%.3f s from one (tail 0), %.3f s (tail %.0f); snapshot %.1f MiB; snapshot + "
                "tail equal to the full replay; load %s\n",
                i, o.runs, r.full.num("replay_s"), r.full.num("events") / r.full.num("replay_s"),
                r.nosnap.num("start_s"), r.svc0.num("start_s"), r.svc_t.num("start_s"),
                r.svc_t.num("events_replayed"), r.full.num("bytes") / 1048576.0,
                loadavg().c_str());
  });
  std::error_code ec;
  if (o.keep && o.reuse.empty())
    std::printf("  kept %s (pass it to --log to measure again without making it)\n", made.c_str());
  else if (o.reuse.empty())
    fs::remove_all(made, ec);
  if (!all_ok)
    return 1;
  print_table(runs, o);
  std::printf("\nload after: %s\n", loadavg().c_str());
  return 0;
}
