// API keys: parsing the config's entries, and the access rule for a request.
#include "engine/http/auth.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <set>
#include <stdexcept>

#include <boost/algorithm/string/predicate.hpp>
#include <boost/json.hpp>
#include <boost/url/parse.hpp>

#include "engine/http/router.hpp"

namespace json = boost::json;

namespace blast::engine::http {

namespace {

// Shorter secrets could be guessed; 16 bytes is what `openssl rand -hex 8` gives at least.
constexpr size_t min_key_bytes = 16;

int hex_value(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

const char* scope_name(scope s) { return s == scope::admin ? "admin" : "read"; }

response unauthorized(const std::string& message, bool token_given) {
  auto r = error_response(401, "unauthorized", message);
  // RFC 6750 §3: no error attribute when no credentials were sent at all.
  r.headers.emplace_back("WWW-Authenticate", token_given
                                               ? R"(Bearer realm="blastd", error="invalid_token")"
                                               : R"(Bearer realm="blastd")");
  return r;
}

} // namespace

std::array<unsigned char, 32> key_digest(std::string_view secret) {
  std::array<unsigned char, 32> out{};
  unsigned int len = 0;
  if (EVP_Digest(secret.data(), secret.size(), out.data(), &len, EVP_sha256(), nullptr) != 1 ||
      len != out.size())
    throw std::runtime_error("SHA-256 failed (OpenSSL)");  // a broken libcrypto: a bug
  return out;
}

bool parse_api_keys(const json::value& v, std::vector<api_key>& out, std::string& error) {
  out.clear();
  auto* list = v.if_array();
  if (!list) {
    error = "apiKeys must be an array of {\"name\", \"key\" or \"sha256\", \"scopes\"}";
    return false;
  }
  std::set<std::string> names;
  for (size_t i = 0; i < list->size(); ++i) {
    std::string label = "apiKeys[" + std::to_string(i) + "]";
    auto fail = [&](const std::string& why) {
      error = label + ": " + why;
      return false;
    };
    auto* o = (*list)[i].if_object();
    if (!o)
      return fail("must be an object {\"name\", \"key\" or \"sha256\", \"scopes\"}");
    api_key k;
    auto* name = o->if_contains("name");
    if (!name || !name->is_string() || name->get_string().empty())
      return fail("\"name\" (a non-empty string) is required");
    k.name = std::string(name->get_string());
    label += " '" + k.name + "'";
    if (!names.insert(k.name).second)
      return fail("the name is used by an earlier entry; names must be unique");
    for (auto& [field, value] : *o)
      if (field != "name" && field != "key" && field != "sha256" && field != "scopes")
        return fail("unknown field \"" + std::string(field) + "\"");
    auto* key = o->if_contains("key");
    auto* sha = o->if_contains("sha256");
    if ((key != nullptr) == (sha != nullptr))
      return fail("give exactly one of \"key\" (the secret) or \"sha256\" (its hex digest)");
    if (key) {
      // The message never repeats the secret: config errors end up in logs.
      if (!key->is_string() || key->get_string().size() < min_key_bytes)
        return fail("\"key\" must be a string of at least " + std::to_string(min_key_bytes) +
                    " bytes");
      k.digest = key_digest(key->get_string());
    } else {
      bool ok = sha->is_string() && sha->get_string().size() == 64;
      for (size_t b = 0; ok && b < 32; ++b) {
        int hi = hex_value(sha->get_string()[2 * b]), lo = hex_value(sha->get_string()[2 * b + 1]);
        ok = hi >= 0 && lo >= 0;
        k.digest[b] = static_cast<unsigned char>(hi << 4 | lo);
      }
      if (!ok)
        return fail("\"sha256\" must be 64 hex digits (e.g. from `printf %s KEY | sha256sum`)");
    }
    auto* scopes = o->if_contains("scopes");
    if (!scopes || !scopes->is_array() || scopes->get_array().empty())
      return fail("\"scopes\" must be a non-empty array of \"read\" and/or \"admin\"");
    for (auto& s : scopes->get_array()) {
      if (s == "admin")
        k.granted = scope::admin;
      else if (s != "read")
        return fail("unknown scope " + json::serialize(s) + " (scopes are \"read\" and \"admin\")");
    }
    out.push_back(std::move(k));
  }
  return true;
}

api_keys::api_keys(std::vector<api_key> keys, bool metrics_require_key)
  : keys_(std::move(keys)), metrics_require_key_(metrics_require_key) {}

access api_keys::authorize(std::string_view method, std::string_view target,
                           const std::vector<std::string_view>& authorization) const {
  if (keys_.empty())
    return {};
  // The first path segment, decoded exactly as the router decodes it. A
  // target the router cannot parse is answered 400 there and touches nothing.
  auto parsed = boost::urls::parse_origin_form(target);
  if (!parsed)
    return {};
  auto segs = parsed->segments();
  std::string first = segs.empty() ? std::string() : std::string(*segs.begin());
  scope needed;
  if (first == "api")
    needed = method == "GET" || method == "HEAD" ? scope::read : scope::admin;
  else if (first == "metrics" && metrics_require_key_)
    needed = scope::read;
  else
    return {};  // /webhooks/* (signed by their transport), /healthz, the dashboard

  if (authorization.empty())
    return {unauthorized("an API key is required: send \"Authorization: Bearer <key>\"", false),
            {}};
  std::string_view h = authorization.front();
  constexpr std::string_view bearer = "Bearer ";
  bool shaped = authorization.size() == 1 && h.size() > bearer.size() &&
                boost::algorithm::iequals(h.substr(0, bearer.size()), bearer);
  if (shaped) {
    h.remove_prefix(bearer.size());
    while (!h.empty() && (h.front() == ' ' || h.front() == '\t'))
      h.remove_prefix(1);
    while (!h.empty() && (h.back() == ' ' || h.back() == '\t'))
      h.remove_suffix(1);
    shaped = !h.empty() && h.find_first_of(" \t") == std::string_view::npos;
  }
  if (!shaped)
    return {unauthorized("the Authorization header must be one \"Bearer <key>\"", true), {}};

  // Every configured digest is compared, in constant time, whichever matches:
  // how long this takes says nothing about which key (or how much of one) matched.
  auto given = key_digest(h);
  const api_key* match = nullptr;
  for (auto& k : keys_)
    if (CRYPTO_memcmp(k.digest.data(), given.data(), given.size()) == 0)
      match = &k;
  if (!match)
    return {unauthorized("the API key is not valid", true), {}};
  if (needed == scope::admin && match->granted != scope::admin) {
    auto r = error_response(403, "forbidden",
                            "API key '" + match->name + "' lacks the '" + scope_name(needed) +
                              "' scope, which " + std::string(method) + " " +
                              std::string(parsed->path()) + " needs");
    r.headers.emplace_back("WWW-Authenticate",
                           std::string(R"(Bearer realm="blastd", error="insufficient_scope", )") +
                             "scope=\"" + scope_name(needed) + "\"");
    return {std::move(r), match->name};
  }
  return {std::nullopt, match->name};
}

} // namespace blast::engine::http
