// The gateway's routes and state machine: sends plan a timeline and schedule
// its webhooks; look-ups read the timeline at the current time.
#include "tools/wsapme_sim/gateway.hpp"

#include "tools/wsapme_sim/webhook_sender.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <cctype>
#include <chrono>
#include <deque>
#include <mutex>
#include <optional>
#include <unordered_map>

namespace json = boost::json;
using steady = std::chrono::steady_clock;

namespace blast::tools::wsapme_sim {

namespace {

uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// FNV-1a: unlike std::hash, the same on every platform and build.
uint64_t fnv1a(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : s)
    h = (h ^ c) * 0x100000001b3ULL;
  return h;
}

// A hand-rolled generator and draws: std's distributions may differ between
// standard libraries, and a seed must replay the same run everywhere.
struct rng {
  uint64_t state;
  uint64_t next() { return splitmix64(state); }
  double unit() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  bool chance(double p) { return unit() < p; }
  uint64_t below(uint64_t n) { return n ? next() % n : 0; }
  std::string hex(size_t n, bool upper) {
    const char* digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    std::string s;
    uint64_t bits = 0;
    for (size_t i = 0; i < n; ++i) {
      if (i % 16 == 0)
        bits = next();
      s.push_back(digits[bits & 15]);
      bits >>= 4;
    }
    return s;
  }
};

uint64_t message_seed(uint64_t seed, std::string_view to, uint64_t nth) {
  uint64_t s = seed;
  uint64_t x = splitmix64(s) ^ fnv1a(to);
  x = splitmix64(x) ^ nth;
  return splitmix64(x);
}

struct stage {
  const char* status;
  int code;
  int64_t at_ms; // after the send
};

struct webhook_plan {
  std::string event_id;
  bool inbound = false;          // "message" (a reply) rather than "message.status"
  size_t stage = 0;              // index into message::stages, for status events
  int64_t at_ms = 0;             // the event's own time, in its timestamp
  int64_t due_ms = 0;            // when it is posted; differs from at_ms under --reorder
  int64_t duplicate_due_ms = -1; // a second post of the same body, or -1
};

struct reply_plan {
  int64_t at_ms;
  bool quoted;
};

struct message {
  std::string id, to, text;
  json::object data;
  std::string data_text; // data serialized, to check messageInfo echoes it verbatim
  int64_t sent_unix_ms = 0;
  steady::time_point sent_at;
  std::vector<stage> stages; // PENDING first; times ascending
  std::optional<reply_plan> reply;
  std::vector<webhook_plan> webhooks;
};

struct counters {
  uint64_t send_requests = 0, sends = 0, rejected = 0, rate_limited = 0, unavailable = 0,
           unauthorised = 0, bad_requests = 0, not_found = 0, status_lookups = 0,
           messageinfo_lookups = 0;
  uint64_t server_acks = 0, delivery_acks = 0, reads = 0, reads_without_delivery = 0, replies = 0,
           quoted_replies = 0, errors = 0;
};

response answer(unsigned status, const json::value& v) {
  response r;
  r.status = status;
  r.body = json::serialize(v);
  return r;
}

json::object failure(std::string_view message) {
  json::object o;
  o["success"] = false;
  o["message"] = message;
  return o;
}

// The contract's device ids are strings; a number is taken too, leniently.
std::optional<std::string> text_field(const json::object& o, std::string_view key) {
  auto* v = o.if_contains(key);
  if (!v)
    return std::nullopt;
  if (v->is_string())
    return std::string(v->get_string());
  if (v->is_int64())
    return std::to_string(v->get_int64());
  if (v->is_uint64())
    return std::to_string(v->get_uint64());
  return std::nullopt;
}

int64_t unix_ms_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool iequal(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

} // namespace

std::string request::header(std::string_view name) const {
  for (auto& [k, v] : headers)
    if (iequal(k, name))
      return v;
  return {};
}

struct gateway::impl {
  impl(sim_options o, webhook_sender* s) : opts(std::move(o)), sender(s), chaos{opts.seed} {}

