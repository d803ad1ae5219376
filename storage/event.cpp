// Byte encoding of log events, their chain hash and the names of their enums.
// The encoding is the audit format: change it only by adding a new format byte.
#include "storage/event.hpp"
#include "storage/codec.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <limits>
#include <memory>
#include <stdexcept>
#include <type_traits>

namespace blast::storage {

namespace {

// Versions of the value layout documented in event.hpp. A new layout gets a new
// number and decode() keeps reading the old ones. v2 added logged_ms.
constexpr uint8_t format_v1 = 1;
constexpr uint8_t format_v2 = 2;

// u8 format | u16 type | u8 source | u64 blast | u32 recipient | i64 time_ms | i64 logged_ms
constexpr size_t fixed_header_size = 1 + 2 + 1 + 8 + 4 + 8 + 8;
constexpr size_t min_value_size = fixed_header_size + 4 + 4 + 32;

struct md_ctx_deleter {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};

} // namespace

const char* to_string(event_type t) {
  switch (t) {
    case event_type::blast_created:
      return "blast_created";
    case event_type::recipients_added:
      return "recipients_added";
    case event_type::recipient_status:
      return "recipient_status";
    case event_type::blast_status:
      return "blast_status";
    case event_type::send_requested:
      return "send_requested";
    case event_type::send_succeeded:
      return "send_succeeded";
    case event_type::send_failed:
      return "send_failed";
    case event_type::webhook_received:
      return "webhook_received";
    case event_type::webhook_rejected:
      return "webhook_rejected";
    case event_type::report_snapshot:
      return "report_snapshot";
  }
  // A type written by a newer build: decode() keeps its number.
  return "unknown";
}

std::optional<event_type> event_type_from_string(std::string_view s) {
  for (auto t : {event_type::blast_created, event_type::recipients_added,
                 event_type::recipient_status, event_type::blast_status,
                 event_type::send_requested, event_type::send_succeeded, event_type::send_failed,
                 event_type::webhook_received, event_type::webhook_rejected,
                 event_type::report_snapshot})
    if (s == to_string(t))
      return t;
  return std::nullopt;
}

const char* to_string(event_source s) {
  switch (s) {
    case event_source::api:
      return "api";
    case event_source::manual:
      return "manual";
    case event_source::transport:
      return "transport";
    case event_source::webhook:
      return "webhook";
    case event_source::poll:
      return "poll";
    case event_source::system:
      return "system";
  }
  return "unknown";
}

std::optional<event_source> event_source_from_string(std::string_view s) {
  for (auto v : {event_source::api, event_source::manual, event_source::transport,
                 event_source::webhook, event_source::poll, event_source::system})
    if (s == to_string(v))
      return v;
  return std::nullopt;
}

std::string to_hex(const hash256& h) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(h.size() * 2);
  for (uint8_t b : h) {
    out.push_back(digits[b >> 4]);
    out.push_back(digits[b & 0x0f]);
  }
  return out;
}

std::string encode(const event& e) {
  std::string out;
  encode_into(e, out);
  return out;
}

void encode_into(const event& e, std::string& out) {
  // Lengths above u32 cannot be represented; event_log::append() rejects such
  // events before they get here, so this is a programming error.
  if (e.message_id.size() > std::numeric_limits<uint32_t>::max() ||
      e.payload.size() > std::numeric_limits<uint32_t>::max())
    throw std::length_error("blast::storage::encode: field longer than 4 GiB");
  out.clear();
  out.reserve(min_value_size + e.message_id.size() + e.payload.size());
  put_le<uint8_t>(out, format_v2);
  put_le(out, static_cast<uint16_t>(e.type));
  put_le(out, static_cast<uint8_t>(e.source));
  put_le(out, e.blast);
  put_le(out, e.recipient);
  put_le(out, static_cast<uint64_t>(e.time_ms));
  put_le(out, static_cast<uint64_t>(e.logged_ms));
  put_le(out, static_cast<uint32_t>(e.message_id.size()));
  out.append(e.message_id);
  put_le(out, static_cast<uint32_t>(e.payload.size()));
  out.append(e.payload);
  out.append(reinterpret_cast<const char*>(e.prev_hash.data()), e.prev_hash.size());
}

std::optional<event> decode(uint64_t seq, std::string_view value) {
  event e;
  if (!decode_into(seq, value, e))
    return std::nullopt;
  return e;
}

bool decode_into(uint64_t seq, std::string_view value, event& e) {
  reader r{value};
  auto format = r.le<uint8_t>();
  if (format != format_v1 && format != format_v2)
    return false;
  e.seq = seq;
  // Unknown type and source numbers are kept as they are (the enums have a
  // fixed underlying type, so any number is a valid value): an old reader can
  // still verify and re-emit a log written by a newer one.
  e.type = static_cast<event_type>(r.le<uint16_t>());
  e.source = static_cast<event_source>(r.le<uint8_t>());
  e.blast = r.le<uint64_t>();
  e.recipient = r.le<uint32_t>();
  e.time_ms = static_cast<int64_t>(r.le<uint64_t>());
  // v1 did not record when the event was logged; its fact time is the closest.
  e.logged_ms = format == format_v1 ? e.time_ms : static_cast<int64_t>(r.le<uint64_t>());
  e.message_id.assign(r.bytes(r.le<uint32_t>()));
  e.payload.assign(r.bytes(r.le<uint32_t>()));
  auto prev = r.bytes(e.prev_hash.size());
  if (!r.ok() || !r.at_end())
    return false;
  std::copy(prev.begin(), prev.end(), e.prev_hash.begin());
  return true;
}

hash256 chain_hash(uint64_t seq, std::string_view encoded_value) {
  // One context per thread: the journal's writer hashes every event, and a
  // fresh EVP_MD_CTX per call would be an allocation per event.
  thread_local std::unique_ptr<EVP_MD_CTX, md_ctx_deleter> ctx{EVP_MD_CTX_new()};
  // Fetched once: OpenSSL 3 resolves EVP_sha256() through its provider
  // registry on every init otherwise, which measured at more than half of the
  // cost of hashing a small event (0.93 s vs 0.34 s per million 150-byte events).
  static EVP_MD* const sha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  auto key = seq_key(seq);
  hash256 out{};
  unsigned int len = 0;
  if (!ctx || !sha256 || EVP_DigestInit_ex(ctx.get(), sha256, nullptr) != 1 ||
      EVP_DigestUpdate(ctx.get(), key.data(), key.size()) != 1 ||
      EVP_DigestUpdate(ctx.get(), encoded_value.data(), encoded_value.size()) != 1 ||
      EVP_DigestFinal_ex(ctx.get(), out.data(), &len) != 1 || len != out.size())
    // Only on allocation failure inside OpenSSL; there is no hash to return.
    throw std::runtime_error("blast::storage::chain_hash: OpenSSL SHA-256 failed");
  return out;
}

std::string seq_key(uint64_t seq) {
  std::string k(8, '\0');
  for (int i = 7; i >= 0; --i, seq >>= 8)
    k[static_cast<size_t>(i)] = static_cast<char>(static_cast<uint8_t>(seq));
  return k;
}

uint64_t seq_from_key(std::string_view key) {
  // 0 is never a valid sequence number, so it doubles as "not a seq key".
  if (key.size() != 8)
    return 0;
  uint64_t v = 0;
  for (char c : key)
    v = (v << 8) | static_cast<uint8_t>(c);
  return v;
}

} // namespace blast::storage
