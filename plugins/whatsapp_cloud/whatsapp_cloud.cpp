// The "whatsapp-cloud" transport plugin: Meta's WhatsApp Business Cloud API (Graph API). Sends
// text and template messages, answers Meta's webhook verification handshake (ABI 1.1
// answer_webhook), and reads its signed, batched webhooks (statuses and inbound messages).
//
// Written as an outside plugin author would: it includes only the SDK (plugins/sdk: the C ABI,
// the C++ helpers, and the optional HTTP and signature helpers), Boost and OpenSSL, and builds
// out of tree (see CMakeLists.txt). Nothing in here knows blastd's internals.
//
// Threading: an instance is immutable after create apart from its connection pool, which is
// thread-safe, so send, parse_webhook and answer_webhook run concurrently without a lock here.
#include "blast_http.hpp"
#include "blast_signature.hpp"
#include "blast_transport.hpp"

#include <boost/json.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace blast::plugins::whatsapp_cloud {
namespace {

namespace json = boost::json;
using blast_sdk::http_answer;
using blast_sdk::http_origin;
using blast_sdk::http_pool;
using blast_sdk::str;
using blast_sdk::view;
using blast_sdk::write_error;

blast_sdk::host_ref g_host;

void log_line(int level, const std::string& message) {
  g_host.log(level, message);
}

bool all_digits(std::string_view s) {
  return !s.empty() && s.find_first_not_of("0123456789") == std::string_view::npos;
}

std::string text_of(const json::value* v) {
  if (!v)
    return {};
  if (const json::string* s = v->if_string())
    return std::string(s->data(), s->size());
  if (v->is_int64() || v->is_uint64())
    return json::serialize(*v);
  return {};
}

// ---- configuration ---------------------------------------------------------------------------

struct config {
  http_origin origin;
  std::string base_path;
  std::string api_version = "v21.0";
  std::string phone_number_id;
  std::string access_token;
  std::optional<std::string> app_secret;   // webhook signatures; absent: accepted unsigned
  std::optional<std::string> verify_token; // the handshake; absent: every handshake is refused
  bool template_mode = false;
  std::string template_name;
  std::string template_language;
  json::array template_components; // strings may hold {{N}} / {{text}} placeholders
  std::string separator = "|";
  bool preview_url = false;
};

struct config_error {
  std::string message;
};

constexpr const char* allowed_keys =
    "baseUrl, apiVersion, phoneNumberId, accessToken, appSecret, verifyToken, messageType, "
    "template {name, language, components}, templateSeparator, previewUrl, verifyTls, "
    "connectTimeoutMs, requestTimeoutMs, maxConnections";

std::string string_in(const json::value& v, std::string_view key) {
  if (!v.is_string() || v.get_string().empty())
    throw config_error{"\"" + std::string(key) + "\" must be a non-empty string"};
  return std::string(v.get_string());
}

int64_t integer_in(const json::value& v, std::string_view key, int64_t lo, int64_t hi) {
  if (!v.is_int64() || v.get_int64() < lo || v.get_int64() > hi)
    throw config_error{"\"" + std::string(key) + "\" must be an integer in [" +
                       std::to_string(lo) + ", " + std::to_string(hi) + "]"};
  return v.get_int64();
}

void read_template(config& c, const json::value& v) {
  const json::object* o = v.if_object();
  if (!o)
    throw config_error{"\"template\" must be an object {name, language, components?}"};
  for (const auto& kv : *o) {
    if (kv.key() == "name")
      c.template_name = string_in(kv.value(), "template.name");
    else if (kv.key() == "language")
      c.template_language = string_in(kv.value(), "template.language");
    else if (kv.key() == "components" && kv.value().is_array())
      c.template_components = kv.value().get_array();
    else
      throw config_error{"\"template." + std::string(kv.key()) +
                         "\" is unknown or of the wrong type (name, language: strings; "
                         "components: an array)"};
  }
  if (c.template_name.empty() || c.template_language.empty())
    throw config_error{"\"template\" needs \"name\" and \"language\""};
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
  std::string base_url = "https://graph.facebook.com";
  const json::value* tmpl = nullptr;
  std::string type = "text";
  for (const auto& kv : *o) {
    std::string_view k(kv.key().data(), kv.key().size());
    const json::value& val = kv.value();
    if (k == "baseUrl")
      base_url = string_in(val, k);
    else if (k == "apiVersion")
      c.api_version = string_in(val, k);
    else if (k == "phoneNumberId")
      c.phone_number_id = string_in(val, k);
    else if (k == "accessToken")
      c.access_token = string_in(val, k);
    else if (k == "appSecret")
      c.app_secret = string_in(val, k);
    else if (k == "verifyToken")
      c.verify_token = string_in(val, k);
    else if (k == "messageType")
      type = string_in(val, k);
    else if (k == "template")
      tmpl = &val;
    else if (k == "templateSeparator")
      c.separator = string_in(val, k);
    else if (k == "previewUrl" && val.is_bool())
      c.preview_url = val.get_bool();
    else if (k == "verifyTls" && val.is_bool())
      c.origin.verify_tls = val.get_bool();
    else if (k == "connectTimeoutMs")
      c.origin.connect_timeout = std::chrono::milliseconds(integer_in(val, k, 1, 600000));
    else if (k == "requestTimeoutMs")
      c.origin.request_timeout = std::chrono::milliseconds(integer_in(val, k, 1, 600000));
    else if (k == "maxConnections")
      c.origin.max_connections = static_cast<size_t>(integer_in(val, k, 1, 1024));
    else
      throw config_error{"unknown key or wrong type: \"" + std::string(k) + "\" (allowed: " +
                         allowed_keys + ")"};
  }
  std::string why;
  if (!blast_sdk::parse_base_url(base_url, c.origin, c.base_path, why))
    throw config_error{"\"baseUrl\" " + why + " (got \"" + base_url + "\")"};
  if (c.api_version.size() < 2 || c.api_version[0] != 'v' ||
      c.api_version.find_first_not_of("0123456789.", 1) != std::string::npos)
    throw config_error{"\"apiVersion\" must look like v21.0, got \"" + c.api_version + "\""};
  if (!all_digits(c.phone_number_id))
    throw config_error{"\"phoneNumberId\" is required: the sender's phone number id (digits)"};
  if (c.access_token.empty())
    throw config_error{"\"accessToken\" is required (a system user's access token)"};
  if (type == "template") {
    if (!tmpl)
      throw config_error{"\"messageType\": \"template\" needs a \"template\" object"};
    c.template_mode = true;
    read_template(c, *tmpl);
  } else if (type != "text") {
    throw config_error{"\"messageType\" must be \"text\" or \"template\""};
  } else if (tmpl) {
    throw config_error{"\"template\" is only used with \"messageType\": \"template\""};
  }
  return c;
}

// ---- sending ---------------------------------------------------------------------------------

// Template parameters come from the recipient. Since ABI 1.2 the host hands over the
// recipient's vars, so a component's string may say {{vars.first}}; {{1}}, {{2}}, ... are the
// fields of the rendered message split on the separator (how a 1.1 host could carry vars:
// "message": "{{vars.first}}|{{vars.code}}"), and {{text}} is the whole rendered message.
struct template_values {
  std::vector<std::string_view> fields;
  std::string_view whole;
  const json::object* vars = nullptr; // the recipient's vars, when the host gave any
};

// A var's text: strings as they are, numbers and booleans as JSON writes them.
std::string var_text(const json::value& v) {
  if (const json::string* s = v.if_string())
    return std::string(s->data(), s->size());
  if (v.is_null() || v.is_object() || v.is_array())
    return {};
  return json::serialize(v);
}

std::string substitute(std::string_view s, const template_values& in) {
  std::string out;
  size_t i = 0;
  while (i < s.size()) {
    size_t open = s.find("{{", i);
    size_t close = open == std::string_view::npos ? open : s.find("}}", open + 2);
    if (close == std::string_view::npos) {
      out.append(s.substr(i));
      break;
    }
    out.append(s.substr(i, open - i));
    std::string_view key = s.substr(open + 2, close - open - 2);
    if (key == "text") {
      out.append(in.whole);
    } else if (key.substr(0, 5) == "vars.") {
      std::string_view name = key.substr(5);
      const json::value* v =
          in.vars ? in.vars->if_contains(json::string_view(name.data(), name.size())) : nullptr;
      std::string text = v ? var_text(*v) : std::string();
      if (text.empty()) // Meta refuses an empty parameter (132000): say which var is missing
        throw config_error{"template placeholder {{" + std::string(key) +
                           "}} has no value: the recipient has no var \"" + std::string(name) +
                           "\""};
      out.append(text);
    } else if (all_digits(key) && key.size() < 4 && std::stoul(std::string(key)) >= 1 &&
               std::stoul(std::string(key)) <= in.fields.size()) {
      out.append(in.fields[std::stoul(std::string(key)) - 1]);
    } else {
      throw config_error{"template placeholder {{" + std::string(key) +
                         "}} has no value: the message has " + std::to_string(in.fields.size()) +
                         " field(s)"};
    }
    i = close + 2;
  }
  return out;
}

json::value substitute_all(const json::value& v, const template_values& in) {
  if (const json::string* s = v.if_string())
    return json::string(substitute(std::string_view(s->data(), s->size()), in));
  if (const json::array* a = v.if_array()) {
    json::array out;
    for (const auto& x : *a)
      out.push_back(substitute_all(x, in));
    return out;
  }
  if (const json::object* o = v.if_object()) {
    json::object out;
    for (const auto& kv : *o)
      out[kv.key()] = substitute_all(kv.value(), in);
    return out;
  }
  return v;
}

std::string message_body(const config& c, const std::string& to, std::string_view text,
                         std::string_view vars_json) {
  json::object m{{"messaging_product", "whatsapp"}, {"recipient_type", "individual"}, {"to", to}};
  if (!c.template_mode) {
    m["type"] = "text";
    m["text"] = json::object{{"preview_url", c.preview_url}, {"body", text}};
    return json::serialize(m);
  }
  template_values in;
  in.whole = text;
  for (size_t at = 0;;) {
    size_t next = text.find(c.separator, at);
    in.fields.push_back(text.substr(at, next == std::string_view::npos ? next : next - at));
    if (next == std::string_view::npos)
      break;
    at = next + c.separator.size();
  }
  json::value vars;
  if (!vars_json.empty()) {
    json::error_code ec;
    vars = json::parse(json::string_view(vars_json.data(), vars_json.size()), ec);
    if (ec || !vars.is_object())
      throw config_error{"the recipient's vars are not a JSON object"};
    in.vars = &vars.get_object();
  }
  json::object t{{"name", c.template_name}, {"language", json::object{{"code", c.template_language}}}};
  if (!c.template_components.empty())
    t["components"] = substitute_all(c.template_components, in);
  m["type"] = "template";
  m["template"] = std::move(t);
  return json::serialize(m);
}

// The Graph API's error codes (developers.facebook.com/docs/whatsapp/cloud-api/support/
// error-codes) by what blastd should do about them. Anything else: by HTTP status.
int class_of_graph_code(int64_t code, int http_status) {
  switch (code) {
    case 130429: // Cloud API throughput reached: the next second will do
    case 131056: // too many messages to this one recipient: later will do
    case 131000: // something went wrong (Meta's side)
    case 131016: // service unavailable
    case 1:      // API unknown
    case 2:      // API service
      return BLAST_E_RETRYABLE;
    case 4:      // application request limit
    case 80007:  // WABA rate limit
    case 131048: // spam rate limit
      return BLAST_E_RATE_LIMITED;
    case 131049: // per-user marketing limit: this message will not be delivered to this user
    case 131026: // undeliverable (not on WhatsApp, old version, ...)
    case 131030: // recipient not in the allowed list (test numbers)
    case 131047: // outside the 24-hour window: needs a template
    case 131051: // unsupported message type
    case 131009: // a parameter value is not valid (e.g. an invalid phone number)
    case 100:    // invalid parameter
    case 190:    // access token expired or invalid
      return BLAST_E_PERMANENT;
    default:
      break;
  }
  if (code >= 132000 && code < 133000)
    return BLAST_E_PERMANENT; // template errors: missing, paused, parameter mismatch, ...
  if (http_status == 429)
    return BLAST_E_RATE_LIMITED;
  if (http_status >= 500 || http_status == 0)
    return BLAST_E_RETRYABLE;
  return BLAST_E_PERMANENT;
}

// A failed send's class and the operator's message, with the Graph error's code kept in it.
int classify_failure(const http_answer& a, std::string& message) {
  if (a.status == 0) {
    message = "whatsapp-cloud: send: " + a.error;
    return BLAST_E_RETRYABLE;
  }
  json::error_code ec;
  json::value doc = json::parse(a.body, ec);
  const json::object* o = ec ? nullptr : doc.if_object();
  const json::value* e = o ? o->if_contains("error") : nullptr;
  const json::object* err = e ? e->if_object() : nullptr;
  int64_t code = -1;
  message = "whatsapp-cloud: send answered HTTP " + std::to_string(a.status);
  if (err) {
    const json::value* c = err->if_contains("code");
    if (c && c->is_int64())
      code = c->get_int64();
    message += ", Graph error " + std::to_string(code);
    if (std::string sub = text_of(err->if_contains("error_subcode")); !sub.empty())
      message += " (subcode " + sub + ")";
    message += ": " + text_of(err->if_contains("message"));
    if (const json::value* d = err->if_contains("error_data"); d && d->is_object())
      if (std::string details = text_of(d->get_object().if_contains("details")); !details.empty())
        message += " — " + details;
    if (std::string trace = text_of(err->if_contains("fbtrace_id")); !trace.empty())
      message += " [fbtrace_id " + trace + "]";
  } else {
    constexpr size_t max_snippet = 200;
    message += ": " + (a.body.size() > max_snippet ? a.body.substr(0, max_snippet) + "…" : a.body);
  }
  return class_of_graph_code(code, a.status);
}

// ---- webhooks --------------------------------------------------------------------------------

// Cloud API status words to funnel stages. "played" is a voice message listened to: read.
int32_t stage_of(std::string_view status) {
  if (status == "sent")
    return BLAST_STAGE_SENT;
  if (status == "delivered")
    return BLAST_STAGE_DELIVERED;
  if (status == "read" || status == "played")
    return BLAST_STAGE_READ;
  if (status == "failed")
    return BLAST_STAGE_FAILED;
  return BLAST_STAGE_NONE;
}

int64_t seconds_text_to_ms(const json::value* v) {
  std::string t = text_of(v);
  return all_digits(t) && t.size() < 12 ? std::stoll(t) * 1000 : 0;
}

// One status object → one observation; nullopt for a status word that is no funnel stage.
std::optional<blast_sdk::observation> from_status(const json::object& s) {
  blast_sdk::observation o;
  o.message_id = text_of(s.if_contains("id"));
  std::string status = text_of(s.if_contains("status"));
  o.stage = stage_of(status);
  if (o.message_id.empty() || o.stage == BLAST_STAGE_NONE)
    return std::nullopt;
  o.provider_status = status;
  if (const json::value* errs = s.if_contains("errors"); errs && errs->is_array())
    for (const auto& e : errs->get_array())
      if (const json::object* eo = e.if_object())
        o.provider_status += " " + text_of(eo->if_contains("code")) + " " +
                             text_of(eo->if_contains("title"));
  o.time_ms = seconds_text_to_ms(s.if_contains("timestamp"));
  // Stable per (message, status): Meta retries a webhook it got no 200 for, and sends
  // duplicates anyway; the host drops the ones it has seen.
  o.event_id = "wa:" + o.message_id + ":" + status;
  o.raw = json::serialize(s);
  return o;
}

// One inbound message → a reply: linked by context.id when the user quoted our message.
std::optional<blast_sdk::observation> from_message(const json::object& m) {
  blast_sdk::observation o;
  o.sender = text_of(m.if_contains("from"));
  if (!all_digits(o.sender))
    return std::nullopt;
  o.stage = BLAST_STAGE_REPLIED;
  if (const json::value* ctx = m.if_contains("context"); ctx && ctx->is_object())
    o.quoted_id = text_of(ctx->get_object().if_contains("id"));
  o.provider_status = "message:" + text_of(m.if_contains("type"));
  o.time_ms = seconds_text_to_ms(m.if_contains("timestamp"));
  std::string id = text_of(m.if_contains("id"));
  o.event_id = id.empty() ? std::string() : "wa:in:" + id;
  o.raw = json::serialize(m);
  return o;
}

// entry[].changes[].value.{statuses,messages}[] of a verified body, in order.
bool read_notification(std::string_view body, std::vector<blast_sdk::observation>& out,
                       std::string& why) {
  // The document lives only for this call: its nodes come from one arena (the
  // first 16 KiB on the stack) instead of an allocation each.
  unsigned char arena[16 * 1024];
  json::monotonic_resource mr(arena, sizeof arena);
  json::error_code ec;
  json::value v = json::parse(json::string_view(body.data(), body.size()), ec, &mr);
  const json::object* root = ec ? nullptr : v.if_object();
  const json::value* entries = root ? root->if_contains("entry") : nullptr;
  if (!entries || !entries->is_array()) {
    why = ec ? "not JSON: " + ec.message() : "no \"entry\" array";
    return false;
  }
  auto each = [](const json::object& o, const char* key, auto&& f) {
    if (const json::value* a = o.if_contains(key); a && a->is_array())
      for (const auto& x : a->get_array())
        if (const json::object* xo = x.if_object())
          f(*xo);
  };
  for (const auto& entry : entries->get_array()) {
    const json::object* eo = entry.if_object();
    if (!eo)
      continue;
    each(*eo, "changes", [&](const json::object& change) {
      const json::value* value = change.if_contains("value");
      if (!value || !value->is_object())
        return;
      each(value->get_object(), "statuses", [&](const json::object& s) {
        if (auto o = from_status(s))
          out.push_back(std::move(*o));
        else
          log_line(BLAST_LOG_DEBUG, "whatsapp-cloud: status ignored: " + json::serialize(s));
      });
      each(value->get_object(), "messages", [&](const json::object& m) {
        if (auto o = from_message(m))
          out.push_back(std::move(*o));
      });
    });
  }
  return true;
}

// Compared in constant time (only the length can leak), so the token cannot be guessed byte by
// byte from response times.
bool same_secret(std::string_view given, std::string_view expected) {
  return given.size() == expected.size() &&
         CRYPTO_memcmp(given.data(), expected.data(), given.size()) == 0;
}

} // namespace
} // namespace blast::plugins::whatsapp_cloud

