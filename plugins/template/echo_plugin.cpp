// The template transport plugin "echo": a minimal but complete plugin to copy when writing a
// new transport. It talks to no network: sends are accepted at once, webhooks report statuses.
//
// What it shows, entry point by entry point:
//  - blast_transport_entry: checks the host's ABI, keeps the host table, returns a static table.
//  - create/destroy: strict config parsing with a clear error; an instance owns its state.
//  - send: validation, an idempotent message id, the provider's document returned via the sink.
//  - query_status: reading the stored document back, "no status yet" vs an observation.
//  - parse_webhook: a shared-secret check in constant time, then parsing into observations.
//
// Build rules this file relies on (see CMakeLists.txt): compiled with hidden visibility and
// linked with the SDK's version script, so blast_transport_entry is the only exported symbol.
// It includes only the SDK headers: no Boost, nothing else from blastd.
#include "blast_transport.hpp" // the C ABI (blast_transport.h) plus guarded/str/view helpers

#include <atomic>
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <string_view>

namespace {

using blast_sdk::str;
using blast_sdk::view;

// The host's table, given to the entry point. The host keeps it valid while the library is
// loaded, so a plain pointer is enough; atomic because instances read it from host threads.
std::atomic<const blast_host_v1*> g_host{nullptr};

void log(int level, const std::string& message) {
  const blast_host_v1* h = g_host.load();
  if (h && h->log)
    h->log(h->host_ctx, level, str(message));
}

int64_t now_ms() {
  const blast_host_v1* h = g_host.load();
  return h && h->now_ms ? h->now_ms(h->host_ctx) : 0;
}

// ---- a tiny JSON reader, enough for flat objects ---------------------------------------------
// A real plugin would use a JSON library; the template stays header-only on purpose. It reads
// one object whose values are strings, numbers, true, false or null (numbers and literals are
// kept as their text) and refuses anything else, which is all this plugin needs.

struct flat_value {
  std::string text;       // a string's decoded content, or a number's or literal's own text
  bool is_string = false; // so that "1" and 1 stay different things
};
using flat_object = std::map<std::string, flat_value, std::less<>>;

// A field that must be a string if present: nullptr if absent, `wrong` set if not a string.
const std::string* string_field(const flat_object& o, std::string_view key, bool& wrong) {
  auto it = o.find(key);
  if (it == o.end())
    return nullptr;
  wrong = wrong || !it->second.is_string;
  return &it->second.text;
}

// An integer field (a number without fraction); 0 when absent or not an integer.
int64_t integer_field(const flat_object& o, std::string_view key) {
  auto it = o.find(key);
  if (it == o.end() || it->second.is_string)
    return 0;
  char* end = nullptr;
  long long v = std::strtoll(it->second.text.c_str(), &end, 10);
  return end && *end == '\0' ? v : 0;
}

class flat_json_reader {
public:
  explicit flat_json_reader(std::string_view text) : s_(text) {}

