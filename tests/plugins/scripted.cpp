// blast_scripted.so: a test transport whose per-number outcomes follow a script
// from its config, logging every send attempt to a file that survives SIGKILL.
//
// Config: {"script": {"<to>": ["ok", "retryable", "rate_limited:250", "permanent",
//          "throw", "sleep:50"], ...}, "default": "ok", "sendLog": "/path",
//          "pushDelivered": false}
// Each send to a number consumes the next entry of its script, then "default".
// Two entries break the ABI on purpose, to test the host: "no_id" returns
// BLAST_OK without calling the sink, "status:<n>" returns the unknown status n.
// Webhook body: {"id": "...", "status": 3} plus, optionally, "from", "quotedId",
// "providerStatus", "time", "eventId", and "structSize" (the struct_size the
// observation claims, to test how the host reads older/newer plugins).
#include "blast_transport.hpp"

#include <boost/json.hpp>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <fcntl.h>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <unistd.h>

namespace json = boost::json;
using blast_sdk::str;
using blast_sdk::view;

namespace {

// Set once by the entry point; loading the file twice points it at the
// latest host table, which the host keeps valid while the code is mapped.
const blast_host_v1* g_host = nullptr;

void log(int level, const std::string& message) {
  if (g_host && g_host->log)
    g_host->log(g_host->host_ctx, level, str(message));
}

int64_t now_ms() {
  return g_host && g_host->now_ms ? g_host->now_ms(g_host->host_ctx) : 0;
}

struct outcome {
  enum kind { ok, retryable, rate_limited, permanent, thrown, sleep, no_id, raw_status };
  kind what = ok;
  int64_t ms = 0;
  std::string text; // as written in the script, for the send log
};

int64_t parse_number(const std::string& entry, size_t from) {
  std::string digits = entry.substr(from);
  if (digits.empty() || digits.size() > 9 ||
      digits.find_first_not_of("0123456789") != std::string::npos)
    throw std::invalid_argument("bad number in script entry '" + entry + "'");
  return std::stoll(digits);
}

outcome parse_outcome(const std::string& s) {
  if (s == "ok")
    return {outcome::ok, 0, s};
  if (s == "retryable")
    return {outcome::retryable, 0, s};
  if (s == "permanent")
    return {outcome::permanent, 0, s};
  if (s == "throw")
    return {outcome::thrown, 0, s};
  const std::string rate = "rate_limited:", sleep = "sleep:";
  if (s.compare(0, rate.size(), rate) == 0)
    return {outcome::rate_limited, parse_number(s, rate.size()), s};
  if (s.compare(0, sleep.size(), sleep) == 0)
    return {outcome::sleep, parse_number(s, sleep.size()), s};
  if (s == "no_id")
    return {outcome::no_id, 0, s};
  const std::string status = "status:";
  if (s.compare(0, status.size(), status) == 0)
    return {outcome::raw_status, parse_number(s, status.size()), s};
  throw std::invalid_argument("unknown script entry '" + s + "'");
}

struct pending_push {
  std::chrono::steady_clock::time_point due;
  std::string message_id;
};

struct instance {
  void* token = nullptr;
  std::map<std::string, std::deque<outcome>> script;
  outcome fallback{outcome::ok, 0, "ok"};
  std::string send_log;
  bool push_delivered = false;

  std::mutex mutex; // guards everything below
  std::map<std::string, uint64_t> sends;
  std::deque<pending_push> pushes;
  bool stopping = false;
  std::condition_variable wake;
  std::thread pusher;

  // Pushes DELIVERY_ACK for each queued id when due; exits on destroy,
  // dropping what is still queued (no push may follow destroy).
  void push_loop() {
    std::unique_lock lock(mutex);
    while (!stopping) {
      if (pushes.empty()) {
        wake.wait(lock);
        continue;
      }
      if (wake.wait_until(lock, pushes.front().due) != std::cv_status::timeout)
        continue;
      std::string id = std::move(pushes.front().message_id);
      pushes.pop_front();
      lock.unlock();
      std::string status = "DELIVERY_ACK";
      std::string event = "ev-" + id;
      std::string raw = json::serialize(json::object{{"id", id}, {"status", status}});
      blast_observation o = blast_sdk::make_observation();
      o.message_id = str(id);
      o.stage = BLAST_STAGE_DELIVERED;
      o.provider_status = str(status);
      o.provider_time_ms = now_ms();
      o.event_id = str(event);
      o.raw = str(raw);
      g_host->push(g_host->host_ctx, token, &o, 1);
      lock.lock();
    }
  }
};

void append_send_log(const std::string& path, const std::string& line) {
  if (path.empty())
    return;
  // Open, one append, close: each attempt is on disk before the outcome is
  // returned, so a test can count real sends even if the host is SIGKILLed.
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0)
    throw std::runtime_error("cannot open sendLog " + path);
  ssize_t n = ::write(fd, line.data(), line.size());
  ::close(fd);
  if (n != static_cast<ssize_t>(line.size()))
    throw std::runtime_error("cannot append to sendLog " + path);
}

