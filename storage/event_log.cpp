// The RocksDB event log: one column family holds the chained events, the
// others snapshots and meta. The indexes derived from the events (streams,
// message ids) are a RocksDB instance of their own in `index/`, written by
// their own thread (storage/stream_index.hpp says why).
//
// Layout (all keys and numbers in keys are big-endian so that keys sort by number):
//   default      be64(seq)                              -> encode(event)
//   snapshots    name                                   -> caller's blob
//   meta         "schema_version" -> be32, "last_seq" -> be64, "chain_head" -> 32 bytes
// Every append writes its events and the new last_seq and chain_head in one
// WriteBatch, so meta and log can never disagree after a crash. Schema 1 kept
// the indexes here, as column families `streams` and `message_ids`; opening
// such a log builds the index from the events and drops them. Schema 2's index
// also had a stream per blast, dropped at the open that makes it schema 3.
// An audit open is RocksDB's read-only mode: it writes nothing to the folder.
#include "storage/event_log.hpp"

#include <rocksdb/cache.h>
#include <rocksdb/convenience.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/memtablerep.h>
#include <rocksdb/metadata.h>
#include <rocksdb/options.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/snapshot.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <condition_variable>
#include <cstdarg>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <limits>
#include <mutex>
#include <optional>
#include <thread>
#include <tuple>
#include <utility>

#include "storage/codec.hpp"
#include "storage/fingerprint_table.hpp"
#include "storage/rocks.hpp"
#include "storage/stream_index.hpp"

namespace blast::storage {

namespace {

// Schema 1's index column families, dropped once the index is built apart.
constexpr std::array<const char*, 2> legacy_cfs = {"streams", "message_ids"};
constexpr const char* cf_snapshots = "snapshots";
constexpr const char* cf_meta = "meta";

constexpr const char* meta_schema_version = "schema_version";
constexpr const char* meta_last_seq = "last_seq";
constexpr const char* meta_chain_head = "chain_head";

// Sequential scans read each block once: a large readahead turns them into
// big reads, and keeping their blocks out of the cache protects the hot ones.
constexpr size_t scan_readahead = 2 << 20;
// Index hits are fetched from the log in batches of this many keys (MultiGet).
constexpr size_t stream_fetch_batch = 64;
// Events indexed per write while an open catches the index up with the log.
constexpr size_t catch_up_batch = 64 * 1024;
// verify() reports progress this often: rare enough to cost nothing per event.
constexpr uint64_t verify_progress_every = 1 << 16;

int64_t wall_clock_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

std::string_view view(const hash256& h) {
  return {reinterpret_cast<const char*>(h.data()), h.size()};
}
// Beside storage::view(Slice), which this overload would otherwise hide here.
using blast::storage::view;

std::string seq_str(uint64_t seq) { return "seq " + std::to_string(seq); }

status corruption(std::string msg) { return {errc::corruption, std::move(msg)}; }

status read_only_error(const char* what) {
  return {errc::invalid_argument, std::string("cannot ") + what +
                                    ": the event log is open read-only for an audit"};
}

// RocksDB's info log, handed to the owner's logger instead of a file in the
// data folder (see log_options::log).
class forwarding_logger : public rocksdb::Logger {
public:
  explicit forwarding_logger(std::function<void(int, const std::string&)> fn)
    : rocksdb::Logger(rocksdb::InfoLogLevel::WARN_LEVEL), fn_(std::move(fn)) {}

  void Logv(const char* format, va_list ap) override {
    Logv(rocksdb::InfoLogLevel::INFO_LEVEL, format, ap);
  }
  void Logv(const rocksdb::InfoLogLevel level, const char* format, va_list ap) override {
    // HEADER_LEVEL is the options dump at every open: not a warning.
    if (level < GetInfoLogLevel() || level == rocksdb::InfoLogLevel::HEADER_LEVEL)
      return;
    char buf[2048];
    std::vsnprintf(buf, sizeof buf, format, ap);
    std::string line = std::string("rocksdb: ") + buf;
    int ours = level >= rocksdb::InfoLogLevel::ERROR_LEVEL ? 0 : 1;
    if (fn_)
      fn_(ours, line);
    else
      std::fprintf(stderr, "%s\n", line.c_str());
  }

private:
  std::function<void(int, const std::string&)> fn_;
};

rocksdb::CompressionType pick_compression() {
  // The Debian package links LZ4, but a self-built librocksdb may not: ask it.
  auto supported = rocksdb::GetSupportedCompressions();
  auto has = [&](rocksdb::CompressionType t) {
    return std::find(supported.begin(), supported.end(), t) != supported.end();
  };
  if (has(rocksdb::kLZ4Compression))
    return rocksdb::kLZ4Compression;
  if (has(rocksdb::kSnappyCompression))
    return rocksdb::kSnappyCompression;
  return rocksdb::kNoCompression;
}

} // namespace

struct event_log::impl {
  log_options opts;
  std::unique_ptr<rocksdb::DB> db;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;  // owned; released before db closes
  rocksdb::ColumnFamilyHandle* log_cf = nullptr;
  rocksdb::ColumnFamilyHandle* snapshots_cf = nullptr;
  rocksdb::ColumnFamilyHandle* meta_cf = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> legacy;  // schema 1's index CFs, in `handles` too
  std::unique_ptr<stream_index> index;
  uint32_t found_schema = schema_version;  // what meta said at the open

  // last_seq and head: the last event published (synced; what readers see).
  // Read by any thread, written by publish(); the mutex keeps the pair
  // consistent, and guards `failed` and `failure`.
  mutable std::mutex mu;
  uint64_t last_seq = 0;
  hash256 head{};
  // Set after a failed write or sync until recover() succeeds. After a failed
  // Write RocksDB refuses writes too (a background error: disk full is a
  // "hard" one), and may hold part of the failed batch in its WAL; Resume()
  // flushes the memtables, which never received the batch, and starts a new
  // WAL, so the written head stays right. After a failed sync the batches it
  // covered are in the memtables: they stay written (see recover()).
  bool failed = false;
  std::string failure;  // why, for the errors answered meanwhile

