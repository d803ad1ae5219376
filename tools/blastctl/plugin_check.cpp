// The plugin conformance check: loads a transport plugin through blastd's loader and checks
// every declared capability with good and bad input, one PASS/FAIL line per check.
//
// Most checks go through blast::plugins (what blastd itself sees). A few need the raw C table,
// because the loader hides what they look at on purpose: it answers undeclared operations
// itself, drops pushes after destroy and bounds error buffers. Those run last, once every loader
// instance is gone, with blastctl's own host table ("abi.*" checks and push.after_destroy).
#include "tools/blastctl/plugin_check.hpp"

#include "plugins/host/transport_plugin.hpp"
#include "plugins/sdk/blast_transport.h"

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <condition_variable>
#include <csignal>
#include <cstring>
#include <dlfcn.h>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <optional>
#include <set>
#include <sstream>
#include <thread>
#include <unistd.h>
#include <vector>

namespace blast::tools {

namespace {

namespace json = boost::json;
using namespace blast::plugins;
using steady = std::chrono::steady_clock;
using namespace std::chrono_literals;

// A check's outcome: nullopt passes, a string is why it failed.
using verdict = std::optional<std::string>;
const verdict pass = std::nullopt;

// ---- crash and hang reporting ----------------------------------------------------------------
// A plugin that crashes or hangs must still produce a FAIL line naming the check, so the state
// the signal handler and the watchdog read is process-wide and async-signal-safe.

std::atomic<int> g_passed{0};
std::atomic<int> g_failed{0};
std::atomic<const char*> g_current{"startup"};

void append(char*& p, const char* end, const char* s) {
  while (*s && p < end)
    *p++ = *s++;
}

void append(char*& p, const char* end, int v) {
  char digits[16];
  int n = 0;
  unsigned u = v < 0 ? 0u : static_cast<unsigned>(v);
  do
    digits[n++] = static_cast<char>('0' + u % 10);
  while ((u /= 10) && n < 16);
  while (n && p < end)
    *p++ = digits[--n];
}

// Async-signal-safe: only write(2) and _exit(2).
[[noreturn]] void fail_fatally(const char* why) {
  char line[512];
  char* p = line;
  const char* end = line + sizeof line;
  append(p, end, "FAIL ");
  append(p, end, g_current.load());
  append(p, end, ": ");
  append(p, end, why);
  append(p, end, "\n");
  append(p, end, g_passed.load());
  append(p, end, " passed, ");
  append(p, end, g_failed.load() + 1);
  append(p, end, " failed\n");
  ssize_t ignored = ::write(STDOUT_FILENO, line, static_cast<size_t>(p - line));
  (void)ignored;
  ::_exit(1);
}

extern "C" void on_fatal_signal(int sig) {
  switch (sig) {
    case SIGSEGV:
      fail_fatally("crashed with SIGSEGV");
    case SIGBUS:
      fail_fatally("crashed with SIGBUS");
    case SIGFPE:
      fail_fatally("crashed with SIGFPE");
    case SIGILL:
      fail_fatally("crashed with SIGILL");
    default:
      fail_fatally("aborted (SIGABRT: std::terminate, an assertion or abort())");
  }
}

void install_crash_handlers() {
  // An alternate stack, so a stack overflow in the plugin is still reported.
  static std::vector<char> alt(1 << 16);
  stack_t ss{};
  ss.ss_sp = alt.data();
  ss.ss_size = alt.size();
  sigaltstack(&ss, nullptr);
  struct sigaction sa {};
  sa.sa_handler = on_fatal_signal;
  sa.sa_flags = SA_ONSTACK | SA_RESETHAND;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT})
    sigaction(sig, &sa, nullptr);
}

