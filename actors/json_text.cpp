// UTF-8 checks and the base64 fallback of json_text.hpp.
#include "actors/json_text.hpp"

#include <openssl/evp.h>

#include <cstdint>
#include <cstring>

namespace blast::actors {

namespace {

// The length of the valid UTF-8 sequence starting at s[i], or 0 when none does.
size_t sequence_at(std::string_view s, size_t i) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
  unsigned char c = byte(0);
  size_t n = c < 0x80 ? 1 : c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3
           : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
  if (n == 0 || i + n > s.size())
    return 0;
  for (size_t k = 1; k < n; ++k)
    if ((byte(k) & 0xC0) != 0x80)
      return 0;
  if (n == 3 && ((c == 0xE0 && byte(1) < 0xA0) || (c == 0xED && byte(1) >= 0xA0)))
    return 0;  // overlong, surrogate
  if (n == 4 && ((c == 0xF0 && byte(1) < 0x90) || (c == 0xF4 && byte(1) >= 0x90)))
    return 0;  // overlong, past U+10FFFF
  return n;
}

std::string base64(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(bytes.data()),
                          static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

std::optional<std::string> from_base64(std::string_view text) {
  if (text.size() % 4 != 0)
    return std::nullopt;
  std::string out(3 * text.size() / 4, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(text.data()),
                          static_cast<int>(text.size()));
  if (n < 0)
    return std::nullopt;
  // EVP_DecodeBlock counts the padding's bytes as zeros: drop them.
  size_t pad = text.size() >= 2 && text[text.size() - 2] == '=' ? 2
             : !text.empty() && text.back() == '=' ? 1 : 0;
  out.resize(static_cast<size_t>(n) - pad);
  return out;
}

std::string base64_key(std::string_view key) { return std::string(key) + "Base64"; }

} // namespace

bool is_utf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    // ASCII eight bytes at a time: almost every body is all ASCII, and a batched webhook's
    // is checked whole before it is logged.
    uint64_t word;
    if (i + sizeof word <= s.size() &&
        (std::memcpy(&word, s.data() + i, sizeof word), (word & 0x8080808080808080ull) == 0)) {
      i += sizeof word;
      continue;
    }
    if (static_cast<unsigned char>(s[i]) < 0x80) {
      ++i;
      continue;
    }
    size_t n = sequence_at(s, i);
    if (n == 0)
      return false;
    i += n;
  }
  return true;
}

std::string to_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    if (size_t n = sequence_at(s, i)) {
      out.append(s.substr(i, n));
      i += n;
    } else {
      out += "\xEF\xBF\xBD";
      ++i;
    }
  }
  return out;
}

void append_bytes_member(std::string& out, std::string_view key, std::string_view bytes) {
  if (is_utf8(bytes)) {
    append_json_string(out, key);
    out += ':';
    append_json_string(out, bytes);
    return;
  }
  append_json_string(out, base64_key(key));
  out += ":\"";
  out += base64(bytes);
  out += '"';
}

void put_bytes_member(boost::json::object& o, std::string_view key, std::string_view bytes) {
  if (is_utf8(bytes))
    o[key] = bytes;
  else
    o[base64_key(key)] = base64(bytes);
}

std::optional<std::string> bytes_member(const boost::json::object& o, std::string_view key) {
  if (auto* v = o.if_contains(key); v && v->is_string())
    return std::string(v->get_string());
  if (auto* v = o.if_contains(base64_key(key)); v && v->is_string())
    return from_base64(v->get_string());
  return std::nullopt;
}

} // namespace blast::actors