  // The writer's side, touched only by write() (and the open): the last event
  // written, synced or not, which the next batch chains to.
  uint64_t written_seq = 0;
  hash256 written_head{};
  int64_t last_logged_ms = 0;  // logged_ms of the last event; appends never go below it

  // Batches written and not yet published, oldest first. publish() takes them
  // from the front: readers see a prefix of the log, always synced.
  struct unpublished {
    uint64_t last_seq;
    hash256 head;
    std::vector<index_entry> entries;                       // for the indexer
    std::vector<std::pair<uint64_t, recipient_ref>> bound;  // message ids, for the cache
  };
  std::mutex staged_mu;  // between the writer (push) and the syncer (pop)
  std::deque<unpublished> staged;
  // Everything written up to `upto` is durable: hands it to the readers.
  void publish(uint64_t upto);

  // The message ids bound most recently, by fingerprint: a provider reports a
  // message's statuses within minutes of its send, so most look-ups are
  // answered here instead of by a search of the message-id memtable, which
  // was a seventh of a batched webhook's CPU. A miss asks RocksDB, the source
  // of truth, and remembers its answer. An id nobody sent is taken for a sent
  // one only if their 64-bit fingerprints collide (2^-64 per pair).
  // 256k per generation: the last 256k–512k ids, at most 24 MiB.
  static constexpr size_t message_cache_generation = 256 * 1024;
  mutable std::mutex message_cache_mu;
  mutable fingerprint_table<recipient_ref> message_cache{message_cache_generation};
  // Counts appends that bound ids: a look-up that read RocksDB while one ran
  // does not cache what it read, which that append may have re-bound.
  mutable uint64_t message_cache_writes = 0;
  std::string encode_scratch;  // write()'s, each event's value in turn

  ~impl() {
    index.reset();  // its indexer writes what is queued, then it flushes
    if (!db)
      return;
    // Flushing the memtables first means the next open has no WAL to replay
    // (measured: restart after 376k events 7.6 s, of which 6 s WAL replay).
    // An audit writes nothing: its memtables (the WAL it replayed) are dropped.
    if (!opts.audit) {
      rocksdb::FlushOptions fo;
      fo.wait = true;
      db->Flush(fo, handles);
    }
    for (auto* h : handles)
      db->DestroyColumnFamilyHandle(h);
    db->Close();
  }

  status open(const std::string& dir);
  status load_meta();
  // Brings the index up to the log's last event (after a crash, or the first
  // open of a schema 1 log), drops schema 1's index column families and
  // starts the indexer.
  status catch_up_index();
  // The seqs of `range`'s events up to the log's last one, in key order (seq
  // order for a by_seq range), to fn in batches. Waits for the indexer; where
  // the index still lags (an audit of a running or crashed blastd, a failing
  // index) the rest comes from the log.
  status scan_range(const index_range& range, const std::function<bool(const event&)>& fn) const;
  // Every key of `range` with its seq up to `upto`: the index's up to its
  // watermark `covered`, then those the log's events after it would have.
  status gather(const index_range& range, uint64_t covered, uint64_t upto,
                const std::function<void(std::string_view key, uint64_t seq)>& add) const;
  // Checks meta's schema_version (this build reads 1 to 3) and tells it in
  // `found`; errc::not_found when it is missing.
  status read_schema(const rocksdb::ReadOptions& ro, uint32_t* found = nullptr) const;
  status scan_from(uint64_t from, const std::function<bool(const event&)>& fn) const;
  // The stored value of the event at `seq` once published (like the scans, a point read
  // never shows a written batch before sync()); false when there is none.
  bool read_published(uint64_t seq, rocksdb::PinnableSlice& value) const;
  // A running log's scans stop after its last published event: those after it
  // may be written but not synced yet. An audit reads all there is (whatever
  // lies beyond meta is verify()'s to report). `key` and `upper` hold the
  // bound for as long as `ro` is used.
  void stop_at_published(rocksdb::ReadOptions& ro, std::string& key, rocksdb::Slice& upper) const {
    if (opts.audit)
      return;
    {
      std::lock_guard lock{mu};
      key = seq_key(last_seq + 1);
    }
    upper = key;
    ro.iterate_upper_bound = &upper;
  }
  status read_meta(const rocksdb::ReadOptions& ro, uint64_t& seq, hash256& hash) const;
  status fetch(const rocksdb::ReadOptions& ro, const std::vector<uint64_t>& seqs,
               const std::function<bool(const event&)>& fn, bool& more) const;
};

status event_log::impl::open(const std::string& dir) {
  // RocksDB's open lists the folder for its summary before creating it, and
  // says "Error when reading <dir> dir" on every first start otherwise.
  if (opts.create && !opts.audit) {
    std::error_code ec;
    std::filesystem::create_directories(dir + "/index", ec);  // a failure: the open says why
  }
  rocksdb::Options db_opts;
  db_opts.create_if_missing = opts.create && !opts.audit;
  db_opts.create_missing_column_families = opts.create && !opts.audit;
  // Two cores: one flush and one compaction thread (RocksDB's default Env
  // shares them with the index's instance).
  if (opts.env)
    db_opts.env = opts.env.get();
  db_opts.IncreaseParallelism(2);
  // One appender (the journal thread); the rare snapshot write waits for it.
  db_opts.allow_concurrent_memtable_write = false;
  // Several column families share the WAL; the rarely written ones (snapshots,
  // meta between appends) would otherwise keep old WAL files alive forever.
  db_opts.max_total_wal_size = 256ull << 20;
  if (!opts.audit)
    db_opts.info_log = std::make_shared<forwarding_logger>(opts.log);

  rocksdb::BlockBasedTableOptions table;
  // One cache for all column families (and the index's) instead of one default cache each.
  table.block_cache = rocksdb::NewLRUCache(64 << 20);
  // Point look-ups (get, stream fetches, message ids) skip files that cannot hold the key.
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));

  rocksdb::ColumnFamilyOptions cf_opts;
  cf_opts.compression = pick_compression();
  cf_opts.disable_auto_compactions = opts.defer_compactions && !opts.audit;
  cf_opts.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));

  // The log itself in 16 KiB blocks instead of 4 KiB: replay reads it front
  // to back, and measured 720k -> ~960k events/s (1M events, 2 runs each),
  // with files a fifth smaller. A point read (an event by seq) decompresses
  // the bigger block, which a timeline or an export page of a few hundred
  // events does not notice. Only files written from now on change.
  rocksdb::BlockBasedTableOptions log_table = table;
  log_table.block_size = 16 << 10;
  rocksdb::ColumnFamilyOptions log_opts = cf_opts;
  log_opts.table_factory.reset(rocksdb::NewBlockBasedTableFactory(log_table));

  std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
  cfs.emplace_back(rocksdb::kDefaultColumnFamilyName, log_opts);
  for (const char* name : {cf_snapshots, cf_meta})
    cfs.emplace_back(name, cf_opts);
  // A schema 1 log still has its index column families: a writable open must
  // name every column family there is (to drop these once the index is
  // built); a read-only one may leave them out.
  if (!opts.audit) {
    std::vector<std::string> existing;
    if (rocksdb::DB::ListColumnFamilies(db_opts, dir, &existing).ok())
      for (const char* name : legacy_cfs)
        if (std::find(existing.begin(), existing.end(), name) != existing.end())
          cfs.emplace_back(name, cf_opts);
  }

  rocksdb::DB* raw = nullptr;
  rocksdb::Status s;
  if (opts.audit) {
    // Read-only: replays the WAL into memory, takes no lock, never flushes or
    // compacts, and starts no info LOG file (the audit test checks the folder
    // is left as it was). The default max_open_files (-1) opens every table
    // file now, so a file a running blastd deletes later stays readable.
    s = rocksdb::DB::OpenForReadOnly(db_opts, dir, cfs, &handles, &raw);
  } else {
    s = rocksdb::DB::Open(db_opts, dir, cfs, &handles, &raw);
  }
  if (!s.ok())
    return rocks_error(s, "cannot open event log in " + dir);
  db.reset(raw);
  log_cf = handles[0];
  snapshots_cf = handles[1];
  meta_cf = handles[2];
  legacy.assign(handles.begin() + 3, handles.end());
  if (auto st = load_meta(); !st)
    return st;

  status st;
  index = stream_index::open(dir + "/index", opts.audit, db_opts, cf_opts, st);
  if (!index)
    return st;
  return opts.audit ? status{} : catch_up_index();
}