  // Fills `out`; on failure returns false with `error` saying where and why.
  bool read_object(flat_object& out, std::string& error) {
    skip_space();
    if (!eat('{'))
      return fail("expected '{'", error);
    skip_space();
    if (eat('}'))
      return at_end(error);
    for (;;) {
      std::string key;
      flat_value value;
      skip_space();
      if (!read_string(key))
        return fail("expected a string key", error);
      skip_space();
      if (!eat(':'))
        return fail("expected ':'", error);
      skip_space();
      if (!read_value(value))
        return fail("expected a string, number, true, false or null (nested values are not "
                    "supported)",
                    error);
      out[key] = value;
      skip_space();
      if (eat('}'))
        return at_end(error);
      if (!eat(','))
        return fail("expected ',' or '}'", error);
    }
  }

private:
  bool fail(const char* what, std::string& error) {
    error = std::string(what) + " at offset " + std::to_string(i_);
    return false;
  }
  bool at_end(std::string& error) {
    skip_space();
    return i_ == s_.size() || fail("unexpected text after the object", error);
  }
  void skip_space() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r'))
      ++i_;
  }
  bool eat(char c) {
    if (i_ < s_.size() && s_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }
  bool read_hex4(uint32_t& cp) {
    if (s_.size() - i_ < 4)
      return false;
    cp = 0;
    for (int k = 0; k < 4; ++k) {
      char c = s_[i_++];
      int d = c >= '0' && c <= '9'   ? c - '0'
              : c >= 'a' && c <= 'f' ? c - 'a' + 10
              : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                     : -1;
      if (d < 0)
        return false;
      cp = cp * 16 + static_cast<uint32_t>(d);
    }
    return true;
  }
  static void append_utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }
  bool read_string(std::string& out) {
    if (!eat('"'))
      return false;
    while (i_ < s_.size()) {
      char c = s_[i_++];
      if (c == '"')
        return true;
      if (static_cast<unsigned char>(c) < 0x20)
        return false; // raw control characters are not allowed in JSON strings
      if (c != '\\') {
        out += c;
        continue;
      }
      if (i_ == s_.size())
        return false;
      switch (char e = s_[i_++]) {
        case '"':
        case '\\':
        case '/':
          out += e;
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u': {
          uint32_t cp;
          if (!read_hex4(cp))
            return false;
          if (cp >= 0xD800 && cp < 0xDC00) { // a surrogate pair encodes one code point
            uint32_t low;
            if (!eat('\\') || !eat('u') || !read_hex4(low) || low < 0xDC00 || low > 0xDFFF)
              return false;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            return false;
          }
          append_utf8(out, cp);
          break;
        }
        default:
          return false;
      }
    }
    return false; // unterminated
  }
  bool read_value(flat_value& value) {
    value.is_string = i_ < s_.size() && s_[i_] == '"';
    if (value.is_string)
      return read_string(value.text);
    std::string& out = value.text;
    size_t start = i_;
    while (i_ < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[i_])) || s_[i_] == '-' ||
                              s_[i_] == '+' || s_[i_] == '.'))
      ++i_;
    out = std::string(s_.substr(start, i_ - start));
    if (out == "true" || out == "false" || out == "null")
      return true;
    // A number: the strict grammar is not worth it here; a number must at least parse whole.
    if (out.empty())
      return false;
    char* end = nullptr;
    std::strtod(out.c_str(), &end);
    return end && *end == '\0';
  }

  std::string_view s_;
  size_t i_ = 0;
};

// JSON string escaping for the documents we write.
std::string json_string(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

// ---- small helpers ---------------------------------------------------------------------------

uint64_t fnv1a(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : s)
    h = (h ^ c) * 0x100000001b3ULL;
  return h;
}

std::string hex16(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llX", static_cast<unsigned long long>(v));
  return buf;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size())
    return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

// Compares a secret without an early exit, so the time taken does not reveal how many leading
// bytes of a guess were right. (The length is not secret enough to hide; an HMAC would be the
// stronger scheme for a real provider.)
bool constant_time_equals(std::string_view a, std::string_view b) {
  if (a.size() != b.size())
    return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i)
    diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

bool all_digits(std::string_view s) {
  for (char c : s)
    if (c < '0' || c > '9')
      return false;
  return !s.empty();
}

int invalid(char* err, size_t err_len, const std::string& why) {
  blast_sdk::write_error(err, err_len, "echo: " + why);
  return BLAST_E_INVALID;
}

} // namespace

// ---- the instance ----------------------------------------------------------------------------

// The plugin's own instance type; the header only declares it, so each plugin defines it. Its
// config never changes after create, so concurrent send/query_status/parse_webhook calls need
// no lock; the only mutable state is an atomic counter.
struct blast_instance {
  std::string webhook_secret;       // empty: webhooks are accepted unsigned
  std::atomic<uint64_t> unkeyed{0}; // numbers sends that came without an idempotency key
};