bool all_digits(std::string_view s) {
  return !s.empty() && s.find_first_not_of("0123456789") == std::string_view::npos;
}

blast_instance* create(const char* config, size_t len, void* token, char* err, size_t err_len) {
  return blast_sdk::guarded_ptr<blast_instance>(err, err_len, [&]() -> blast_instance* {
    auto inst = std::make_unique<instance>();
    inst->token = token;
    json::object cfg;
    std::string_view text(config ? config : "", config ? len : 0);
    if (!text.empty()) {
      json::error_code ec;
      json::value v = json::parse(text, ec);
      if (ec || !v.is_object()) {
        blast_sdk::write_error(err, err_len, "config is not a JSON object");
        return nullptr;
      }
      cfg = v.as_object();
    }
    try {
      if (auto* s = cfg.if_contains("script")) {
        for (const auto& [to, entries] : s->as_object())
          for (const auto& e : entries.as_array())
            inst->script[std::string(to)].push_back(parse_outcome(json::value_to<std::string>(e)));
      }
      if (auto* d = cfg.if_contains("default"))
        inst->fallback = parse_outcome(json::value_to<std::string>(*d));
      if (auto* l = cfg.if_contains("sendLog"))
        inst->send_log = json::value_to<std::string>(*l);
      if (auto* p = cfg.if_contains("pushDelivered"))
        inst->push_delivered = p->as_bool();
    } catch (const std::exception& e) {
      blast_sdk::write_error(err, err_len, std::string("bad config: ") + e.what());
      return nullptr;
    }
    if (inst->push_delivered)
      inst->pusher = std::thread([i = inst.get()] { i->push_loop(); });
    log(BLAST_LOG_INFO, "scripted instance created");
    return reinterpret_cast<blast_instance*>(inst.release());
  });
}

void destroy(blast_instance* p) {
  auto* inst = reinterpret_cast<instance*>(p);
  {
    std::lock_guard lock(inst->mutex);
    inst->stopping = true;
  }
  inst->wake.notify_all();
  if (inst->pusher.joinable())
    inst->pusher.join();
  delete inst;
}

int send(blast_instance* p, const blast_send_request* req, blast_send_sink sink, void* sink_ctx,
         int64_t* retry_after_ms, char* err, size_t err_len) {
  return blast_sdk::guarded(err, err_len, [&] {
    auto* inst = reinterpret_cast<instance*>(p);
    std::string to(view(req->to));
    std::string key(view(req->idempotency_key));
    if (!all_digits(to)) {
      append_send_log(inst->send_log, to + " " + key + " invalid\n");
      blast_sdk::write_error(err, err_len, "'to' must be digits");
      return BLAST_E_INVALID;
    }
    outcome o;
    uint64_t n = 0;
    {
      std::lock_guard lock(inst->mutex);
      auto it = inst->script.find(to);
      if (it != inst->script.end() && !it->second.empty()) {
        o = it->second.front();
        it->second.pop_front();
      } else {
        o = inst->fallback;
      }
      n = ++inst->sends[to];
    }
    append_send_log(inst->send_log, to + " " + key + " " + o.text + "\n");
    switch (o.what) {
      case outcome::retryable:
        blast_sdk::write_error(err, err_len, "scripted retryable failure");
        return BLAST_E_RETRYABLE;
      case outcome::permanent:
        blast_sdk::write_error(err, err_len, "scripted permanent failure");
        return BLAST_E_PERMANENT;
      case outcome::rate_limited:
        *retry_after_ms = o.ms;
        blast_sdk::write_error(err, err_len, "scripted rate limit");
        return BLAST_E_RATE_LIMITED;
      case outcome::thrown:
        throw std::runtime_error("scripted exception sending to " + to);
      case outcome::sleep:
        std::this_thread::sleep_for(std::chrono::milliseconds(o.ms));
        break;
      case outcome::no_id:
        return BLAST_OK;
      case outcome::raw_status:
        blast_sdk::write_error(err, err_len, "scripted raw status");
        return static_cast<int>(o.ms);
      case outcome::ok:
        break;
    }
    std::string id = "S-" + to + "-" + std::to_string(n);
    json::object doc;
    doc["key"] = json::object{{"remoteJid", to + "@s.whatsapp.net"}, {"fromMe", true}, {"id", id}};
    doc["status"] = "PENDING";
    doc["text"] = view(req->text);
    doc["idempotencyKey"] = key;
    std::string document = json::serialize(doc);
    sink(sink_ctx, str(id), str(document));
    if (inst->push_delivered) {
      {
        std::lock_guard lock(inst->mutex);
        inst->pushes.push_back(
            {std::chrono::steady_clock::now() + std::chrono::milliseconds(10), id});
      }
      inst->wake.notify_all();
    }
    return BLAST_OK;
  });
}