  int64_t elapsed_ms(const message& m, steady::time_point now) const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(now - m.sent_at).count();
  }

  const stage& current(const message& m, steady::time_point now) const {
    auto elapsed = elapsed_ms(m, now);
    const stage* s = &m.stages.front();
    for (auto& st : m.stages)
      if (st.at_ms <= elapsed)
        s = &st;
    return *s;
  }

  int64_t delay(rng& r) const {
    return opts.delay_min_ms +
           static_cast<int64_t>(r.below(opts.delay_max_ms - opts.delay_min_ms + 1));
  }

  // Outcome draws come first and in a fixed order, so --reorder and
  // --duplicate-rate change how events travel, never the funnel itself.
  void plan(message& m, rng& r) {
    m.stages.push_back({"PENDING", 1, 0});
    int64_t t = 0;
    if (opts.error_numbers.count(m.to)) {
      t += delay(r);
      m.stages.push_back({"ERROR", 0, t});
      ++c.errors;
    } else {
      t += delay(r);
      m.stages.push_back({"SERVER_ACK", 2, t});
      ++c.server_acks;
      if (r.chance(opts.deliver_rate)) {
        bool read = r.chance(opts.read_rate);
        bool skip_delivery = read && r.chance(opts.read_without_delivered_rate);
        if (!skip_delivery) {
          t += delay(r);
          m.stages.push_back({"DELIVERY_ACK", 3, t});
          ++c.delivery_acks;
        }
        if (read) {
          t += delay(r);
          m.stages.push_back({"READ", 4, t});
          ++c.reads;
          c.reads_without_delivery += skip_delivery;
          if (r.chance(opts.reply_rate)) {
            t += delay(r);
            m.reply = reply_plan{t, r.chance(opts.quote_rate)};
            ++c.replies;
            c.quoted_replies += m.reply->quoted;
          }
        }
      }
    }
    // Event ids are drawn with or without a webhook URL, so polling-only and
    // webhook runs of one seed plan the same messages.
    for (size_t i = 1; i < m.stages.size(); ++i) {
      webhook_plan w;
      w.event_id = r.hex(32, false);
      w.stage = i;
      w.at_ms = w.due_ms = m.stages[i].at_ms;
      m.webhooks.push_back(w);
    }
    if (opts.reorder) {
      // Fisher-Yates over the due times: READ may go out before DELIVERY_ACK
      // while each body still carries its own stage time.
      for (size_t i = m.webhooks.size(); i > 1; --i)
        std::swap(m.webhooks[i - 1].due_ms, m.webhooks[r.below(i)].due_ms);
    }
    if (m.reply) {
      webhook_plan w;
      w.event_id = r.hex(32, false);
      w.inbound = true;
      w.at_ms = w.due_ms = m.reply->at_ms;
      m.webhooks.push_back(w);
    }
    for (auto& w : m.webhooks)
      if (r.chance(opts.duplicate_rate))
        w.duplicate_due_ms = w.due_ms + delay(r);
  }

  std::string webhook_body(const message& m, const webhook_plan& w) const {
    json::object ev;
    int64_t ts = (m.sent_unix_ms + w.at_ms) / 1000;
    if (w.inbound) {
      ev["event"] = "message";
      ev["eventId"] = w.event_id;
      ev["type"] = "text";
      ev["message"] = opts.reply_text;
      ev["from"] = m.to + "@c.us";
      ev["timestamp"] = ts;
      ev["is_forwarded"] = false;
      ev["is_broadcast"] = false;
      if (m.reply->quoted)
        ev["quotedId"] = m.id;
    } else {
      ev["event"] = "message.status";
      ev["eventId"] = w.event_id;
      ev["device"] = opts.device;
      json::object d;
      d["key"] = m.data.at("key");
      d["status"] = m.stages[w.stage].status;
      d["statusCode"] = m.stages[w.stage].code;
      d["timestamp"] = ts;
      ev["data"] = std::move(d);
    }
    return json::serialize(ev);
  }

