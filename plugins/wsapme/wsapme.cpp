// The "wsapme" transport plugin: sends through the WSAPME WhatsApp HTTP gateway, looks up
// message statuses, and reads its signed webhooks (status changes and inbound replies).
//
// The wire contract is shared/design/wsapme-contract.md. Its vendor documentation is not
// public, so every path and header name the contract marks [assumed] is configurable here.
// The one thing kept with care is the send answer's `data` document: it is handed to the host
// byte for byte (found in the raw body, never re-serialised), because the messageInfo look-up
// sends it back to the gateway verbatim.
//
// Threading: an instance is immutable after create apart from its connection pool, which is
// thread-safe, so send, query_status and parse_webhook run concurrently without a lock here.
#include "blast_transport.hpp"
#include "blast_http.hpp"
#include "blast_signature.hpp"
#include "json_span.hpp"

#include <atomic>
#include <boost/json.hpp>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace blast::plugins::wsapme {
namespace {

namespace json = boost::json;
using blast_sdk::http_answer;
using blast_sdk::http_origin;
using blast_sdk::http_pool;
using blast_sdk::iequals;
using blast_sdk::parse_base_url;
using blast_sdk::retry_after_ms;
using blast_sdk::str;
using blast_sdk::view;
using blast_sdk::write_error;

// The host keeps its table valid while the library is loaded (blast_transport.h).
std::atomic<const blast_host_v1*> g_host{nullptr};

void log_line(int level, const std::string& message) {
  const blast_host_v1* h = g_host.load();
  if (h && h->log)
    h->log(h->host_ctx, level, str(message));
}

std::string_view sv(const json::string& s) {
  return std::string_view(s.data(), s.size());
}

bool all_digits(std::string_view s) {
  if (s.empty())
    return false;
  for (char c : s)
    if (c < '0' || c > '9')
      return false;
  return true;
}

// ---- configuration ---------------------------------------------------------------------------

enum class lookup { get_message_status, message_info };

struct config {
  std::string base_url;
  http_origin origin;
  std::string base_path; // the base URL's own path, without a trailing '/', prefixed to paths
  std::string token;
  std::string device;
  lookup status_lookup = lookup::get_message_status;
  std::optional<std::string> webhook_secret;
  std::string send_path = "/v1/sendMessage2";
  std::string status_path = "/v1/getMessageStatus";
  std::string message_info_path = "/api/messageInfo";
  std::string token_header = "x-wsapme-token";
  std::string signature_header = "X-Wsapme-Signature";
};

constexpr const char* allowed_keys =
    "baseUrl, token, device, statusLookup, webhookSecret, verifyTls, sendPath, statusPath, "
    "messageInfoPath, tokenHeader, signatureHeader, connectTimeoutMs, requestTimeoutMs, "
    "maxConnections (ignored: pollIntervalSeconds, pollMaxAgeSeconds)";

struct config_error {
  std::string message;
};

std::string quoted(std::string_view key) {
  return "\"" + std::string(key) + "\"";
}

std::string string_in(const json::value& v, std::string_view key) {
  if (!v.is_string() || v.get_string().empty())
    throw config_error{quoted(key) + " must be a non-empty string"};
  return std::string(sv(v.get_string()));
}

int64_t integer_in(const json::value& v, std::string_view key, int64_t lo, int64_t hi) {
  std::optional<int64_t> n;
  if (v.is_int64())
    n = v.get_int64();
  else if (v.is_uint64() && v.get_uint64() <= static_cast<uint64_t>(hi))
    n = static_cast<int64_t>(v.get_uint64());
  if (!n || *n < lo || *n > hi)
    throw config_error{quoted(key) + " must be an integer in [" + std::to_string(lo) + ", " +
                       std::to_string(hi) + "]"};
  return *n;
}

std::string path_in(const json::value& v, std::string_view key) {
  std::string p = string_in(v, key);
  if (p[0] != '/' || p.find_first_of(" ?#\r\n") != std::string::npos)
    throw config_error{quoted(key) + " must be a path starting with '/' (no query), got \"" + p +
                       "\""};
  return p;
}

// An HTTP header name is a token (RFC 9110): a typo with a space or colon would otherwise
// produce a request the gateway cannot read.
std::string header_name_in(const json::value& v, std::string_view key) {
  std::string h = string_in(v, key);
  for (char c : h)
    if (!std::isalnum(static_cast<unsigned char>(c)) &&
        std::string_view("!#$%&'*+-.^_`|~").find(c) == std::string_view::npos)
      throw config_error{quoted(key) + " is not a valid HTTP header name: \"" + h + "\""};
  return h;
}

void read_base_url(config& c, const std::string& url) {
  std::string why;
  if (!parse_base_url(url, c.origin, c.base_path, why))
    throw config_error{"\"baseUrl\" " + why + " (got \"" + url +
                       "\"; expected http://host[:port][/path] or https://…)"};
  c.base_url = url;
}

// Strict on purpose: a misspelt key would otherwise silently run the default.
config parse_config(std::string_view text) {
  json::error_code ec;
  json::value v = json::parse(json::string_view(text.data(), text.size()), ec);
  if (ec)
    throw config_error{"not valid JSON: " + ec.message()};
  const json::object* o = v.if_object();
  if (!o)
    throw config_error{"the config must be a JSON object"};
  config c;
  bool have_url = false;
  for (const auto& kv : *o) {
    std::string_view k(kv.key().data(), kv.key().size());
    const json::value& val = kv.value();
    if (k == "baseUrl") {
      read_base_url(c, string_in(val, k));
      have_url = true;
    } else if (k == "token") {
      c.token = string_in(val, k);
    } else if (k == "device") {
      if (!val.is_string())
        throw config_error{"\"device\" must be a string, e.g. \"5850\" (quoted)"};
      c.device = string_in(val, k);
    } else if (k == "statusLookup") {
      std::string s = val.is_string() ? std::string(sv(val.get_string())) : std::string();
      if (s == "getMessageStatus")
        c.status_lookup = lookup::get_message_status;
      else if (s == "messageInfo")
        c.status_lookup = lookup::message_info;
      else
        throw config_error{"\"statusLookup\" must be \"getMessageStatus\" or \"messageInfo\""};
    } else if (k == "webhookSecret") {
      c.webhook_secret = string_in(val, k);
    } else if (k == "verifyTls") {
      if (!val.is_bool())
        throw config_error{"\"verifyTls\" must be true or false"};
      c.origin.verify_tls = val.get_bool();
    } else if (k == "sendPath") {
      c.send_path = path_in(val, k);
    } else if (k == "statusPath") {
      c.status_path = path_in(val, k);
    } else if (k == "messageInfoPath") {
      c.message_info_path = path_in(val, k);
    } else if (k == "tokenHeader") {
      c.token_header = header_name_in(val, k);
    } else if (k == "signatureHeader") {
      c.signature_header = header_name_in(val, k);
    } else if (k == "connectTimeoutMs") {
      c.origin.connect_timeout = std::chrono::milliseconds(integer_in(val, k, 1, 600000));
    } else if (k == "requestTimeoutMs") {
      c.origin.request_timeout = std::chrono::milliseconds(integer_in(val, k, 1, 600000));
    } else if (k == "maxConnections") {
      c.origin.max_connections = static_cast<size_t>(integer_in(val, k, 1, 256));
    } else if (k == "pollIntervalSeconds" || k == "pollMaxAgeSeconds" || k == "plugin") {
      // Engine-level keys (polling is the engine's job) and the plugin's name: not ours, but
      // they may reach us in a transport's object, so they are accepted and ignored.
    } else {
      throw config_error{"unknown key " + quoted(k) + " (allowed: " + allowed_keys + ")"};
    }
  }
  if (!have_url)
    throw config_error{"\"baseUrl\" is required, e.g. \"https://gateway.example\""};
  if (c.token.empty())
    throw config_error{"\"token\" is required (the gateway's API token)"};
  if (c.device.empty())
    throw config_error{"\"device\" is required (the sender device id, a string)"};
  return c;
}

// ---- observations ----------------------------------------------------------------------------

using owned_observation = blast_sdk::observation;

// Baileys' message status names and codes (WebMessageInfo.Status), which WSAPME passes through.
struct status_word {
  const char* name;
  int code; // -1: a name with no code of its own
  int32_t stage;
};
constexpr status_word status_words[] = {
    {"ERROR", 0, BLAST_STAGE_FAILED},    {"PENDING", 1, BLAST_STAGE_SENT},
    {"SERVER_ACK", 2, BLAST_STAGE_SENT}, {"DELIVERY_ACK", 3, BLAST_STAGE_DELIVERED},
    {"READ", 4, BLAST_STAGE_READ},       {"PLAYED", 5, BLAST_STAGE_READ},
    {"READ_ACK", -1, BLAST_STAGE_READ}, // an alias seen in older notes
};

const status_word* by_name(std::string_view name) {
  for (const status_word& w : status_words)
    if (iequals(name, w.name))
      return &w;
  return nullptr;
}

const status_word* by_code(int64_t code) {
  for (const status_word& w : status_words)
    if (w.code == code)
      return &w;
  return nullptr;
}

// An integer given as a JSON number or as a string of digits (Baileys writes 64-bit integers
// as strings).
std::optional<int64_t> integer_of(const json::value* v) {
  if (!v)
    return std::nullopt;
  if (v->is_int64())
    return v->get_int64();
  if (v->is_uint64() && v->get_uint64() <= static_cast<uint64_t>(INT64_MAX))
    return static_cast<int64_t>(v->get_uint64());
  // A double outside int64's range (1e300, NaN cannot come from JSON) has no
  // integer: converting it is undefined behaviour (found by fuzz_webhook).
  if (v->is_double()) {
    double d = v->get_double();
    if (!(d >= -9.2e18 && d <= 9.2e18))
      return std::nullopt;
    return static_cast<int64_t>(d);
  }
  if (v->is_string() && all_digits(sv(v->get_string())) && v->get_string().size() < 19)
    return std::stoll(std::string(sv(v->get_string())));
  return std::nullopt;
}

// Unix seconds → ms; 0 (unknown) when absent, unreadable or not positive.
int64_t seconds_to_ms(const json::value* v) {
  std::optional<int64_t> s = integer_of(v);
  return s && *s > 0 && *s < INT64_MAX / 1000 ? *s * 1000 : 0;
}

// The status a record states: its "status" name first (also accepted as a number), else its
// "statusCode". `word` is the provider's own word for provider_status.
struct stated_status {
  const status_word* known = nullptr;
  std::string word;
};
stated_status status_in(const json::object& o) {
  stated_status s;
  if (const json::value* st = o.if_contains("status")) {
    if (st->is_string()) {
      s.word = std::string(sv(st->get_string()));
      s.known = by_name(s.word);
    } else if (auto code = integer_of(st)) {
      s.known = by_code(*code);
      s.word = s.known ? s.known->name : std::to_string(*code);
    }
  }
  if (!s.known)
    if (auto code = integer_of(o.if_contains("statusCode"))) {
      s.known = by_code(*code);
      if (s.word.empty())
        s.word = s.known ? s.known->name : std::to_string(*code);
    }
  return s;
}

const json::object* object_at(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(json::string_view(key.data(), key.size()));
  return v ? v->if_object() : nullptr;
}

std::optional<std::string> string_at(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(json::string_view(key.data(), key.size()));
  if (v && v->is_string())
    return std::string(sv(v->get_string()));
  return std::nullopt;
}

// ---- gateway answers -------------------------------------------------------------------------

// The gateway's own words for an answer: its "message", else the start of the body.
std::string gateway_message(const http_answer& a, const json::value& doc) {
  if (const json::object* o = doc.if_object())
    if (auto m = string_at(*o, "message"); m && !m->empty())
      return *m;
  if (a.body.empty())
    return "(empty body)";
  constexpr size_t max_snippet = 200;
  return a.body.size() > max_snippet ? a.body.substr(0, max_snippet) + "…" : a.body;
}

// Maps an answer that is not a success to an error code with a message; BLAST_OK when the
// answer is a 2xx JSON object with "success": true. `doc` receives the parsed body.
int classify(const http_answer& a, std::string_view what, json::value& doc, std::string& message,
             int64_t& retry_after) {
  if (a.status == 0) {
    message = "wsapme: " + std::string(what) + ": " + a.error;
    return BLAST_E_RETRYABLE;
  }
  json::error_code ec;
  doc = json::parse(a.body, ec);
  if (ec)
    doc = nullptr;
  std::string prefix =
      "wsapme: " + std::string(what) + " answered HTTP " + std::to_string(a.status) + ": ";
  if (a.status == 429) {
    retry_after = retry_after_ms(a.retry_after);
    message = prefix + gateway_message(a, doc);
    return BLAST_E_RATE_LIMITED;
  }
  if (a.status >= 500) {
    message = prefix + gateway_message(a, doc);
    return BLAST_E_RETRYABLE;
  }
  if (a.status < 200 || a.status > 299) {
    message = prefix + gateway_message(a, doc);
    return BLAST_E_PERMANENT;
  }
  const json::object* o = doc.if_object();
  if (!o) {
    message = prefix + "the body is not a JSON object: " + gateway_message(a, doc);
    return BLAST_E_PERMANENT;
  }
  const json::value* success = o->if_contains("success");
  if (!success || !success->is_bool() || !success->get_bool()) {
    message = "wsapme: " + std::string(what) + " refused: " + gateway_message(a, doc);
    return BLAST_E_PERMANENT;
  }
  return BLAST_OK;
}

// A JSON value's text that says "nothing here": absent, null, {}, [] or "".
bool is_empty_value(const json::value* v) {
  if (!v || v->is_null())
    return true;
  if (const json::object* o = v->if_object())
    return o->empty();
  if (const json::array* a = v->if_array())
    return a->empty();
  if (const json::string* s = v->if_string())
    return s->empty();
  return false;
}

} // namespace
} // namespace blast::plugins::wsapme