int query_status(blast_instance*, blast_str message_id, blast_str document,
                 blast_observation_sink sink, void* sink_ctx, char* err, size_t err_len) {
  return blast_sdk::guarded(err, err_len, [&] {
    std::string id(view(message_id));
    if (id.compare(0, 2, "S-") != 0)
      return BLAST_OK; // no status yet
    std::string event = "q-" + id;
    blast_observation o = blast_sdk::make_observation();
    o.message_id = str(id);
    o.stage = BLAST_STAGE_DELIVERED;
    o.provider_status = str("DELIVERY_ACK");
    o.provider_time_ms = now_ms();
    o.event_id = str(event);
    o.raw = document;
    sink(sink_ctx, &o);
    return BLAST_OK;
  });
}

int parse_webhook(blast_instance*, const blast_webhook_request* req, blast_observation_sink sink,
                  void* sink_ctx, char* err, size_t err_len) {
  return blast_sdk::guarded(err, err_len, [&] {
    bool signed_ok = false;
    for (size_t i = 0; i < req->header_count; ++i)
      if (view(req->headers[i].name) == "x-test-signature")
        signed_ok = view(req->headers[i].value) == "good";
    if (!signed_ok) {
      blast_sdk::write_error(err, err_len, "x-test-signature missing or wrong");
      return BLAST_E_SIGNATURE;
    }
    json::error_code ec;
    json::value v = json::parse(view(req->body), ec);
    const json::object* body = v.if_object();
    if (ec || !body || !body->contains("id") || !body->at("id").is_string() ||
        !body->contains("status") || !body->at("status").is_int64()) {
      blast_sdk::write_error(err, err_len, "body is not {\"id\": string, \"status\": int}");
      return BLAST_E_INVALID;
    }
    auto text = [&](const char* k, std::string fallback = {}) {
      auto* f = body->if_contains(k);
      return f && f->is_string() ? std::string(f->get_string()) : fallback;
    };
    auto number = [&](const char* k, int64_t fallback) {
      auto* f = body->if_contains(k);
      return f && f->is_int64() ? f->get_int64() : fallback;
    };
    std::string id = text("id");
    int64_t stage = body->at("status").get_int64();
    std::string from = text("from");
    std::string quoted = text("quotedId");
    std::string status = text("providerStatus", "STATUS_" + std::to_string(stage));
    std::string event = text("eventId", "wh-" + id + "-" + std::to_string(stage));
    blast_observation o = blast_sdk::make_observation();
    o.struct_size = static_cast<uint32_t>(number("structSize", sizeof(blast_observation)));
    o.message_id = str(id);
    o.sender = str(from);
    o.stage = static_cast<int32_t>(stage);
    o.provider_status = str(status);
    o.provider_time_ms = number("time", 0);
    o.event_id = str(event);
    o.raw = req->body;
    o.quoted_id = str(quoted);
    sink(sink_ctx, &o);
    return BLAST_OK;
  });
}

const blast_transport_v1 table = {
    BLAST_TRANSPORT_ABI_VERSION,
    sizeof(blast_transport_v1),
    "scripted",
    "1.0.0",
    BLAST_CAP_SEND | BLAST_CAP_STATUS_QUERY | BLAST_CAP_WEBHOOK | BLAST_CAP_PUSH,
    create,
    destroy,
    send,
    query_status,
    parse_webhook,
    nullptr, // answer_webhook (ABI 1.1): not declared
};

} // namespace

extern "C" BLAST_PLUGIN_EXPORT const blast_transport_v1*
blast_transport_entry(const blast_host_v1* host) {
  // The plugin's side of the version check: it needs log, now_ms and push.
  if (!blast_sdk::host_compatible(host))
    return nullptr;
  g_host = host;
  return &table;
}
