// The "sim" transport plugin: a simulated WhatsApp-like channel with no network. Sends answer
// a WSAPME-shaped document; statuses and replies follow as pushes, deterministic under a seed.
//
// Determinism: every decision and delay of a message is a pure function of
// hash(seed, idempotency key), so one recipient of one blast gets the same fate whatever the
// send order, the thread or the run. The message id encodes that hash, which is how
// query_status recomputes the schedule from an id alone.
//
// Threading: send/query_status run on host threads under one mutex held only for map and queue
// updates; one timer thread per instance pushes due observations (never a thread per message),
// with the mutex released while it calls host->push, so the host may send from its push callback.
#include "blast_transport.hpp"

#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <iterator>
#include <limits>
#include <mutex>
#include <optional>
#include <queue>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace {

namespace json = boost::json;
using blast_sdk::str;
using blast_sdk::view;
using steady = std::chrono::steady_clock;

// The host table outlives every instance (the host keeps the library loaded until the last
// instance is destroyed), so a plain pointer set once by the entry point is enough.
std::atomic<const blast_host_v1*> g_host{nullptr};

int64_t now_ms() {
  const blast_host_v1* h = g_host.load();
  if (h && h->now_ms)
    return h->now_ms(h->host_ctx);
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

void log(int level, const std::string& message) {
  const blast_host_v1* h = g_host.load();
  if (h && h->log)
    h->log(h->host_ctx, level, str(message));
}

// ---- deterministic randomness ----------------------------------------------------------------

constexpr uint64_t golden = 0x9e3779b97f4a7c15ULL;

// splitmix64's finaliser: a bijection with full avalanche, so nearby inputs (seed 1, seed 2)
// give unrelated outputs.
uint64_t mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

uint64_t fnv1a(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : s)
    h = (h ^ c) * 0x100000001b3ULL;
  return h;
}

// The message's hash: everything about the message derives from it.
uint64_t message_hash(uint64_t seed, std::string_view key) {
  return mix(fnv1a(key) ^ mix(seed + golden));
}

// Independent draws from one message hash, one per decision. Numbered slots (rather than a
// stream) keep each decision stable if another decision is added later.
enum draw_slot : uint64_t {
  d_id_check = 1,
  d_fail,
  d_delivered,
  d_delivery_ms,
  d_read,
  d_read_ms,
  d_reply,
  d_reply_ms,
  d_reply_text
};
uint64_t draw(uint64_t h, draw_slot k) {
  return mix(h + k * golden);
}
// A uniform double in [0, 1) from the top 53 bits.
double unit(uint64_t x) {
  return static_cast<double>(x >> 11) * 0x1.0p-53;
}

// ---- configuration ---------------------------------------------------------------------------

struct delay_range {
  double min_ms;
  double max_ms;
  double pick(uint64_t x) const { return min_ms + unit(x) * (max_ms - min_ms); }
};

struct sim_config {
  uint64_t seed = 42;
  double delivered_rate = 0.95; // P(delivered | not failed)
  double read_rate = 0.7;       // P(read | delivered)
  double reply_rate = 0.25;     // P(reply | read)
  double fail_rate = 0.02;      // P(failed), decided first
  delay_range delivery{200, 2000};
  delay_range read{500, 5000};
  delay_range reply{1000, 10000};
  double time_scale = 1.0; // real delay = simulated delay * time_scale; 0 = at once
};

constexpr const char* allowed_keys =
    "seed, deliveredRate, readRate, replyRate, failRate, delivery, read, reply, timeScale";
constexpr double max_delay_ms = 7 * 24 * 3600 * 1000.0; // a week; keeps chrono far from overflow

struct config_error {
  std::string message;
};

// Numbers as people write them in a config ("0.95", "1000"), for error messages.
std::string format(double d) {
  std::ostringstream out;
  out << d;
  return out.str();
}