status event_log::impl::catch_up_index() {
  uint64_t from = index->indexed();
  if (from > last_seq) {
    // Only a log that lost an unsynced tail (sync off) leaves its index ahead:
    // the index's entries past the log would point at seqs to be reused.
    if (opts.log)
      opts.log(1, "the stream index ends at seq " + std::to_string(from) +
                    ", past the log's last seq " + std::to_string(last_seq) + ": rebuilding it");
    if (auto st = index->wipe(); !st)
      return st;
    from = 0;
  }
  if (from < last_seq) {
    if (opts.log && from + catch_up_batch < last_seq)
      opts.log(1, "indexing seqs " + std::to_string(from + 1) + ".." + std::to_string(last_seq) +
                    " from the log (the index was behind it)");
    std::vector<index_entry> entries;
    uint64_t upto = from;
    index_entry entry;
    status write_st;
    auto flush = [&] {
      write_st = index->write_now(entries, upto);
      entries.clear();
      return bool(write_st);
    };
    auto st = scan_from(from + 1, [&](const event& e) {
      if (e.seq > last_seq)
        return false;
      if (index_entry_of(e, entry))
        entries.push_back(std::move(entry));
      upto = e.seq;
      return entries.size() < catch_up_batch || flush();
    });
    if (!st)
      return st;
    if (!write_st || !flush())
      return write_st;
  }
  for (auto* h : legacy) {
    if (auto s = db->DropColumnFamily(h); !s.ok())
      return rocks_error(s, "cannot drop schema 1's index column family " + h->GetName());
    handles.erase(std::find(handles.begin(), handles.end(), h));
    db->DestroyColumnFamilyHandle(h);
  }
  legacy.clear();
  if (found_schema != schema_version) {
    if (auto st = index->drop_blast_streams(); !st)
      return st;
    std::string version;
    put_be(version, schema_version, 4);
    rocksdb::WriteOptions wo;
    wo.sync = true;
    if (auto s = db->Put(wo, meta_cf, meta_schema_version, version); !s.ok())
      return rocks_error(s, "cannot record schema version " + std::to_string(schema_version));
    found_schema = schema_version;
  }
  index->start();
  return {};
}

status event_log::impl::read_meta(const rocksdb::ReadOptions& ro, uint64_t& seq,
                                  hash256& hash) const {
  std::string v;
  auto s = db->Get(ro, meta_cf, meta_last_seq, &v);
  if (!s.ok())
    return s.IsNotFound() ? corruption("meta last_seq is missing")
                          : rocks_error(s, "cannot read meta last_seq");
  if (v.size() != 8)
    return corruption("meta last_seq has " + std::to_string(v.size()) + " bytes, expected 8");
  seq = get_be(v);
  s = db->Get(ro, meta_cf, meta_chain_head, &v);
  if (!s.ok())
    return s.IsNotFound() ? corruption("meta chain_head is missing")
                          : rocks_error(s, "cannot read meta chain_head");
  if (v.size() != hash.size())
    return corruption("meta chain_head has " + std::to_string(v.size()) + " bytes, expected 32");
  std::copy(v.begin(), v.end(), hash.begin());
  return {};
}

