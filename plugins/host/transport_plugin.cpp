// The host side of the transport plugin ABI: dlopen, table checks, the host table
// handed to plugins, and C++ wrappers that copy everything crossing the boundary.
#include "plugins/host/transport_plugin.hpp"

#include "plugins/sdk/blast_transport.h"

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <dlfcn.h>
#include <mutex>
#include <shared_mutex>
#include <string_view>
#include <unordered_map>

namespace blast::plugins {

namespace {

// Error buffers handed to plugins; zeroed before each call and re-terminated
// after it, so a plugin that forgets the NUL cannot make us read past the end.
constexpr size_t err_buf_len = 1024;

std::string read_error(const char (&err)[err_buf_len]) {
  return std::string(err, strnlen(err, err_buf_len));
}

std::string copy_str(blast_str s) {
  return s.data && s.len ? std::string(s.data, s.len) : std::string();
}

blast_str borrow(const std::string& s) {
  return blast_str{s.data(), s.size()};
}


const char* level_name(int level) {
  switch (level) {
    case BLAST_LOG_ERROR:
      return "error";
    case BLAST_LOG_WARN:
      return "warn";
    case BLAST_LOG_INFO:
      return "info";
    default:
      return "debug";
  }
}

// Reads one field of a plugin struct only if it lies within the size the
// plugin reported; memcpy because a foreign stride need not keep alignment.
template <class T> void read_field(const unsigned char* base, size_t size, size_t offset, T& out) {
  if (offset + sizeof(T) <= size)
    std::memcpy(&out, base + offset, sizeof(T));
}

uint32_t struct_size_of(const unsigned char* base) {
  uint32_t size = 0;
  std::memcpy(&size, base, sizeof size);
  return size;
}

// Copies an observation, reading only the fields within its struct_size: an
// older plugin's missing fields stay default, a newer plugin's extra ones are
// never read.
observation copy_observation(const unsigned char* base) {
  size_t size = struct_size_of(base);
  observation o;
  blast_str s{};
  int32_t stage = 0;
  int64_t time_ms = 0;
  auto str_field = [&](size_t offset, std::string& out) {
    s = blast_str{};
    read_field(base, size, offset, s);
    out = copy_str(s);
  };
  str_field(offsetof(blast_observation, message_id), o.message_id);
  str_field(offsetof(blast_observation, sender), o.sender);
  read_field(base, size, offsetof(blast_observation, stage), stage);
  o.stage = stage;
  str_field(offsetof(blast_observation, provider_status), o.provider_status);
  read_field(base, size, offsetof(blast_observation, provider_time_ms), time_ms);
  o.provider_time_ms = time_ms;
  str_field(offsetof(blast_observation, event_id), o.event_id);
  str_field(offsetof(blast_observation, raw), o.raw);
  str_field(offsetof(blast_observation, quoted_id), o.quoted_id);
  return o;
}

void default_log(const std::string& who, int level, std::string_view message) {
  // One buffer, one fwrite: lines from several plugin threads do not interleave.
  std::string line = "blastd plugin " + who + " [" + level_name(level) + "]: ";
  line.append(message.data(), message.size());
  line += '\n';
  std::fwrite(line.data(), 1, line.size(), stderr);
}

// What a plugin's host table points at (host_ctx). It must stay valid as long
// as the plugin's code is mapped, not merely as long as its plugin_library:
// loading one file twice yields one dlopen handle, so the plugin's globals hold
// whichever host table it saw last, possibly that of a library already gone.
// So a library only retires its context (log lines then go to stderr); the
// module registry frees contexts when the file is finally dlclose'd.
struct host_context {
  blast_host_v1 table{};
  std::string who;        // the file name, for log lines
  std::shared_mutex gate; // log calls hold it shared; retire() holds it exclusively
  log_fn log;             // empty once retired

  void retire() {
    std::unique_lock lock(gate);
    log = nullptr;
  }
};

// The dlopen handles this process holds through plugin_library objects, with
// every host context ever handed to that file's entry point.
struct module_registry {
  struct module {
    size_t libraries = 0;
    std::vector<std::unique_ptr<host_context>> hosts;
  };
  std::mutex mutex;
  std::unordered_map<void*, module> modules;