double number_in(const json::value& v, const char* name, double lo, double hi) {
  if (!v.is_number())
    throw config_error{std::string("\"") + name + "\" must be a number"};
  double d = v.to_number<double>();
  if (!(d >= lo && d <= hi)) // also rejects NaN
    throw config_error{std::string("\"") + name + "\" must be in [" + format(lo) + ", " +
                       format(hi) + "], got " + format(d)};
  return d;
}

void read_range(const json::value& v, const char* name, delay_range& r) {
  const json::object* o = v.if_object();
  if (!o)
    throw config_error{std::string("\"") + name + "\" must be an object {\"minMs\", \"maxMs\"}"};
  for (const auto& kv : *o) {
    std::string field = std::string(name) + "." + std::string(kv.key());
    if (kv.key() == "minMs")
      r.min_ms = number_in(kv.value(), field.c_str(), 0, max_delay_ms);
    else if (kv.key() == "maxMs")
      r.max_ms = number_in(kv.value(), field.c_str(), 0, max_delay_ms);
    else
      throw config_error{"unknown key \"" + field + "\" (allowed: minMs, maxMs)"};
  }
  if (r.min_ms > r.max_ms)
    throw config_error{std::string("\"") + name + "\": minMs (" + format(r.min_ms) +
                       ") exceeds maxMs (" + format(r.max_ms) + ")"};
}

// Strict on purpose: a typo in a rate would otherwise silently run the defaults.
sim_config parse_config(std::string_view text) {
  sim_config c;
  if (text.find_first_not_of(" \t\r\n") == std::string_view::npos)
    return c; // an absent config means all defaults
  json::error_code ec;
  json::value v = json::parse(json::string_view(text.data(), text.size()), ec);
  if (ec)
    throw config_error{"not valid JSON: " + ec.message()};
  const json::object* o = v.if_object();
  if (!o)
    throw config_error{"the config must be a JSON object"};
  for (const auto& kv : *o) {
    std::string_view k(kv.key().data(), kv.key().size());
    const json::value& val = kv.value();
    if (k == "seed") {
      if (val.is_int64() && val.get_int64() >= 0)
        c.seed = static_cast<uint64_t>(val.get_int64());
      else if (val.is_uint64())
        c.seed = val.get_uint64();
      else
        throw config_error{"\"seed\" must be a non-negative integer"};
    } else if (k == "deliveredRate") {
      c.delivered_rate = number_in(val, "deliveredRate", 0, 1);
    } else if (k == "readRate") {
      c.read_rate = number_in(val, "readRate", 0, 1);
    } else if (k == "replyRate") {
      c.reply_rate = number_in(val, "replyRate", 0, 1);
    } else if (k == "failRate") {
      c.fail_rate = number_in(val, "failRate", 0, 1);
    } else if (k == "delivery") {
      read_range(val, "delivery", c.delivery);
    } else if (k == "read") {
      read_range(val, "read", c.read);
    } else if (k == "reply") {
      read_range(val, "reply", c.reply);
    } else if (k == "timeScale") {
      c.time_scale = number_in(val, "timeScale", 0, 1000);
    } else if (k == "plugin") {
      // The host strips "plugin" before create (blast_transport.h); tolerated so that a
      // transport's config passed whole still works.
    } else {
      throw config_error{"unknown key \"" + std::string(k) + "\" (allowed: " + allowed_keys + ")"};
    }
  }
  return c;
}

// ---- a message's fate ------------------------------------------------------------------------

// The steps a message goes through, in order; each is one observation.
enum class step : uint8_t { failed, delivered, read, reply };

// Everything that will happen to one message: a pure function of (config, hash). Offsets are
// simulated milliseconds after the send, cumulative along the funnel, before time scaling.
struct fate {
  bool failed = false, delivered = false, read = false, replied = false;
  double ack_ms = 0; // delivered or failed
  double read_ms = 0;
  double reply_ms = 0;

