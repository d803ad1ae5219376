// Tests of the RocksDB event log: sequence and chain on append and reopen,
// scans, indexes, snapshots, and detection of damaged logs.
#define BOOST_TEST_MODULE storage_event_log
#include <boost/test/unit_test.hpp>

#include "storage/codec.hpp"
#include "storage/event_log.hpp"
#include "tests/support/raw_log.hpp"
#include "tests/support/temp_dir.hpp"

#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/file_system.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <ostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

using namespace blast::storage;

namespace blast::storage {
// Found by ADL, so that failed checks print the code's name.
std::ostream& operator<<(std::ostream& os, errc c) { return os << to_string(c); }
} // namespace blast::storage

namespace {

event make_event(uint64_t blast, uint32_t recipient, std::string payload,
                 std::string message_id = {}) {
  event e;
  e.type = recipient == 0 ? event_type::blast_status : event_type::recipient_status;
  e.source = event_source::transport;
  e.blast = blast;
  e.recipient = recipient;
  e.time_ms = 1700000000000;
  e.message_id = std::move(message_id);
  e.payload = std::move(payload);
  return e;
}

struct log_fixture {
  blast::test::temp_dir dir;
  std::unique_ptr<event_log> log;

  log_fixture() { reopen(); }

  void reopen() {
    log.reset();  // one RocksDB handle per directory at a time
    status st;
    log = event_log::open(dir.path(), log_options{}, st);
    BOOST_TEST_REQUIRE(bool(st), st.message);
    BOOST_TEST_REQUIRE(bool(log));
  }

  status try_reopen() {
    log.reset();
    status st;
    log = event_log::open(dir.path(), log_options{}, st);
    BOOST_TEST((log == nullptr) == !st);
    return st;
  }

  // Appends one event per payload to blast 1, recipient 0, and returns them.
  std::vector<event> append_n(size_t n) {
    std::vector<event> batch;
    for (size_t i = 0; i < n; ++i)
      batch.push_back(make_event(1, 0, "p" + std::to_string(i)));
    auto st = log->append(batch);
    BOOST_TEST_REQUIRE(bool(st), st.message);
    return batch;
  }

  std::vector<event> scan_all(uint64_t from = 0) {
    std::vector<event> out;
    auto st = log->scan(from, [&](const event& e) {
      out.push_back(e);
      return true;
    });
    BOOST_TEST(bool(st), st.message);
    return out;
  }

  std::vector<uint64_t> stream(uint64_t blast, uint32_t recipient) {
    std::vector<uint64_t> seqs;
    auto st = log->scan_stream(blast, recipient, [&](const event& e) {
      BOOST_TEST(e.blast == blast);
      if (recipient != 0)
        BOOST_TEST(e.recipient == recipient);
      seqs.push_back(e.seq);
      return true;
    });
    BOOST_TEST(bool(st), st.message);
    return seqs;
  }

  // Closes the log and edits its files with plain RocksDB, the way a damaged
  // disk or a tamperer would.
  void raw_edit(const std::function<void(rocksdb::DB&, rocksdb::ColumnFamilyHandle& log_cf,
                                         rocksdb::ColumnFamilyHandle& meta_cf)>& fn) {
    log.reset();
    blast::test::raw_edit(dir.path(), fn);
  }

  // An audit (read-only) open of the fixture's folder, beside `log` if open.
  std::unique_ptr<event_log> open_audit() {
    log_options opts;
    opts.audit = true;
    status st;
    auto audit = event_log::open(dir.path(), opts, st);
    BOOST_TEST_REQUIRE(bool(audit), st.message);
    return audit;
  }
};

// The default file system, but WAL syncs fail while `fail_wal_syncs` is set,
// as on a disk that returns EIO.
class wal_sync_faults : public rocksdb::FileSystemWrapper {
public:
  std::atomic<bool> fail_wal_syncs{false};
  std::atomic<int> failed{0};

  wal_sync_faults() : FileSystemWrapper(rocksdb::FileSystem::Default()) {}
  const char* Name() const override { return "wal_sync_faults"; }

  rocksdb::IOStatus NewWritableFile(const std::string& name, const rocksdb::FileOptions& opts,
                                    std::unique_ptr<rocksdb::FSWritableFile>* out,
                                    rocksdb::IODebugContext* dbg) override {
    auto s = target()->NewWritableFile(name, opts, out, dbg);
    if (s.ok() && name.size() > 4 && name.compare(name.size() - 4, 4, ".log") == 0)
      *out = std::make_unique<file>(std::move(*out), *this);
    return s;
  }

private:
  class file : public rocksdb::FSWritableFileOwnerWrapper {
  public:
    file(std::unique_ptr<rocksdb::FSWritableFile>&& f, wal_sync_faults& fs)
      : FSWritableFileOwnerWrapper(std::move(f)), fs_(fs) {}
    rocksdb::IOStatus Sync(const rocksdb::IOOptions& o, rocksdb::IODebugContext* d) override {
      return fs_.fail_wal_syncs ? fail() : FSWritableFileOwnerWrapper::Sync(o, d);
    }
    rocksdb::IOStatus Fsync(const rocksdb::IOOptions& o, rocksdb::IODebugContext* d) override {
      return fs_.fail_wal_syncs ? fail() : FSWritableFileOwnerWrapper::Fsync(o, d);
    }