  host_context* attach(void* handle, std::unique_ptr<host_context> host) {
    std::lock_guard lock(mutex);
    auto& m = modules[handle];
    ++m.libraries;
    m.hosts.push_back(std::move(host));
    return m.hosts.back().get();
  }

  // Each library holds its own dlopen reference; the contexts go with the
  // last one, when the code is unmapped. Under the lock, so that a concurrent
  // load of the same file either joins the module or starts a fresh one.
  void detach(void* handle, host_context* host) {
    host->retire();
    std::lock_guard lock(mutex);
    dlclose(handle);
    auto it = modules.find(handle);
    if (it != modules.end() && --it->second.libraries == 0)
      modules.erase(it);
  }
};

// Immortal: a plugin_library held in a static may be destroyed after any
// function-local static would have been.
module_registry& modules() {
  static auto* registry = new module_registry;
  return *registry;
}

// The host-side record of one plugin instance; its address is the instance
// token the plugin passes back with every push.
struct instance_record {
  push_fn push;
  std::shared_mutex gate; // pushes hold it shared; the owner closes it exclusively
  bool live = true;

  void deliver(std::vector<observation>&& obs) {
    std::shared_lock lock(gate);
    if (!live || !push)
      return;
    push(std::move(obs));
  }

  void close() {
    std::unique_lock lock(gate);
    live = false;
  }
};

// Live instance records by token, process-wide: because of the shared dlopen
// handle a push may arrive through another library's host table. A token not in
// here (a plugin pushing after destroy, or garbage) is dropped, not dereferenced.
struct instance_registry {
  std::shared_mutex mutex;
  std::unordered_map<const void*, std::shared_ptr<instance_record>> records;

  void add(const std::shared_ptr<instance_record>& r) {
    std::unique_lock lock(mutex);
    records.emplace(r.get(), r);
  }
  void remove(const instance_record* r) {
    std::unique_lock lock(mutex);
    records.erase(r);
  }
  std::shared_ptr<instance_record> find(const void* token) {
    std::shared_lock lock(mutex);
    auto it = records.find(token);
    return it == records.end() ? nullptr : it->second;
  }
};

instance_registry& instances() {
  static auto* registry = new instance_registry;
  return *registry;
}

// ---- the host table's functions: called from plugin code, so nothing may throw.

void log_line(host_context* host, int level, std::string_view message) noexcept {
  try {
    std::shared_lock lock(host->gate);
    if (host->log)
      host->log(level, std::string(message));
    else
      default_log(host->who, level, message);
  } catch (...) {
    // A throwing log_fn must not unwind through the plugin; the line is lost.
  }
}

void host_log(void* ctx, int level, blast_str message) {
  if (ctx)
    log_line(static_cast<host_context*>(ctx), level,
             message.data ? std::string_view(message.data, message.len) : std::string_view());
}

int64_t host_now_ms(void*) {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

void host_push(void* ctx, void* token, const blast_observation* obs, size_t count) {
  auto* host = static_cast<host_context*>(ctx);
  try {
    auto record = instances().find(token);
    if (!record) {
      if (host)
        log_line(host, BLAST_LOG_WARN, "push for an unknown or destroyed instance dropped");
      return;
    }
    if (!obs || count == 0)
      return;
    // Array elements are struct_size apart: a plugin built against a later
    // minor version has a larger blast_observation than this host knows.
    auto* base = reinterpret_cast<const unsigned char*>(obs);
    size_t stride = struct_size_of(base);
    if (count > 1 && stride < offsetof(blast_observation, message_id)) {
      if (host)
        log_line(host, BLAST_LOG_ERROR,
                 "push of " + std::to_string(count) + " observations with struct_size " +
                     std::to_string(stride) + " dropped");
      return;
    }
    std::vector<observation> copied;
    copied.reserve(count);
    for (size_t i = 0; i < count; ++i)
      copied.push_back(copy_observation(base + i * stride));
    record->deliver(std::move(copied));
  } catch (const std::exception& e) {
    if (host)
      log_line(host, BLAST_LOG_ERROR, std::string("push handler failed: ") + e.what());
  } catch (...) {
    if (host)
      log_line(host, BLAST_LOG_ERROR, "push handler failed");
  }
}

// ---- sinks: called by the plugin during a call; they copy and never throw.

struct send_sink_state {
  int calls = 0;
  bool copy_failed = false;
  std::string message_id;
  std::string document;
};

void send_sink(void* ctx, blast_str message_id, blast_str document) {
  auto* st = static_cast<send_sink_state*>(ctx);
  if (++st->calls > 1)
    return; // the ABI says exactly once; the first answer is the one we keep
  try {
    st->message_id = copy_str(message_id);
    st->document = copy_str(document);
  } catch (...) {
    st->copy_failed = true;
  }
}

struct observation_sink_state {
  std::vector<observation>* out;
  bool copy_failed = false;
};

void observation_sink(void* ctx, const blast_observation* obs) {
  auto* st = static_cast<observation_sink_state*>(ctx);
  if (!obs)
    return;
  try {
    st->out->push_back(copy_observation(reinterpret_cast<const unsigned char*>(obs)));
  } catch (...) {
    st->copy_failed = true;
  }
}

std::string describe_failure(int code, std::string message) {
  if (!message.empty())
    return message;
  const char* name = status_name(code);
  return std::string("plugin returned ") + (name ? name : std::to_string(code).c_str()) +
         " without a message";
}

// Known codes pass through; anything else is a plugin bug.
call_status make_status(int code, std::string message) {
  if (code == BLAST_OK)
    return call_status{BLAST_OK, {}};
  if (!status_name(code))
    return call_status{BLAST_E_INTERNAL, "plugin returned unknown status " + std::to_string(code) +
                                             (message.empty() ? std::string() : ": " + message)};
  return call_status{code, describe_failure(code, std::move(message))};
}

std::string version_text(uint32_t v) {
  return std::to_string(BLAST_ABI_MAJOR_OF(v)) + "." + std::to_string(v & 0xffffu);
}

} // namespace

// ---- plugin_library ------------------------------------------------------

struct plugin_library::impl {
  void* handle = nullptr;
  host_context* host = nullptr; // owned by the module registry
  blast_transport_v1 table{};   // our copy of the plugin's table (first v1 bytes)
  plugin_info info;

