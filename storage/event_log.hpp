// The RocksDB append-only event log with its secondary indexes.
//
// Thread safety: append() and write() must be called from one thread at a time
// (the journal's writer), sync() from one thread at a time (the journal's
// syncer), alongside write(); every read method may be called concurrently with
// them and with each other. Events are never rewritten or deleted.
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

namespace rocksdb {
class Env;
}

namespace blast::storage {

struct recipient_ref {
  uint64_t blast = 0;
  uint32_t recipient = 0;
};

struct log_options {
  bool sync = true;    // fsync the WAL on every append (group commit makes this cheap)
  bool create = true;  // create a missing log; audit tools open only what exists
  // An auditor's read-only view (RocksDB's OpenForReadOnly): nothing in the
  // folder is created, written, flushed or compacted, so it may be a copy of
  // blastd's folder or the folder of a stopped blastd; `create` is ignored.
  // The open does not check the tail against meta (that is verify()'s finding
  // to report, seq by seq), so it opens logs a normal open refuses; append()
  // and snapshot writes fail with invalid_argument.
  // RocksDB takes no lock read-only, so it also opens the folder of a RUNNING
  // blastd: it then sees the log as of the open (later appends are not seen;
  // files blastd deletes afterwards stay readable through open handles). If
  // blastd's flush or compaction removes a file while the open reads the
  // folder, the open fails, RocksDB calling it "Corruption: Can't access
  // NNN.sst ... No such file": not damage to the log; retry, or audit a copy.
  bool audit = false;
  // Opens with RocksDB's automatic compactions paused until
  // resume_compactions(). blastd's start-up replay reads the whole log on two
  // cores; a compaction left over from the last run (the L0 files of a
  // write-heavy stop) took 45% of the CPU alongside it. Whoever sets this must
  // resume: a log that keeps taking appends without compactions stalls.
  bool defer_compactions = false;
  // Where RocksDB's own messages go (level: 0 error, 1 warn), instead of the
  // LOG file RocksDB would keep in `dir`: on a full disk that file's writer
  // aborts the process (librocksdb 7.8 as Debian builds it asserts on a write
  // after a failed one). Warnings and errors only. Unset: stderr.
  std::function<void(int level, const std::string& message)> log;
  // The log's RocksDB environment (files, threads) instead of the default
  // one: tests inject I/O faults through it. The index keeps the default.
  std::shared_ptr<rocksdb::Env> env;
};

struct verify_result {
  uint64_t events = 0;    // events checked (seq 1..last_seq, continuous)
  uint64_t last_seq = 0;  // the last seq, equal to meta's last_seq
  hash256 head{};         // its chain hash, equal to meta's chain_head
};
// Called by verify() every few ten thousand events: events checked so far and
// the number meta says the log holds.
using verify_progress = std::function<void(uint64_t verified, uint64_t total)>;

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

  // append() in two steps, so that a writer can fill the next batch while the
  // disk syncs the last (journal.hpp). write() does all of append() but the
  // sync: the batch is in RocksDB's WAL (the OS's page cache) and memtables,
  // and the next write() chains to it, but readers (last_seq, head, scans, the
  // index, find_message) see nothing of it yet. sync(upto) makes every batch
  // written before the call durable with one WAL sync, then publishes those
  // up to seq `upto` in order; readers always see a synced prefix of the log.
  // A failed write() leaves nothing behind, as append() does. A failed sync()
  // leaves its batches written but unpublished, and the log failed; the
  // outcome of their appends is unknown, as with any database after a failed
  // fsync. If RocksDB resumes, recover() syncs and publishes them (the next
  // batch is chained to them); RocksDB 7.8 does not resume after a failed
  // WAL sync, so it takes a restart, whose WAL replay keeps them if they
  // reached the file (with their meta: the log is whole either way).
  status write(std::vector<event>& batch);
  status sync(uint64_t upto);

