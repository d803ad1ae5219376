// The host side of the plugin ABI: loads a transport plugin (dlopen), checks
// its tables, and wraps an instance in a C++ interface that never lets a C++
// type, an exception or an allocation cross the boundary.
//
// Threading: a loaded library and its instances may be used from any thread;
// send/query_status/parse_webhook may run concurrently (the ABI requires
// plugins to allow it). The push callback runs on the plugin's own threads.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace blast::plugins {

// A normalised observation, copied out of the plugin.
struct observation {
  std::string message_id;
  std::string sender;           // inbound messages: the sender's digits
  int stage = 0;                // BLAST_STAGE_* (0 none, 1 sent, 2 delivered, 3 read, 4 replied, 6 failed)
  std::string provider_status;
  int64_t provider_time_ms = 0;
  std::string event_id;
  std::string raw;
  std::string quoted_id;
};

enum class send_error { none = 0, retryable, rate_limited, permanent, invalid, internal };

struct send_result {
  send_error error = send_error::none;  // none = sent
  std::string message_id;               // when sent
  std::string document;                 // the provider's exact response document (JSON), when sent
  int64_t retry_after_ms = 0;           // when rate_limited; 0 = unknown
  std::string message;                  // when not sent: why
};

struct webhook_request {
  std::string method;
  std::string path;
  std::string query;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

// The HTTP reply a plugin gives to a webhook request it answers itself (ABI 1.1).
struct webhook_reply {
  int status = 200;
  std::string content_type; // empty: text/plain
  std::string body;
};

// An operation's outcome: code is BLAST_OK or a BLAST_E_* value.
struct call_status {
  int code = 0;
  std::string message;
  bool ok() const { return code == 0; }
};

struct plugin_info {
  std::string path;
  std::string name;
  std::string version;
  uint32_t abi_version = 0;
  uint32_t capabilities = 0;  // BLAST_CAP_*
};

using push_fn = std::function<void(std::vector<observation>&&)>;
using log_fn = std::function<void(int level, const std::string& message)>;

class transport_instance;

// A loaded plugin library. Kept alive (not dlclose'd) while any instance lives.
class plugin_library : public std::enable_shared_from_this<plugin_library> {
public:
  // Loads and checks `path`. On failure returns nullptr and an error that
  // names the file and the reason (missing symbol, other major ABI version,
  // short table, entry point returned NULL, ...).
  static std::shared_ptr<plugin_library> load(const std::string& path, std::string& error,
                                              log_fn log = {});
  ~plugin_library();
  const plugin_info& info() const;

  // Creates an instance from its JSON config. nullptr + error on failure.
  // `push` receives the observations the instance pushes by itself.
  std::unique_ptr<transport_instance> create(const std::string& config_json, push_fn push,
                                             std::string& error);

  struct impl;
private:
  explicit plugin_library(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
  friend class transport_instance;
};

class transport_instance {
public:
  ~transport_instance();  // destroys the plugin's instance (no push after it returns)
  const plugin_info& info() const;
  bool can(uint32_t capability) const;

  // A plugin without BLAST_CAP_SEND is not called: send_error::invalid (a
  // configuration error, not worth a retry). BLAST_OK without a message id from
  // the plugin is send_error::internal. `vars` is the recipient's vars object as JSON text
  // (ABI 1.2), or empty.
  send_result send(const std::string& to, const std::string& text,
                   const std::string& idempotency_key, std::string_view vars = {});
  // Both append the observations to `out`; on an error `out` is left as it was.
  // Without the capability: BLAST_E_UNSUPPORTED, and the plugin is not called.
  call_status query_status(const std::string& message_id, const std::string& document,
                           std::vector<observation>& out);
  call_status parse_webhook(const webhook_request& req, std::vector<observation>& out);
  // ABI 1.1: lets the plugin answer a non-POST webhook request (a verification handshake)
  // itself. OK with `reply` set: send it as is. OK with `reply` empty: the plugin does not
  // answer this request (a 1.0 plugin, BLAST_CAP_WEBHOOK_ANSWER not declared, or the plugin
  // said BLAST_E_UNSUPPORTED), so the caller goes on as before. Otherwise the plugin failed.
  call_status answer_webhook(const webhook_request& req, std::optional<webhook_reply>& reply);

  struct impl;
  explicit transport_instance(std::unique_ptr<impl> p);
private:
  std::unique_ptr<impl> impl_;
};

// The symbolic name of a BLAST_OK / BLAST_E_* code ("BLAST_E_RETRYABLE"), or
// nullptr for a number the ABI does not define.
const char* status_name(int code);

// The file name a plugin called `name` has in the plugin folder: "blast_<name>.so".
std::string plugin_file_name(const std::string& name);

} // namespace blast::plugins