status event_log::impl::read_schema(const rocksdb::ReadOptions& ro, uint32_t* found) const {
  std::string v;
  auto s = db->Get(ro, meta_cf, meta_schema_version, &v);
  if (s.IsNotFound())
    return {errc::not_found, "meta schema_version is missing"};
  if (!s.ok())
    return rocks_error(s, "cannot read meta schema_version");
  if (v.size() != 4)
    return corruption("meta schema_version has " + std::to_string(v.size()) +
                      " bytes, expected 4");
  auto version = get_be(v);
  if (version < oldest_schema_version || version > schema_version)
    return {errc::invalid_argument, "event log has schema version " + std::to_string(version) +
                                      ", this build reads versions " +
                                      std::to_string(oldest_schema_version) + " to " +
                                      std::to_string(schema_version)};
  if (found)
    *found = static_cast<uint32_t>(version);
  return {};
}

status event_log::impl::load_meta() {
  rocksdb::ReadOptions ro;
  auto st = read_schema(ro, &found_schema);
  if (opts.audit) {
    // Refused: a log of another schema version (this build cannot read it)
    // and a failed read. A missing or damaged meta, or one the log disagrees
    // with, is verify()'s finding to report.
    if (st.code == errc::invalid_argument || st.code == errc::io_error)
      return st;
    uint64_t meta_seq = 0;
    hash256 meta_head{};
    if (st && read_meta(ro, meta_seq, meta_head)) {
      last_seq = meta_seq;
      head = meta_head;
    }
    return {};
  }
  if (st.code == errc::not_found) {
    // A new log, or a log whose meta was lost: only the former may be initialised.
    std::unique_ptr<rocksdb::Iterator> it{db->NewIterator(ro, log_cf)};
    it->SeekToFirst();
    if (!it->status().ok())
      return rocks_error(it->status(), "cannot read the log");
    if (it->Valid())
      return corruption("the log holds events but meta has no schema_version");
    std::string version;
    put_be(version, schema_version, 4);
    rocksdb::WriteBatch wb;
    wb.Put(meta_cf, meta_schema_version, version);
    wb.Put(meta_cf, meta_last_seq, seq_key(0));
    wb.Put(meta_cf, meta_chain_head, view(hash256{}));
    rocksdb::WriteOptions wo;
    wo.sync = true;  // once per log; a later crash must not find events without meta
    if (auto s = db->Write(wo, &wb); !s.ok())
      return rocks_error(s, "cannot initialise meta");
    return {};
  }
  if (!st)
    return st;

  uint64_t meta_seq = 0;
  hash256 meta_head{};
  if (st = read_meta(ro, meta_seq, meta_head); !st)
    return st;

  // meta and events are written in one batch, so any disagreement means the
  // files were damaged or edited; appending would extend a broken chain.
  std::unique_ptr<rocksdb::Iterator> it{db->NewIterator(ro, log_cf)};
  it->SeekToLast();
  if (!it->status().ok())
    return rocks_error(it->status(), "cannot read the log");
  uint64_t log_seq = 0;
  if (it->Valid()) {
    log_seq = seq_from_key(view(it->key()));
    if (log_seq == 0)
      return corruption("the log's last key is not a sequence number");
  }
  if (log_seq != meta_seq)
    return corruption("meta last_seq is " + std::to_string(meta_seq) + " but the log ends at " +
                      seq_str(log_seq));
  if (log_seq != 0) {
    // Cheap tail check (one hash); verify() checks the whole chain.
    auto h = chain_hash(log_seq, view(it->value()));
    if (h != meta_head)
      return corruption(seq_str(log_seq) + ": chain hash " + to_hex(h) +
                        " differs from meta chain_head " + to_hex(meta_head));
  } else if (meta_head != hash256{}) {
    return corruption("the log is empty but meta chain_head is not zero");
  }
  if (log_seq != 0) {
    auto last = decode(log_seq, view(it->value()));
    if (!last)
      return corruption(seq_str(log_seq) + ": undecodable event");
    last_logged_ms = last->logged_ms;
  }
  last_seq = written_seq = meta_seq;
  head = written_head = meta_head;
  return {};
}

status event_log::impl::fetch(const rocksdb::ReadOptions& ro, const std::vector<uint64_t>& seqs,
                              const std::function<bool(const event&)>& fn, bool& more) const {
  std::vector<std::string> keys;
  keys.reserve(seqs.size());
  std::vector<rocksdb::Slice> slices;
  slices.reserve(seqs.size());
  for (auto seq : seqs) {
    keys.push_back(seq_key(seq));
    slices.emplace_back(keys.back());
  }
  std::vector<rocksdb::PinnableSlice> values(seqs.size());
  std::vector<rocksdb::Status> statuses(seqs.size());
  db->MultiGet(ro, log_cf, slices.size(), slices.data(), values.data(), statuses.data(),
               // A recipient range lists seqs recipient by recipient, not in order;
               // MultiGet answers in the order asked either way.
               /*sorted_input=*/std::is_sorted(seqs.begin(), seqs.end()));
  for (size_t i = 0; i < seqs.size(); ++i) {
    if (statuses[i].IsNotFound())
      return corruption(seq_str(seqs[i]) + ": in the stream index but not in the log");
    if (!statuses[i].ok())
      return rocks_error(statuses[i], "cannot read " + seq_str(seqs[i]));
    auto e = decode(seqs[i], view(values[i]));
    if (!e)
      return corruption(seq_str(seqs[i]) + ": undecodable event");
    if (!fn(*e)) {
      more = false;
      return {};
    }
  }
  return {};
}

event_log::event_log(std::unique_ptr<impl> p) : impl_(std::move(p)) {}

event_log::~event_log() = default;

std::unique_ptr<event_log> event_log::open(const std::string& dir, const log_options& opts,
                                           status& st) {
  auto p = std::make_unique<impl>();
  p->opts = opts;
  st = p->open(dir);
  if (!st)
    return nullptr;
  return std::unique_ptr<event_log>(new event_log(std::move(p)));
}

status event_log::append(std::vector<event>& batch) {
  if (auto st = write(batch); !st || batch.empty())
    return st;
  return sync(batch.back().seq);
}