// Ends the run when one check takes longer than `limit`: a hung plugin fails its check rather
// than the whole test suite's timeout.
class watchdog {
public:
  explicit watchdog(std::chrono::milliseconds limit) : limit_(limit), thread_([this] { run(); }) {}
  ~watchdog() {
    {
      std::lock_guard<std::mutex> lk(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  void arm() {
    std::lock_guard<std::mutex> lk(mu_);
    deadline_ = steady::now() + limit_;
    armed_ = true;
    cv_.notify_all();
  }
  void disarm() {
    std::lock_guard<std::mutex> lk(mu_);
    armed_ = false;
  }

private:
  void run() {
    std::unique_lock<std::mutex> lk(mu_);
    while (!stop_) {
      if (!armed_) {
        cv_.wait(lk);
      } else if (steady::now() < deadline_) {
        cv_.wait_until(lk, deadline_);
      } else {
        message_ = "hung: no answer within " + std::to_string(limit_.count() / 1000) + " s";
        fail_fatally(message_.c_str());
      }
    }
  }
  std::chrono::milliseconds limit_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool armed_ = false;
  steady::time_point deadline_;
  std::string message_;
  std::thread thread_;
};

// ---- output ----------------------------------------------------------------------------------

class report {
public:
  explicit report(watchdog& dog) : dog_(dog) {}

  // Runs one check. Exceptions are blastctl's own failures (a plugin's never escape the
  // loader) and fail the check rather than the run.
  void check(const std::string& name, const std::function<verdict()>& body) {
    current_ = name;
    g_current.store(current_.c_str());
    in_check_ = true;
    dog_.arm();
    verdict v;
    try {
      v = body();
    } catch (const std::exception& e) {
      v = std::string("blastctl error: ") + e.what();
    }
    dog_.disarm();
    in_check_ = false;
    if (v) {
      g_failed.fetch_add(1);
      std::cout << "FAIL " << name << ": " << *v << std::endl;
    } else {
      g_passed.fetch_add(1);
      std::cout << "PASS " << name << std::endl;
    }
    for (const auto& line : pending_)
      std::cout << line << std::endl;
    pending_.clear();
  }
  // Information a check gathers is printed after its verdict line.
  void info(const std::string& name, const std::string& text) {
    if (in_check_)
      pending_.push_back("INFO " + name + ": " + text);
    else
      std::cout << "INFO " << name << ": " << text << std::endl;
  }
  int finish() {
    std::cout << g_passed.load() << " passed, " << g_failed.load() << " failed" << std::endl;
    return g_failed.load() == 0 ? 0 : 1;
  }

private:
  watchdog& dog_;
  std::string current_; // g_current points into it while its check runs
  bool in_check_ = false;
  std::vector<std::string> pending_;
};

// ---- what well-formed looks like -------------------------------------------------------------

const char* code_name(int code) {
  auto name = plugins::status_name(code);
  return name ? name : "an unknown status";
}

std::string describe(const call_status& st) {
  return std::string(code_name(st.code)) + (st.message.empty() ? "" : ": " + st.message);
}

const char* error_name(send_error e) {
  switch (e) {
    case send_error::none:
      return "sent";
    case send_error::retryable:
      return "retryable";
    case send_error::rate_limited:
      return "rate limited";
    case send_error::permanent:
      return "permanent";
    case send_error::invalid:
      return "invalid";
    case send_error::internal:
      return "internal";
  }
  return "?";
}

std::string caps_text(uint32_t caps) {
  std::string s;
  auto add = [&](uint32_t bit, const char* name) {
    if (caps & bit)
      s += (s.empty() ? "" : "|") + std::string(name);
  };
  add(BLAST_CAP_SEND, "SEND");
  add(BLAST_CAP_STATUS_QUERY, "STATUS_QUERY");
  add(BLAST_CAP_WEBHOOK, "WEBHOOK");
  add(BLAST_CAP_WEBHOOK_ANSWER, "WEBHOOK_ANSWER");
  add(BLAST_CAP_PUSH, "PUSH");
  return s.empty() ? "none" : s;
}

constexpr uint32_t known_caps = BLAST_CAP_SEND | BLAST_CAP_STATUS_QUERY | BLAST_CAP_WEBHOOK |
                               BLAST_CAP_PUSH | BLAST_CAP_WEBHOOK_ANSWER;

bool all_digits(const std::string& s) {
  return !s.empty() && s.find_first_not_of("0123456789") == std::string::npos;
}

bool known_stage(int s) {
  return s == BLAST_STAGE_NONE || s == BLAST_STAGE_SENT || s == BLAST_STAGE_DELIVERED ||
         s == BLAST_STAGE_READ || s == BLAST_STAGE_REPLIED || s == BLAST_STAGE_FAILED;
}

// A string member of the --config object, or "" (the Meta checks read their secrets there).
std::string config_string(const std::string& config, const char* key) {
  json::error_code ec;
  auto v = json::parse(config, ec);
  const json::value* x = !ec && v.is_object() ? v.get_object().if_contains(key) : nullptr;
  return x && x->is_string() ? std::string(x->get_string()) : std::string();
}

// "sha256=<hex HMAC-SHA256 of body>": Meta's X-Hub-Signature-256.
std::string meta_signature(const std::string& secret, const std::string& body) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(body.data()), body.size(), mac, &len);
  static const char* hex = "0123456789abcdef";
  std::string out = "sha256=";
  for (unsigned i = 0; i < len; ++i) {
    out += hex[mac[i] >> 4];
    out += hex[mac[i] & 15];
  }
  return out;
}

// A Meta-shaped notification: `messages` message ids with the statuses sent, delivered, read
// (25 x 4 = 100 statuses with played, as Meta batches up to 100), in two entries, plus two
// inbound messages (one quoting the first id, one not).
std::string meta_batch(size_t messages) {
  static const char* const words[] = {"sent", "delivered", "read", "played"};
  json::array first, second;
  for (size_t i = 0; i < messages; ++i)
    for (const char* w : words)
      (i % 2 ? second : first)
          .push_back(json::object{{"id", "wamid.CHECK" + std::to_string(i)},
                                  {"status", w},
                                  {"timestamp", "1700000000"},
                                  {"recipient_id", "6000000" + std::to_string(i)}});
  json::array inbound{
      json::object{{"from", "60000000"}, {"id", "wamid.IN1"}, {"timestamp", "1700000001"},
                   {"type", "text"}, {"text", json::object{{"body", "yes"}}},
                   {"context", json::object{{"from", "1"}, {"id", "wamid.CHECK0"}}}},
      json::object{{"from", "60000001"}, {"id", "wamid.IN2"}, {"timestamp", "1700000002"},
                   {"type", "text"}, {"text", json::object{{"body", "hi"}}}}};
  auto entry = [](json::object value) {
    return json::object{
        {"id", "WABA"},
        {"changes", json::array{json::object{{"field", "messages"}, {"value", std::move(value)}}}}};
  };
  return json::serialize(json::object{
      {"object", "whatsapp_business_account"},
      {"entry", json::array{entry({{"statuses", std::move(first)}}),
                            entry({{"statuses", std::move(second)}, {"messages", inbound}})}}});
}

// Why an observation is malformed, or nullopt. Pushes must say something (no stage NONE).
verdict malformed(const observation& o, bool pushed) {
  if (!known_stage(o.stage))
    return "unknown stage " + std::to_string(o.stage);
  if (pushed && o.stage == BLAST_STAGE_NONE)
    return "a pushed observation with stage NONE";
  if (o.stage == BLAST_STAGE_REPLIED) {
    if (!all_digits(o.sender))
      return "an inbound (replied) observation whose sender is not digits: \"" + o.sender + "\"";
  } else if (o.stage != BLAST_STAGE_NONE && o.message_id.empty()) {
    return "an observation of stage " + std::to_string(o.stage) + " without a message id";
  }
  if (o.provider_time_ms < 0)
    return "negative provider_time_ms " + std::to_string(o.provider_time_ms);
  return pass;
}

verdict all_well_formed(const std::vector<observation>& obs, bool pushed) {
  for (size_t i = 0; i < obs.size(); ++i)
    if (auto why = malformed(obs[i], pushed))
      return "observation " + std::to_string(i) + ": " + *why;
  return pass;
}

// Collects what an instance pushes; shared with the loader's push callback, which may outlive
// the scope that made it by a little.
struct push_log {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<observation> seen;
  size_t calls = 0;