  ~impl() {
    if (handle)
      modules().detach(handle, host);
  }
};

plugin_library::plugin_library(std::unique_ptr<impl> p) : impl_(std::move(p)) {}

// Instances hold a shared_ptr to their library, so by now none is alive and
// dlclose (in impl's destructor) cannot pull code from under them.
plugin_library::~plugin_library() = default;

const plugin_info& plugin_library::info() const {
  return impl_->info;
}

std::shared_ptr<plugin_library> plugin_library::load(const std::string& path, std::string& error,
                                                     log_fn log) {
  error.clear();
  dlerror();
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char* why = dlerror();
    error = "cannot load plugin " + path + ": " + (why ? why : "unknown dlopen error");
    return nullptr;
  }
  dlerror();
  void* sym = dlsym(handle, BLAST_TRANSPORT_ENTRY_SYMBOL);
  if (!sym) {
    dlclose(handle);
    error = path + ": not a blastd transport plugin: no symbol " BLAST_TRANSPORT_ENTRY_SYMBOL;
    return nullptr;
  }

  auto host = std::make_unique<host_context>();
  auto slash = path.find_last_of('/');
  host->who = slash == std::string::npos ? path : path.substr(slash + 1);
  host->log = std::move(log);
  host->table.abi_version = BLAST_TRANSPORT_ABI_VERSION;
  host->table.struct_size = sizeof(blast_host_v1);
  host->table.host_ctx = host.get();
  host->table.log = host_log;
  host->table.now_ms = host_now_ms;
  host->table.push = host_push;

  // From here on impl's destructor releases the handle on every exit.
  auto p = std::make_unique<impl>();
  p->handle = handle;
  p->host = modules().attach(handle, std::move(host));