using namespace blast::plugins::whatsapp_cloud;

struct blast_instance {
  config cfg;
  http_pool pool;
  std::string send_target;
  std::vector<std::pair<std::string, std::string>> headers;

  explicit blast_instance(config c)
      : cfg(std::move(c)), pool(cfg.origin),
        send_target(cfg.base_path + "/" + cfg.api_version + "/" + cfg.phone_number_id +
                    "/messages"),
        headers{{"Authorization", "Bearer " + cfg.access_token}} {}
};

namespace {

blast_instance* wa_create(const char* config_json, size_t config_len, void*, char* err,
                          size_t err_len) {
  return blast_sdk::guarded_ptr<blast_instance>(err, err_len, [&]() -> blast_instance* {
    try {
      auto inst = std::make_unique<blast_instance>(
          parse_config(std::string_view(config_json ? config_json : "", config_json ? config_len : 0)));
      if (!inst->cfg.app_secret)
        log_line(BLAST_LOG_WARN, "whatsapp-cloud: no appSecret: webhooks are accepted unsigned");
      return inst.release();
    } catch (const config_error& e) {
      write_error(err, err_len, "whatsapp-cloud: config: " + e.message);
      return nullptr;
    }
  });
}

void wa_destroy(blast_instance* inst) {
  delete inst; // closing sockets does not throw
}

int wa_send(blast_instance* inst, const blast_send_request* req, blast_send_sink sink,
            void* sink_ctx, int64_t* retry_after_ms, char* err, size_t err_len) {
  return blast_sdk::guarded(err, err_len, [&] {
    if (!inst || !req || !sink) {
      write_error(err, err_len, "whatsapp-cloud: send called with a null argument");
      return BLAST_E_INVALID;
    }
    std::string to(view(req->to));
    if (!all_digits(to)) {
      write_error(err, err_len,
                  "whatsapp-cloud: recipient must be E.164 digits without '+', got \"" + to + "\"");
      return BLAST_E_INVALID;
    }
    std::string body;
    try {
      body = message_body(inst->cfg, to, view(req->text), blast_sdk::send_vars(*req));
    } catch (const config_error& e) {
      write_error(err, err_len, "whatsapp-cloud: " + e.message);
      return BLAST_E_INVALID;
    }
    // The Cloud API has no idempotency key: a retried send after a lost answer may deliver twice.
    http_answer a = inst->pool.post(inst->send_target, inst->headers, body);
    if (a.status < 200 || a.status > 299) {
      std::string message;
      int rc = classify_failure(a, message);
      if (rc == BLAST_E_RATE_LIMITED && retry_after_ms)
        *retry_after_ms = blast_sdk::retry_after_ms(a.retry_after);
      write_error(err, err_len, message);
      return rc;
    }
    json::error_code ec;
    json::value doc = json::parse(a.body, ec);
    const json::object* o = ec ? nullptr : doc.if_object();
    const json::value* msgs = o ? o->if_contains("messages") : nullptr;
    std::string id;
    if (msgs && msgs->is_array() && !msgs->get_array().empty() && msgs->get_array()[0].is_object())
      id = text_of(msgs->get_array()[0].get_object().if_contains("id"));
    if (id.empty()) {
      // Sent or not, it cannot be followed without a wamid; a retry could duplicate it, so no.
      write_error(err, err_len, "whatsapp-cloud: send answered HTTP " + std::to_string(a.status) +
                                    " without messages[0].id: " + a.body.substr(0, 200));
      return BLAST_E_PERMANENT;
    }
    sink(sink_ctx, str(id), str(a.body)); // the exact response document, byte for byte
    return BLAST_OK;
  });
}

int wa_query_status(blast_instance*, blast_str, blast_str, blast_observation_sink, void*,
                    char* err, size_t err_len) {
  // The Cloud API has no status look-up: statuses only arrive by webhook.
  write_error(err, err_len, "whatsapp-cloud: the Cloud API has no status look-up");
  return BLAST_E_UNSUPPORTED;
}

int wa_parse_webhook(blast_instance* inst, const blast_webhook_request* req,
                     blast_observation_sink sink, void* sink_ctx, char* err, size_t err_len) {
  return blast_sdk::guarded(err, err_len, [&] {
    if (!inst || !req || !sink) {
      write_error(err, err_len, "whatsapp-cloud: parse_webhook called with a null argument");
      return BLAST_E_INVALID;
    }
    if (!blast_sdk::iequals(view(req->method), "POST")) {
      write_error(err, err_len, "whatsapp-cloud: notifications are POST requests, got " +
                                    std::string(view(req->method)));
      return BLAST_E_INVALID;
    }
    if (inst->cfg.app_secret) {
      blast_str header = blast_sdk::find_header(*req, "X-Hub-Signature-256");
      std::string why = "missing X-Hub-Signature-256 header";
      if (!header.data || !blast_sdk::verify_sha256_signature(view(header), *inst->cfg.app_secret,
                                                              view(req->body), why)) {
        write_error(err, err_len, "whatsapp-cloud: webhook rejected: " + why);
        return BLAST_E_SIGNATURE;
      }
    }
    std::vector<blast_sdk::observation> out;
    std::string why;
    if (!read_notification(view(req->body), out, why)) {
      write_error(err, err_len, "whatsapp-cloud: webhook body unreadable: " + why);
      return BLAST_E_INVALID;
    }
    for (const auto& o : out) {
      blast_observation v = o.view();
      sink(sink_ctx, &v);
    }
    return BLAST_OK;
  });
}

// Meta's verification handshake: GET ?hub.mode=subscribe&hub.verify_token=..&hub.challenge=..
int wa_answer_webhook(blast_instance* inst, const blast_webhook_request* req,
                      blast_webhook_reply_sink sink, void* sink_ctx, char* err, size_t err_len) {
  return blast_sdk::guarded(err, err_len, [&] {
    if (!inst || !req || !sink) {
      write_error(err, err_len, "whatsapp-cloud: answer_webhook called with a null argument");
      return BLAST_E_INVALID;
    }
    std::string mode, token, challenge;
    std::string_view query = view(req->query);
    if (!blast_sdk::iequals(view(req->method), "GET") ||
        !blast_sdk::query_param(query, "hub.mode", mode))
      return BLAST_E_UNSUPPORTED; // not a handshake: not ours to answer
    bool has_token = blast_sdk::query_param(query, "hub.verify_token", token);
    bool has_challenge = blast_sdk::query_param(query, "hub.challenge", challenge);
    const auto& expected = inst->cfg.verify_token;
    if (mode == "subscribe" && has_token && has_challenge && expected &&
        same_secret(token, *expected)) {
      sink(sink_ctx, 200, str("text/plain"), str(challenge));
      log_line(BLAST_LOG_INFO, "whatsapp-cloud: webhook subscription verified");
      return BLAST_OK;
    }
    log_line(BLAST_LOG_WARN, "whatsapp-cloud: webhook verification refused (mode \"" + mode +
                                 "\", " + (expected ? "token mismatch or no challenge" :
                                                      "no verifyToken configured") + ")");
    sink(sink_ctx, 403, str("text/plain"), str("verification failed"));
    return BLAST_OK;
  });
}

} // namespace

extern "C" BLAST_PLUGIN_EXPORT const blast_transport_v1*
blast_transport_entry(const blast_host_v1* host) {
  if (!blast_sdk::host_compatible(host))
    return nullptr;
  g_host.set(host);
  static const blast_transport_v1 table = {
      BLAST_TRANSPORT_ABI_VERSION,
      sizeof(blast_transport_v1),
      "whatsapp-cloud",
      "1.0.0",
      BLAST_CAP_SEND | BLAST_CAP_WEBHOOK | BLAST_CAP_WEBHOOK_ANSWER,
      wa_create,
      wa_destroy,
      wa_send,
      wa_query_status,
      wa_parse_webhook,
      wa_answer_webhook,
  };
  return &table;
}
