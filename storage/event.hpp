// One entry of the append-only log and its byte encoding. The format is
// self-describing and versioned so that an auditor's tool can read any log.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace blast::storage {

// Event types have fixed numbers that are never reused or renumbered (like
// RocksDB's log record types). Retired types keep their number, commented.
enum class event_type : uint16_t {
  blast_created = 1,       // payload: the blast's definition (JSON)
  recipients_added = 2,    // payload: a chunk of the blast's recipients (JSON)
  recipient_status = 3,    // payload: an observation and the funnel's decision (JSON)
  blast_status = 4,        // payload: lifecycle transition of a blast (JSON)
  send_requested = 5,      // payload: attempt and rendered text (JSON); written before the send
  send_succeeded = 6,      // message_id set; payload: the provider's exact document, verbatim
  send_failed = 7,         // payload: attempt, error kind and message, whether final (JSON)
  webhook_received = 8,    // payload: transport, headers and the raw body of an accepted webhook
  webhook_rejected = 9,    // payload: the same for a webhook whose signed body did not parse
  report_snapshot = 10,    // payload: a blast's report as served at that moment (JSON)
};
const char* to_string(event_type t);
std::optional<event_type> event_type_from_string(std::string_view s);

// Where an event came from. Fixed numbers, never reused.
enum class event_source : uint8_t {
  api = 1,        // an HTTP client's request (e.g. creating a blast)
  manual = 2,     // a manual status update
  transport = 3,  // a transport's send result or push
  webhook = 4,    // a provider's webhook
  poll = 5,       // a status look-up
  system = 6,     // the engine itself (scheduler, recovery)
};
const char* to_string(event_source s);
std::optional<event_source> event_source_from_string(std::string_view s);

using hash256 = std::array<uint8_t, 32>;
std::string to_hex(const hash256& h);

struct event {
  uint64_t seq = 0;            // global sequence number, assigned by the log on append
  event_type type = event_type::blast_created;
  event_source source = event_source::system;
  uint64_t blast = 0;          // 0 = not about a blast
  uint32_t recipient = 0;      // 1-based index within the blast; 0 = the blast itself
  int64_t time_ms = 0;         // wall-clock time of the fact, ms since the Unix epoch (UTC)
  // When the log appended the event (ms since the epoch), set on append and
  // never decreasing along the log: the clock of point-in-time reports. The
  // fact time may be earlier (a provider's timestamp arriving late).
  int64_t logged_ms = 0;
  std::string message_id;      // provider message id this event binds to its recipient; may be empty
  std::string payload;         // opaque to storage (JSON by convention)
  hash256 prev_hash{};         // hash of the previous event; all zero for the first, set on append
};

// Value encoding (the key is be64(seq)), all integers little-endian:
//   u8 format(=2) | u16 type | u8 source | u64 blast | u32 recipient | i64 time_ms
//   | i64 logged_ms | u32 len + message_id | u32 len + payload | 32 bytes prev_hash
// Format 1 (read, no longer written) lacks logged_ms.
std::string encode(const event& e);
// The same into `out` (replacing what it held), which keeps its capacity: the
// journal encodes every event of a batch into one reused string.
void encode_into(const event& e, std::string& out);
// Decodes a value; `seq` comes from the key. Returns nullopt on malformed input.
std::optional<event> decode(uint64_t seq, std::string_view value);
// The same into an existing event, whose strings keep their capacity: a scan
// that reuses its events allocates nothing per event. On false `e` is
// partly overwritten.
bool decode_into(uint64_t seq, std::string_view value, event& e);

// The chain hash of an event: SHA-256 over be64(seq) || encoded value.
hash256 chain_hash(uint64_t seq, std::string_view encoded_value);

// Big-endian 8-byte key of a sequence number, so that keys sort by sequence.
std::string seq_key(uint64_t seq);
uint64_t seq_from_key(std::string_view key);

} // namespace blast::storage
