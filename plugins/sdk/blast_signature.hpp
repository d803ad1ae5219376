// blast_signature.hpp — an optional, header-only SDK helper (needs OpenSSL's libcrypto): checks
// the "sha256=<64 hex digits>" webhook signature that WSAPME, Meta (X-Hub-Signature-256) and
// GitHub use, an HMAC-SHA256 of the raw body, compared in constant time.
#pragma once

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <string>
#include <string_view>

#include "blast_transport.hpp"

namespace blast_sdk {

// HMAC-SHA256 of `body` under `secret` into `out`; false if OpenSSL fails. OpenSSL 3's one-shot
// HMAC() fetches the algorithm and keys a new context on every call (measured: 5% of blastd's
// CPU on one-status webhooks, most of it not hashing); here each thread keys a context once per
// secret and re-initialises it, which HMAC does by copying its keyed state.
inline bool hmac_sha256(std::string_view secret, std::string_view body, unsigned char (&out)[32]) {
  struct keyed {
    std::string secret;
    EVP_MAC_CTX* ctx = nullptr;
    ~keyed() { EVP_MAC_CTX_free(ctx); }
  };
  thread_local keyed k;
  if (!k.ctx || k.secret != secret) {
    // Fetched for each keying only, and released at once (the context holds its own
    // reference): a static one would outlive a plugin that is unloaded, as a leak.
    EVP_MAC* hmac = EVP_MAC_fetch(nullptr, OSSL_MAC_NAME_HMAC, nullptr);
    EVP_MAC_CTX_free(k.ctx);
    k.ctx = hmac ? EVP_MAC_CTX_new(hmac) : nullptr;
    EVP_MAC_free(hmac);
    char digest[] = OSSL_DIGEST_NAME_SHA2_256;
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                           OSSL_PARAM_construct_end()};
    // A null key means "keep the last one" to EVP_MAC_init: an empty secret is keyed as "".
    if (!k.ctx || !EVP_MAC_init(k.ctx, reinterpret_cast<const unsigned char*>(
                                         secret.empty() ? "" : secret.data()),
                                secret.size(), params)) {
      EVP_MAC_CTX_free(k.ctx);
      k.ctx = nullptr;
      return false;
    }
    k.secret = secret;
  } else if (!EVP_MAC_init(k.ctx, nullptr, 0, nullptr)) {
    return false;
  }
  size_t len = 0;
  return EVP_MAC_update(k.ctx, reinterpret_cast<const unsigned char*>(body.data()), body.size()) &&
         EVP_MAC_final(k.ctx, out, &len, sizeof out) && len == sizeof out;
}

// True when `header` (surrounding blanks ignored, "sha256=" in any case) is the HMAC-SHA256 of
// `body` under `secret`. Otherwise false with `why` (for the operator; never the expected MAC).
inline bool verify_sha256_signature(std::string_view header, std::string_view secret,
                                    std::string_view body, std::string& why) {
  while (!header.empty() && (header.back() == ' ' || header.back() == '\t'))
    header.remove_suffix(1);
  while (!header.empty() && (header.front() == ' ' || header.front() == '\t'))
    header.remove_prefix(1);
  constexpr std::string_view scheme = "sha256=";
  auto nibble = hex_value;
  unsigned char given[32];
  bool shaped = header.size() == scheme.size() + 64 && iequals(header.substr(0, 7), scheme);
  for (size_t i = 0; shaped && i < 32; ++i) {
    int hi = nibble(header[7 + 2 * i]), lo = nibble(header[8 + 2 * i]);
    shaped = hi >= 0 && lo >= 0;
    // Shift only real digits: hex_value's -1 for any other byte shifted left is undefined.
    if (shaped)
      given[i] = static_cast<unsigned char>(hi << 4 | lo);
  }
  if (!shaped) {
    why = "the signature is not sha256=<64 hex digits>";
    return false;
  }
  unsigned char mac[32];
  if (!hmac_sha256(secret, body, mac)) {
    why = "HMAC-SHA256 failed";
    return false;
  }
  if (CRYPTO_memcmp(mac, given, sizeof given) != 0) {
    why = "signature does not match the body";
    return false;
  }
  return true;
}

} // namespace blast_sdk