  // After a failed append every append fails (io_error) until this succeeds:
  // it asks RocksDB to resume (flush its memtables, start a new WAL), which
  // works once the cause is gone (space is back after a full disk). Nothing of
  // a failed write is ever visible; batches whose sync failed are synced and
  // published here (see write()). Call it from the writing thread while no
  // sync() runs; a no-op when nothing failed.
  status recover();

  // Starts the automatic compactions `defer_compactions` held back; a no-op
  // otherwise.
  status resume_compactions();
  // Table files in level 0 across the column families: one per memtable flush
  // until a compaction merges them (the compaction debt deferral leaves).
  uint64_t level0_files() const;
  // Events committed to the log whose index entries are not written yet: a
  // few hundred while the indexer keeps up; growing while it fails.
  uint64_t index_lag() const;

  // On an audit log: what meta says (zeros if it cannot be read), unchecked.
  uint64_t last_seq() const;  // 0 when empty
  hash256 head() const;       // chain hash of the last event; zeros when empty

  // Visits events with seq >= from in sequence order until fn returns false.
  status scan(uint64_t from, const std::function<bool(const event&)>& fn) const;
  // The same, with the log read ahead on a thread of its own while the events
  // are decoded and fn runs on the caller's: a fold over the whole log
  // (replay) uses two cores. fn sees every event in order, as with scan(); at
  // most a few batches of a few thousand values wait for it at any time.
  status scan_ahead(uint64_t from, const std::function<bool(const event&)>& fn) const;
  // Visits the events of one stream in sequence order: a blast's (recipient == 0
  // visits every event of the blast) or one recipient's.
  status scan_stream(uint64_t blast, uint32_t recipient,
                     const std::function<bool(const event&)>& fn) const;
  // Visits the events of recipients first..last of a blast, grouped by
  // recipient in id order, each recipient's in sequence order: one range scan
  // for a page of recipients instead of one scan each.
  status scan_recipients(uint64_t blast, uint32_t first, uint32_t last,
                         const std::function<bool(const event&)>& fn) const;
  // Visits a blast's own events (recipient == 0: created, recipients added,
  // lifecycle, report snapshots) without walking its recipients' events.
  status scan_blast_level(uint64_t blast, const std::function<bool(const event&)>& fn) const;
  // The event at `seq`, once synced (like the scans, it never shows a written
  // batch before sync() publishes it); nullopt when there is none.
  std::optional<event> get(uint64_t seq) const;
  // The chain hash of the event at `seq` as stored, once synced (as get());
  // nullopt when there is none.
  std::optional<hash256> hash_of(uint64_t seq) const;
  std::optional<recipient_ref> find_message(std::string_view message_id) const;

  // Recomputes the hash chain from the first event and checks it against meta:
  // every seq from 1 to meta's last_seq present, each event's prev_hash the
  // chain hash of the one before, the last one's chain hash meta's chain_head,
  // and nothing beyond meta's last_seq. On failure (errc::corruption) the
  // message starts "seq N: " naming the first bad sequence number; on success
  // fills `result` if given. `progress` is called from this thread.
  status verify(verify_result* result = nullptr, const verify_progress& progress = {}) const;

  // Snapshot column family: opaque blobs keyed by name (snapshot format is the
  // caller's). Written outside the event stream; never part of the chain.
  status put_snapshot(std::string_view name, std::string_view blob);
  // Erases, then puts, in one atomic write: a new snapshot generation replaces
  // the old one whole or not at all.
  status write_snapshots(const std::vector<std::pair<std::string, std::string>>& puts,
                         const std::vector<std::string>& erases);
  std::optional<std::string> get_snapshot(std::string_view name) const;

  // 2: the indexes in a RocksDB instance of their own (`index/`). 3: without
  // the blast streams' own keys (a blast's events are its recipients' streams,
  // merged). Older logs open too: a version 1 log gets its index built from its
  // events, a version 2 log's index loses its blast keys; both become version 3.
  static constexpr uint32_t schema_version = 3;
  static constexpr uint32_t oldest_schema_version = 1;

private:
  struct impl;
  explicit event_log(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

} // namespace blast::storage