  fate(const sim_config& c, uint64_t h) {
    failed = unit(draw(h, d_fail)) < c.fail_rate;
    delivered = !failed && unit(draw(h, d_delivered)) < c.delivered_rate;
    read = delivered && unit(draw(h, d_read)) < c.read_rate;
    replied = read && unit(draw(h, d_reply)) < c.reply_rate;
    ack_ms = c.delivery.pick(draw(h, d_delivery_ms));
    read_ms = ack_ms + c.read.pick(draw(h, d_read_ms));
    reply_ms = read_ms + c.reply.pick(draw(h, d_reply_ms));
  }
  double offset(step s) const {
    return s == step::read ? read_ms : s == step::reply ? reply_ms : ack_ms;
  }
  std::optional<step> first() const {
    if (failed)
      return step::failed;
    if (delivered)
      return step::delivered;
    return std::nullopt; // stays "sent" for ever (a phone that never comes back)
  }
  std::optional<step> after(step s) const {
    if (s == step::delivered && read)
      return step::read;
    if (s == step::read && replied)
      return step::reply;
    return std::nullopt;
  }
};

// ---- message ids -----------------------------------------------------------------------------

constexpr std::string_view id_prefix = "SIM";
constexpr size_t id_hex = 20; // 16 hex digits of the hash + 4 of a check value

// 80 bits like a real gateway's id; the last 16 bits only tell our ids from look-alikes.
std::string message_id(uint64_t h) {
  static const char digits[] = "0123456789ABCDEF";
  std::string id(id_prefix);
  for (int shift = 60; shift >= 0; shift -= 4)
    id += digits[(h >> shift) & 0xf];
  uint64_t check = draw(h, d_id_check) >> 48;
  for (int shift = 12; shift >= 0; shift -= 4)
    id += digits[(check >> shift) & 0xf];
  return id;
}

std::optional<uint64_t> hash_of_id(std::string_view id) {
  if (id.size() != id_prefix.size() + id_hex || id.substr(0, id_prefix.size()) != id_prefix)
    return std::nullopt;
  uint64_t h = 0;
  for (char ch : id.substr(id_prefix.size(), 16)) {
    int d = ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : -1;
    if (d < 0)
      return std::nullopt;
    h = (h << 4) | static_cast<uint64_t>(d);
  }
  if (message_id(h) != id)
    return std::nullopt;
  return h;
}

// ---- bounded memory of send times ------------------------------------------------------------

// Message hash → send time (ms), for idempotent re-sends and exact query_status schedules.
// Memory is bounded: two generations of an open-addressing table of 16-byte slots; when the
// current generation holds kPerGeneration sends it becomes the previous one and the older is
// dropped. So the last 512 Ki sends at least are remembered, in at most 2 x 16 MiB. A forgotten
// message is still answered by query_status from its document's messageTimestamp (second
// resolution), and a re-send of it schedules its pushes again with the same event ids, which the
// host de-duplicates.
class send_times {
public:
  std::optional<int64_t> find(uint64_t h) const {
    if (const slot* s = current_.find(h))
      return s->ms;
    if (const slot* s = previous_.find(h))
      return s->ms;
    return std::nullopt;
  }
  void insert(uint64_t h, int64_t ms) {
    if (current_.count >= kPerGeneration) {
      previous_ = std::move(current_);
      current_ = table{};
    }
    current_.put(h, ms);
  }

private:
  static constexpr size_t kPerGeneration = size_t{1} << 19;
  static constexpr int64_t kEmpty = std::numeric_limits<int64_t>::min();
  struct slot {
    uint64_t h;
    int64_t ms;
  };
  struct table {
    std::vector<slot> slots; // power-of-two size, linear probing, load <= 1/2
    size_t count = 0;