status event_log::write(std::vector<event>& batch) {
  auto& d = *impl_;
  if (d.opts.audit)
    return read_only_error("append");
  if (batch.empty())
    return {};
  {
    std::lock_guard lock{d.mu};
    if (d.failed)
      return {errc::io_error, "the log takes no appends until it recovers from: " + d.failure};
  }
  for (const auto& e : batch)
    if (e.message_id.size() > std::numeric_limits<uint32_t>::max() ||
        e.payload.size() > std::numeric_limits<uint32_t>::max())
      return {errc::invalid_argument, "message_id or payload longer than 4 GiB"};

  // The caller gets its events back unchanged on failure, so remember what the
  // loop below overwrites.
  std::vector<std::tuple<uint64_t, hash256, int64_t>> saved;
  saved.reserve(batch.size());
  for (const auto& e : batch)
    saved.emplace_back(e.seq, e.prev_hash, e.logged_ms);
  auto restore = [&] {
    for (size_t i = 0; i < batch.size(); ++i)
      std::tie(batch[i].seq, batch[i].prev_hash, batch[i].logged_ms) = saved[i];
  };

  uint64_t seq = d.written_seq;
  hash256 prev = d.written_head;
  // The log's own clock: a wall clock stepping back must not make the log's
  // times go backwards, or a point-in-time cut would no longer be a prefix.
  int64_t logged = std::max(d.last_logged_ms, wall_clock_ms());
  // Sized up front: grown by doubling, a batch with a few 35 KB webhooks was
  // copied over and over as it filled.
  size_t bytes = 256;
  for (const auto& e : batch)
    bytes += 128 + e.message_id.size() + e.payload.size();
  rocksdb::WriteBatch wb(bytes);
  impl::unpublished out;
  try {
    out.entries.reserve(batch.size());
    index_entry entry;
    auto& value = d.encode_scratch;
    for (auto& e : batch) {
      e.seq = ++seq;
      e.prev_hash = prev;
      e.logged_ms = logged;
      encode_into(e, value);
      wb.Put(d.log_cf, seq_key(seq), value);
      if (index_entry_of(e, entry))
        out.entries.push_back(std::move(entry));
      if (!e.message_id.empty())
        out.bound.emplace_back(fingerprint(e.message_id), recipient_ref{e.blast, e.recipient});
      prev = chain_hash(seq, value);
    }
    wb.Put(d.meta_cf, meta_last_seq, seq_key(seq));
    wb.Put(d.meta_cf, meta_chain_head, view(prev));
    if (value.capacity() > (1u << 20))
      std::string().swap(value);  // a rare big webhook's bytes are not kept for good
  } catch (...) {
    restore();
    throw;
  }

  // Not synced here: sync() does that for every batch written before it, while
  // the writer goes on with the next (see journal.hpp).
  rocksdb::WriteOptions wo;
  wo.sync = false;
  auto s = d.db->Write(wo, &wb);
  if (!s.ok()) {
    restore();
    std::lock_guard lock{d.mu};
    d.failed = true;
    d.failure = s.ToString();
    return {errc::io_error, "append of " + std::to_string(batch.size()) + " events failed: " +
                                s.ToString()};
  }
  d.written_seq = seq;
  d.written_head = prev;
  d.last_logged_ms = logged;
  out.last_seq = seq;
  out.head = prev;
  std::lock_guard lock{d.staged_mu};
  d.staged.push_back(std::move(out));
  return {};
}

status event_log::sync(uint64_t upto) {
  auto& d = *impl_;
  if (d.opts.audit)
    return read_only_error("sync");
  if (d.opts.sync) {
    // RocksDB's SyncWAL runs beside writes on other threads: it syncs what
    // they had handed to the file system when it began, which includes every
    // batch write() returned before this call.
    auto s = d.db->SyncWAL();
    if (!s.ok()) {
      std::lock_guard lock{d.mu};
      d.failed = true;
      d.failure = s.ToString();
      return {errc::io_error, "sync of the log failed: " + s.ToString()};
    }
  }
  d.publish(upto);
  return {};
}

void event_log::impl::publish(uint64_t upto) {
  for (;;) {
    unpublished b;
    {
      std::lock_guard lock{staged_mu};
      if (staged.empty() || staged.front().last_seq > upto)
        return;
      b = std::move(staged.front());
      staged.pop_front();
    }
    if (!b.bound.empty()) {
      std::lock_guard lock{message_cache_mu};
      for (auto& [fp, ref] : b.bound)
        message_cache.put(fp, ref);
      ++message_cache_writes;
    }
    // Before last_seq moves: a reader that sees the new last_seq finds these
    // entries queued, so waiting for the indexer ends.
    index->enqueue(std::move(b.entries), b.last_seq);
    std::lock_guard lock{mu};
    last_seq = b.last_seq;
    head = b.head;
  }
}

status event_log::recover() {
  auto& d = *impl_;
  if (d.opts.audit)
    return read_only_error("recover");
  {
    std::lock_guard lock{d.mu};
    if (!d.failed)
      return {};
  }
  // Resume() refuses a "fatal" background error (an EIO on the WAL, say):
  // then only a restart, which replays the WAL, brings the log back.
  auto s = d.db->Resume();
  if (!s.ok()) {
    std::lock_guard lock{d.mu};
    return {errc::io_error, "the log has not recovered yet: " + s.ToString() +
                              " (first error: " + d.failure + ")"};
  }
  // Batches whose sync failed are written (in the memtables and the WAL) and
  // chained to: the next append follows them, so they cannot be left out.
  // Once synced they are published like any other. Their submitters were told
  // the append failed; the events are in the log all the same.
  if (auto st = sync(d.written_seq); !st)
    return st;
  std::lock_guard lock{d.mu};
  d.failed = false;
  d.failure.clear();
  return {};
}

status event_log::resume_compactions() {
  auto& d = *impl_;
  if (!d.opts.defer_compactions || d.opts.audit)
    return {};
  auto s = d.db->EnableAutoCompaction(d.handles);
  if (!s.ok())
    return rocks_error(s, "cannot resume compactions");
  return d.index->resume_compactions();
}

uint64_t event_log::level0_files() const {
  return storage::level0_files(*impl_->db, impl_->handles) + impl_->index->level0_files();
}