  bool rate_limited(steady::time_point now) {
    if (opts.rate_limit == 0)
      return false;
    while (!recent_sends.empty() && now - recent_sends.front() >= std::chrono::seconds(1))
      recent_sends.pop_front();
    if (recent_sends.size() >= opts.rate_limit)
      return true;
    recent_sends.push_back(now);
    return false;
  }

  response send(const json::object& body) {
    auto device = text_field(body, "device");
    auto to = text_field(body, "to");
    auto* text = body.if_contains("message");
    if (!device || !to || !text || !text->is_string()) {
      ++c.bad_requests;
      return answer(400, failure("device, to and message are required"));
    }
    if (*device != opts.device) {
      ++c.not_found;
      return answer(404, failure("Device not found"));
    }
    if (to->empty() || to->find_first_not_of("0123456789") != std::string::npos) {
      ++c.bad_requests;
      return answer(400, failure("Invalid number"));
    }
    if (opts.reject_numbers.count(*to)) {
      ++c.rejected;
      return answer(200, failure("Number is not registered on WhatsApp"));
    }
    rng r{message_seed(opts.seed, *to, sends_per_number[*to]++)};
    message m;
    do
      m.id = "3EB0" + r.hex(18, true);
    while (messages.count(m.id));
    m.to = *to;
    m.text = std::string(text->get_string());
    m.sent_at = steady::now();
    m.sent_unix_ms = unix_ms_now();

    json::object key;
    key["remoteJid"] = m.to + "@s.whatsapp.net";
    key["fromMe"] = true;
    key["id"] = m.id;
    json::object content;
    content["extendedTextMessage"] = json::object{{"text", m.text}};
    m.data["key"] = std::move(key);
    m.data["message"] = std::move(content);
    m.data["messageTimestamp"] = std::to_string(m.sent_unix_ms / 1000);
    m.data["status"] = "PENDING";
    if (opts.extra_fields) {
      // Fields a newer gateway might add; a client must store and echo them.
      m.data["broadcast"] = false;
      m.data["participant"] = nullptr;
      m.data["messageStubParameters"] = json::array();
    }
    m.data_text = json::serialize(m.data);
    plan(m, r);
    ++c.sends;

    json::object res;
    res["success"] = true;
    res["message"] = "Sent Successfully";
    res["messageId"] = m.id;
    res["data"] = m.data;
    auto id = m.id;
    auto& stored = messages.emplace(std::move(id), std::move(m)).first->second;
    if (sender)
      for (auto& w : stored.webhooks) {
        auto body = webhook_body(stored, w);
        if (w.duplicate_due_ms >= 0)
          sender->schedule(stored.sent_at + std::chrono::milliseconds(w.duplicate_due_ms), body);
        sender->schedule(stored.sent_at + std::chrono::milliseconds(w.due_ms), std::move(body));
      }
    return answer(200, res);
  }

  response status_answer(const message& m) const {
    auto now = steady::now();
    auto& st = current(m, now);
    json::object d;
    d["key"] = m.data.at("key");
    d["status"] = st.status;
    d["statusCode"] = st.code;
    d["messageTimestamp"] = m.data.at("messageTimestamp");
    auto elapsed = elapsed_ms(m, now);
    for (auto& s : m.stages)
      if (s.code >= 3 && s.at_ms <= elapsed) {
        d["messageC2STimestamp"] = std::to_string((m.sent_unix_ms + s.at_ms) / 1000);
        break;
      }
    json::object res;
    res["success"] = true;
    res["data"] = std::move(d);
    return answer(200, res);
  }

  response get_message_status(const json::object& body) {
    ++c.status_lookups;
    auto device = text_field(body, "device");
    auto id = text_field(body, "messageId");
    if (!device || !id) {
      ++c.bad_requests;
      return answer(400, failure("device and messageId are required"));
    }
    if (*device != opts.device) {
      ++c.not_found;
      return answer(404, failure("Device not found"));
    }
    auto it = messages.find(*id);
    if (it == messages.end()) {
      ++c.not_found;
      return answer(404, failure("Message not found"));
    }
    return status_answer(it->second);
  }