    const slot* find(uint64_t h) const {
      if (slots.empty())
        return nullptr;
      size_t mask = slots.size() - 1;
      for (size_t i = h & mask;; i = (i + 1) & mask) { // h is well mixed: its low bits will do
        if (slots[i].ms == kEmpty)
          return nullptr;
        if (slots[i].h == h)
          return &slots[i];
      }
    }
    void put(uint64_t h, int64_t ms) {
      if ((count + 1) * 2 > slots.size())
        grow();
      size_t mask = slots.size() - 1;
      size_t i = h & mask;
      while (slots[i].ms != kEmpty && slots[i].h != h)
        i = (i + 1) & mask;
      if (slots[i].ms == kEmpty)
        ++count;
      slots[i] = slot{h, ms};
    }
    void grow() {
      std::vector<slot> old = std::move(slots);
      slots.assign(old.empty() ? 1024 : old.size() * 2, slot{0, kEmpty});
      count = 0;
      for (const slot& s : old)
        if (s.ms != kEmpty)
          put(s.h, s.ms);
    }
  };
  table current_;
  table previous_;
};

// ---- observations ----------------------------------------------------------------------------

using owned_observation = blast_sdk::observation;

const char* const reply_texts[] = {"Yes, interested", "How much is it?", "Tell me more please",
                                   "Not now, thanks", "Ok"};

struct status_word {
  const char* name; // Baileys' status name, as WSAPME passes it through
  int code;
  int32_t stage;
};
status_word status_of(step s) {
  switch (s) {
    case step::failed:
      return {"ERROR", 0, BLAST_STAGE_FAILED};
    case step::delivered:
      return {"DELIVERY_ACK", 3, BLAST_STAGE_DELIVERED};
    case step::read:
      return {"READ", 4, BLAST_STAGE_READ};
    case step::reply:
      break;
  }
  return {"message", 0, BLAST_STAGE_REPLIED};
}

const char* step_name(step s) {
  switch (s) {
    case step::failed:
      return "failed";
    case step::delivered:
      return "delivered";
    case step::read:
      return "read";
    case step::reply:
      break;
  }
  return "reply";
}

int64_t scaled_ms(const sim_config& c, double offset_ms) {
  return std::llround(offset_ms * c.time_scale);
}

json::object message_key(const std::string& to, const std::string& id) {
  return json::object{{"remoteJid", to + "@s.whatsapp.net"}, {"fromMe", true}, {"id", id}};
}

// One step of a message as the host sees it. `to` may be empty (a look-up of a message whose
// document lacked a recipient). The event id is deterministic, so a push and a look-up of the
// same step de-duplicate at the host, and so do re-pushes after a forgotten re-send.
owned_observation observe(const sim_config& c, uint64_t h, step s, const std::string& to,
                          int64_t send_ms, bool from_lookup) {
  fate f(c, h);
  owned_observation o;
  std::string id = message_id(h);
  status_word w = status_of(s);
  o.stage = w.stage;
  o.provider_status = w.name;
  o.time_ms = send_ms + scaled_ms(c, f.offset(s));
  o.event_id = "sim-" + id + "-" + step_name(s);
  if (s == step::reply) {
    // An inbound message, shaped like WSAPME's incoming hook; our id is what it quotes.
    o.sender = to;
    o.quoted_id = id;
    const char* text = reply_texts[draw(h, d_reply_text) % std::size(reply_texts)];
    o.raw = json::serialize(json::object{{"event", "message"},
                                         {"eventId", o.event_id},
                                         {"type", "text"},
                                         {"message", text},
                                         {"from", to + "@c.us"},
                                         {"timestamp", o.time_ms / 1000},
                                         {"is_forwarded", false},
                                         {"is_broadcast", false},
                                         {"quotedId", id}});
    return o;
  }
  o.message_id = id;
  if (from_lookup) {
    // The shape of WSAPME's status look-up answer `data`.
    json::object d{{"key", message_key(to, id)},
                   {"status", w.name},
                   {"statusCode", w.code},
                   {"messageTimestamp", std::to_string(send_ms / 1000)}};
    if (s != step::failed)
      d["messageC2STimestamp"] = std::to_string((send_ms + scaled_ms(c, f.ack_ms)) / 1000);
    o.raw = json::serialize(d);
  } else {
    // The shape of WSAPME's message.status webhook.
    o.raw = json::serialize(json::object{{"event", "message.status"},
                                         {"eventId", o.event_id},
                                         {"data", json::object{{"key", message_key(to, id)},
                                                               {"status", w.name},
                                                               {"statusCode", w.code},
                                                               {"timestamp", o.time_ms / 1000}}}});
  }
  return o;
}

