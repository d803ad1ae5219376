// Layout of the index instance (keys big-endian, so that they sort by number):
//   default      "indexed"                               -> be64(watermark)
//   streams      'r' be64(blast) be32(recipient) be64(seq) -> "" (every event with blast != 0;
//                    recipient 0 = the blast's own events, a short stream beside its
//                    recipients')
//   message_ids  message_id                              -> be64(blast) be32(recipient)
// A batch's entries and its watermark go in one WriteBatch, and the column
// families flush together (atomic_flush), so what the index holds is always
// every entry up to its watermark.
//
// Schema 2 also kept each blast's events in seq order, as 'b' be64(blast)
// be64(seq) keys: a third of the indexer's work (measured: its share of
// blastd's CPU under batched webhooks went 30% -> 21% without them) for two
// readers, a blast's audit and `blastctl log --blast`. Those now read the
// blast's 'r' keys, which hold the same seqs, and sort them.
#include "storage/stream_index.hpp"

#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/memtablerep.h>
#include <rocksdb/metadata.h>
#include <rocksdb/options.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iterator>
#include <limits>

#include "storage/codec.hpp"
#include "storage/event.hpp"
#include "storage/event_log.hpp"
#include "storage/rocks.hpp"
#include "storage/thread_name.hpp"

namespace blast::storage {

namespace {

constexpr const char* cf_streams = "streams";
constexpr const char* cf_message_ids = "message_ids";
constexpr const char* watermark_key = "indexed";

// Big-endian into a fixed buffer: the indexer builds its keys without allocating.
void write_be(unsigned char* out, uint64_t v, size_t bytes) {
  for (size_t i = bytes; i-- > 0; v >>= 8)
    out[i] = static_cast<unsigned char>(v);
}

// How long a reader waits for the indexer: it takes a few milliseconds.
constexpr auto max_wait = std::chrono::seconds(2);

// Every stream key of a blast starts with this: its recipients' streams and its own.
std::string blast_prefix(uint64_t blast) {
  std::string k{"r"};
  put_be(k, blast, 8);
  return k;
}

std::string recipient_prefix(uint64_t blast, uint32_t recipient) {
  auto k = blast_prefix(blast);
  put_be(k, recipient, 4);
  return k;
}

// The smallest key greater than every key starting with `prefix`; empty if
// there is none (prefix all 0xff), which means "no upper bound".
std::string prefix_successor(std::string prefix) {
  while (!prefix.empty()) {
    auto& c = reinterpret_cast<unsigned char&>(prefix.back());
    if (c != 0xff) {
      ++c;
      return prefix;
    }
    prefix.pop_back();
  }
  return prefix;
}

} // namespace

bool index_entry_of(const event& e, index_entry& out) {
  if (e.blast == 0 && e.message_id.empty())
    return false;
  out.seq = e.seq;
  out.blast = e.blast;
  out.recipient = e.recipient;
  out.message_id = e.message_id;
  return true;
}

index_range index_range::blast(uint64_t blast) {
  auto p = blast_prefix(blast);
  return {p, prefix_successor(p), p.size() + 4, /*by_seq=*/true};
}

index_range index_range::recipient(uint64_t blast, uint32_t recipient) {
  auto p = recipient_prefix(blast, recipient);
  return {p, prefix_successor(p), p.size()};
}

index_range index_range::recipients(uint64_t blast, uint32_t first, uint32_t last) {
  auto begin = recipient_prefix(blast, first);
  // The last recipient id has no next one: the range ends with the blast's 'r' keys.
  auto end = last < std::numeric_limits<uint32_t>::max() ? recipient_prefix(blast, last + 1)
                                                         : prefix_successor(blast_prefix(blast));
  auto size = begin.size();
  return {std::move(begin), std::move(end), size};
}

std::optional<std::string> index_range::key_of(uint64_t blast, uint32_t recipient,
                                               uint64_t seq) const {
  if (blast == 0)
    return std::nullopt;
  auto key = recipient_prefix(blast, recipient);
  put_be(key, seq, 8);
  if (key < begin || key >= end)
    return std::nullopt;
  return key;
}

std::unique_ptr<stream_index> stream_index::open(const std::string& dir, bool read_only,
                                                 const rocksdb::DBOptions& db_base,
                                                 const rocksdb::ColumnFamilyOptions& cf_base,
                                                 status& st) {
  std::unique_ptr<stream_index> idx{new stream_index};
  st = idx->open_db(dir, read_only, db_base, cf_base);
  if (!st)
    return nullptr;
  return idx;
}

status stream_index::open_db(const std::string& dir, bool read_only,
                             const rocksdb::DBOptions& db_base,
                             const rocksdb::ColumnFamilyOptions& cf_base) {
  dir_ = dir;
  read_only_ = read_only;
  db_opts_ = std::make_unique<rocksdb::DBOptions>(db_base);
  cf_opts_ = std::make_unique<rocksdb::ColumnFamilyOptions>(cf_base);
  auto& db_opts = *db_opts_;
  db_opts.create_if_missing = !read_only;
  db_opts.create_missing_column_families = !read_only;
  // The watermark and the entries it covers must reach the table files
  // together, whichever column family fills first.
  db_opts.atomic_flush = true;
  // One writer (the indexer), and the message-id memtable below takes its
  // inserts from one writer at a time.
  db_opts.allow_concurrent_memtable_write = false;

  // Message ids are random (a provider's hash), only ever looked up whole, and
  // never iterated: a skip list paid a search from its top for each send's id
  // (measured 15 µs of the journal thread's ~80 µs per send). In a hash-bucket
  // memtable the insert is a bucket's short list, and the sort happens once,
  // when the memtable is flushed (on RocksDB's flush thread, not the
  // indexer's). The "prefix" is the whole id; 256k buckets for the 16 MiB
  // memtable's ~250k ids. Measured: sends +15%, CPU per send -10%.
  rocksdb::ColumnFamilyOptions ids_opts = *cf_opts_;
  ids_opts.write_buffer_size = 16 << 20;
  ids_opts.prefix_extractor.reset(rocksdb::NewNoopTransform());
  ids_opts.memtable_factory.reset(rocksdb::NewHashLinkListRepFactory(256 * 1024));

  // Each batch's stream keys arrive sorted (see write()) but land all over the
  // skip list. Without a hint, RocksDB's insert searches from the top unless
  // the key goes right after the last one; with a hint it climbs only as far
  // as the distance from the last insert needs. One hint for every key: the
  // "prefix" is the first byte, which all stream keys share.
  rocksdb::ColumnFamilyOptions streams_opts = *cf_opts_;
  streams_opts.memtable_insert_with_hint_prefix_extractor.reset(
    rocksdb::NewFixedPrefixTransform(1));

  std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
  cfs.emplace_back(rocksdb::kDefaultColumnFamilyName, *cf_opts_);
  cfs.emplace_back(cf_streams, streams_opts);
  cfs.emplace_back(cf_message_ids, ids_opts);

  rocksdb::DB* raw = nullptr;
  rocksdb::Status s;
  if (read_only) {
    // A log written before the index had a folder of its own, or a copy
    // without it: nothing indexed, every read comes from the log.
    std::error_code ec;
    if (!std::filesystem::exists(dir + "/CURRENT", ec))
      return {};
    s = rocksdb::DB::OpenForReadOnly(db_opts, dir, cfs, &handles_, &raw);
  } else {
    s = rocksdb::DB::Open(db_opts, dir, cfs, &handles_, &raw);
  }
  if (!s.ok())
    return rocks_error(s, "cannot open the stream index in " + dir);
  db_.reset(raw);
  meta_cf_ = handles_[0];
  streams_cf_ = handles_[1];
  message_ids_cf_ = handles_[2];

  std::string v;
  s = db_->Get(rocksdb::ReadOptions{}, meta_cf_, watermark_key, &v);
  if (s.IsNotFound())
    return {};  // a new index
  if (!s.ok())
    return rocks_error(s, "cannot read the stream index's watermark");
  if (v.size() != 8)
    return {errc::corruption, "the stream index's watermark has " + std::to_string(v.size()) +
                                " bytes, expected 8"};
  indexed_ = get_be(v);
  return {};
}

void stream_index::close_db() {
  if (!db_)
    return;
  for (auto* h : handles_)
    db_->DestroyColumnFamilyHandle(h);
  handles_.clear();
  db_->Close();
  db_.reset();
}

stream_index::~stream_index() {
  {
    std::lock_guard lock{mu_};
    stopping_ = true;
  }
  work_cv_.notify_all();
  space_cv_.notify_all();
  indexed_cv_.notify_all();
  if (thread_.joinable())
    thread_.join();
  // Flushed, the next open finds the index complete without a WAL to replay.
  if (db_ && !read_only_) {
    rocksdb::FlushOptions fo;
    fo.wait = true;
    db_->Flush(fo, handles_);
  }
  close_db();
}

uint64_t stream_index::indexed() const {
  std::lock_guard lock{mu_};
  return indexed_;
}

status stream_index::write(const std::vector<index_entry>& entries, uint64_t upto) {
  // The stream keys go into the batch sorted. A batch's streams interleave at
  // random, and an insert into the skip list, given the one hint all stream
  // keys share (see open_db), searches from where the last one went: in key
  // order that search is short. Measured against no hint: the indexer's share
  // of blastd's CPU under batched webhooks went 22% -> 15% (the search in
  // RocksDB's RecomputeSpliceLevels 13% -> 4%). Against a hint per stream
  // (~250 bytes per stream and memtable), 100k sends through sim, 8 noisy
  // pairs: median 38k -> 44k sends/s.
  auto& keys = keys_scratch_;
  keys.clear();
  for (const auto& e : entries) {
    if (e.blast == 0)
      continue;
    stream_key k;
    k[0] = 'r';
    write_be(k.data() + 1, e.blast, 8);
    write_be(k.data() + 9, e.recipient, 4);
    write_be(k.data() + 13, e.seq, 8);
    keys.push_back(k);
  }
  std::sort(keys.begin(), keys.end());
  rocksdb::WriteBatch wb;
  for (const auto& k : keys)
    wb.Put(streams_cf_, rocksdb::Slice{reinterpret_cast<const char*>(k.data()), k.size()},
           rocksdb::Slice{});
  std::string value;
  for (const auto& e : entries) {
    if (!e.message_id.empty()) {
      // A message id seen again is re-bound: the latest event wins.
      value.clear();
      put_be(value, e.blast, 8);
      put_be(value, e.recipient, 4);
      wb.Put(message_ids_cf_, e.message_id, value);
    }
  }
  wb.Put(meta_cf_, watermark_key, seq_key(upto));
  // Written to the WAL, not synced: the log is the durable copy (see the header).
  rocksdb::WriteOptions wo;
  wo.sync = false;
  auto s = db_->Write(wo, &wb);
  if (!s.ok())
    return rocks_error(s, "cannot write the stream index");
  return {};
}

status stream_index::write_now(const std::vector<index_entry>& entries, uint64_t upto) {
  if (read_only_ || !db_)
    return {errc::invalid_argument, "the stream index is open read-only"};
  if (auto st = write(entries, upto); !st)
    return st;
  std::lock_guard lock{mu_};
  indexed_ = upto;
  return {};
}

status stream_index::wipe() {
  if (read_only_ || !db_)
    return {errc::invalid_argument, "the stream index is open read-only"};
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
  cfs.emplace_back(rocksdb::kDefaultColumnFamilyName, *cf_opts_);
  cfs.emplace_back(cf_streams, *cf_opts_);
  cfs.emplace_back(cf_message_ids, *cf_opts_);
  close_db();
  auto s = rocksdb::DestroyDB(dir_, rocksdb::Options(*db_opts_, *cf_opts_), cfs);
  if (!s.ok())
    return rocks_error(s, "cannot remove the stream index in " + dir_);
  indexed_ = 0;
  return open_db(dir_, false, rocksdb::DBOptions(*db_opts_), rocksdb::ColumnFamilyOptions(*cf_opts_));
}

status stream_index::drop_blast_streams() {
  if (read_only_ || !db_)
    return {errc::invalid_argument, "the stream index is open read-only"};
  // One range tombstone, synced before meta says 3; compactions drop the keys under it.
  rocksdb::WriteOptions wo;
  wo.sync = true;
  auto s = db_->DeleteRange(wo, streams_cf_, "b", "c");
  if (!s.ok())
    return rocks_error(s, "cannot delete the stream index's schema 2 blast streams");
  return {};
}

void stream_index::start() {
  if (read_only_ || !db_ || thread_.joinable())
    return;
  thread_ = std::thread([this] {
    name_this_thread("log-index");
    no_perf_counts();
    run();
  });
}

void stream_index::enqueue(std::vector<index_entry>&& entries, uint64_t upto) {
  std::unique_lock lock{mu_};
  space_cv_.wait(lock, [&] { return queue_.size() < max_queued || stopping_; });
  if (queue_.empty())
    queue_ = std::move(entries);
  else
    queue_.insert(queue_.end(), std::make_move_iterator(entries.begin()),
                  std::make_move_iterator(entries.end()));
  queued_upto_ = std::max(queued_upto_, upto);
  lock.unlock();
  work_cv_.notify_one();
}

uint64_t stream_index::wait_for(uint64_t seq) const {
  std::unique_lock lock{mu_};
  if (!thread_.joinable())
    return indexed_;
  // Bounded all the same: a reader that gives up reads the rest from the log,
  // which is slower but never wrong.
  indexed_cv_.wait_for(lock, max_wait, [&] { return indexed_ >= seq || failing_ || stopping_; });
  return indexed_;
}

void stream_index::run() {
  // Everything queued since the last write goes in one batch: under load the
  // indexer writes fewer, bigger batches than the journal commits.
  std::vector<index_entry> work;
  auto backoff = std::chrono::milliseconds(50);
  for (;;) {
    uint64_t upto = 0;
    {
      std::unique_lock lock{mu_};
      work_cv_.wait(lock, [&] { return queued_upto_ > indexed_ || stopping_; });
      if (queued_upto_ <= indexed_)
        return;  // stopping, and everything queued is written
      work.swap(queue_);
      upto = queued_upto_;
    }
    space_cv_.notify_all();
    for (int attempt = 1;; ++attempt) {
      auto st = write(work, upto);
      if (st) {
        if (attempt > 1)
          rocksdb::Log(rocksdb::InfoLogLevel::WARN_LEVEL, db_opts_->info_log,
                       "the stream index takes writes again, after %d attempts", attempt);
        break;
      }
      // A full disk, say. Readers stop waiting and read the log instead while
      // this retries; RocksDB wants Resume() before it takes writes again.
      if (attempt == 1)
        rocksdb::Log(rocksdb::InfoLogLevel::ERROR_LEVEL, db_opts_->info_log,
                     "%s; reads of streams come from the log until a retry succeeds",
                     st.message.c_str());
      std::unique_lock lock{mu_};
      failing_ = true;
      indexed_cv_.notify_all();
      if (work_cv_.wait_for(lock, backoff, [&] { return stopping_; }))
        return;  // the next open re-indexes what is left from the log
      lock.unlock();
      db_->Resume();
      backoff = std::min(backoff * 2, std::chrono::milliseconds(2000));
    }
    backoff = std::chrono::milliseconds(50);
    {
      std::lock_guard lock{mu_};
      indexed_ = upto;
      failing_ = false;
    }
    indexed_cv_.notify_all();
    work.clear();
  }
}

status stream_index::scan(const index_range& range,
                          const std::function<bool(std::string_view, uint64_t)>& fn) const {
  if (!db_)
    return {};
  rocksdb::Slice upper{range.end};
  rocksdb::ReadOptions ro;
  ro.iterate_upper_bound = &upper;
  std::unique_ptr<rocksdb::Iterator> it{db_->NewIterator(ro, streams_cf_)};
  for (it->Seek(range.begin); it->Valid(); it->Next()) {
    auto key = view(it->key());
    if (key.size() != range.key_size + 8)
      return {errc::corruption,
              "malformed stream index key of " + std::to_string(key.size()) + " bytes"};
    if (!fn(key, get_be(key.substr(range.key_size))))
      return {};
  }
  if (!it->status().ok())
    return rocks_error(it->status(), "scan of the stream index failed");
  return {};
}

std::optional<recipient_ref> stream_index::find_message(std::string_view message_id) const {
  if (!db_)
    return std::nullopt;
  rocksdb::PinnableSlice v;
  auto s = db_->Get(rocksdb::ReadOptions{}, message_ids_cf_,
                    rocksdb::Slice{message_id.data(), message_id.size()}, &v);
  if (!s.ok() || v.size() != 12)
    return std::nullopt;
  auto bytes = view(v);
  return recipient_ref{get_be(bytes.substr(0, 8)), static_cast<uint32_t>(get_be(bytes.substr(8)))};
}

status stream_index::resume_compactions() {
  if (!db_ || read_only_)
    return {};
  auto s = db_->EnableAutoCompaction(handles_);
  if (!s.ok())
    return rocks_error(s, "cannot resume the stream index's compactions");
  return {};
}

uint64_t stream_index::level0_files() const {
  return db_ ? storage::level0_files(*db_, handles_) : 0;
}

} // namespace blast::storage