  response message_info(const json::object& body) {
    ++c.messageinfo_lookups;
    auto device = text_field(body, "id_device");
    auto jid = text_field(body, "jid");
    auto* doc = body.if_contains("messages");
    const json::value* key_id = nullptr;
    if (doc && doc->is_object())
      if (auto* key = doc->get_object().if_contains("key"); key && key->is_object())
        key_id = key->get_object().if_contains("id");
    if (!device || !jid || !key_id || !key_id->is_string()) {
      ++c.bad_requests;
      return answer(400, failure("id_device, jid and messages (with key.id) are required"));
    }
    if (*device != opts.device) {
      ++c.not_found;
      return answer(404, failure("Device not found"));
    }
    auto it = messages.find(std::string(key_id->get_string()));
    if (it == messages.end()) {
      ++c.not_found;
      return answer(404, failure("Message not found"));
    }
    auto& m = it->second;
    // Stricter than the real gateway on purpose: a client that reorders or
    // drops fields of the stored structure is caught here.
    if (json::serialize(*doc) != m.data_text) {
      ++c.bad_requests;
      return answer(400, failure("messages differs from the structure the send returned"));
    }
    if (*jid != m.to + "@s.whatsapp.net") {
      ++c.bad_requests;
      return answer(400, failure("jid does not match the message"));
    }
    if (opts.messageinfo_empty) {
      json::object res;
      res["success"] = true;
      res["data"] = json::object();
      return answer(200, res);
    }
    return status_answer(m);
  }

  response stats() const {
    json::object planned;
    planned["serverAck"] = c.server_acks;
    planned["deliveryAck"] = c.delivery_acks;
    planned["read"] = c.reads;
    planned["readWithoutDelivery"] = c.reads_without_delivery;
    planned["replies"] = c.replies;
    planned["quotedReplies"] = c.quoted_replies;
    planned["errors"] = c.errors;
    json::object s;
    s["sendRequests"] = c.send_requests;
    s["sends"] = c.sends;
    s["rejected"] = c.rejected;
    s["rateLimited"] = c.rate_limited;
    s["unavailable"] = c.unavailable;
    s["unauthorised"] = c.unauthorised;
    s["badRequests"] = c.bad_requests;
    s["notFound"] = c.not_found;
    s["statusLookups"] = c.status_lookups;
    s["messageInfoLookups"] = c.messageinfo_lookups;
    s["planned"] = std::move(planned);
    webhook_stats w;
    if (sender)
      w = sender->stats();
    s["webhooksScheduled"] = w.scheduled;
    s["webhooksSent"] = w.sent;
    s["webhooksFailed"] = w.failed;
    s["webhooksRetried"] = w.retried;
    s["webhooksPending"] = w.pending;
    return answer(200, s);
  }