uint64_t event_log::index_lag() const {
  auto last = last_seq();
  return last - std::min(last, impl_->index->indexed());
}

uint64_t event_log::last_seq() const {
  std::lock_guard lock{impl_->mu};
  return impl_->last_seq;
}

hash256 event_log::head() const {
  std::lock_guard lock{impl_->mu};
  return impl_->head;
}

status event_log::scan(uint64_t from, const std::function<bool(const event&)>& fn) const {
  return impl_->scan_from(from, fn);
}

status event_log::impl::scan_from(uint64_t from,
                                  const std::function<bool(const event&)>& fn) const {
  auto& d = *this;
  rocksdb::ReadOptions ro;
  ro.readahead_size = scan_readahead;
  ro.fill_cache = false;
  std::string bound;
  rocksdb::Slice upper;
  stop_at_published(ro, bound, upper);
  // The iterator reads an implicit snapshot: events appended meanwhile are not visited.
  std::unique_ptr<rocksdb::Iterator> it{d.db->NewIterator(ro, d.log_cf)};
  for (it->Seek(seq_key(from)); it->Valid(); it->Next()) {
    auto seq = seq_from_key(view(it->key()));
    if (seq == 0)
      return corruption("a log key is not a sequence number");
    auto e = decode(seq, view(it->value()));
    if (!e)
      return corruption(seq_str(seq) + ": undecodable event");
    if (!fn(*e))
      return {};
  }
  if (!it->status().ok())
    return rocks_error(it->status(), "scan of the log failed");
  return {};
}

status event_log::scan_ahead(uint64_t from, const std::function<bool(const event&)>& fn) const {
  // The reader thread only iterates RocksDB and copies each value's bytes into
  // a batch; the caller's thread decodes them into one reused event and runs
  // fn. RocksDB's iteration alone is about what decoding and folding cost
  // together, so this split keeps both cores busy: with the decoding on the
  // reader it ran at 90% while the fold waited half the time. Batches go back
  // and forth, keeping their capacity: neither side allocates per event.
  constexpr size_t batch_events = 4096;
  constexpr size_t batches = 4;  // in flight: bounds the memory ahead of fn
  struct batch {
    std::string bytes;                              // the values, back to back
    std::vector<std::pair<uint64_t, size_t>> ends;  // (seq, end of its value in bytes)
  };
  std::mutex mu;
  std::condition_variable cv;
  std::deque<batch> full, empty;
  bool reader_done = false, caller_stopped = false;
  status read_status;
  for (size_t i = 0; i < batches; ++i)
    empty.emplace_back().ends.reserve(batch_events);

  auto& d = *impl_;
  std::string bound;
  rocksdb::Slice upper;
  std::thread reader([&] {
    no_perf_counts();
    status st;
    try {
      rocksdb::ReadOptions ro;
      ro.readahead_size = scan_readahead;
      ro.fill_cache = false;
      d.stop_at_published(ro, bound, upper);
      std::unique_ptr<rocksdb::Iterator> it{d.db->NewIterator(ro, d.log_cf)};
      batch b;
      auto take_empty = [&] {
        std::unique_lock lock{mu};
        cv.wait(lock, [&] { return !empty.empty() || caller_stopped; });
        if (caller_stopped)
          return false;
        b = std::move(empty.front());
        empty.pop_front();
        b.bytes.clear();
        b.ends.clear();
        return true;
      };
      auto hand_over = [&] {
        std::lock_guard lock{mu};
        full.push_back(std::move(b));
        cv.notify_all();
      };
      bool open = take_empty();
      for (it->Seek(seq_key(from)); open && it->Valid(); it->Next()) {
        auto seq = seq_from_key(view(it->key()));
        if (seq == 0) {
          st = corruption("a log key is not a sequence number");
          break;
        }
        auto value = it->value();
        b.bytes.append(value.data(), value.size());
        b.ends.emplace_back(seq, b.bytes.size());
        if (b.ends.size() == batch_events) {
          hand_over();
          open = take_empty();
        }
      }
      if (open && !b.ends.empty())
        hand_over();  // the events before an error are visited too, as scan() does
      if (st && open && !it->status().ok())
        st = rocks_error(it->status(), "scan of the log failed");
    } catch (const std::exception& e) {
      st = {errc::io_error, std::string("scan of the log failed: ") + e.what()};
    }
    std::lock_guard lock{mu};
    read_status = st;
    reader_done = true;
    cv.notify_all();
  });

  auto stop_reader = [&] {
    {
      std::lock_guard lock{mu};
      caller_stopped = true;
    }
    cv.notify_all();
    reader.join();
  };
  try {
    event e;
    for (;;) {
      batch b;
      {
        std::unique_lock lock{mu};
        cv.wait(lock, [&] { return !full.empty() || reader_done; });
        if (full.empty())
          break;  // the reader is done and everything it read was visited
        b = std::move(full.front());
        full.pop_front();
      }
      size_t begin = 0;
      for (auto [seq, end] : b.ends) {
        if (!decode_into(seq, std::string_view(b.bytes).substr(begin, end - begin), e)) {
          stop_reader();
          return corruption(seq_str(seq) + ": undecodable event");
        }
        begin = end;
        if (!fn(e)) {
          stop_reader();
          return {};
        }
      }
      std::lock_guard lock{mu};
      empty.push_back(std::move(b));
      cv.notify_all();
    }
  } catch (...) {
    stop_reader();  // fn threw: the reader must not outlive this frame
    throw;
  }
  reader.join();
  return read_status;
}

status event_log::scan_stream(uint64_t blast, uint32_t recipient,
                              const std::function<bool(const event&)>& fn) const {
  return impl_->scan_range(
    recipient == 0 ? index_range::blast(blast) : index_range::recipient(blast, recipient), fn);
}

status event_log::scan_recipients(uint64_t blast, uint32_t first, uint32_t last,
                                  const std::function<bool(const event&)>& fn) const {
  if (first == 0 || last < first)
    return {};
  return impl_->scan_range(index_range::recipients(blast, first, last), fn);
}