// A step waiting on the timer thread. `base` is the steady time of the send, so a chain of
// steps keeps its simulated spacing whatever the timer thread's lateness.
struct timer_entry {
  steady::time_point due;
  steady::time_point base;
  int64_t send_ms;
  uint64_t h;
  step what;
  std::string to;
};
struct later {
  bool operator()(const timer_entry& a, const timer_entry& b) const { return a.due > b.due; }
};

bool all_digits(std::string_view s) {
  for (char ch : s)
    if (ch < '0' || ch > '9')
      return false;
  return !s.empty();
}

} // namespace

// The plugin's instance type, opaque to the host (declared in blast_transport.h).
struct blast_instance {
  explicit blast_instance(sim_config c, void* token) : config(c), token(token) {
    timer = std::thread([this] { run(); });
  }
  ~blast_instance() {
    if (timer.joinable()) // only if stop() threw: never leave a joinable std::thread behind
      timer.detach();
  }

  // Stops and joins the timer thread: after it returns, no push (the contract of destroy).
  void stop() {
    {
      std::lock_guard<std::mutex> lk(mu);
      stopping = true;
    }
    cv.notify_all();
    timer.join();
  }

  const sim_config config;
  void* const token;

  std::mutex mu; // guards everything below but `timer`
  std::condition_variable cv;
  std::priority_queue<timer_entry, std::vector<timer_entry>, later> queue;
  send_times sent;
  bool stopping = false;
  std::atomic<uint64_t> unkeyed{0}; // numbers sends that came without an idempotency key
  std::thread timer;

  // Called with `mu` held.
  void schedule(steady::time_point base, int64_t send_ms, uint64_t h, step s, std::string to) {
    fate f(config, h);
    auto offset = std::chrono::microseconds(std::llround(f.offset(s) * config.time_scale * 1000));
    queue.push(timer_entry{base + offset, base, send_ms, h, s, std::move(to)});
  }

  void run() noexcept {
    // Batches go out in one host->push each; the cap keeps one call's memory small when a
    // burst of sends with timeScale 0 makes thousands due at once.
    constexpr size_t max_batch = 512;
    std::vector<timer_entry> due;
    std::vector<owned_observation> batch;
    std::vector<blast_observation> views;
    try {
      std::unique_lock<std::mutex> lk(mu);
      while (!stopping) {
        if (queue.empty()) {
          cv.wait(lk);
          continue;
        }
        auto now = steady::now();
        if (auto next_due = queue.top().due; next_due > now) {
          // By value: wait_until reads its deadline again after waking, when a
          // send may have grown the queue and moved what top() referred to.
          cv.wait_until(lk, next_due);
          continue;
        }
        due.clear();
        while (!queue.empty() && queue.top().due <= now && due.size() < max_batch) {
          due.push_back(queue.top());
          queue.pop();
          // The next step is queued only now, so one message's steps are pushed in order even
          // when all are due at once.
          const timer_entry& e = due.back();
          if (auto next = fate(config, e.h).after(e.what))
            schedule(e.base, e.send_ms, e.h, *next, e.to);
        }
        // The observations' JSON is built outside the lock, which sends contend for.
        lk.unlock();
        batch.clear();
        views.clear();
        for (const timer_entry& e : due)
          batch.push_back(observe(config, e.h, e.what, e.to, e.send_ms, false));
        for (const owned_observation& o : batch)
          views.push_back(o.view());
        const blast_host_v1* h = g_host.load();
        if (h && h->push)
          h->push(h->host_ctx, token, views.data(), views.size());
        lk.lock();
      }
    } catch (const std::exception& e) {
      // Only allocation can fail here; the instance stops pushing but keeps answering calls.
      log(BLAST_LOG_ERROR, std::string("sim: timer thread stopped: ") + e.what());
    }
  }
};