  static push_fn into(const std::shared_ptr<push_log>& log) {
    return [log](std::vector<observation>&& obs) {
      std::lock_guard<std::mutex> lk(log->mu);
      ++log->calls;
      for (auto& o : obs)
        log->seen.push_back(std::move(o));
      log->cv.notify_all();
    };
  }
  bool wait_for_any(std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lk(mu);
    return cv.wait_for(lk, timeout, [&] { return !seen.empty(); });
  }
  size_t count() {
    std::lock_guard<std::mutex> lk(mu);
    return seen.size();
  }
};

std::string seconds_text(std::chrono::milliseconds ms) {
  std::ostringstream out;
  out << static_cast<double>(ms.count()) / 1000.0 << " s";
  return out.str();
}

// ---- the raw C table, for what the loader hides ----------------------------------------------

// blastctl's own host table for the raw checks. Leaked on purpose: the plugin keeps the pointer
// in a static for as long as it is mapped, which is until the process exits.
struct raw_host {
  blast_host_v1 table{};
  bool verbose = false;
  std::mutex mu;
  std::condition_variable cv;
  struct push_record {
    void* token;
    steady::time_point at;
    size_t count;
  };
  std::vector<push_record> pushes;

  explicit raw_host(bool v) : verbose(v) {
    table.abi_version = BLAST_TRANSPORT_ABI_VERSION;
    table.struct_size = sizeof(blast_host_v1);
    table.host_ctx = this;
    // Host functions are called from plugin code: nothing may unwind into it.
    table.log = [](void* ctx, int level, blast_str m) {
      try {
        if (static_cast<raw_host*>(ctx)->verbose || level == BLAST_LOG_ERROR)
          std::cerr << "plugin log [" << level
                    << "]: " << std::string(m.data ? m.data : "", m.data ? m.len : 0) << "\n";
      } catch (...) {
      }
    };
    table.now_ms = [](void*) -> int64_t {
      using namespace std::chrono;
      return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
    };
    table.push = [](void* ctx, void* token, const blast_observation*, size_t count) {
      try {
        auto* self = static_cast<raw_host*>(ctx);
        std::lock_guard<std::mutex> lk(self->mu);
        self->pushes.push_back(push_record{token, steady::now(), count});
        self->cv.notify_all();
      } catch (...) {
      }
    };
  }
};

struct raw_send_sink {
  int calls = 0;
  std::string id;
  static void sink(void* ctx, blast_str id, blast_str) {
    auto* self = static_cast<raw_send_sink*>(ctx);
    if (++self->calls == 1)
      self->id.assign(id.data ? id.data : "", id.data ? id.len : 0);
  }
};

void ignore_observation(void*, const blast_observation*) {}

// Whether a plugin kept to a small error buffer: NUL-terminated inside it, nothing written past.
constexpr size_t small_err = 8;
constexpr char canary = 'Z';
verdict buffer_respected(const char (&buf)[small_err * 2]) {
  if (!std::memchr(buf, '\0', small_err))
    return "the message is not NUL-terminated within err_len " + std::to_string(small_err);
  for (size_t i = small_err; i < sizeof buf; ++i)
    if (buf[i] != canary)
      return "wrote past err_len " + std::to_string(small_err) + " (byte " + std::to_string(i) +
             ")";
  return pass;
}

void run_raw_checks(report& r, const plugin_check_options& opt, uint32_t caps) {
  // The same file dlopen'ed again gives the loader's handle (one more reference), so this is
  // the very table the loader checked; only the host it reports to changes.
  void* handle = dlopen(opt.path.c_str(), RTLD_NOW | RTLD_LOCAL);
  auto entry =
      handle
          ? reinterpret_cast<blast_transport_entry_fn>(dlsym(handle, BLAST_TRANSPORT_ENTRY_SYMBOL))
          : nullptr;
  auto* host = new raw_host(opt.verbose);
  const blast_transport_v1* t = entry ? entry(&host->table) : nullptr;
  if (!t || t->struct_size < BLAST_TRANSPORT_V1_0_SIZE) {
    r.check("abi.table", [&]() -> verdict {
      return "the entry point answered differently when called again (NULL or a short table)";
    });
    return;
  }

  r.check("abi.error_buffer.create", [&]() -> verdict {
    char buf[small_err * 2];
    std::memset(buf, canary, sizeof buf);
    const char bad[] = "not json";
    blast_instance* inst = t->create(bad, sizeof bad - 1, nullptr, buf, small_err);
    if (inst) {
      t->destroy(inst);
      return std::string("create accepted \"not json\"");
    }
    return buffer_respected(buf);
  });

  int token_marker = 0; // its address is the instance token; only its identity matters
  char err[1024] = "";
  blast_instance* inst =
      t->create(opt.config.data(), opt.config.size(), &token_marker, err, sizeof err);
  if (!inst) {
    r.check("abi.create",
            [&]() -> verdict { return std::string("create failed when called directly: ") + err; });
    return;
  }

  // The loader answers undeclared operations without calling the plugin; another host might not.
  if (!(caps & BLAST_CAP_SEND))
    r.check("abi.unsupported.send", [&]() -> verdict {
      blast_send_request req{};
      req.struct_size = sizeof req;
      req.to = blast_str{"60123456789", 11};
      req.text = blast_str{"x", 1};
      req.idempotency_key = blast_str{"conformance-raw", 15};
      raw_send_sink sink;
      int64_t retry = 0;
      int code = t->send(inst, &req, raw_send_sink::sink, &sink, &retry, err, sizeof err);
      if (code != BLAST_E_UNSUPPORTED)
        return std::string("send is not declared but returned ") + code_name(code);
      return pass;
    });
  if (!(caps & BLAST_CAP_STATUS_QUERY))
    r.check("abi.unsupported.query_status", [&]() -> verdict {
      int code = t->query_status(inst, blast_str{"x", 1}, blast_str{"{}", 2}, ignore_observation,
                                 nullptr, err, sizeof err);
      if (code != BLAST_E_UNSUPPORTED)
        return std::string("query_status is not declared but returned ") + code_name(code);
      return pass;
    });
  if (!(caps & BLAST_CAP_WEBHOOK))
    r.check("abi.unsupported.parse_webhook", [&]() -> verdict {
      blast_webhook_request req{};
      req.struct_size = sizeof req;
      req.method = blast_str{"POST", 4};
      req.path = blast_str{"/", 1};
      req.body = blast_str{"{}", 2};
      int code = t->parse_webhook(inst, &req, ignore_observation, nullptr, err, sizeof err);
      if (code != BLAST_E_UNSUPPORTED)
        return std::string("parse_webhook is not declared but returned ") + code_name(code);
      return pass;
    });

  if (caps & BLAST_CAP_SEND) {
    r.check("abi.send_sink_once", [&]() -> verdict {
      blast_send_request req{};
      req.struct_size = sizeof req;
      req.to = blast_str{"60123456789", 11};
      req.text = blast_str{"conformance test", 16};
      req.idempotency_key = blast_str{"conformance-raw-sink", 20};
      raw_send_sink sink;
      int64_t retry = 0;
      int code = t->send(inst, &req, raw_send_sink::sink, &sink, &retry, err, sizeof err);
      if (code != BLAST_OK)
        return std::string("send returned ") + code_name(code) + ": " + err;
      if (sink.calls != 1)
        return "BLAST_OK with the sink called " + std::to_string(sink.calls) +
               " times (exactly once is the contract)";
      return pass;
    });
    r.check("abi.error_buffer.send", [&]() -> verdict {
      char buf[small_err * 2];
      std::memset(buf, canary, sizeof buf);
      blast_send_request req{};
      req.struct_size = sizeof req;
      req.to = blast_str{"", 0};
      req.text = blast_str{"conformance test", 16};
      req.idempotency_key = blast_str{"conformance-raw-bad", 19};
      raw_send_sink sink;
      int64_t retry = 0;
      int code = t->send(inst, &req, raw_send_sink::sink, &sink, &retry, buf, small_err);
      if (code == BLAST_OK)
        return std::string("send to an empty recipient returned BLAST_OK");
      return buffer_respected(buf);
    });
  }

  if ((caps & BLAST_CAP_PUSH) && (caps & BLAST_CAP_SEND)) {
    // Pushes in flight when destroy is called are what this is about, so destroy right after
    // the first one arrives, with more still to come.
    for (int i = 0; i < 8; ++i) {
      std::string key = "conformance-raw-push-" + std::to_string(i);
      blast_send_request req{};
      req.struct_size = sizeof req;
      req.to = blast_str{"60123456789", 11};
      req.text = blast_str{"conformance test", 16};
      req.idempotency_key = blast_str{key.data(), key.size()};
      raw_send_sink sink;
      int64_t retry = 0;
      t->send(inst, &req, raw_send_sink::sink, &sink, &retry, err, sizeof err);
    }
    {
      std::unique_lock<std::mutex> lk(host->mu);
      host->cv.wait_for(lk, opt.timeout, [&] { return !host->pushes.empty(); });
    }
    t->destroy(inst);
    steady::time_point destroyed = steady::now();
    std::this_thread::sleep_for(500ms); // time for a stray push from a thread still running
    std::vector<raw_host::push_record> pushes;
    {
      std::lock_guard<std::mutex> lk(host->mu);
      pushes = host->pushes;
    }
    r.check("push.after_destroy", [&]() -> verdict {
      for (const auto& p : pushes)
        if (p.at > destroyed)
          return "a push " +
                 std::to_string(
                     std::chrono::duration_cast<std::chrono::milliseconds>(p.at - destroyed)
                         .count()) +
                 " ms after destroy returned";
      return pass;
    });
    r.check("push.token", [&]() -> verdict {
      for (const auto& p : pushes)
        if (p.token != &token_marker)
          return std::string("a push carried a token other than the one create was given");
      return pass;
    });
  } else {
    t->destroy(inst);
  }
}

// ---- the checks through blastd's loader ------------------------------------------------------

int run(report& r, const plugin_check_options& opt) {
  std::shared_ptr<plugin_library> lib;
  log_fn plugin_log = [verbose = opt.verbose](int level, const std::string& message) {
    if (verbose || level == BLAST_LOG_ERROR)
      std::cerr << "plugin log [" << level << "]: " << message << "\n";
  };

  r.check("load", [&]() -> verdict {
    std::string error;
    lib = plugin_library::load(opt.path, error, plugin_log);
    if (!lib)
      return error;
    return pass;
  });
  if (!lib)
    return r.finish();

  const plugin_info& info = lib->info();
  const uint32_t caps = info.capabilities;
  r.check("describe", [&]() -> verdict {
    r.info("describe", info.name + " " + info.version + ", ABI " +
                           std::to_string(BLAST_ABI_MAJOR_OF(info.abi_version)) + "." +
                           std::to_string(info.abi_version & 0xffffu) + ", capabilities " +
                           caps_text(caps));
    if (info.name.empty())
      return std::string("empty name");
    if (info.version.empty())
      return std::string("empty version");
    if (caps & ~known_caps)
      return "unknown capability bits 0x" + [&] {
        std::ostringstream out;
        out << std::hex << (caps & ~known_caps);
        return out.str();
      }();
    if (caps == 0)
      return std::string("declares no capability at all");
    return pass;
  });

  // Pushes to the main instance are only counted: a plugin that does not declare PUSH must not
  // push at all.
  auto stray = std::make_shared<push_log>();
  std::unique_ptr<transport_instance> inst;
  r.check("create", [&]() -> verdict {
    std::string error;
    inst = lib->create(opt.config, push_log::into(stray), error);
    if (!inst)
      return "config " + opt.config + ": " + error;
    return pass;
  });

  r.check("create.invalid_json", [&]() -> verdict {
    std::string error;
    auto bad = lib->create("not json", {}, error);
    if (bad)
      return std::string("accepted \"not json\" as its config");
    if (error.empty())
      return std::string("refused \"not json\" without a message");
    return pass;
  });

  r.check("create_destroy.x20", [&]() -> verdict {
    for (int i = 0; i < 20; ++i) {
      std::string error;
      auto one = lib->create(opt.config, {}, error);
      if (!one)
        return "create #" + std::to_string(i + 1) + " failed: " + error;
    }
    return pass;
  });

  if (!inst) {
    r.info("summary", "no instance, so nothing else could be checked");
    return r.finish();
  }

  std::optional<send_result> sent;
  if (caps & BLAST_CAP_SEND) {
    r.check("send.good", [&]() -> verdict {
      send_result res = inst->send("60123456789", "conformance test", "conformance-1");
      if (res.error != send_error::none)
        return std::string("send failed (") + error_name(res.error) + "): " + res.message;
      if (res.message_id.empty())
        return std::string("empty message id");
      sent = std::move(res);
      return pass;
    });
    r.check("send.document_json", [&]() -> verdict {
      if (!sent)
        return std::string("no document: send.good failed");
      json::error_code ec;
      json::parse(sent->document, ec);
      if (ec)
        return "the document is not JSON (" + ec.message() + "): " + sent->document.substr(0, 200);
      return pass;
    });
    r.check("send.same_key_twice", [&]() -> verdict {
      send_result again = inst->send("60123456789", "conformance test", "conformance-1");
      if (again.error == send_error::internal)
        return "BLAST_E_INTERNAL: " + again.message;
      if (again.error != send_error::none)
        r.info("send.idempotent", std::string("the second send with the same key was refused (") +
                                      error_name(again.error) + "): " + again.message);
      else if (sent && again.message_id == sent->message_id)
        r.info("send.idempotent", "yes: the same key gave the same message id");
      else
        r.info("send.idempotent", "no: the same key gave another message id");
      return pass;
    });
    r.check("send.bad_recipient", [&]() -> verdict {
      send_result res = inst->send("", "conformance test", "conformance-bad");
      if (res.error == send_error::none)
        return "an empty recipient was sent (message id \"" + res.message_id + "\")";
      if (res.error == send_error::internal)
        return "BLAST_E_INTERNAL: " + res.message;
      if (res.message.empty())
        return std::string("refused without a message");
      return pass;
    });
    r.check("send.concurrent", [&]() -> verdict {
      constexpr int threads = 4, per_thread = 50;
      std::vector<std::vector<send_result>> results(threads);
      std::vector<std::thread> pool;
      for (int t = 0; t < threads; ++t)
        pool.emplace_back([&, t] {
          for (int i = 0; i < per_thread; ++i) {
            std::string n = std::to_string(t * per_thread + i);
            results[t].push_back(inst->send("6012300" + std::string(4 - n.size(), '0') + n,
                                            "conformance test " + n,
                                            "conformance-c" + std::to_string(t) + "-" + n));
          }
        });
      for (auto& th : pool)
        th.join();
      size_t ok = 0, refused = 0;
      std::map<std::string, int> ids;
      std::string first_refusal;
      for (const auto& rs : results)
        for (const auto& res : rs) {
          if (res.error == send_error::internal)
            return "BLAST_E_INTERNAL: " + res.message;
          if (res.error == send_error::none) {
            ++ok;
            ++ids[res.message_id];
          } else if (++refused == 1) {
            first_refusal = std::string(error_name(res.error)) + ": " + res.message;
          }
        }
      if (ok + refused != threads * per_thread)
        return "only " + std::to_string(ok + refused) + " of " +
               std::to_string(threads * per_thread) + " sends answered";
      r.info("send.concurrent",
             std::to_string(ok) + " sent, " + std::to_string(refused) + " refused" +
                 (first_refusal.empty() ? "" : " (first: " + first_refusal + ")") + ", " +
                 (ids.size() == ok ? "all ids distinct" : "some ids repeat across keys"));
      return pass;
    });
  }

  if (caps & BLAST_CAP_STATUS_QUERY) {
    if (sent) {
      r.check("query_status.sent_doc", [&]() -> verdict {
        std::vector<observation> obs;
        call_status st = inst->query_status(sent->message_id, sent->document, obs);
        if (!st.ok())
          return describe(st);
        if (auto why = all_well_formed(obs, false))
          return why;
        r.info("query_status.sent_doc",
               std::to_string(obs.size()) + " observation(s)" +
                   (obs.empty() ? ""
                                : ", stage " + std::to_string(obs[0].stage) + " " +
                                      obs[0].provider_status));
        return pass;
      });
    } else {
      r.info("query_status.sent_doc", "skipped: nothing was sent to query");
    }
    r.check("query_status.garbage", [&]() -> verdict {
      std::vector<observation> obs;
      call_status st = inst->query_status("", "garbage{", obs);
      if (st.code == BLAST_E_INTERNAL)
        return describe(st);
      if (st.ok())
        return all_well_formed(obs, false);
      return pass;
    });
  }

  if (caps & BLAST_CAP_WEBHOOK) {
    r.check("parse_webhook.garbage", [&]() -> verdict {
      webhook_request req;
      req.method = "POST";
      req.path = "/webhooks/conformance";
      req.body = "garbage{";
      std::vector<observation> obs;
      call_status st = inst->parse_webhook(req, obs);
      if (st.code != BLAST_E_SIGNATURE && st.code != BLAST_E_INVALID)
        return "expected BLAST_E_SIGNATURE or BLAST_E_INVALID, got " + describe(st);
      return pass;
    });
  }

  // ABI 1.1: requests the plugin answers itself. The handshake checks speak Meta's form
  // (hub.mode, hub.verify_token, hub.challenge) with "verifyToken" from --config.
  if (caps & BLAST_CAP_WEBHOOK_ANSWER) {
    r.check("answer_webhook.garbage", [&]() -> verdict {
      std::optional<webhook_reply> reply;
      call_status st = inst->answer_webhook({"GET", "/webhooks/conformance", "%zz&&=", {}, ""},
                                            reply);
      return st.ok() ? pass : verdict("expected an answer or none, got " + describe(st));
    });
    std::string token = config_string(opt.config, "verifyToken");
    if (token.empty()) {
      r.info("answer_webhook.handshake", "skipped: no \"verifyToken\" in --config");
    } else {
      auto handshake = [&](const std::string& given, std::optional<webhook_reply>& reply) {
        return inst->answer_webhook({"GET", "/webhooks/conformance",
                                     "hub.mode=subscribe&hub.verify_token=" + given +
                                         "&hub.challenge=8230421",
                                     {}, ""},
                                    reply);
      };
      r.check("answer_webhook.handshake_good", [&]() -> verdict {
        std::optional<webhook_reply> reply;
        call_status st = handshake(token, reply);
        if (!st.ok() || !reply)
          return "the handshake with the configured token was not answered: " + describe(st);
        if (reply->status != 200 || reply->body != "8230421")
          return "expected 200 with the challenge as the body, got " +
                 std::to_string(reply->status) + " \"" + reply->body + "\"";
        return pass;
      });
      r.check("answer_webhook.handshake_bad_token", [&]() -> verdict {
        std::optional<webhook_reply> reply;
        call_status st = handshake(token + "x", reply);
        if (!st.ok() || !reply)
          return "a handshake with a wrong token must be answered (403): " + describe(st);
        if (reply->status != 403 || reply->body.find("8230421") != std::string::npos)
          return "expected 403 without the challenge, got " + std::to_string(reply->status);
        return pass;
      });
    }
  }

  // Multi-status notifications, Meta-signed (X-Hub-Signature-256) with "appSecret" from --config.
  std::string app_secret = config_string(opt.config, "appSecret");
  if ((caps & BLAST_CAP_WEBHOOK) && !app_secret.empty()) {
    const std::string batch = meta_batch(25);
    auto post = [&](const std::string& signature) {
      return webhook_request{"POST", "/webhooks/conformance", "",
                             {{"X-Hub-Signature-256", signature}}, batch};
    };
    std::vector<observation> first;
    r.check("parse_webhook.multi_status", [&]() -> verdict {
      call_status st = inst->parse_webhook(post(meta_signature(app_secret, batch)), first);
      if (!st.ok())
        return "a signed batch of 100 statuses and 2 messages was refused: " + describe(st);
      if (first.size() != 102)
        return "expected 102 observations (one per status and message), got " +
               std::to_string(first.size());
      return all_well_formed(first, false);
    });
    r.check("parse_webhook.multi_status_stable_ids", [&]() -> verdict {
      std::vector<observation> again;
      call_status st = inst->parse_webhook(post(meta_signature(app_secret, batch)), again);
      if (!st.ok() || again.size() != first.size())
        return "the same batch a second time gave something else: " + describe(st);
      std::set<std::string> ids;
      for (size_t i = 0; i < again.size(); ++i) {
        if (again[i].event_id.empty() || again[i].event_id != first[i].event_id)
          return "observation " + std::to_string(i) + ": event id not stable";
        ids.insert(again[i].event_id);
      }
      return ids.size() == again.size() ? pass : verdict("two statuses share one event id");
    });
    r.check("parse_webhook.bad_signature", [&]() -> verdict {
      std::vector<observation> obs;
      call_status st = inst->parse_webhook(post(meta_signature(app_secret + "x", batch)), obs);
      return st.code == BLAST_E_SIGNATURE ? pass
                                          : verdict("expected BLAST_E_SIGNATURE, got " + describe(st));
    });
  }

  // Through the loader, undeclared operations never reach the plugin; what blastd sees must
  // still be BLAST_E_UNSUPPORTED (the plugin itself is checked in the abi.* checks).
  if (!(caps & BLAST_CAP_STATUS_QUERY))
    r.check("unsupported.query_status", [&]() -> verdict {
      std::vector<observation> obs;
      call_status st = inst->query_status("x", "{}", obs);
      return st.code == BLAST_E_UNSUPPORTED ? pass : verdict("got " + describe(st));
    });
  if (!(caps & BLAST_CAP_WEBHOOK))
    r.check("unsupported.parse_webhook", [&]() -> verdict {
      webhook_request req{"POST", "/", "", {}, "{}"};
      std::vector<observation> obs;
      call_status st = inst->parse_webhook(req, obs);
      return st.code == BLAST_E_UNSUPPORTED ? pass : verdict("got " + describe(st));
    });

  if (caps & BLAST_CAP_PUSH) {
    if (caps & BLAST_CAP_SEND) {
      auto pushed = std::make_shared<push_log>();
      std::unique_ptr<transport_instance> p;
      r.check("push.arrives", [&]() -> verdict {
        std::string error;
        p = lib->create(opt.config, push_log::into(pushed), error);
        if (!p)
          return "create failed: " + error;
        // Several messages, so a plugin whose simulated fate leaves some silent still pushes.
        for (int i = 0; i < 8; ++i)
          p->send("60123456789", "conformance test", "conformance-push-" + std::to_string(i));
        if (!pushed->wait_for_any(opt.timeout))
          return "no observation pushed within " + seconds_text(opt.timeout) +
                 " of 8 sends (pass a fast config, e.g. --config '{\"timeScale\":0}' for sim, "
                 "or a longer --timeout)";
        return pass;
      });
      if (p) {
        std::this_thread::sleep_for(200ms); // let a burst finish, to check more of it
        p.reset();
        r.check("push.well_formed", [&]() -> verdict {
          std::lock_guard<std::mutex> lk(pushed->mu);
          std::map<int, int> stages;
          for (const auto& o : pushed->seen)
            ++stages[o.stage];
          std::string by_stage;
          for (auto [stage, n] : stages)
            by_stage += (by_stage.empty() ? "" : ", ") + std::to_string(n) + " of stage " +
                        std::to_string(stage);
          r.info("push", std::to_string(pushed->seen.size()) + " observation(s) in " +
                             std::to_string(pushed->calls) + " push call(s)" +
                             (by_stage.empty() ? "" : ": " + by_stage));
          return all_well_formed(pushed->seen, true);
        });
      }
    } else {
      r.info("push", "not checked: without SEND nothing can be made to push");
    }
  }

  inst.reset();
  if (!(caps & BLAST_CAP_PUSH))
    r.check("push.undeclared", [&]() -> verdict {
      if (size_t n = stray->count())
        return "PUSH is not declared, yet " + std::to_string(n) + " observation(s) were pushed";
      return pass;
    });

  // Every loader instance is gone: the raw checks may now hand the plugin another host table.
  run_raw_checks(r, opt, caps);
  return r.finish();
}

} // namespace

int run_plugin_check(const plugin_check_options& options) {
  install_crash_handlers();
  // Generous: a check may wait `timeout` for a push, and 200 sends of a real network plugin
  // take a while; a hang is still reported long before a CI job's own timeout.
  watchdog dog(std::max<std::chrono::milliseconds>(60s, options.timeout * 3));
  report r(dog);
  return run(r, options);
}

} // namespace blast::tools
