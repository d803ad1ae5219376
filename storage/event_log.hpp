// The RocksDB append-only event log with its secondary indexes.
//
// Thread safety: append() must be called from one thread at a time (the journal's
// writer); every read method may be called concurrently with append() and with
// each other. Events are never rewritten or deleted.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "storage/event.hpp"
#include "storage/status.hpp"

namespace blast::storage {

struct recipient_ref {
  uint64_t blast = 0;
  uint32_t recipient = 0;
};

struct log_options {
  bool sync = true;    // fsync the WAL on every append (group commit makes this cheap)
  bool create = true;  // create a missing log; audit tools open only what exists
};

class event_log {
public:
  // Opens or creates the log in `dir`. On failure returns nullptr and fills `st`.
  static std::unique_ptr<event_log> open(const std::string& dir, const log_options& opts,
                                         status& st);
  ~event_log();
  event_log(const event_log&) = delete;
  event_log& operator=(const event_log&) = delete;

  // Appends `batch` atomically in one WriteBatch (one WAL sync): assigns each
  // event its seq, prev_hash and logged_ms (the events are updated in place), writes the
  // per-stream index entries, the message-id index for events with a
  // message_id, and the metadata (last seq, chain head). All or nothing: on
  // error nothing is written and the in-memory head is unchanged.
  status append(std::vector<event>& batch);

  uint64_t last_seq() const;  // 0 when empty
  hash256 head() const;       // chain hash of the last event; zeros when empty

  // Visits events with seq >= from in sequence order until fn returns false.
  status scan(uint64_t from, const std::function<bool(const event&)>& fn) const;
  // Visits the events of one stream in sequence order: a blast's (recipient == 0
  // visits every event of the blast) or one recipient's.
  status scan_stream(uint64_t blast, uint32_t recipient,
                     const std::function<bool(const event&)>& fn) const;
  // Visits a blast's own events (recipient == 0: created, recipients added,
  // lifecycle, report snapshots) without walking its recipients' events.
  status scan_blast_level(uint64_t blast, const std::function<bool(const event&)>& fn) const;
  std::optional<event> get(uint64_t seq) const;
  std::optional<recipient_ref> find_message(std::string_view message_id) const;

  // Recomputes the hash chain from the first event; on a break, the message
  // names the first bad sequence number.
  status verify() const;

  // Snapshot column family: opaque blobs keyed by name (snapshot format is the
  // caller's). Written outside the event stream; never part of the chain.
  status put_snapshot(std::string_view name, std::string_view blob);
  // Erases, then puts, in one atomic write: a new snapshot generation replaces
  // the old one whole or not at all.
  status write_snapshots(const std::vector<std::pair<std::string, std::string>>& puts,
                         const std::vector<std::string>& erases);
  std::optional<std::string> get_snapshot(std::string_view name) const;

  static constexpr uint32_t schema_version = 1;

private:
  struct impl;
  explicit event_log(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

} // namespace blast::storage