  auto fail = [&](const std::string& why) {
    error = path + ": " + why;
    return nullptr;
  };
  auto entry = reinterpret_cast<blast_transport_entry_fn>(sym);
  const blast_transport_v1* t = nullptr;
  try {
    t = entry(&p->host->table);
  } catch (...) {
    // A C++ plugin that forgot to guard its entry point; GCC lets it through.
    return fail("the plugin's entry point threw an exception");
  }
  if (!t)
    return fail("the plugin's entry point returned NULL (it refused this host; see its log)");
  // abi_version and struct_size are the only fields every ABI version shares;
  // nothing past them is read before both are checked.
  if (BLAST_ABI_MAJOR_OF(t->abi_version) != BLAST_TRANSPORT_ABI_MAJOR)
    return fail("plugin ABI " + version_text(t->abi_version) + ", this blastd speaks " +
                std::to_string(BLAST_TRANSPORT_ABI_MAJOR) + ".x");
  if (t->struct_size < BLAST_TRANSPORT_V1_0_SIZE)
    return fail("short table: struct_size " + std::to_string(t->struct_size) + ", ABI " +
                version_text(BLAST_TRANSPORT_ABI_VERSION) + " needs at least " +
                std::to_string(BLAST_TRANSPORT_V1_0_SIZE));
  // A copy of what both sides know: later reads cannot be affected by a plugin rewriting its
  // table, and the fields an older (1.0) plugin lacks stay NULL.
  std::memcpy(&p->table, t, std::min<size_t>(t->struct_size, sizeof(blast_transport_v1)));
  const auto& tb = p->table;
  const char* missing = !tb.name            ? "name"
                        : !tb.version       ? "version"
                        : !tb.create        ? "create"
                        : !tb.destroy       ? "destroy"
                        : !tb.send          ? "send"
                        : !tb.query_status  ? "query_status"
                        : !tb.parse_webhook ? "parse_webhook"
                                            : nullptr;
  if (missing)
    return fail(std::string("invalid table: ") + missing + " is NULL");
  if ((tb.capabilities & BLAST_CAP_WEBHOOK_ANSWER) && !tb.answer_webhook)
    return fail("invalid table: BLAST_CAP_WEBHOOK_ANSWER declared but answer_webhook is " +
                std::string(t->struct_size < sizeof(blast_transport_v1) ? "beyond struct_size"
                                                                        : "NULL"));

  p->info.path = path;
  p->info.name = tb.name;
  p->info.version = tb.version;
  p->info.abi_version = tb.abi_version;
  p->info.capabilities = tb.capabilities;
  return std::shared_ptr<plugin_library>(new plugin_library(std::move(p)));
}

// ---- transport_instance --------------------------------------------------

struct transport_instance::impl {
  std::shared_ptr<plugin_library> library; // keeps table and info (and the code) alive
  const blast_transport_v1* table = nullptr;
  const plugin_info* info = nullptr;
  std::shared_ptr<instance_record> record;
  blast_instance* instance = nullptr;