status event_log::scan_blast_level(uint64_t blast,
                                   const std::function<bool(const event&)>& fn) const {
  return impl_->scan_range(index_range::recipient(blast, 0), fn);
}

status event_log::impl::scan_range(const index_range& range,
                                   const std::function<bool(const event&)>& fn) const {
  uint64_t upto = 0;
  {
    std::lock_guard lock{mu};
    upto = last_seq;
  }
  // The index only holds committed events, so every seq it gives is in the log.
  uint64_t covered = index->wait_for(upto);
  rocksdb::ReadOptions ro;
  std::vector<uint64_t> seqs;
  bool more = true;
  auto fetch_all = [&](const std::vector<uint64_t>& all) {
    std::vector<uint64_t> part;
    for (size_t i = 0; i < all.size() && more; i += stream_fetch_batch) {
      part.assign(all.begin() + i, all.begin() + std::min(all.size(), i + stream_fetch_batch));
      if (auto st = fetch(ro, part, fn, more); !st)
        return st;
    }
    return status{};
  };
  if (range.by_seq) {
    // A whole blast: its streams' seqs, sorted.
    if (auto st = gather(range, covered, upto, [&](std::string_view, uint64_t seq) {
          seqs.push_back(seq);
        });
        !st)
      return st;
    std::sort(seqs.begin(), seqs.end());
    return fetch_all(seqs);
  }
  seqs.reserve(stream_fetch_batch);
  if (covered >= upto) {
    status fetched;
    auto st = index->scan(range, [&](std::string_view, uint64_t seq) {
      if (seq > upto)
        return true;  // appended after this read began
      seqs.push_back(seq);
      if (seqs.size() < stream_fetch_batch)
        return true;
      fetched = fetch(ro, seqs, fn, more);
      seqs.clear();
      return fetched && more;
    });
    if (!st || !fetched || !more)
      return !st ? st : fetched;
    return seqs.empty() ? status{} : fetch(ro, seqs, fn, more);
  }

  // The index ends before the log: its keys, and those the events after its
  // watermark would have, merged in key order. Rare (see scan_range's
  // declaration), and bounded by what the range holds.
  std::vector<std::pair<std::string, uint64_t>> keys;
  if (auto st = gather(range, covered, upto, [&](std::string_view key, uint64_t seq) {
        keys.emplace_back(key, seq);
      });
      !st)
    return st;
  std::sort(keys.begin(), keys.end());
  for (auto& k : keys)
    seqs.push_back(k.second);
  return fetch_all(seqs);
}

status event_log::impl::gather(
  const index_range& range, uint64_t covered, uint64_t upto,
  const std::function<void(std::string_view key, uint64_t seq)>& add) const {
  auto st = index->scan(range, [&](std::string_view key, uint64_t seq) {
    if (seq <= std::min(covered, upto))
      add(key, seq);
    return true;
  });
  if (!st || covered >= upto)
    return st;
  return scan_from(covered + 1, [&](const event& e) {
    if (e.seq > upto)
      return false;
    if (auto key = range.key_of(e.blast, e.recipient, e.seq))
      add(*key, e.seq);
    return true;
  });
}

bool event_log::impl::read_published(uint64_t seq, rocksdb::PinnableSlice& value) const {
  {
    std::lock_guard lock{mu};
    if (seq == 0 || seq > last_seq)
      return false;
  }
  return db->Get(rocksdb::ReadOptions{}, log_cf, seq_key(seq), &value).ok();
}

std::optional<event> event_log::get(uint64_t seq) const {
  rocksdb::PinnableSlice v;
  if (!impl_->read_published(seq, v))
    return std::nullopt;
  return decode(seq, view(v));
}

std::optional<hash256> event_log::hash_of(uint64_t seq) const {
  rocksdb::PinnableSlice v;
  if (!impl_->read_published(seq, v))
    return std::nullopt;
  return chain_hash(seq, view(v));
}

std::optional<recipient_ref> event_log::find_message(std::string_view message_id) const {
  if (message_id.empty())
    return std::nullopt;  // events without a message id are not indexed
  auto& d = *impl_;
  auto fp = fingerprint(message_id);
  uint64_t writes_before = 0;
  {
    std::lock_guard lock{d.message_cache_mu};
    if (auto* hit = d.message_cache.find(fp))
      return *hit;
    writes_before = d.message_cache_writes;
  }
  // Running, the cache holds every binding the indexer has not written yet
  // (it keeps the last 256k or more; the index lags by ~128k entries at most),
  // so a miss is answered by the index without waiting for it. An audit has
  // no cache: bindings after the index's watermark come from the log.
  static_assert(2 * stream_index::max_queued <= impl::message_cache_generation / 2);
  std::optional<recipient_ref> ref;
  if (d.opts.audit) {
    if (uint64_t upto = last_seq(), covered = d.index->indexed(); covered < upto)
      d.scan_from(covered + 1, [&](const event& e) {
        if (e.seq > upto)
          return false;
        if (e.message_id == message_id)
          ref = recipient_ref{e.blast, e.recipient};
        return true;
      });
  }
  if (!ref)
    ref = d.index->find_message(message_id);
  if (!ref)
    return std::nullopt;
  if (!d.opts.audit) {  // an audit's view is fixed at its open; a cache adds nothing there
    std::lock_guard lock{d.message_cache_mu};
    if (d.message_cache_writes == writes_before)
      d.message_cache.put(fp, *ref);
  }
  return ref;
}