namespace {

blast_instance* sim_create(const char* config_json, size_t config_len, void* token, char* err,
                           size_t err_len) {
  return blast_sdk::guarded_ptr<blast_instance>(err, err_len, [&]() -> blast_instance* {
    sim_config c;
    try {
      c = parse_config(
          std::string_view(config_json ? config_json : "", config_json ? config_len : 0));
    } catch (const config_error& e) {
      blast_sdk::write_error(err, err_len, "sim config: " + e.message);
      return nullptr;
    }
    // The message first: nothing may throw once the instance's thread runs.
    std::string created = "sim: instance created (seed " + std::to_string(c.seed) + ", timeScale " +
                          format(c.time_scale) + ")";
    auto* inst = new blast_instance(c, token);
    log(BLAST_LOG_INFO, created);
    return inst;
  });
}

void sim_destroy(blast_instance* inst) {
  if (!inst)
    return;
  // destroy has no error channel: a failure to join is logged, and the instance is then leaked
  // rather than freed under a thread that may still use it.
  char err[256] = "";
  int rc = blast_sdk::guarded(err, sizeof err, [&] {
    inst->stop();
    return BLAST_OK;
  });
  if (rc == BLAST_OK)
    delete inst;
  else
    log(BLAST_LOG_ERROR, std::string("sim: destroy: ") + err);
}

int sim_send(blast_instance* inst, const blast_send_request* req, blast_send_sink sink,
             void* sink_ctx, int64_t* retry_after_ms, char* err, size_t err_len) {
  return blast_sdk::guarded(err, err_len, [&] {
    if (!inst || !req || !sink) {
      blast_sdk::write_error(err, err_len, "sim: send called with a null argument");
      return BLAST_E_INVALID;
    }
    std::string to(view(req->to));
    if (!all_digits(to)) {
      blast_sdk::write_error(err, err_len,
                             "sim: recipient must be E.164 digits without '+', got \"" + to + "\"");
      return BLAST_E_INVALID;
    }
    std::string key(view(req->idempotency_key));
    if (key.empty()) // no key, no idempotency: a fresh fate per send
      key = "unkeyed-" + std::to_string(inst->unkeyed.fetch_add(1)) + "-" + to;
    uint64_t h = message_hash(inst->config.seed, key);
    std::string id = message_id(h);

    int64_t send_ms;
    bool first_send;
    {
      std::lock_guard<std::mutex> lk(inst->mu);
      std::optional<int64_t> prior = inst->sent.find(h);
      first_send = !prior;
      send_ms = prior ? *prior : now_ms();
      if (first_send)
        inst->sent.insert(h, send_ms);
    }
    // The same key answers the same id and timestamp, as an idempotent gateway would.
    json::object doc{
        {"key", message_key(to, id)},
        {"message", json::object{{"extendedTextMessage", json::object{{"text", view(req->text)}}}}},
        {"messageTimestamp", std::to_string(send_ms / 1000)},
        {"status", "PENDING"}};
    std::string document = json::serialize(doc);
    sink(sink_ctx, str(id), str(document));

    // Scheduled after the sink so a push rarely overtakes the send's own answer (the host must
    // cope anyway: with timeScale 0 it still can).
    if (first_send) {
      if (auto s = fate(inst->config, h).first()) {
        {
          std::lock_guard<std::mutex> lk(inst->mu);
          inst->schedule(steady::now(), send_ms, h, *s, to);
        }
        inst->cv.notify_one();
      }
    }
    return BLAST_OK;
  });
}

int sim_query_status(blast_instance* inst, blast_str message_id_in, blast_str document,
                     blast_observation_sink sink, void* sink_ctx, char* err, size_t err_len) {
  return blast_sdk::guarded(err, err_len, [&] {
    if (!inst || !sink) {
      blast_sdk::write_error(err, err_len, "sim: query_status called with a null argument");
      return BLAST_E_INVALID;
    }
    std::string_view id = view(message_id_in);
    std::optional<uint64_t> h = hash_of_id(id);
    if (!h) {
      blast_sdk::write_error(err, err_len,
                             "sim: not a sim message id: \"" + std::string(id) + "\"");
      return BLAST_E_INVALID;
    }
    std::optional<int64_t> send_ms;
    {
      std::lock_guard<std::mutex> lk(inst->mu);
      send_ms = inst->sent.find(*h);
    }
    // The document gives the recipient (for the raw fragment) and, for a message this instance
    // does not remember (a restart, or forgotten), the send time to second resolution.
    std::string to;
    json::error_code ec;
    json::value doc = json::parse(
        json::string_view(document.data ? document.data : "", document.data ? document.len : 0),
        ec);
    if (!ec && doc.is_object()) {
      const json::object& o = doc.get_object();
      if (auto* key = o.if_contains("key"); key && key->is_object())
        if (auto* jid = key->get_object().if_contains("remoteJid"); jid && jid->is_string()) {
          std::string_view j(jid->get_string().data(), jid->get_string().size());
          to = std::string(j.substr(0, j.find('@')));
        }
      if (!send_ms)
        if (auto* ts = o.if_contains("messageTimestamp"); ts && ts->is_string()) {
          const json::string& s = ts->get_string();
          if (all_digits(std::string_view(s.data(), s.size())) && s.size() < 12)
            send_ms = std::stoll(std::string(s.c_str())) * 1000;
        }
    }
    if (!send_ms) {
      blast_sdk::write_error(err, err_len,
                             "sim: unknown message " + std::string(id) +
                                 " and its document has no messageTimestamp");
      return BLAST_E_INVALID;
    }

    // A status look-up reports the message's own status; replies are inbound messages, which
    // a real look-up never reports, so they only ever arrive by push.
    fate f(inst->config, *h);
    int64_t now = now_ms();
    std::optional<step> reached;
    for (auto s = f.first(); s && *s != step::reply; s = f.after(*s)) {
      if (*send_ms + scaled_ms(inst->config, f.offset(*s)) > now)
        break;
      reached = s;
    }
    if (reached) {
      owned_observation o = observe(inst->config, *h, *reached, to, *send_ms, true);
      blast_observation v = o.view();
      sink(sink_ctx, &v);
    }
    return BLAST_OK;
  });
}

int sim_parse_webhook(blast_instance*, const blast_webhook_request*, blast_observation_sink, void*,
                      char* err, size_t err_len) {
  blast_sdk::write_error(err, err_len, "sim: no webhooks (statuses arrive by push)");
  return BLAST_E_UNSUPPORTED;
}

} // namespace

extern "C" BLAST_PLUGIN_EXPORT const blast_transport_v1*
blast_transport_entry(const blast_host_v1* host) {
  // A host of another major version, or with a table shorter than v1's, cannot be served.
  if (!blast_sdk::host_compatible(host))
    return nullptr;
  g_host.store(host);
  static const blast_transport_v1 table = {
      BLAST_TRANSPORT_ABI_VERSION,
      sizeof(blast_transport_v1),
      "sim",
      "1.0.0",
      BLAST_CAP_SEND | BLAST_CAP_STATUS_QUERY | BLAST_CAP_PUSH,
      sim_create,
      sim_destroy,
      sim_send,
      sim_query_status,
      sim_parse_webhook,
      nullptr, // answer_webhook (ABI 1.1): not declared
  };
  return &table;
}