  std::string unsupported(const char* what) const {
    return info->name + " (" + info->path + ") does not support " + what;
  }
};

std::unique_ptr<transport_instance> plugin_library::create(const std::string& config_json,
                                                           push_fn push, std::string& error) {
  error.clear();
  auto record = std::make_shared<instance_record>();
  record->push = std::move(push);
  // Registered before create: the plugin may push as soon as create starts.
  instances().add(record);
  char err[err_buf_len] = {};
  // c_str(): NUL-terminated as a courtesy to C plugins; config_len is what counts.
  blast_instance* inst =
      impl_->table.create(config_json.c_str(), config_json.size(), record.get(), err, sizeof err);
  err[sizeof err - 1] = '\0';
  if (!inst) {
    instances().remove(record.get());
    record->close();
    std::string why = read_error(err);
    error = impl_->info.path + ": cannot create a " + impl_->info.name +
            " instance: " + (why.empty() ? "create returned NULL without a message" : why);
    return nullptr;
  }
  auto p = std::make_unique<transport_instance::impl>();
  p->library = shared_from_this();
  p->table = &impl_->table;
  p->info = &impl_->info;
  p->record = std::move(record);
  p->instance = inst;
  return std::make_unique<transport_instance>(std::move(p));
}

transport_instance::transport_instance(std::unique_ptr<impl> p) : impl_(std::move(p)) {}

// Order matters: after the plugin's destroy returns the ABI guarantees no more
// pushes; only then is the record unregistered and closed (which also waits
// for a push still running in a misbehaving plugin), and only after that may
// the library be released (and dlclose'd with the last reference).
transport_instance::~transport_instance() {
  if (!impl_)
    return;
  impl_->table->destroy(impl_->instance);
  instances().remove(impl_->record.get());
  impl_->record->close();
  impl_->record.reset();
  impl_->library.reset();
}

const plugin_info& transport_instance::info() const {
  return *impl_->info;
}

bool transport_instance::can(uint32_t capability) const {
  return (impl_->info->capabilities & capability) == capability;
}

send_result transport_instance::send(const std::string& to, const std::string& text,
                                     const std::string& idempotency_key, std::string_view vars) {
  send_result r;
  if (!can(BLAST_CAP_SEND)) {
    // send_error has no "unsupported": a transport that cannot send is a
    // configuration error, which must not be retried.
    r.error = send_error::invalid;
    r.message = impl_->unsupported("send") + " (BLAST_E_UNSUPPORTED)";
    return r;
  }
  blast_send_request req{};
  req.struct_size = sizeof req;
  req.to = borrow(to);
  req.text = borrow(text);
  req.idempotency_key = borrow(idempotency_key);
  req.vars = blast_str{vars.data(), vars.size()};
  send_sink_state sink;
  int64_t retry_after = 0;
  char err[err_buf_len] = {};
  int code =
      impl_->table->send(impl_->instance, &req, send_sink, &sink, &retry_after, err, sizeof err);
  err[sizeof err - 1] = '\0';
  std::string message = read_error(err);

  switch (code) {
    case BLAST_OK:
      if (sink.calls == 0 || sink.message_id.empty()) {
        r.error = send_error::internal;
        r.message = "plugin reported success without a message id";
      } else if (sink.copy_failed) {
        r.error = send_error::internal;
        r.message = "out of memory copying the plugin's send result";
      } else {
        r.message_id = std::move(sink.message_id);
        r.document = std::move(sink.document);
      }
      return r;
    case BLAST_E_RETRYABLE:
      r.error = send_error::retryable;
      break;
    case BLAST_E_RATE_LIMITED:
      r.error = send_error::rate_limited;
      // A plugin's figure is not trusted past an hour: it becomes a timer
      // delay, and CAF's nanosecond clock overflows beyond 292 years.
      r.retry_after_ms = std::clamp<int64_t>(retry_after, 0, 3600 * 1000);
      break;
    case BLAST_E_PERMANENT:
      r.error = send_error::permanent;
      break;
    case BLAST_E_INVALID:
      r.error = send_error::invalid;
      break;
    case BLAST_E_UNSUPPORTED:
      r.error = send_error::invalid;
      if (message.empty())
        message = impl_->unsupported("send") + " (BLAST_E_UNSUPPORTED)";
      break;
    case BLAST_E_INTERNAL:
      r.error = send_error::internal;
      break;
    default:
      r.error = send_error::internal;
      message = "plugin's send returned unexpected status " + std::to_string(code) +
                (message.empty() ? std::string() : ": " + message);
  }
  r.message = describe_failure(code, std::move(message));
  return r;
}

namespace {
// The ABI view of `req`, borrowing its strings; `headers` holds the header array.
blast_webhook_request borrow_request(const webhook_request& req,
                                     std::vector<blast_header>& headers) {
  headers.reserve(req.headers.size());
  for (const auto& [name, value] : req.headers)
    headers.push_back(blast_header{borrow(name), borrow(value)});
  blast_webhook_request wr{};
  wr.struct_size = sizeof wr;
  wr.method = borrow(req.method);
  wr.path = borrow(req.path);
  wr.query = borrow(req.query);
  wr.headers = headers.empty() ? nullptr : headers.data();
  wr.header_count = headers.size();
  wr.body = borrow(req.body);
  return wr;
}

// Runs one plugin call that reports through the observation sink: appends what
// it reports to `out`, or on any failure leaves `out` as it was.
template <class Call>
call_status collect_observations(std::vector<observation>& out, Call&& call) {
  size_t before = out.size();
  observation_sink_state sink{&out};
  char err[err_buf_len] = {};
  int code = call(sink, err, sizeof err);
  err[sizeof err - 1] = '\0';
  auto st = make_status(code, read_error(err));
  if (st.ok() && sink.copy_failed)
    st = call_status{BLAST_E_INTERNAL, "out of memory copying the plugin's observations"};
  if (!st.ok())
    out.resize(before);
  return st;
}
} // namespace

call_status transport_instance::query_status(const std::string& message_id,
                                             const std::string& document,
                                             std::vector<observation>& out) {
  if (!can(BLAST_CAP_STATUS_QUERY))
    return call_status{BLAST_E_UNSUPPORTED, impl_->unsupported("status queries")};
  return collect_observations(out, [&](observation_sink_state& sink, char* err, size_t len) {
    return impl_->table->query_status(impl_->instance, borrow(message_id), borrow(document),
                                      observation_sink, &sink, err, len);
  });
}

call_status transport_instance::parse_webhook(const webhook_request& req,
                                              std::vector<observation>& out) {
  if (!can(BLAST_CAP_WEBHOOK))
    return call_status{BLAST_E_UNSUPPORTED, impl_->unsupported("webhooks")};
  std::vector<blast_header> headers;
  auto wr = borrow_request(req, headers);
  return collect_observations(out, [&](observation_sink_state& sink, char* err, size_t len) {
    return impl_->table->parse_webhook(impl_->instance, &wr, observation_sink, &sink, err, len);
  });
}

namespace {
struct reply_sink_state {
  int calls = 0;
  bool copy_failed = false;
  webhook_reply reply;
};

void reply_sink(void* ctx, int32_t http_status, blast_str content_type, blast_str body) {
  auto* st = static_cast<reply_sink_state*>(ctx);
  if (++st->calls > 1)
    return; // exactly once, as for sends: the first answer is the one we keep
  try {
    st->reply.status = http_status;
    st->reply.content_type = copy_str(content_type);
    st->reply.body = copy_str(body);
  } catch (...) {
    st->copy_failed = true;
  }
}
} // namespace

call_status transport_instance::answer_webhook(const webhook_request& req,
                                               std::optional<webhook_reply>& reply) {
  reply.reset();
  if (!can(BLAST_CAP_WEBHOOK_ANSWER) || !impl_->table->answer_webhook)
    return call_status{};
  std::vector<blast_header> headers;
  auto wr = borrow_request(req, headers);
  reply_sink_state sink;
  char err[err_buf_len] = {};
  int code = impl_->table->answer_webhook(impl_->instance, &wr, reply_sink, &sink, err, sizeof err);
  err[sizeof err - 1] = '\0';
  if (code == BLAST_E_UNSUPPORTED)
    return call_status{};
  auto st = make_status(code, read_error(err));
  if (!st.ok() || sink.calls == 0)
    return st;
  if (sink.copy_failed)
    return call_status{BLAST_E_INTERNAL, "out of memory copying the plugin's webhook reply"};
  if (sink.reply.status < 100 || sink.reply.status > 599)
    return call_status{BLAST_E_INTERNAL, "plugin answered a webhook with HTTP status " +
                                             std::to_string(sink.reply.status)};
  reply = std::move(sink.reply);
  return st;
}

std::string plugin_file_name(const std::string& name) {
  return "blast_" + name + ".so";
}

const char* status_name(int code) {
  switch (code) {
    case BLAST_OK:
      return "BLAST_OK";
    case BLAST_E_INVALID:
      return "BLAST_E_INVALID";
    case BLAST_E_RETRYABLE:
      return "BLAST_E_RETRYABLE";
    case BLAST_E_RATE_LIMITED:
      return "BLAST_E_RATE_LIMITED";
    case BLAST_E_PERMANENT:
      return "BLAST_E_PERMANENT";
    case BLAST_E_SIGNATURE:
      return "BLAST_E_SIGNATURE";
    case BLAST_E_UNSUPPORTED:
      return "BLAST_E_UNSUPPORTED";
    case BLAST_E_INTERNAL:
      return "BLAST_E_INTERNAL";
    default:
      return nullptr;
  }
}

} // namespace blast::plugins