namespace {

// create: the config is the transport's JSON object from blastd's configuration (without its
// "plugin" key). It runs once per instance, on one host thread. On error: return NULL and say
// why in `err` (the host shows it to the operator, so name the key and what was expected).
blast_instance* echo_create(const char* config_json, size_t config_len, void* instance_token,
                            char* err, size_t err_len) {
  // guarded_ptr turns any exception (std::bad_alloc included) into NULL plus a message: no
  // exception may ever cross the C boundary.
  return blast_sdk::guarded_ptr<blast_instance>(err, err_len, [&]() -> blast_instance* {
    std::string_view text(config_json ? config_json : "", config_json ? config_len : 0);
    flat_object config;
    std::string error;
    if (text.find_first_not_of(" \t\r\n") != std::string_view::npos &&
        !flat_json_reader(text).read_object(config, error)) {
      invalid(err, err_len, "config is not a flat JSON object: " + error);
      return nullptr;
    }
    auto inst = std::make_unique<blast_instance>();
    for (const auto& [key, value] : config) {
      if (key == "webhookSecret" && value.is_string) {
        inst->webhook_secret = value.text;
      } else if (key == "webhookSecret") {
        invalid(err, err_len, "\"webhookSecret\" must be a string");
        return nullptr;
      } else {
        // Strict: a misspelt key would otherwise be ignored silently.
        invalid(err, err_len, "unknown config key \"" + key + "\" (allowed: webhookSecret)");
        return nullptr;
      }
    }
    // This plugin never pushes, so it does not keep instance_token; a plugin that pushes
    // stores it and passes it to every host->push of this instance.
    (void)instance_token;
    if (inst->webhook_secret.empty())
      log(BLAST_LOG_WARN, "echo: no webhookSecret: webhooks are accepted unsigned");
    return inst.release();
  });
}

// destroy: stop every thread the instance started and free it. After it returns the instance
// must not call host->push any more. Called once, from one thread, after every other call on
// the instance has returned. It has no error channel; echo's destructor cannot throw.
void echo_destroy(blast_instance* inst) {
  delete inst;
}

// send: called concurrently from several host threads. On success call `sink` exactly once,
// before returning, with the provider's message id and its exact response document; the host
// copies both, so they may live on this stack. Errors: BLAST_E_INVALID / BLAST_E_PERMANENT fail
// the recipient for good, BLAST_E_RETRYABLE is retried with backoff, BLAST_E_RATE_LIMITED slows
// the whole transport (set *retry_after_ms when the provider says how long).
int echo_send(blast_instance* inst, const blast_send_request* req, blast_send_sink sink,
              void* sink_ctx, int64_t* retry_after_ms, char* err, size_t err_len) {
  return blast_sdk::guarded(err, err_len, [&] {
    (void)retry_after_ms; // echo is never rate limited
    std::string_view to = view(req->to);
    if (!all_digits(to))
      return invalid(err, err_len,
                     "recipient must be digits without '+', got \"" + std::string(to) + "\"");
    // The same idempotency key gives the same id, as an idempotent provider would; a real
    // plugin passes the key to its provider (e.g. as an Idempotency-Key header) when it can.
    std::string key(view(req->idempotency_key));
    if (key.empty())
      key = "unkeyed-" + std::to_string(inst->unkeyed.fetch_add(1));
    std::string id = "ECHO" + hex16(fnv1a(key));
    std::string document = "{\"id\":" + json_string(id) + ",\"to\":" + json_string(to) +
                           ",\"text\":" + json_string(view(req->text)) +
                           ",\"status\":\"accepted\",\"timestamp\":" + std::to_string(now_ms()) +
                           "}";
    sink(sink_ctx, str(id), str(document));
    return BLAST_OK;
  });
}

// query_status: the host passes the id and the exact document send returned (possibly long
// ago, by another process). Call `sink` once per observation; "no status yet" is BLAST_OK with
// no call at all. Echo's channel delivers everything at once, so it always answers delivered.
int echo_query_status(blast_instance* /*inst*/, blast_str message_id, blast_str document,
                      blast_observation_sink sink, void* sink_ctx, char* err, size_t err_len) {
  return blast_sdk::guarded(err, err_len, [&] {
    std::string id(view(message_id));
    flat_object doc;
    std::string error;
    if (id.empty())
      return invalid(err, err_len, "empty message id");
    if (!flat_json_reader(view(document)).read_object(doc, error))
      return invalid(err, err_len, "the stored document is not echo's: " + error);
    std::string event_id = "echo-" + id + "-delivered";
    blast_observation o = blast_sdk::make_observation();
    o.message_id = str(id);
    o.stage = BLAST_STAGE_DELIVERED;
    o.provider_status = str("delivered");
    o.provider_time_ms = integer_field(doc, "timestamp");
    o.event_id = str(event_id); // stable, so repeated look-ups de-duplicate at the host
    o.raw = document;           // the host copies it: borrowing the caller's buffer is fine
    sink(sink_ctx, &o);
    return BLAST_OK;
  });
}

// parse_webhook: first verify, then parse. A request that does not verify is
// BLAST_E_SIGNATURE (the host answers 401 and learns nothing from the body); one that verifies
// but cannot be read is BLAST_E_INVALID. Echo's webhook: POST, header X-Echo-Secret, body
// {"id": "ECHO…", "status": "sent|delivered|read|failed", "eventId"?: "…", "timestamp"?: ms}.
int echo_parse_webhook(blast_instance* inst, const blast_webhook_request* req,
                       blast_observation_sink sink, void* sink_ctx, char* err, size_t err_len) {
  return blast_sdk::guarded(err, err_len, [&] {
    if (!inst->webhook_secret.empty()) {
      std::string_view given;
      bool found = false;
      for (size_t i = 0; i < req->header_count; ++i)
        if (iequals(view(req->headers[i].name), "X-Echo-Secret")) { // names are case-blind
          given = view(req->headers[i].value);
          found = true;
        }
      if (!found || !constant_time_equals(given, inst->webhook_secret)) {
        blast_sdk::write_error(err, err_len,
                               found ? "echo: wrong X-Echo-Secret" : "echo: no X-Echo-Secret");
        return BLAST_E_SIGNATURE;
      }
    }
    if (view(req->method) != "POST")
      return invalid(err, err_len, "webhooks are POST, got " + std::string(view(req->method)));
    flat_object body;
    std::string error;
    if (!flat_json_reader(view(req->body)).read_object(body, error))
      return invalid(err, err_len, "webhook body is not a flat JSON object: " + error);
    bool wrong = false;
    const std::string* id = string_field(body, "id", wrong);
    const std::string* status = string_field(body, "status", wrong);
    const std::string* event = string_field(body, "eventId", wrong);
    if (wrong)
      return invalid(err, err_len, "webhook body: \"id\", \"status\" and \"eventId\" are strings");
    if (!id || id->empty())
      return invalid(err, err_len, "webhook body has no \"id\"");
    if (!status)
      return invalid(err, err_len, "webhook body has no \"status\"");
    static const std::map<std::string_view, int32_t> stages = {{"sent", BLAST_STAGE_SENT},
                                                               {"delivered", BLAST_STAGE_DELIVERED},
                                                               {"read", BLAST_STAGE_READ},
                                                               {"failed", BLAST_STAGE_FAILED}};
    auto stage = stages.find(*status);
    if (stage == stages.end())
      return invalid(err, err_len, "unknown status \"" + *status + "\"");

    blast_observation o = blast_sdk::make_observation();
    o.message_id = str(*id);
    o.stage = stage->second;
    o.provider_status = str(*status);
    o.provider_time_ms = integer_field(body, "timestamp"); // 0 = unknown, as the ABI says
    o.event_id = event ? str(*event) : blast_str{nullptr, 0};
    o.raw = req->body;
    sink(sink_ctx, &o);
    return BLAST_OK;
  });
}

} // namespace

// The one exported symbol. The host calls it once per load, before anything else, and may call
// it again if it loads the file again. Return NULL to refuse a host you cannot work with.
extern "C" BLAST_PLUGIN_EXPORT const blast_transport_v1*
blast_transport_entry(const blast_host_v1* host) {
  // Another major version means another layout: refuse. A larger struct_size (a newer minor
  // host) is fine: tables only grow at the end.
  if (!blast_sdk::host_compatible(host))
    return nullptr;
  g_host.store(host);
  // Static storage: the host reads the table (and the name/version strings) for as long as
  // the library is loaded. Every function pointer must be set, whatever the capabilities; an
  // undeclared operation answers BLAST_E_UNSUPPORTED.
  static const blast_transport_v1 table = {
      BLAST_TRANSPORT_ABI_VERSION,
      sizeof(blast_transport_v1),
      "echo",
      "1.0.0",
      BLAST_CAP_SEND | BLAST_CAP_STATUS_QUERY | BLAST_CAP_WEBHOOK,
      echo_create,
      echo_destroy,
      echo_send,
      echo_query_status,
      echo_parse_webhook,
      nullptr, // answer_webhook (ABI 1.1): not declared
  };
  return &table;
}