  private:
    rocksdb::IOStatus fail() {
      ++fs_.failed;
      return rocksdb::IOStatus::IOError("injected: WAL sync failed");
    }
    wal_sync_faults& fs_;
  };
};

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(storage_event_log, log_fixture)

BOOST_AUTO_TEST_CASE(a_first_open_creates_its_folder_without_a_word_of_error) {
  // RocksDB's open said "Error when reading <dir> dir" for a folder it was
  // about to create: an error line in every first start's log.
  std::vector<std::string> said;
  log_options opts;
  opts.log = [&](int level, const std::string& message) {
    said.push_back(std::to_string(level) + " " + message);
  };
  status st;
  auto fresh = event_log::open(dir.path() + "/new/data", opts, st);
  BOOST_TEST_REQUIRE(bool(fresh), st.message);
  std::vector<event> one{make_event(1, 1, "first")};
  BOOST_TEST_REQUIRE(bool(fresh->append(one)));
  fresh.reset();
  std::string all;
  for (auto& line : said)
    all += line + "\n";
  BOOST_TEST(said.empty(), all);
}

BOOST_AUTO_TEST_CASE(empty_log) {
  BOOST_TEST(log->last_seq() == 0u);
  BOOST_TEST(to_hex(log->head()) == to_hex(hash256{}));
  BOOST_TEST(scan_all().empty());
  BOOST_TEST(!log->get(1).has_value());
  auto st = log->verify();
  BOOST_TEST(bool(st), st.message);
  std::vector<event> none;
  BOOST_TEST(bool(log->append(none)));
  BOOST_TEST(log->last_seq() == 0u);
}

BOOST_AUTO_TEST_CASE(append_assigns_contiguous_seqs_and_chains_hashes) {
  auto first = append_n(3);
  auto second = append_n(2);
  std::vector<event> all = first;
  all.insert(all.end(), second.begin(), second.end());
  BOOST_TEST(log->last_seq() == 5u);
  hash256 prev{};
  for (size_t i = 0; i < all.size(); ++i) {
    BOOST_TEST(all[i].seq == i + 1);
    BOOST_TEST(to_hex(all[i].prev_hash) == to_hex(prev), "seq " << i + 1);
    prev = chain_hash(all[i].seq, encode(all[i]));
    auto stored = log->get(all[i].seq);
    BOOST_TEST_REQUIRE(stored.has_value());
    BOOST_TEST(encode(*stored) == encode(all[i]));
  }
  BOOST_TEST(to_hex(log->head()) == to_hex(prev));
  auto st = log->verify();
  BOOST_TEST(bool(st), st.message);
}

BOOST_AUTO_TEST_CASE(reopen_keeps_last_seq_and_head_and_the_chain_continues) {
  append_n(4);
  auto head = log->head();
  reopen();
  BOOST_TEST(log->last_seq() == 4u);
  BOOST_TEST(to_hex(log->head()) == to_hex(head));
  auto next = append_n(2);
  BOOST_TEST(next[0].seq == 5u);
  BOOST_TEST(to_hex(next[0].prev_hash) == to_hex(head));
  reopen();
  BOOST_TEST(log->last_seq() == 6u);
  auto st = log->verify();
  BOOST_TEST(bool(st), st.message);
}

BOOST_AUTO_TEST_CASE(deferred_compactions_wait_for_resume) {
  // Each close flushes a memtable per column family: one level-0 file each.
  // Deferred, nothing merges them, however many there are; resumed, RocksDB
  // compacts past its trigger of 4 files per column family.
  blast::test::temp_dir dir;
  log_options lo;
  lo.defer_compactions = true;
  constexpr int closes = 8;
  status st;
  for (int i = 0; i < closes; ++i) {
    auto log = event_log::open(dir.path(), lo, st);
    BOOST_TEST_REQUIRE(bool(st), st.message);
    std::vector<event> batch{make_event(1, 1, "p" + std::to_string(i), "m" + std::to_string(i))};
    BOOST_TEST_REQUIRE(bool(log->append(batch)));
  }
  auto log = event_log::open(dir.path(), lo, st);
  BOOST_TEST_REQUIRE(bool(st), st.message);
  const uint64_t deferred = log->level0_files();
  BOOST_TEST(deferred >= uint64_t{3 * closes});  // log, streams, message ids at least
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  BOOST_TEST(log->level0_files() == deferred);

  BOOST_TEST_REQUIRE(bool(log->resume_compactions()));
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (log->level0_files() >= deferred / 2 && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  BOOST_TEST(log->level0_files() < deferred / 2);
  BOOST_TEST(log->last_seq() == uint64_t{closes});
}

BOOST_AUTO_TEST_CASE(scan_from_the_middle_and_stop_early) {
  append_n(5);
  std::vector<uint64_t> seqs;
  for (const auto& e : scan_all(3))
    seqs.push_back(e.seq);
  BOOST_TEST(seqs == (std::vector<uint64_t>{3, 4, 5}), boost::test_tools::per_element());
  BOOST_TEST(scan_all(0).size() == 5u);
  BOOST_TEST(scan_all(1).size() == 5u);
  BOOST_TEST(scan_all(6).empty());
  BOOST_TEST(scan_all(~0ull).empty());
  size_t visited = 0;
  BOOST_TEST(bool(log->scan(2, [&](const event& e) {
    BOOST_TEST(e.seq == 2u);
    ++visited;
    return false;
  })));
  BOOST_TEST(visited == 1u);
  auto e3 = scan_all(3).front();
  BOOST_TEST(e3.payload == "p2");
}

BOOST_AUTO_TEST_CASE(scan_ahead_visits_what_scan_visits_in_order_and_stops_when_told) {
  // More events than its batches hold at once, so batches are reused, and
  // payloads of varied length, so a reused event's strings must be reset.
  const size_t n = 20'000;
  std::vector<event> batch;
  for (size_t i = 0; i < n; ++i)
    batch.push_back(make_event(1 + i % 3, static_cast<uint32_t>(i % 7), std::string(i % 50, 'x') +
                               std::to_string(i), i % 5 ? "" : "m" + std::to_string(i)));
  BOOST_TEST_REQUIRE(bool(log->append(batch)));
  for (uint64_t from : {0ull, 1ull, 4097ull, 19'999ull, 20'000ull, 20'001ull}) {
    std::vector<std::string> ahead;
    auto st = log->scan_ahead(from, [&](const event& e) {
      ahead.push_back(encode(e) + std::to_string(e.seq));
      return true;
    });
    BOOST_TEST_REQUIRE(bool(st), st.message);
    auto plain = scan_all(from);
    BOOST_TEST_REQUIRE(ahead.size() == plain.size(), from);
    for (size_t i = 0; i < plain.size(); ++i)
      BOOST_TEST_REQUIRE(ahead[i] == encode(plain[i]) + std::to_string(plain[i].seq));
  }
  // Stopping early, in the first batch and deep in the log: nothing after.
  for (uint64_t last : {3ull, 9'000ull}) {
    uint64_t seen = 0, calls = 0;
    BOOST_TEST(bool(log->scan_ahead(1, [&](const event& e) {
      ++calls;
      seen = e.seq;
      return e.seq < last;
    })));
    BOOST_TEST(seen == last);
    BOOST_TEST(calls == last);
  }
  // An exception from the visitor reaches the caller; the reader is stopped.
  BOOST_CHECK_THROW(log->scan_ahead(1, [](const event& e) -> bool {
    if (e.seq == 5000)
      throw std::runtime_error("visitor failed");
    return true;
  }), std::runtime_error);
}

BOOST_AUTO_TEST_CASE(scan_stream_returns_exactly_the_streams_events_in_order) {
  // Interleave several streams, including neighbouring blast ids and the
  // largest ids (whose index prefix has no successor).
  const uint64_t max_blast = ~0ull;
  const uint32_t max_rcpt = ~0u;
  std::vector<std::pair<uint64_t, uint32_t>> plan = {
      {1, 0}, {1, 1}, {2, 1}, {1, 2}, {255, 0}, {256, 1}, {1, 1}, {0, 0},
      {max_blast, max_rcpt}, {max_blast, 0}, {2, 0}, {1, 0}};
  std::vector<event> batch;
  for (auto [b, r] : plan)
    batch.push_back(make_event(b, r, "x"));
  BOOST_TEST_REQUIRE(bool(log->append(batch)));
  // More than one MultiGet batch in one stream, split over several appends.
  std::vector<uint64_t> big;
  for (int round = 0; round < 3; ++round) {
    std::vector<event> more;
    for (int i = 0; i < 100; ++i)
      more.push_back(make_event(i % 2 ? 7 : 8, 3, "y"));
    BOOST_TEST_REQUIRE(bool(log->append(more)));
    for (const auto& e : more)
      if (e.blast == 7)
        big.push_back(e.seq);
  }
  using seqs = std::vector<uint64_t>;
  auto per_element = boost::test_tools::per_element();
  BOOST_TEST(stream(1, 0) == (seqs{1, 2, 4, 7, 12}), per_element);
  BOOST_TEST(stream(1, 1) == (seqs{2, 7}), per_element);
  BOOST_TEST(stream(1, 2) == (seqs{4}), per_element);
  BOOST_TEST(stream(2, 0) == (seqs{3, 11}), per_element);
  BOOST_TEST(stream(2, 1) == (seqs{3}), per_element);
  BOOST_TEST(stream(255, 0) == (seqs{5}), per_element);
  BOOST_TEST(stream(256, 0) == (seqs{6}), per_element);
  BOOST_TEST(stream(max_blast, 0) == (seqs{9, 10}), per_element);
  BOOST_TEST(stream(max_blast, max_rcpt) == (seqs{9}), per_element);
  BOOST_TEST(stream(1, 3).empty());
  BOOST_TEST(stream(3, 0).empty());
  BOOST_TEST(stream(0, 0).empty());  // events about no blast are not indexed
  BOOST_TEST(stream(7, 3) == big, per_element);
  BOOST_TEST(big.size() == 150u);
  size_t visited = 0;
  BOOST_TEST(bool(log->scan_stream(7, 3, [&](const event&) { return ++visited < 70; })));
  BOOST_TEST(visited == 70u);
}

BOOST_AUTO_TEST_CASE(scan_blast_level_visits_only_the_blasts_own_events) {
  std::vector<event> batch = {make_event(4, 0, "created"), make_event(4, 1, "r1"),
                              make_event(4, 2, "r2"), make_event(5, 0, "other blast"),
                              make_event(4, 0, "status"), make_event(4, 1, "r1 again")};
  BOOST_TEST_REQUIRE(bool(log->append(batch)));
  std::vector<std::string> seen;
  BOOST_TEST(bool(log->scan_blast_level(4, [&](const event& e) {
    seen.push_back(e.payload);
    return true;
  })));
  BOOST_TEST(seen == (std::vector<std::string>{"created", "status"}),
             boost::test_tools::per_element());
  BOOST_TEST(stream(4, 0).size() == 5u);  // the whole blast still has them all
}

BOOST_AUTO_TEST_CASE(logged_ms_is_set_on_append_and_never_decreases) {
  auto before = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::system_clock::now().time_since_epoch())
                  .count();
  auto first = append_n(3);
  for (auto& e : first) {
    BOOST_TEST(e.logged_ms >= before);
    BOOST_TEST(e.logged_ms == first[0].logged_ms);  // one batch, one moment
  }
  // Along the log, and across a reopen, logged times never go back: a cut by
  // time is a prefix of the log.
  std::vector<event> next = {make_event(1, 0, "next")};
  BOOST_TEST_REQUIRE(bool(log->append(next)));
  auto stored = scan_all();
  for (size_t i = 1; i < stored.size(); ++i)
    BOOST_TEST(stored[i].logged_ms >= stored[i - 1].logged_ms);
  BOOST_TEST(stored[0].logged_ms == first[0].logged_ms);
  reopen();
  auto later = append_n(1);
  BOOST_TEST(later[0].logged_ms >= stored.back().logged_ms);
}

BOOST_AUTO_TEST_CASE(find_message) {
  std::vector<event> batch = {make_event(5, 1, "a", "msg-a"), make_event(5, 2, "b", "msg-b"),
                              make_event(6, 0, "c")};
  BOOST_TEST_REQUIRE(bool(log->append(batch)));
  auto a = log->find_message("msg-a");
  BOOST_TEST_REQUIRE(a.has_value());
  BOOST_TEST(a->blast == 5u);
  BOOST_TEST(a->recipient == 1u);
  auto b = log->find_message("msg-b");
  BOOST_TEST_REQUIRE(b.has_value());
  BOOST_TEST(b->recipient == 2u);
  BOOST_TEST(!log->find_message("msg-c").has_value());
  BOOST_TEST(!log->find_message("").has_value());
  // A later binding of the same id wins at once (the look-ups above cached
  // the first one), and it survives a reopen (an empty cache: RocksDB answers).
  std::vector<event> rebind = {make_event(9, 4, "d", "msg-a")};
  BOOST_TEST_REQUIRE(bool(log->append(rebind)));
  a = log->find_message("msg-a");
  BOOST_TEST_REQUIRE(a.has_value());
  BOOST_TEST(a->blast == 9u);
  BOOST_TEST(a->recipient == 4u);
  reopen();
  a = log->find_message("msg-a");
  BOOST_TEST_REQUIRE(a.has_value());
  BOOST_TEST(a->blast == 9u);
  BOOST_TEST(a->recipient == 4u);
}

BOOST_AUTO_TEST_CASE(snapshots_round_trip) {
  BOOST_TEST(!log->get_snapshot("state").has_value());
  std::string blob("\0binary\xff", 8);
  BOOST_TEST(bool(log->put_snapshot("state", blob)));
  BOOST_TEST(bool(log->put_snapshot("other", "")));
  BOOST_TEST(log->get_snapshot("state").value_or("missing") == blob);
  BOOST_TEST(log->get_snapshot("other").value_or("missing") == "");
  BOOST_TEST(bool(log->put_snapshot("state", "v2")));
  reopen();
  BOOST_TEST(log->get_snapshot("state").value_or("missing") == "v2");
  // A generation replaces another in one write.
  BOOST_TEST(bool(log->write_snapshots({{"gen2/a", "A"}, {"gen2/b", "B"}}, {"state", "other"})));
  BOOST_TEST(!log->get_snapshot("state").has_value());
  BOOST_TEST(!log->get_snapshot("other").has_value());
  BOOST_TEST(log->get_snapshot("gen2/b").value_or("missing") == "B");
  // Snapshots are not events.
  BOOST_TEST(log->last_seq() == 0u);
  BOOST_TEST(bool(log->verify()));
}

BOOST_AUTO_TEST_CASE(verify_names_the_altered_event) {
  append_n(5);
  BOOST_TEST_REQUIRE(bool(log->verify()));
  raw_edit([](rocksdb::DB& db, rocksdb::ColumnFamilyHandle& log_cf, rocksdb::ColumnFamilyHandle&) {
    std::string v;
    BOOST_TEST_REQUIRE(db.Get({}, &log_cf, seq_key(3), &v).ok());
    auto e = decode(3, v);
    BOOST_TEST_REQUIRE(e.has_value());
    e->payload = "forged";  // still a well-formed event
    BOOST_TEST_REQUIRE(db.Put({}, &log_cf, seq_key(3), encode(*e)).ok());
  });
  reopen();  // only the tail is checked on open; seq 5 is intact
  auto st = log->verify();
  BOOST_TEST(!st);
  BOOST_TEST(st.code == errc::corruption);
  BOOST_TEST(starts_with(st.message, "seq 3: "), st.message);
}

BOOST_AUTO_TEST_CASE(verify_names_a_gap_and_an_undecodable_event) {
  append_n(5);
  raw_edit([](rocksdb::DB& db, rocksdb::ColumnFamilyHandle& log_cf, rocksdb::ColumnFamilyHandle&) {
    BOOST_TEST_REQUIRE(db.Put({}, &log_cf, seq_key(2), "garbage").ok());
  });
  reopen();
  auto st = log->verify();
  BOOST_TEST(st.code == errc::corruption);
  BOOST_TEST(starts_with(st.message, "seq 2: "), st.message);

  raw_edit([](rocksdb::DB& db, rocksdb::ColumnFamilyHandle& log_cf, rocksdb::ColumnFamilyHandle&) {
    BOOST_TEST_REQUIRE(db.Delete({}, &log_cf, seq_key(1)).ok());
  });
  reopen();
  st = log->verify();
  BOOST_TEST(st.code == errc::corruption);
  BOOST_TEST(starts_with(st.message, "seq 1: "), st.message);
}

BOOST_AUTO_TEST_CASE(open_refuses_a_log_whose_tail_disagrees_with_meta) {
  append_n(5);
  raw_edit([](rocksdb::DB& db, rocksdb::ColumnFamilyHandle& log_cf, rocksdb::ColumnFamilyHandle&) {
    BOOST_TEST_REQUIRE(db.Delete({}, &log_cf, seq_key(5)).ok());
  });
  auto st = try_reopen();
  BOOST_TEST(st.code == errc::corruption);
  BOOST_TEST(st.message.find("last_seq") != std::string::npos, st.message);

  // Meta behind the log: an append's meta was lost, so its head is unknown.
  raw_edit([](rocksdb::DB& db, rocksdb::ColumnFamilyHandle& log_cf,
              rocksdb::ColumnFamilyHandle& meta) {
    auto e = make_event(1, 0, "extra");
    BOOST_TEST_REQUIRE(db.Put({}, &log_cf, seq_key(5), encode(e)).ok());
    BOOST_TEST_REQUIRE(db.Put({}, &log_cf, seq_key(6), encode(e)).ok());
    BOOST_TEST_REQUIRE(db.Put({}, &meta, "last_seq", seq_key(5)).ok());
  });
  st = try_reopen();
  BOOST_TEST(st.code == errc::corruption);
  BOOST_TEST(st.message.find("last_seq is 5") != std::string::npos, st.message);
  raw_edit([](rocksdb::DB& db, rocksdb::ColumnFamilyHandle& log_cf, rocksdb::ColumnFamilyHandle&) {
    BOOST_TEST_REQUIRE(db.Delete({}, &log_cf, seq_key(6)).ok());
  });

  // seq 5 back where meta expects it, but altered: the tail check catches it.
  raw_edit([](rocksdb::DB& db, rocksdb::ColumnFamilyHandle& log_cf, rocksdb::ColumnFamilyHandle&) {
    auto e = make_event(1, 0, "forged");
    BOOST_TEST_REQUIRE(db.Put({}, &log_cf, seq_key(5), encode(e)).ok());
  });
  st = try_reopen();
  BOOST_TEST(st.code == errc::corruption);
  BOOST_TEST(starts_with(st.message, "seq 5: "), st.message);
}

BOOST_AUTO_TEST_CASE(open_refuses_another_schema_version) {
  append_n(1);
  raw_edit([](rocksdb::DB& db, rocksdb::ColumnFamilyHandle&, rocksdb::ColumnFamilyHandle& meta) {
    BOOST_TEST_REQUIRE(db.Put({}, &meta, "schema_version", std::string("\0\0\0\x04", 4)).ok());
  });
  auto st = try_reopen();
  BOOST_TEST(st.code == errc::invalid_argument);
  BOOST_TEST(st.message.find("schema version 4") != std::string::npos, st.message);
}

BOOST_AUTO_TEST_CASE(audit_open_reads_everything_and_writes_nothing) {
  std::vector<event> batch = {make_event(3, 1, "a", "msg-a"), make_event(3, 0, "b")};
  BOOST_TEST_REQUIRE(bool(log->append(batch)));
  BOOST_TEST_REQUIRE(bool(log->put_snapshot("state", "s1")));
  auto head = log->head();
  // A last write left only in the WAL (as after a crash): the audit must
  // replay it in memory, not flush it into a table file.
  raw_edit([](rocksdb::DB& db, rocksdb::ColumnFamilyHandle&, rocksdb::ColumnFamilyHandle& meta) {
    BOOST_TEST_REQUIRE(db.Put({}, &meta, "schema_version", std::string("\0\0\0\x01", 4)).ok());
  });
  auto before = blast::test::listing(dir.path());
  {
    auto audit = open_audit();
    BOOST_TEST(audit->last_seq() == 2u);
    verify_result r;
    auto st = audit->verify(&r);
    BOOST_TEST(bool(st), st.message);
    BOOST_TEST(r.events == 2u);
    BOOST_TEST(r.last_seq == 2u);
    BOOST_TEST(to_hex(r.head) == to_hex(head));
    size_t seen = 0;
    BOOST_TEST(bool(audit->scan_stream(3, 1, [&](const event& e) {
      BOOST_TEST(e.payload == "a");
      return ++seen != 0;
    })));
    BOOST_TEST(seen == 1u);
    BOOST_TEST(audit->get(2).value_or(event{}).payload == "b");
    BOOST_TEST(audit->find_message("msg-a").has_value());
    BOOST_TEST(audit->get_snapshot("state").value_or("missing") == "s1");

    std::vector<event> more = {make_event(3, 2, "c")};
    auto app = audit->append(more);
    BOOST_TEST(app.code == errc::invalid_argument);
    BOOST_TEST(app.message.find("read-only") != std::string::npos, app.message);
    BOOST_TEST(more[0].seq == 0u);
    BOOST_TEST(audit->put_snapshot("state", "s2").code == errc::invalid_argument);
    BOOST_TEST(audit->write_snapshots({}, {"state"}).code == errc::invalid_argument);
    BOOST_TEST(audit->get_snapshot("state").value_or("missing") == "s1");
    BOOST_TEST(audit->last_seq() == 2u);
  }
  // No file created, removed, grown or touched: no LOG, no OPTIONS, no flush.
  BOOST_TEST(blast::test::listing(dir.path()) == before);
  reopen();
  BOOST_TEST(log->last_seq() == 2u);
}

BOOST_AUTO_TEST_CASE(audit_open_creates_no_log) {
  blast::test::temp_dir empty;
  log_options opts;
  opts.audit = true;  // `create` (true by default) is ignored
  status st;
  auto audit = event_log::open(empty.path(), opts, st);
  BOOST_TEST(!audit);
  BOOST_TEST(!st);
  BOOST_TEST(std::filesystem::is_empty(empty.path()));
}

BOOST_AUTO_TEST_CASE(audit_open_opens_a_log_a_normal_open_refuses) {
  append_n(5);
  raw_edit([](rocksdb::DB& db, rocksdb::ColumnFamilyHandle& log_cf, rocksdb::ColumnFamilyHandle&) {
    std::string v;
    BOOST_TEST_REQUIRE(db.Get({}, &log_cf, seq_key(5), &v).ok());
    auto e = decode(5, v);
    BOOST_TEST_REQUIRE(e.has_value());
    e->payload = "forged";
    BOOST_TEST_REQUIRE(db.Put({}, &log_cf, seq_key(5), encode(*e)).ok());
  });
  BOOST_TEST(try_reopen().code == errc::corruption);
  auto audit = open_audit();
  BOOST_TEST(audit->last_seq() == 5u);  // meta's word, unchecked
  BOOST_TEST(audit->get(5).value_or(event{}).payload == "forged");
  auto st = audit->verify();
  BOOST_TEST(st.code == errc::corruption);
  BOOST_TEST(starts_with(st.message, "seq 5: "), st.message);
  BOOST_TEST(st.message.find("meta chain_head") != std::string::npos, st.message);
}

// The indexes' oracle: every stream, every page of recipients and every
// message id of `log` answers what a scan of the whole log says it should.
void check_indexes_match_the_log(const event_log& log) {
  std::map<std::pair<uint64_t, uint32_t>, std::vector<uint64_t>> streams;
  std::map<uint64_t, std::vector<uint64_t>> blasts;
  std::map<std::string, recipient_ref> bound;
  BOOST_TEST_REQUIRE(bool(log.scan(0, [&](const event& e) {
    if (e.blast != 0) {
      streams[{e.blast, e.recipient}].push_back(e.seq);
      blasts[e.blast].push_back(e.seq);
    }
    if (!e.message_id.empty())
      bound[e.message_id] = {e.blast, e.recipient};
    return true;
  })));
  auto seqs_of = [&](auto&& scan) {
    std::vector<uint64_t> seqs;
    auto st = scan([&](const event& e) {
      seqs.push_back(e.seq);
      return true;
    });
    BOOST_TEST(bool(st), st.message);
    return seqs;
  };
  for (auto& [b, expected] : blasts) {
    BOOST_TEST(seqs_of([&](auto fn) { return log.scan_stream(b, 0, fn); }) == expected,
               "blast " << b << boost::test_tools::per_element());
    // All recipients in one range: grouped by recipient in id order.
    std::vector<uint64_t> page;
    for (auto& [key, seqs] : streams)
      if (key.first == b && key.second != 0)
        page.insert(page.end(), seqs.begin(), seqs.end());
    BOOST_TEST(seqs_of([&](auto fn) { return log.scan_recipients(b, 1, ~0u, fn); }) == page,
               "blast " << b << boost::test_tools::per_element());
  }
  for (auto& [key, expected] : streams) {
    auto got = key.second == 0
                 ? seqs_of([&](auto fn) { return log.scan_blast_level(key.first, fn); })
                 : seqs_of([&](auto fn) { return log.scan_stream(key.first, key.second, fn); });
    BOOST_TEST(got == expected, "stream " << key.first << "/" << key.second
                                          << boost::test_tools::per_element());
  }
  for (auto& [id, ref] : bound) {
    auto found = log.find_message(id);
    BOOST_TEST_REQUIRE(found.has_value(), id);
    BOOST_TEST(found->blast == ref.blast, id);
    BOOST_TEST(found->recipient == ref.recipient, id);
  }
}

// A batch over several blasts and recipients, with message ids bound and re-bound.
std::vector<event> mixed_batch(int round) {
  std::vector<event> batch;
  for (int i = 0; i < 40; ++i) {
    uint64_t b = 1 + (i + round) % 3;
    uint32_t r = static_cast<uint32_t>((i * 7 + round) % 9);
    std::string id = i % 4 == 0 ? "msg-" + std::to_string((i + round) % 10) : std::string{};
    batch.push_back(make_event(b, r, "round " + std::to_string(round), id));
  }
  batch.push_back(make_event(0, 0, "about no blast"));
  return batch;
}

BOOST_AUTO_TEST_CASE(an_index_behind_its_log_is_read_through_and_caught_up) {
  namespace fs = std::filesystem;
  const fs::path index = fs::path(dir.path()) / "index";
  const fs::path aside = fs::path(dir.path()).string() + "-index-aside";
  auto batch = mixed_batch(0);
  BOOST_TEST_REQUIRE(bool(log->append(batch)));
  log.reset();
  fs::remove_all(aside);
  fs::copy(index, aside, fs::copy_options::recursive);
  reopen();
  for (int round = 1; round < 3; ++round) {
    batch = mixed_batch(round);
    BOOST_TEST_REQUIRE(bool(log->append(batch)));
  }
  check_indexes_match_the_log(*log);
  // The index as it was after the first append, as a machine that lost
  // power can leave it: an audit reads the missing tail from the log...
  log.reset();
  fs::remove_all(index);
  fs::rename(aside, index);
  check_indexes_match_the_log(*open_audit());
  // ...and an open indexes it, so that the index holds it by itself again.
  reopen();
  check_indexes_match_the_log(*log);
  log.reset();
  check_indexes_match_the_log(*open_audit());
  // No index at all: rebuilt from the whole log.
  fs::remove_all(index);
  check_indexes_match_the_log(*open_audit());
  reopen();
  check_indexes_match_the_log(*log);
  BOOST_TEST(fs::exists(index / "CURRENT"));
}

BOOST_AUTO_TEST_CASE(an_index_ahead_of_its_log_is_rebuilt) {
  namespace fs = std::filesystem;
  const fs::path index = fs::path(dir.path()) / "index";
  const fs::path aside = fs::path(dir.path()).string() + "-index-aside";
  for (int round = 0; round < 3; ++round) {
    auto batch = mixed_batch(round);
    BOOST_TEST_REQUIRE(bool(log->append(batch)));
  }
  // Only a log written without sync can lose a tail its index holds: here,
  // a shorter log of other events under the longer log's index.
  log.reset();
  fs::remove_all(aside);
  fs::rename(index, aside);
  for (auto& f : fs::directory_iterator(dir.path()))
    fs::remove_all(f.path());
  reopen();
  std::vector<event> shorter = {make_event(7, 1, "x", "msg-1"), make_event(7, 0, "y")};
  BOOST_TEST_REQUIRE(bool(log->append(shorter)));
  log.reset();
  fs::remove_all(index);
  fs::rename(aside, index);
  reopen();
  check_indexes_match_the_log(*log);
  BOOST_TEST(stream(1, 0).empty());
  BOOST_TEST(!log->find_message("msg-0").has_value());
}

BOOST_AUTO_TEST_CASE(a_schema_1_log_gets_its_index_built_and_old_column_families_dropped) {
  namespace fs = std::filesystem;
  for (int round = 0; round < 2; ++round) {
    auto batch = mixed_batch(round);
    BOOST_TEST_REQUIRE(bool(log->append(batch)));
  }
  // Schema 1 kept the indexes in the log's instance, with no index/ folder.
  raw_edit([](rocksdb::DB& db, rocksdb::ColumnFamilyHandle&, rocksdb::ColumnFamilyHandle& meta) {
    BOOST_TEST_REQUIRE(db.Put({}, &meta, "schema_version", std::string("\0\0\0\x01", 4)).ok());
    for (const char* name : {"streams", "message_ids"}) {
      rocksdb::ColumnFamilyHandle* h = nullptr;
      BOOST_TEST_REQUIRE(db.CreateColumnFamily({}, name, &h).ok());
      BOOST_TEST_REQUIRE(db.Put({}, h, "old-key", "").ok());
      db.DestroyColumnFamilyHandle(h);
    }
  });
  fs::remove_all(fs::path(dir.path()) / "index");
  check_indexes_match_the_log(*open_audit());  // read-only: from the log alone
  reopen();
  check_indexes_match_the_log(*log);
  log.reset();
  std::vector<std::string> cfs;
  BOOST_TEST_REQUIRE(rocksdb::DB::ListColumnFamilies({}, dir.path(), &cfs).ok());
  BOOST_TEST(std::count(cfs.begin(), cfs.end(), "streams") == 0);
  BOOST_TEST(std::count(cfs.begin(), cfs.end(), "message_ids") == 0);
  raw_edit([](rocksdb::DB& db, rocksdb::ColumnFamilyHandle&, rocksdb::ColumnFamilyHandle& meta) {
    std::string v;
    BOOST_TEST_REQUIRE(db.Get({}, &meta, "schema_version", &v).ok());
    BOOST_TEST(v == std::string("\0\0\0\x03", 4));
  });
  reopen();
  check_indexes_match_the_log(*log);
}

// Opens the closed log's index with plain RocksDB and lets `fn` edit or read
// its streams column family.
void with_index_streams(const std::string& dir,
                        const std::function<void(rocksdb::DB&, rocksdb::ColumnFamilyHandle&)>& fn) {
  const auto index = dir + "/index";
  std::vector<std::string> names;
  BOOST_TEST_REQUIRE(rocksdb::DB::ListColumnFamilies({}, index, &names).ok());
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
  for (const auto& name : names)
    cfs.emplace_back(name, rocksdb::ColumnFamilyOptions{});
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  BOOST_TEST_REQUIRE(rocksdb::DB::Open({}, index, cfs, &handles, &raw).ok());
  std::unique_ptr<rocksdb::DB> db{raw};
  fn(*db, *handles.at(std::find(names.begin(), names.end(), "streams") - names.begin()));
  for (auto* h : handles)
    db->DestroyColumnFamilyHandle(h);
}

// The keys of the index's streams column family that start with `prefix`.
size_t index_keys(const std::string& dir, char prefix) {
  size_t n = 0;
  with_index_streams(dir, [&](rocksdb::DB& db, rocksdb::ColumnFamilyHandle& streams) {
    std::unique_ptr<rocksdb::Iterator> it{db.NewIterator({}, &streams)};
    for (it->Seek(std::string(1, prefix)); it->Valid() && it->key()[0] == prefix; it->Next())
      ++n;
  });
  return n;
}

BOOST_AUTO_TEST_CASE(a_schema_2_index_loses_its_blast_streams) {
  for (int round = 0; round < 2; ++round) {
    auto batch = mixed_batch(round);
    BOOST_TEST_REQUIRE(bool(log->append(batch)));
  }
  log.reset();
  const size_t streams = index_keys(dir.path(), 'r');
  BOOST_TEST(streams == 80u);  // every event with a blast, once
  BOOST_TEST(index_keys(dir.path(), 'b') == 0u);
  // Schema 2 also had a 'b' key per event: put there as it would have been.
  raw_edit([](rocksdb::DB& db, rocksdb::ColumnFamilyHandle&, rocksdb::ColumnFamilyHandle& meta) {
    BOOST_TEST_REQUIRE(db.Put({}, &meta, "schema_version", std::string("\0\0\0\x02", 4)).ok());
  });
  with_index_streams(dir.path(), [](rocksdb::DB& db, rocksdb::ColumnFamilyHandle& streams) {
    for (uint64_t seq = 1; seq <= 82; ++seq) {
      std::string key{"b"};
      put_be(key, 1, 8);
      put_be(key, seq, 8);
      BOOST_TEST_REQUIRE(db.Put({}, &streams, key, "").ok());
    }
  });
  BOOST_TEST(index_keys(dir.path(), 'b') == 82u);
  check_indexes_match_the_log(*open_audit());  // read-only: the 'b' keys are not read
  reopen();
  check_indexes_match_the_log(*log);
  log.reset();
  BOOST_TEST(index_keys(dir.path(), 'b') == 0u);
  BOOST_TEST(index_keys(dir.path(), 'r') == streams);
  raw_edit([](rocksdb::DB& db, rocksdb::ColumnFamilyHandle&, rocksdb::ColumnFamilyHandle& meta) {
    std::string v;
    BOOST_TEST_REQUIRE(db.Get({}, &meta, "schema_version", &v).ok());
    BOOST_TEST(v == std::string("\0\0\0\x03", 4));
  });
}

BOOST_AUTO_TEST_CASE(audit_beside_a_writer_sees_the_log_as_of_its_open) {
  // RocksDB's read-only mode takes no lock, so an audit opens beside a
  // running writer (`log`) and sees what was appended before it opened.
  append_n(5);
  auto audit = open_audit();
  append_n(3);
  verify_result r;
  auto st = audit->verify(&r);
  BOOST_TEST(bool(st), st.message);
  BOOST_TEST(r.last_seq == 5u);
  BOOST_TEST(!audit->get(6).has_value());
  auto later = open_audit();
  st = later->verify(&r);
  BOOST_TEST(bool(st), st.message);
  BOOST_TEST(r.last_seq == 8u);
  BOOST_TEST(to_hex(r.head) == to_hex(log->head()));
}

BOOST_AUTO_TEST_CASE(verify_tells_an_altered_event_from_its_neighbour) {
  append_n(6);
  std::string v3, v4;
  raw_edit([&](rocksdb::DB& db, rocksdb::ColumnFamilyHandle& log_cf, rocksdb::ColumnFamilyHandle&) {
    BOOST_TEST_REQUIRE(db.Get({}, &log_cf, seq_key(3), &v3).ok());
    BOOST_TEST_REQUIRE(db.Get({}, &log_cf, seq_key(4), &v4).ok());
  });
  auto verify_after = [&](const std::function<void(rocksdb::DB&, rocksdb::ColumnFamilyHandle&)>&
                              edit) {
    raw_edit([&](rocksdb::DB& db, rocksdb::ColumnFamilyHandle& log_cf,
                 rocksdb::ColumnFamilyHandle&) {
      BOOST_TEST_REQUIRE(db.Put({}, &log_cf, seq_key(3), v3).ok());  // undo the last case
      BOOST_TEST_REQUIRE(db.Put({}, &log_cf, seq_key(4), v4).ok());
      edit(db, log_cf);
    });
    return open_audit()->verify();
  };
  // seq 4's prev_hash altered: the link into seq 4 breaks, but so does the
  // link out of it, so seq 4 is named, not seq 3.
  auto st = verify_after([&](rocksdb::DB& db, rocksdb::ColumnFamilyHandle& log_cf) {
    auto e = *decode(4, v4);
    e.prev_hash[0] ^= 1;
    BOOST_TEST_REQUIRE(db.Put({}, &log_cf, seq_key(4), encode(e)).ok());
  });
  BOOST_TEST(starts_with(st.message, "seq 4: altered: its prev_hash"), st.message);
  // seq 3's payload altered: the link into seq 4 breaks, the link out of it
  // holds, so seq 3 is named.
  st = verify_after([&](rocksdb::DB& db, rocksdb::ColumnFamilyHandle& log_cf) {
    auto e = *decode(3, v3);
    e.payload = "forged";
    BOOST_TEST_REQUIRE(db.Put({}, &log_cf, seq_key(3), encode(e)).ok());
  });
  BOOST_TEST(starts_with(st.message, "seq 3: altered: its chain hash"), st.message);
  // seq 3 and 4 swapped: the link into seq 3 breaks first; seq 3 is named.
  st = verify_after([&](rocksdb::DB& db, rocksdb::ColumnFamilyHandle& log_cf) {
    BOOST_TEST_REQUIRE(db.Put({}, &log_cf, seq_key(3), v4).ok());
    BOOST_TEST_REQUIRE(db.Put({}, &log_cf, seq_key(4), v3).ok());
  });
  BOOST_TEST(starts_with(st.message, "seq 3: altered: its prev_hash"), st.message);
  // Every edit undone: intact again.
  st = verify_after([](rocksdb::DB&, rocksdb::ColumnFamilyHandle&) {});
  BOOST_TEST(bool(st), st.message);
}

BOOST_AUTO_TEST_CASE(verify_names_an_event_beyond_meta) {
  append_n(3);
  raw_edit([](rocksdb::DB& db, rocksdb::ColumnFamilyHandle& log_cf, rocksdb::ColumnFamilyHandle&) {
    std::string v3;
    BOOST_TEST_REQUIRE(db.Get({}, &log_cf, seq_key(3), &v3).ok());
    auto e = make_event(1, 0, "appended behind blastd's back");
    e.seq = 4;
    e.prev_hash = chain_hash(3, v3);  // chained correctly; meta not updated
    BOOST_TEST_REQUIRE(db.Put({}, &log_cf, seq_key(4), encode(e)).ok());
  });
  BOOST_TEST(try_reopen().code == errc::corruption);
  auto st = open_audit()->verify();
  BOOST_TEST(st.code == errc::corruption);
  BOOST_TEST(starts_with(st.message, "seq 4: beyond meta last_seq 3"), st.message);
}

BOOST_AUTO_TEST_CASE(verify_reports_its_result_and_progress) {
  // More events than one progress interval.
  std::vector<event> batch(70000, make_event(2, 1, "x"));
  BOOST_TEST_REQUIRE(bool(log->append(batch)));
  verify_result r;
  std::vector<std::pair<uint64_t, uint64_t>> calls;
  auto st = log->verify(&r, [&](uint64_t done, uint64_t total) {
    calls.emplace_back(done, total);
  });
  BOOST_TEST(bool(st), st.message);
  BOOST_TEST(r.events == 70000u);
  BOOST_TEST(r.last_seq == 70000u);
  BOOST_TEST(to_hex(r.head) == to_hex(log->head()));
  BOOST_TEST_REQUIRE(calls.size() == 2u);
  BOOST_TEST(calls[0].first == 65536u);
  BOOST_TEST(calls[0].second == 70000u);
  BOOST_TEST(calls[1].first == 70000u);
}

BOOST_AUTO_TEST_CASE(readers_run_concurrently_with_append) {
  std::atomic<bool> done{false};
  std::atomic<size_t> misses{0};
  std::thread reader([&] {
    while (!done) {
      auto n = log->last_seq();
      if (n != 0 && !log->get(n))
        ++misses;  // an event counted by last_seq() must be readable
    }
  });
  for (int i = 0; i < 200; ++i)
    append_n(3);
  done = true;
  reader.join();
  BOOST_TEST(misses == 0u);
  BOOST_TEST(log->last_seq() == 600u);
  BOOST_TEST(bool(log->verify()));
}

BOOST_AUTO_TEST_CASE(a_written_batch_is_seen_only_once_synced) {
  auto first = append_n(2);
  auto head = log->head();
  std::vector<event> batch{make_event(2, 1, "unsynced", "msg-unsynced"),
                           make_event(2, 2, "unsynced too")};
  BOOST_TEST_REQUIRE(bool(log->write(batch)));
  BOOST_TEST(batch[0].seq == 3u);  // written: seqs taken, chained to the last event
  BOOST_TEST(to_hex(batch[0].prev_hash) == to_hex(head));
  // Nothing of it for readers yet.
  BOOST_TEST(log->last_seq() == 2u);
  BOOST_TEST(to_hex(log->head()) == to_hex(head));
  BOOST_TEST(scan_all().size() == 2u);
  BOOST_TEST(stream(2, 1).empty());
  BOOST_TEST(!log->find_message("msg-unsynced"));
  BOOST_TEST(!log->get(3));
  BOOST_TEST(!log->hash_of(3));
  // The next write chains to it, synced or not.
  std::vector<event> next{make_event(2, 1, "after")};
  BOOST_TEST_REQUIRE(bool(log->write(next)));
  BOOST_TEST(next[0].seq == 5u);

  // A sync publishes up to the seq it is given, in order...
  BOOST_TEST_REQUIRE(bool(log->sync(4)));
  BOOST_TEST(log->last_seq() == 4u);
  BOOST_TEST(scan_all().size() == 4u);
  BOOST_TEST(stream(2, 1) == std::vector<uint64_t>{3});
  auto found = log->find_message("msg-unsynced");
  BOOST_TEST_REQUIRE(bool(found));
  BOOST_TEST(found->recipient == 1u);
  BOOST_TEST_REQUIRE(bool(log->get(3)));
  BOOST_TEST(log->get(3)->payload == "unsynced");
  BOOST_TEST(bool(log->hash_of(3)));
  BOOST_TEST(!log->get(5));
  BOOST_TEST(!log->hash_of(5));
  // ...and the rest with the next one.
  BOOST_TEST_REQUIRE(bool(log->sync(5)));
  BOOST_TEST(log->last_seq() == 5u);
  BOOST_TEST((stream(2, 1) == std::vector<uint64_t>{3, 5}));
  BOOST_TEST(bool(log->verify()));
  reopen();
  BOOST_TEST(log->last_seq() == 5u);
  BOOST_TEST(bool(log->verify()));
}

BOOST_AUTO_TEST_CASE(a_failed_sync_publishes_nothing_and_a_restart_finds_the_log_whole) {
  auto faults = std::make_shared<wal_sync_faults>();
  log.reset();
  log_options opts;
  opts.env = rocksdb::NewCompositeEnv(faults);
  status st;
  log = event_log::open(dir.path(), opts, st);
  BOOST_TEST_REQUIRE(bool(log), st.message);
  append_n(3);

  faults->fail_wal_syncs = true;
  std::vector<event> batch{make_event(1, 7, "unknown outcome"), make_event(1, 8, "unknown too")};
  BOOST_TEST_REQUIRE(bool(log->write(batch)));
  st = log->sync(batch.back().seq);
  BOOST_TEST(st.code == errc::io_error);
  BOOST_TEST(st.message.find("injected") != std::string::npos, st.message);
  BOOST_TEST(faults->failed > 0);
  // Unpublished, and the log takes nothing more.
  BOOST_TEST(log->last_seq() == 3u);
  BOOST_TEST(scan_all().size() == 3u);
  std::vector<event> refused{make_event(1, 9, "refused")};
  BOOST_TEST(log->append(refused).code == errc::io_error);
  BOOST_TEST(refused[0].seq == 0u);
  // RocksDB 7.8 does not resume after a failed WAL sync, even once the disk
  // is back: the log says so and stays failed...
  faults->fail_wal_syncs = false;
  st = log->recover();
  BOOST_TEST(st.code == errc::io_error);
  BOOST_TEST(log->last_seq() == 3u);

  // ...until a restart, whose WAL replay finds the batch whole, with its meta
  // (it reached the file; only its sync failed), and the chain goes on.
  reopen();
  BOOST_TEST(log->last_seq() == 5u);
  auto all = scan_all();
  BOOST_TEST_REQUIRE(all.size() == 5u);
  BOOST_TEST(all[3].payload == "unknown outcome");
  BOOST_TEST(bool(log->verify()));
  std::vector<event> after{make_event(1, 9, "after")};
  BOOST_TEST_REQUIRE(bool(log->append(after)));
  BOOST_TEST(after[0].seq == 6u);
  BOOST_TEST(bool(log->verify()));
}

BOOST_AUTO_TEST_SUITE_END()