using namespace blast::plugins::wsapme;

// The plugin's instance type, opaque to the host (declared in blast_transport.h).
struct blast_instance {
  explicit blast_instance(config c) : cfg(std::move(c)), pool(cfg.origin) {}
  const config cfg;
  http_pool pool;

  std::vector<std::pair<std::string, std::string>> headers() const {
    return {{cfg.token_header, cfg.token}};
  }
};

namespace {

blast_instance* wsapme_create(const char* config_json, size_t config_len, void*, char* err,
                              size_t err_len) {
  return blast_sdk::guarded_ptr<blast_instance>(err, err_len, [&]() -> blast_instance* {
    config c;
    try {
      c = parse_config(
          std::string_view(config_json ? config_json : "", config_json ? config_len : 0));
    } catch (const config_error& e) {
      write_error(err, err_len, "wsapme config: " + e.message);
      return nullptr;
    }
    std::unique_ptr<blast_instance> inst;
    try {
      inst = std::make_unique<blast_instance>(c);
    } catch (const std::exception& e) {
      write_error(err, err_len, std::string("wsapme: ") + e.what());
      return nullptr;
    }
    // Never the token: log lines end up in front of operators.
    log_line(BLAST_LOG_INFO,
             "wsapme: instance for " + c.base_url + " (device " + c.device + ", status look-up " +
                 (c.status_lookup == lookup::message_info ? "messageInfo" : "getMessageStatus") +
                 (c.origin.tls && !c.origin.verify_tls ? ", TLS NOT VERIFIED" : "") + ")");
    if (!c.webhook_secret)
      log_line(BLAST_LOG_WARN, "wsapme: no webhookSecret: webhooks are accepted unsigned");
    return inst.release();
  });
}

void wsapme_destroy(blast_instance* inst) {
  // destroy has no error channel; closing sockets does not throw, so delete is all there is.
  char err[256] = "";
  if (blast_sdk::guarded(err, sizeof err, [&] {
        delete inst;
        return BLAST_OK;
      }) != BLAST_OK)
    log_line(BLAST_LOG_ERROR, std::string("wsapme: destroy: ") + err);
}

int wsapme_send(blast_instance* inst, const blast_send_request* req, blast_send_sink sink,
                void* sink_ctx, int64_t* retry_after_ms_out, char* err, size_t err_len) {
  return blast_sdk::guarded(err, err_len, [&] {
    if (!inst || !req || !sink) {
      write_error(err, err_len, "wsapme: send called with a null argument");
      return BLAST_E_INVALID;
    }
    std::string to(view(req->to));
    if (!all_digits(to)) {
      write_error(err, err_len,
                  "wsapme: recipient must be E.164 digits without '+', got \"" + to + "\"");
      return BLAST_E_INVALID;
    }
    const config& c = inst->cfg;
    std::string body = json::serialize(
        json::object{{"device", c.device}, {"to", to}, {"message", view(req->text)}});
    http_answer a = inst->pool.post(c.base_path + c.send_path, inst->headers(), body);

    json::value doc;
    std::string message;
    int64_t retry_after = 0;
    int rc = classify(a, "send", doc, message, retry_after);
    if (rc != BLAST_OK) {
      if (rc == BLAST_E_RATE_LIMITED && retry_after_ms_out)
        *retry_after_ms_out = retry_after;
      write_error(err, err_len, message);
      return rc;
    }
    const json::object& o = doc.get_object();
    std::optional<std::string> id = string_at(o, "messageId");
    if (!id || id->empty()) {
      // Sent or not, we cannot follow it without an id; a retry could duplicate it, so no.
      write_error(err, err_len,
                  "wsapme: send answered success without a \"messageId\": " +
                      gateway_message(a, doc));
      return BLAST_E_PERMANENT;
    }
    // The document is the raw text of "data", never a re-serialisation (see the file comment).
    std::optional<std::string_view> data = member_span(a.body, "data");
    if (!data || !o.at("data").is_object()) {
      // The message is sent: failing here would misreport it. Its status can still be looked up
      // by id (getMessageStatus), not by messageInfo, which needs the document.
      log_line(BLAST_LOG_WARN,
               "wsapme: send of " + *id + " answered no \"data\" object; storing {}");
      data = std::string_view("{}");
    }
    sink(sink_ctx, str(*id), str(*data));
    return BLAST_OK;
  });
}

int wsapme_query_status(blast_instance* inst, blast_str message_id, blast_str document,
                        blast_observation_sink sink, void* sink_ctx, char* err, size_t err_len) {
  return blast_sdk::guarded(err, err_len, [&] {
    if (!inst || !sink) {
      write_error(err, err_len, "wsapme: query_status called with a null argument");
      return BLAST_E_INVALID;
    }
    const config& c = inst->cfg;
    std::string id(view(message_id));
    std::string target;
    std::string body;
    if (c.status_lookup == lookup::get_message_status) {
      if (id.empty()) {
        write_error(err, err_len, "wsapme: status look-up without a message id");
        return BLAST_E_INVALID;
      }
      target = c.base_path + c.status_path;
      body = json::serialize(json::object{{"device", c.device}, {"messageId", id}});
    } else {
      // messageInfo wants the stored document itself, so it is spliced in as text, unchanged.
      std::string_view doc_text = view(document);
      json::error_code ec;
      json::value doc = json::parse(json::string_view(doc_text.data(), doc_text.size()), ec);
      const json::object* key =
          !ec && doc.is_object() ? object_at(doc.get_object(), "key") : nullptr;
      std::optional<std::string> jid = key ? string_at(*key, "remoteJid") : std::nullopt;
      if (!jid) {
        write_error(err, err_len,
                    "wsapme: messageInfo look-up needs the send's document with key.remoteJid; "
                    "got " +
                        std::string(ec ? "text that is not JSON" : "no key.remoteJid"));
        return BLAST_E_INVALID;
      }
      target = c.base_path + c.message_info_path;
      body = "{\"id_device\":" + json::serialize(json::value(c.device)) +
             ",\"jid\":" + json::serialize(json::value(*jid)) +
             ",\"messages\":" + std::string(doc_text) + "}";
    }
    http_answer a = inst->pool.post(target, inst->headers(), body);
    json::value answer;
    std::string message;
    int64_t retry_after = 0;
    int rc = classify(a, "status look-up", answer, message, retry_after);
    if (rc != BLAST_OK) {
      write_error(err, err_len, message);
      return rc;
    }
    const json::value* data = answer.get_object().if_contains("data");
    if (is_empty_value(data)) {
      // The real messageInfo answers empty data: the gateway knows nothing yet, not an error.
      log_line(BLAST_LOG_DEBUG, "wsapme: no status yet for " + id);
      return BLAST_OK;
    }
    if (!data->is_object()) {
      write_error(err, err_len, "wsapme: status look-up answered a \"data\" that is not an object");
      return BLAST_E_INVALID;
    }
    const json::object& d = data->get_object();
    stated_status s = status_in(d);
    int32_t stage = s.known ? s.known->stage : BLAST_STAGE_NONE;
    const json::value* c2s = d.if_contains("messageC2STimestamp");
    bool delivered_stamp = seconds_to_ms(c2s) != 0;
    // A messageC2STimestamp means the message reached the phone, whatever the status says.
    if (delivered_stamp && (stage == BLAST_STAGE_NONE || stage == BLAST_STAGE_SENT)) {
      stage = BLAST_STAGE_DELIVERED;
      if (s.word.empty())
        s.word = "DELIVERY_ACK";
    }
    if (stage == BLAST_STAGE_NONE) {
      log_line(BLAST_LOG_DEBUG, "wsapme: status look-up of " + id + ": unknown status \"" + s.word +
                                    "\", no observation");
      return BLAST_OK;
    }
    owned_observation o;
    o.message_id = id;
    o.stage = stage;
    o.provider_status = s.word;
    // The record carries no time of the status change itself; these are its best lower bounds.
    o.time_ms =
        delivered_stamp ? seconds_to_ms(c2s) : seconds_to_ms(d.if_contains("messageTimestamp"));
    // Stable across repeated look-ups of the same state, so the host de-duplicates them.
    o.event_id = "lookup:" + id + ":" + s.word;
    std::optional<std::string_view> raw = member_span(a.body, "data");
    o.raw = raw ? std::string(*raw) : json::serialize(*data);
    blast_observation v = o.view();
    sink(sink_ctx, &v);
    return BLAST_OK;
  });
}

// Verifies `sha256=<hex>` against the HMAC of the raw body, in constant time.
bool signature_ok(const config& c, const blast_webhook_request& req, std::string& why) {
  blast_str header = blast_sdk::find_header(req, c.signature_header);
  if (!header.data) {
    why = "missing " + c.signature_header + " header";
    return false;
  }
  if (!blast_sdk::verify_sha256_signature(view(header), *c.webhook_secret, view(req.body), why)) {
    why = c.signature_header + ": " + why;
    return false;
  }
  return true;
}

int wsapme_parse_webhook(blast_instance* inst, const blast_webhook_request* req,
                         blast_observation_sink sink, void* sink_ctx, char* err, size_t err_len) {
  return blast_sdk::guarded(err, err_len, [&] {
    if (!inst || !req || !sink) {
      write_error(err, err_len, "wsapme: parse_webhook called with a null argument");
      return BLAST_E_INVALID;
    }
    const config& c = inst->cfg;
    if (!iequals(view(req->method), "POST")) {
      write_error(err, err_len,
                  "wsapme: webhooks are POST requests, got " + std::string(view(req->method)));
      return BLAST_E_INVALID;
    }
    if (c.webhook_secret) {
      std::string why;
      if (!signature_ok(c, *req, why)) {
        write_error(err, err_len, "wsapme: webhook rejected: " + why);
        return BLAST_E_SIGNATURE;
      }
    }
    std::string_view body = view(req->body);
    json::error_code ec;
    json::value v = json::parse(json::string_view(body.data(), body.size()), ec);
    if (ec || !v.is_object()) {
      write_error(err, err_len,
                  "wsapme: webhook body is not a JSON object" +
                      (ec ? ": " + ec.message() : std::string()));
      return BLAST_E_INVALID;
    }
    const json::object& o = v.get_object();
    std::optional<std::string> event = string_at(o, "event");
    if (!event) {
      write_error(err, err_len, "wsapme: webhook body has no \"event\" string");
      return BLAST_E_INVALID;
    }
    owned_observation obs;
    obs.event_id = string_at(o, "eventId").value_or("");
    obs.raw = std::string(body);
    if (*event == "message.status") {
      const json::object* data = object_at(o, "data");
      const json::object* key = data ? object_at(*data, "key") : nullptr;
      std::optional<std::string> id = key ? string_at(*key, "id") : std::nullopt;
      if (!id || id->empty()) {
        write_error(err, err_len, "wsapme: message.status webhook without data.key.id");
        return BLAST_E_INVALID;
      }
      stated_status s = status_in(*data);
      if (!s.known) {
        write_error(err, err_len,
                    "wsapme: message.status webhook for " + *id +
                        " with no known status/statusCode (got \"" + s.word + "\")");
        return BLAST_E_INVALID;
      }
      obs.message_id = *id;
      obs.stage = s.known->stage;
      obs.provider_status = s.word;
      obs.time_ms = seconds_to_ms(data->if_contains("timestamp"));
    } else if (*event == "message") {
      std::optional<std::string> from = string_at(o, "from");
      std::string sender;
      if (from)
        for (char ch : std::string_view(*from).substr(0, from->find('@')))
          if (ch >= '0' && ch <= '9')
            sender += ch;
      if (sender.empty()) {
        write_error(err, err_len, "wsapme: inbound message webhook without a \"from\" number");
        return BLAST_E_INVALID;
      }
      obs.sender = sender;
      obs.stage = BLAST_STAGE_REPLIED;
      obs.provider_status = "message";
      obs.quoted_id = string_at(o, "quotedId").value_or("");
      obs.time_ms = seconds_to_ms(o.if_contains("timestamp"));
    } else {
      log_line(BLAST_LOG_DEBUG, "wsapme: webhook event \"" + *event + "\" ignored");
      return BLAST_OK;
    }
    blast_observation ov = obs.view();
    sink(sink_ctx, &ov);
    return BLAST_OK;
  });
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
      "wsapme",
      "1.0.0",
      BLAST_CAP_SEND | BLAST_CAP_STATUS_QUERY | BLAST_CAP_WEBHOOK,
      wsapme_create,
      wsapme_destroy,
      wsapme_send,
      wsapme_query_status,
      wsapme_parse_webhook,
      nullptr, // answer_webhook (ABI 1.1): not declared
  };
  return &table;
}
