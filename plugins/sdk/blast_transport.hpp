// blast_transport.hpp — optional C++17 helpers for plugin authors, header-only,
// on top of the C ABI in blast_transport.h. Their main job: no exception ever
// crosses the boundary (guarded), and strings are easy to pass both ways.
#pragma once

#include <atomic>
#include <cstring>
#include <exception>
#include <string>
#include <string_view>

#include "blast_transport.h"

namespace blast_sdk {

inline std::string_view view(blast_str s) {
  return s.data ? std::string_view(s.data, s.len) : std::string_view{};
}
inline blast_str str(std::string_view s) { return blast_str{s.data(), s.size()}; }

// ASCII case-insensitive equality: header names arrive as the client wrote them.
inline bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size())
    return false;
  for (size_t i = 0; i < a.size(); ++i) {
    unsigned char x = static_cast<unsigned char>(a[i]), y = static_cast<unsigned char>(b[i]);
    if ((x >= 'A' && x <= 'Z' ? x + 32 : x) != (y >= 'A' && y <= 'Z' ? y + 32 : y))
      return false;
  }
  return true;
}

// A hex digit's value, or -1.
inline int hex_value(char c) {
  return c >= '0' && c <= '9'   ? c - '0'
         : c >= 'a' && c <= 'f' ? c - 'a' + 10
         : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                : -1;
}

// The value of the last header of a webhook request named `name`, compared
// case-insensitively; empty data (NULL) when there is none.
inline blast_str find_header(const blast_webhook_request& req, std::string_view name) {
  blast_str found{};
  for (size_t i = 0; i < req.header_count; ++i)
    if (iequals(view(req.headers[i].name), name))
      found = req.headers[i].value;
  return found;
}

// One parameter of a URL query ("a=1&b=2"), percent- and '+'-decoded; false when absent.
inline bool query_param(std::string_view query, std::string_view name, std::string& out) {
  auto hex = hex_value;
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    size_t eq = pair.find('=');
    if (pair.substr(0, eq) != name)
      continue;
    std::string_view raw = eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
    out.clear();
    for (size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] == '+') {
        out += ' ';
      } else if (raw[i] == '%' && i + 2 < raw.size() && hex(raw[i + 1]) >= 0 &&
                 hex(raw[i + 2]) >= 0) {
        out += static_cast<char>(hex(raw[i + 1]) * 16 + hex(raw[i + 2]));
        i += 2;
      } else {
        out += raw[i];
      }
    }
    return true;
  }
  return false;
}

// Writes `msg` into a caller-owned error buffer, truncated and NUL-terminated.
inline void write_error(char* err, size_t err_len, std::string_view msg) {
  if (!err || err_len == 0)
    return;
  size_t n = msg.size() < err_len - 1 ? msg.size() : err_len - 1;
  std::memcpy(err, msg.data(), n);
  err[n] = '\0';
}

// Runs `f` (returning an int status) and turns any exception into
// BLAST_E_INTERNAL with its message: wrap every ABI entry point in it.
template <class F>
int guarded(char* err, size_t err_len, F&& f) noexcept {
  try {
    return f();
  } catch (const std::exception& e) {
    write_error(err, err_len, std::string("plugin exception: ") + e.what());
  } catch (...) {
    write_error(err, err_len, "plugin exception of unknown type");
  }
  return BLAST_E_INTERNAL;
}

// The same for entry points returning a pointer (create): NULL on exception.
template <class T, class F>
T* guarded_ptr(char* err, size_t err_len, F&& f) noexcept {
  try {
    return f();
  } catch (const std::exception& e) {
    write_error(err, err_len, std::string("plugin exception: ") + e.what());
  } catch (...) {
    write_error(err, err_len, "plugin exception of unknown type");
  }
  return nullptr;
}

// The recipient's vars (a JSON object's text) from a send request, or empty when the host
// is older than ABI 1.2 or the recipient has none.
inline std::string_view send_vars(const blast_send_request& req) {
  return BLAST_SEND_REQUEST_HAS_VARS(&req) ? view(req.vars) : std::string_view{};
}

// A zeroed observation with its struct_size set; fill its strings with str().
inline blast_observation make_observation() {
  blast_observation o{};
  o.struct_size = sizeof(blast_observation);
  return o;
}

// An observation owning its strings; view() lends them to one sink or push call.
struct observation {
  std::string message_id, sender, provider_status, event_id, raw, quoted_id;
  int32_t stage = BLAST_STAGE_NONE;
  int64_t time_ms = 0;

  blast_observation view() const {
    blast_observation o = make_observation();
    o.message_id = str(message_id);
    o.sender = str(sender);
    o.stage = stage;
    o.provider_status = str(provider_status);
    o.provider_time_ms = time_ms;
    o.event_id = str(event_id);
    o.raw = str(raw);
    o.quoted_id = str(quoted_id);
    return o;
  }
};

// The host table the entry point received, for log lines from any thread. The host keeps it
// valid while the library is loaded; a later entry call replaces it (see blast_transport.h).
class host_ref {
public:
  void set(const blast_host_v1* host) { host_.store(host); }
  void log(int level, std::string_view message) const {
    const blast_host_v1* h = host_.load();
    if (h && h->log)
      h->log(h->host_ctx, level, str(message));
  }

private:
  std::atomic<const blast_host_v1*> host_{nullptr};
};

// Whether a plugin built against this header can serve `host`: same major
// ABI version, and a table at least as long as version 1's. Call it first in
// blast_transport_entry and return NULL when it says no.
inline bool host_compatible(const blast_host_v1* host) {
  return host && BLAST_ABI_MAJOR_OF(host->abi_version) == BLAST_TRANSPORT_ABI_MAJOR &&
         host->struct_size >= sizeof(blast_host_v1);
}

} // namespace blast_sdk
