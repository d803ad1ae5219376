// API keys: who may call /api/* (and, if configured, /metrics). Keys are held
// only as SHA-256 digests and compared in constant time; no Beast, no socket:
// the session asks before it reads a request's body, tests ask directly.
//
// Threading: an api_keys is immutable once built; authorize() may be called
// from any thread at once.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/fwd.hpp>

#include "engine/http/message.hpp"

namespace blast::engine::http {

enum class scope { read, admin };  // admin implies read

struct api_key {
  std::string name;  // for the request log and error messages; never the secret
  std::array<unsigned char, 32> digest{};  // SHA-256 of the secret
  scope granted = scope::read;
};

// Parses the config's "apiKeys" array: [{"name", "key" | "sha256", "scopes"}].
// A secret ("key") is hashed at once and not kept. False with `error` naming
// the entry ("apiKeys[1] 'ops': ...") for a missing or repeated name, a key
// shorter than 16 bytes, a "sha256" that is not 64 hex digits, both or neither
// of "key"/"sha256", or a scope other than "read" and "admin".
bool parse_api_keys(const boost::json::value& v, std::vector<api_key>& out, std::string& error);

// The SHA-256 of `secret` as a key digest.
std::array<unsigned char, 32> key_digest(std::string_view secret);

// What a request may do: allowed (with the key's name when one was used) or
// the answer to send instead (401 or 403 with {"error"} and WWW-Authenticate).
struct access {
  std::optional<response> denial;
  std::string key_name;
};

class api_keys {
public:
  // No keys: every request is allowed (the loopback rule is the caller's).
  api_keys(std::vector<api_key> keys, bool metrics_require_key);

  bool empty() const { return keys_.empty(); }

  // GET/HEAD on /api/* need `read`, any other method `admin`; /metrics needs
  // `read` when metricsRequireKey; everything else (/webhooks/*, /healthz, the
  // dashboard's files) is open. `target` is the request target as received:
  // it is decoded as the router decodes it, so "/%61pi/..." is /api/ too.
  // `authorization` holds every Authorization header of the request.
  access authorize(std::string_view method, std::string_view target,
                   const std::vector<std::string_view>& authorization) const;

private:
  std::vector<api_key> keys_;
  bool metrics_require_key_;
};

} // namespace blast::engine::http