  response timeline(const std::string& id) const {
    auto it = messages.find(id);
    if (it == messages.end())
      return answer(404, failure("Message not found"));
    auto& m = it->second;
    auto now = steady::now();
    auto elapsed = elapsed_ms(m, now);
    auto& cur = current(m, now);
    json::object t;
    t["messageId"] = m.id;
    t["to"] = m.to;
    t["text"] = m.text;
    t["sentAt"] = m.sent_unix_ms;
    t["status"] = cur.status;
    t["statusCode"] = cur.code;
    json::array stages;
    for (auto& s : m.stages)
      stages.push_back(json::object{{"status", s.status},
                                    {"statusCode", s.code},
                                    {"at", m.sent_unix_ms + s.at_ms},
                                    {"reached", s.at_ms <= elapsed}});
    t["stages"] = std::move(stages);
    if (m.reply)
      t["reply"] = json::object{{"at", m.sent_unix_ms + m.reply->at_ms},
                                {"quoted", m.reply->quoted},
                                {"text", opts.reply_text},
                                {"reached", m.reply->at_ms <= elapsed}};
    else
      t["reply"] = nullptr;
    // Every post in due order, duplicates as their own rows.
    std::vector<std::pair<int64_t, json::object>> posts;
    for (auto& w : m.webhooks) {
      json::object p;
      p["eventId"] = w.event_id;
      p["event"] = w.inbound ? "message" : "message.status";
      if (!w.inbound)
        p["status"] = m.stages[w.stage].status;
      p["at"] = m.sent_unix_ms + w.at_ms;
      p["dueAt"] = m.sent_unix_ms + w.due_ms;
      p["duplicate"] = false;
      posts.emplace_back(w.due_ms, p);
      if (w.duplicate_due_ms >= 0) {
        p["dueAt"] = m.sent_unix_ms + w.duplicate_due_ms;
        p["duplicate"] = true;
        posts.emplace_back(w.duplicate_due_ms, std::move(p));
      }
    }
    std::stable_sort(posts.begin(), posts.end(),
                     [](auto& a, auto& b) { return a.first < b.first; });
    json::array webhooks;
    for (auto& p : posts)
      webhooks.push_back(std::move(p.second));
    t["webhooks"] = std::move(webhooks);
    t["webhooksEnabled"] = sender != nullptr;
    t["data"] = m.data;
    return answer(200, t);
  }

  response handle(const request& req) {
    auto path = req.target.substr(0, req.target.find('?'));
    std::lock_guard lk(mutex);
    const std::string timeline_prefix = "/sim/messages/";
    if (path == "/sim/stats" || path.compare(0, timeline_prefix.size(), timeline_prefix) == 0) {
      if (req.method != "GET")
        return answer(405, failure("Method Not Allowed"));
      return path == "/sim/stats" ? stats() : timeline(path.substr(timeline_prefix.size()));
    }
    bool is_send = path == "/v1/sendMessage2";
    bool is_status = path == "/v1/getMessageStatus";
    bool is_info = path == "/api/messageInfo";
    if (!is_send && !is_status && !is_info)
      return answer(404, failure("Not Found"));
    if (req.method != "POST")
      return answer(405, failure("Method Not Allowed"));
    if (req.header("x-wsapme-token") != opts.token) {
      ++c.unauthorised;
      return answer(401, failure("Unauthorised Token"));
    }
    if (is_send) {
      ++c.send_requests;
      if (rate_limited(steady::now())) {
        ++c.rate_limited;
        auto r = answer(429, failure("Too Many Requests"));
        r.headers.emplace_back("Retry-After", "1");
        return r;
      }
    }
    if (opts.fail_5xx_rate > 0 && chaos.chance(opts.fail_5xx_rate)) {
      ++c.unavailable;
      return answer(503, failure("Service Unavailable"));
    }
    json::error_code ec;
    auto body = json::parse(req.body, ec);
    if (ec || !body.is_object()) {
      ++c.bad_requests;
      return answer(400, failure("Invalid JSON body"));
    }
    if (is_send)
      return send(body.get_object());
    if (is_status)
      return get_message_status(body.get_object());
    return message_info(body.get_object());
  }

  sim_options opts;
  webhook_sender* sender;
  std::mutex mutex;
  std::unordered_map<std::string, message> messages;
  std::unordered_map<std::string, uint64_t> sends_per_number;
  std::deque<steady::time_point> recent_sends; // accepted into the last second
  rng chaos;                                   // 503 draws: one stream, arrival order
  counters c;
};

gateway::gateway(sim_options opts, webhook_sender* sender)
    : impl_(std::make_unique<impl>(std::move(opts), sender)) {}

gateway::~gateway() = default;

response gateway::handle(const request& req) {
  return impl_->handle(req);
}

const sim_options& gateway::options() const {
  return impl_->opts;
}

} // namespace blast::tools::wsapme_sim
