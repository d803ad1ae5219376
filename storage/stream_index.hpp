// The event log's indexes (each recipient's stream of seqs, a blast's own
// events being recipient 0's, and the recipient each message id was sent to), kept in a RocksDB instance
// of their own in the log's `index/` folder and written by a thread of their
// own, off the journal's serial path.
//
// Why apart: the index entries were three of every four memtable inserts of an
// append, on the one thread every acknowledgement waits for (measured: a
// recipient's stream key alone cost sends 2.5x their throughput). One RocksDB
// instance cannot take them on another thread, since it queues every write,
// durable or not, behind the one before.
//
// The log stays the only source of truth. The index is derived from it and
// may lag it: its watermark, indexed(), is the last seq whose entries are in
// the index, written in the same batch as them. Entries are only written for
// events the log has committed, so the index never runs ahead of the log.
// Its WAL is written but not synced: a killed blastd loses nothing of it, a
// machine that loses power loses a tail, which the next open re-indexes from
// the log (event_log::open). Re-indexing an event writes the same keys again.
#pragma once

#include <array>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "storage/status.hpp"

namespace rocksdb {
class DB;
class ColumnFamilyHandle;
struct DBOptions;
struct ColumnFamilyOptions;
} // namespace rocksdb

namespace blast::storage {

struct recipient_ref;
struct event;

// What an event contributes to the index.
struct index_entry {
  uint64_t seq = 0;
  uint64_t blast = 0;       // 0: no stream entries
  uint32_t recipient = 0;   // 0 with a blast: the blast's own events
  std::string message_id;   // empty: no message-id entry
};
// The entry of `e`, or false when it has nothing to index.
bool index_entry_of(const event& e, index_entry& out);

// A range of stream keys: one stream, or a run of a blast's recipients.
// Keys are a prefix of key_size bytes and the event's 8-byte seq; they sort by
// prefix, then seq.
struct index_range {
  std::string begin, end;  // [begin, end) over whole keys; end is never empty
  size_t key_size = 0;
  // Visited in seq order rather than key order: the range's seqs are gathered
  // and sorted first (8 bytes each, for the whole range).
  bool by_seq = false;

  // Every event of a blast in seq order (its own and all its recipients'):
  // all of its streams, by_seq.
  static index_range blast(uint64_t blast);
  // One recipient's events; recipient 0 is the blast's own (created,
  // recipients added, lifecycle, report snapshots).
  static index_range recipient(uint64_t blast, uint32_t recipient);
  // Recipients first..last of a blast, grouped by recipient in id order.
  static index_range recipients(uint64_t blast, uint32_t first, uint32_t last);

  // The key this range would hold for an event of (blast, recipient) at seq,
  // or nullopt when the range holds no such key.
  std::optional<std::string> key_of(uint64_t blast, uint32_t recipient, uint64_t seq) const;
};

class stream_index {
public:
  // Opens (or, unless read_only, creates) the index in `dir`. A read-only
  // open of a folder without an index succeeds as an empty index (watermark
  // 0): every read then comes from the log. `db_base` and `cf_base` carry the
  // log's shared settings (logger, block cache, compression, deferral).
  static std::unique_ptr<stream_index> open(const std::string& dir, bool read_only,
                                            const rocksdb::DBOptions& db_base,
                                            const rocksdb::ColumnFamilyOptions& cf_base,
                                            status& st);
  ~stream_index();  // stops the indexer after what is queued, then flushes

  stream_index(const stream_index&) = delete;
  stream_index& operator=(const stream_index&) = delete;

  // The last seq whose entries are in the index.
  uint64_t indexed() const;

  // Writes entries now on the caller's thread, and moves the watermark to
  // `upto` (the last seq they cover). For the catch-up at open, before start().
  status write_now(const std::vector<index_entry>& entries, uint64_t upto);
  // Empties the index (watermark 0): for an index ahead of its log, which only
  // a log that lost an unsynced tail leaves behind.
  status wipe();
  // Deletes the 'b' keys a schema 2 index kept for each blast (see the .cpp).
  status drop_blast_streams();

  // Starts the indexer thread. From then on entries arrive by enqueue().
  void start();
  // Hands the entries of a committed append to the indexer; `upto` is the
  // append's last seq. Blocks while max_queued entries wait (~4 MiB), which
  // bounds the memory queued and how far the index lags: the queue and the
  // batch being written, twice this and two appends at most.
  static constexpr size_t max_queued = 64 * 1024;
  void enqueue(std::vector<index_entry>&& entries, uint64_t upto);
  // Waits until the index covers `seq` and returns its watermark, which is
  // below `seq` only when waiting cannot help: a read-only index, or an
  // indexer that failed to write (it retries meanwhile). Readers then take the
  // rest from the log.
  uint64_t wait_for(uint64_t seq) const;

  // Visits the keys of `range` in key order with their seqs until fn returns
  // false. Keys not of the range's shape are corruption.
  status scan(const index_range& range,
              const std::function<bool(std::string_view key, uint64_t seq)>& fn) const;
  // The recipient a message id was last bound to, as far as the index knows
  // (nullopt too for an entry it cannot read, as the log's look-up always did).
  std::optional<recipient_ref> find_message(std::string_view message_id) const;

  status resume_compactions();
  uint64_t level0_files() const;

private:
  stream_index() = default;
  status open_db(const std::string& dir, bool read_only, const rocksdb::DBOptions& db_base,
                 const rocksdb::ColumnFamilyOptions& cf_base);
  status write(const std::vector<index_entry>& entries, uint64_t upto);
  void close_db();
  void run();

  // A stream key ('r', blast, recipient, seq); unsigned, so that it sorts as
  // RocksDB's bytewise order does. The indexer's, reused.
  using stream_key = std::array<unsigned char, 1 + 8 + 4 + 8>;
  std::vector<stream_key> keys_scratch_;

  std::string dir_;
  bool read_only_ = false;
  std::unique_ptr<rocksdb::DBOptions> db_opts_;  // kept for wipe()
  std::unique_ptr<rocksdb::ColumnFamilyOptions> cf_opts_;
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;  // owned; released before db_ closes
  rocksdb::ColumnFamilyHandle* meta_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* streams_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* message_ids_cf_ = nullptr;

  mutable std::mutex mu_;
  mutable std::condition_variable indexed_cv_;  // the watermark moved, or the indexer failed
  std::condition_variable work_cv_;             // work queued, or stopping
  std::condition_variable space_cv_;            // the indexer took the queue
  std::vector<index_entry> queue_;
  uint64_t queued_upto_ = 0;
  uint64_t indexed_ = 0;
  bool failing_ = false;  // the last write failed; the indexer retries
  bool stopping_ = false;
  std::thread thread_;
};

} // namespace blast::storage
