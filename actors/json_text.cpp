// UTF-8 checks and the base64 fallback of json_text.hpp.
#include "actors/json_text.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <cstddef>
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

// Where the UTF-8 run of `s` that begins at `from` ends: s.size() when the rest is valid, else
// the offset of the first byte that does not begin a valid sequence.
size_t utf8_run_end(std::string_view s, size_t from) {
  for (size_t i = from; i < s.size();) {
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
      return i;
    i += n;
  }
  return s.size();
}

} // namespace

bool is_utf8(std::string_view s) { return utf8_run_end(s, 0) == s.size(); }

std::string to_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  // Valid runs in one append each: byte by byte, the headers of every webhook cost ~5% of the
  // http thread.
  for (size_t i = 0; i < s.size();) {
    size_t end = utf8_run_end(s, i);
    out.append(s.data() + i, end - i);
    if (end == s.size())
      break;
    out += "\xEF\xBF\xBD";
    i = end + 1;
  }
  return out;
}

void append_json_text(std::string& out, std::string_view s) {
  if (is_utf8(s))
    append_json_string(out, s);
  else
    append_json_string(out, to_utf8(s));
}

void append_json_text_object(std::string& out,
                             const std::vector<std::pair<std::string, std::string>>& members) {
  // Keys as they will read: a key that is not UTF-8 may equal another once repaired.
  // `repaired` is sized for all at its first use, so that the views into it stay put.
  std::vector<std::string> repaired;
  std::vector<std::string_view> keys;
  keys.reserve(members.size());
  for (auto& m : members) {
    if (is_utf8(m.first)) {
      keys.emplace_back(m.first);
    } else {
      repaired.reserve(members.size());
      repaired.push_back(to_utf8(m.first));
      keys.emplace_back(repaired.back());
    }
  }
  out += '{';
  bool first = true;
  for (size_t i = 0; i < members.size(); ++i) {
    // A repeated key keeps its first place and its last value, as a json::object's
    // operator[] leaves it: a few headers, so the quadratic look is cheaper than a map.
    if (std::find(keys.begin(), keys.begin() + static_cast<std::ptrdiff_t>(i), keys[i]) !=
        keys.begin() + static_cast<std::ptrdiff_t>(i))
      continue;
    size_t last = i;
    for (size_t k = i + 1; k < members.size(); ++k)
      if (keys[k] == keys[i])
        last = k;
    if (!first)
      out += ',';
    first = false;
    append_json_string(out, keys[i]);
    out += ':';
    append_json_text(out, members[last].second);
  }
  out += '}';
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