namespace {

status not_a_seq_key(uint64_t after) {
  return corruption(seq_str(after + 1) + ": the key after " + seq_str(after) +
                    " is not a sequence number");
}

// The link into `seq` is broken: its stored prev_hash is not the chain hash of
// seq - 1. Either seq - 1 was altered, or seq was (its prev_hash, or its whole
// value, as when two events are swapped). The link out of seq tells which: if
// seq's chain hash is what seq + 1 stores (or, for meta's last event, meta's
// chain_head), seq is as it was chained and seq - 1 is the altered one; if not,
// seq is. `it` stands on seq and is moved to the event after it.
status broken_link(rocksdb::Iterator& it, uint64_t seq, const hash256& prev_chain_hash,
                   const hash256& stored_prev, const hash256& seq_chain_hash, uint64_t meta_seq,
                   const hash256& meta_head) {
  if (seq == 1)
    return corruption(seq_str(1) + ": prev_hash of the first event is not zero");
  std::optional<bool> out_link_holds;
  std::string next;
  if (seq == meta_seq) {
    out_link_holds = seq_chain_hash == meta_head;
    next = "meta chain_head";
  } else {
    next = seq_str(seq + 1);
    it.Next();
    if (it.Valid() && seq_from_key(view(it.key())) == seq + 1)
      if (auto e = decode(seq + 1, view(it.value())))
        out_link_holds = e->prev_hash == seq_chain_hash;
  }
  if (!out_link_holds)  // seq + 1 missing or undecodable: the chain cannot tell
    return corruption(seq_str(seq - 1) + ": chain hash " + to_hex(prev_chain_hash) +
                      " does not match prev_hash " + to_hex(stored_prev) + " stored in " +
                      seq_str(seq) + " (" + seq_str(seq - 1) + " or the prev_hash of " +
                      seq_str(seq) + " was altered)");
  if (*out_link_holds)
    return corruption(seq_str(seq - 1) + ": altered: its chain hash " + to_hex(prev_chain_hash) +
                      " is not the prev_hash " + to_hex(stored_prev) + " stored in " +
                      seq_str(seq) + ", whose own chain hash matches " + next);
  return corruption(seq_str(seq) + ": altered: its prev_hash " + to_hex(stored_prev) +
                    " is not the chain hash " + to_hex(prev_chain_hash) + " of " +
                    seq_str(seq - 1) + ", and its own chain hash " + to_hex(seq_chain_hash) +
                    " does not match " + next + " either");
}

} // namespace

status event_log::verify(verify_result* result, const verify_progress& progress) const {
  auto& d = *impl_;
  // One snapshot for meta and log: verify() may run while the journal appends.
  rocksdb::ManagedSnapshot snap{d.db.get()};
  rocksdb::ReadOptions ro;
  ro.snapshot = snap.snapshot();
  if (auto st = d.read_schema(ro); !st)
    return st.code == errc::not_found ? corruption(st.message) : st;
  uint64_t meta_seq = 0;
  hash256 meta_head{};
  if (auto st = d.read_meta(ro, meta_seq, meta_head); !st)
    return st;

  ro.readahead_size = scan_readahead;
  ro.fill_cache = false;
  std::unique_ptr<rocksdb::Iterator> it{d.db->NewIterator(ro, d.log_cf)};
  uint64_t last = 0;  // the last event checked
  hash256 prev{};     // its chain hash; the first event's prev_hash is all zero
  it->SeekToFirst();
  // Up to meta's last event; anything after it is reported once meta's tail holds.
  for (; it->Valid() && last < meta_seq; it->Next()) {
    uint64_t expected = last + 1;
    auto seq = seq_from_key(view(it->key()));
    if (seq == 0)
      return not_a_seq_key(last);
    if (seq != expected)
      return corruption(seq_str(expected) + ": missing, the log continues at " + seq_str(seq));
    auto value = view(it->value());
    auto e = decode(seq, value);
    if (!e)
      return corruption(seq_str(seq) + ": undecodable event");
    auto hash = chain_hash(seq, value);
    if (e->prev_hash != prev)
      return broken_link(*it, seq, prev, e->prev_hash, hash, meta_seq, meta_head);
    prev = hash;
    last = seq;
    if (progress && last % verify_progress_every == 0)
      progress(last, meta_seq);
  }
  if (!it->status().ok())
    return rocks_error(it->status(), "scan of the log failed");

  if (last < meta_seq)
    return corruption(seq_str(last + 1) + ": missing, meta last_seq is " +
                      std::to_string(meta_seq));
  if (prev != meta_head)
    return last == 0 ? corruption("the log is empty but meta chain_head is not zero")
                     : corruption(seq_str(last) + ": chain hash " + to_hex(prev) +
                                  " differs from meta chain_head " + to_hex(meta_head));
  if (it->Valid()) {
    // Appends write meta with their events, so an event past meta's last_seq
    // was written some other way.
    auto seq = seq_from_key(view(it->key()));
    if (seq == 0)
      return not_a_seq_key(last);
    return corruption(seq_str(seq) + ": beyond meta last_seq " + std::to_string(meta_seq) +
                      " (meta is written with every append; this was not)");
  }
  if (!it->status().ok())
    return rocks_error(it->status(), "scan of the log failed");
  if (progress)
    progress(last, meta_seq);
  if (result)
    *result = {last, last, prev};
  return {};
}

status event_log::put_snapshot(std::string_view name, std::string_view blob) {
  return write_snapshots({{std::string(name), std::string(blob)}}, {});
}

status event_log::write_snapshots(const std::vector<std::pair<std::string, std::string>>& puts,
                                  const std::vector<std::string>& erases) {
  if (impl_->opts.audit)
    return read_only_error("write snapshots");
  rocksdb::WriteBatch wb;
  for (auto& name : erases)
    wb.Delete(impl_->snapshots_cf, name);
  for (auto& [name, blob] : puts) {
    if (name.empty())
      return {errc::invalid_argument, "snapshot name is empty"};
    wb.Put(impl_->snapshots_cf, name, blob);
  }
  rocksdb::WriteOptions wo;
  wo.sync = impl_->opts.sync;
  auto s = impl_->db->Write(wo, &wb);
  if (!s.ok())
    return {errc::io_error, "cannot write snapshots: " + s.ToString()};
  return {};
}

std::optional<std::string> event_log::get_snapshot(std::string_view name) const {
  std::string v;
  auto s = impl_->db->Get(rocksdb::ReadOptions{}, impl_->snapshots_cf,
                          rocksdb::Slice{name.data(), name.size()}, &v);
  if (!s.ok())
    return std::nullopt;
  return v;
}

} // namespace blast::storage
