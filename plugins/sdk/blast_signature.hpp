// blast_signature.hpp — an optional, header-only SDK helper (needs OpenSSL's libcrypto): checks
// the "sha256=<64 hex digits>" webhook signature that WSAPME, Meta (X-Hub-Signature-256) and
// GitHub use, an HMAC-SHA256 of the raw body, compared in constant time.
#pragma once

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string>
#include <string_view>

#include "blast_transport.hpp"

namespace blast_sdk {

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
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  if (!HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
            reinterpret_cast<const unsigned char*>(body.data()), body.size(), mac, &mac_len) ||
      mac_len != sizeof given) {
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
