// blastctl's offline commands, run as a process on a real data folder:
// verify passes an intact log, leaving it untouched, and names the first bad
// sequence number of a tampered copy (an altered, deleted, swapped or added
// event, the tail included); events prints a log, a blast's or a recipient's.
#define BOOST_TEST_MODULE tools_blastctl_log
#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>
#include <sys/wait.h>

#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>
#include <rocksdb/db.h>

#include "storage/event_log.hpp"
#include "tests/support/raw_log.hpp"
#include "tests/support/temp_dir.hpp"

using namespace blast;
namespace json = boost::json;

namespace {

struct run_result {
  int code = -1;
  std::string out;
};

run_result blastctl(const std::string& args) {
  run_result r;
  FILE* p = ::popen((std::string(BLASTCTL) + " " + args + " 2>&1").c_str(), "r");
  BOOST_TEST_REQUIRE(p != nullptr);
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0)
    r.out.append(buf, n);
  int status = ::pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

using raw_edit_fn = std::function<void(rocksdb::DB&, rocksdb::ColumnFamilyHandle& log_cf)>;

std::string stored(rocksdb::DB& db, rocksdb::ColumnFamilyHandle& log_cf, uint64_t seq) {
  std::string v;
  BOOST_TEST_REQUIRE(db.Get({}, &log_cf, storage::seq_key(seq), &v).ok());
  return v;
}

void put(rocksdb::DB& db, rocksdb::ColumnFamilyHandle& log_cf, uint64_t seq,
         const std::string& value) {
  BOOST_TEST_REQUIRE(db.Put({}, &log_cf, storage::seq_key(seq), value).ok());
}

// One bit of the stored bytes, inside the payload: the event still decodes.
raw_edit_fn flip_payload_byte(uint64_t seq) {
  return [seq](rocksdb::DB& db, rocksdb::ColumnFamilyHandle& log_cf) {
    auto v = stored(db, log_cf, seq);
    auto pos = v.find("\"n\":");
    BOOST_TEST_REQUIRE(pos != std::string::npos);
    v[pos + 4] ^= 1;  // the digit: "n":2 becomes "n":3
    BOOST_TEST_REQUIRE(storage::decode(seq, v).has_value());
    put(db, log_cf, seq, v);
  };
}

struct fixture {
  test::temp_dir dir;
  storage::hash256 head{};

  fixture() {
    storage::status st;
    auto log = storage::event_log::open(dir.path(), {}, st);
    BOOST_TEST_REQUIRE(log.get() != nullptr, st.message);
    std::vector<storage::event> batch;
    for (uint32_t i = 0; i < 5; ++i) {
      storage::event e;
      e.type = storage::event_type::recipient_status;
      e.source = storage::event_source::manual;
      e.blast = 1;
      e.recipient = 1 + i % 2;
      e.time_ms = 1000 + i;
      e.payload = "{\"stage\":\"read\",\"n\":" + std::to_string(i) + "}";
      batch.push_back(e);
    }
    BOOST_TEST_REQUIRE(bool(log->append(batch)));
    head = log->head();
  }

  // A copy of the fixture's (closed) folder, as an auditor would take one,
  // edited with plain RocksDB; the fixture's log stays intact for the next.
  std::unique_ptr<test::temp_dir> tampered(const raw_edit_fn& edit) const {
    auto copy = std::make_unique<test::temp_dir>();
    std::filesystem::copy(dir.path(), copy->path(), std::filesystem::copy_options::recursive);
    test::raw_edit(copy->path(), [&](rocksdb::DB& db, rocksdb::ColumnFamilyHandle& log_cf,
                                     rocksdb::ColumnFamilyHandle&) { edit(db, log_cf); });
    return copy;
  }

  // Runs verify on a tampered copy: it must fail naming exactly `seq`.
  run_result expect_named(const raw_edit_fn& edit, uint64_t seq) const {
    auto copy = tampered(edit);
    auto r = blastctl("verify --data " + copy->path());
    BOOST_TEST(r.code == 1, r.out);
    auto prefix = "FAIL: seq " + std::to_string(seq) + ": ";
    BOOST_TEST(r.out.rfind(prefix, 0) == 0u, "expected \"" << prefix << "...\", got " << r.out);
    return r;
  }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(blastctl_log, fixture)

BOOST_AUTO_TEST_CASE(verify_an_intact_log_and_leave_it_untouched) {
  auto before = test::listing(dir.path());
  auto r = blastctl("verify --data " + dir.path());
  BOOST_TEST(r.code == 0, r.out);
  BOOST_TEST(r.out.rfind("ok: 5 events", 0) == 0u, r.out);
  BOOST_TEST(r.out.find("\nlast seq: 5\n") != std::string::npos, r.out);
  BOOST_TEST(r.out.find("\nchain head: " + storage::to_hex(head) + "\n") != std::string::npos,
             r.out);
  BOOST_TEST(r.out.find("verified 5 events in ") != std::string::npos, r.out);
  BOOST_TEST(r.out.find(" events/s)\n") != std::string::npos, r.out);
  BOOST_TEST(test::listing(dir.path()) == before);  // read-only: no LOG, no flush, nothing
}

// (a) One flipped byte inside an event's payload. The tail (seq 5) is (d).
BOOST_AUTO_TEST_CASE(verify_names_an_event_with_a_flipped_byte) {
  for (uint64_t seq = 1; seq <= 4; ++seq) {
    BOOST_TEST_CONTEXT("flipped byte in seq " << seq) {
      auto r = expect_named(flip_payload_byte(seq), seq);
      BOOST_TEST(r.out.find("altered") != std::string::npos, r.out);
    }
  }
}

// (b) A deleted event, first, middle or last.
BOOST_AUTO_TEST_CASE(verify_names_a_deleted_event) {
  for (uint64_t seq = 1; seq <= 5; ++seq) {
    BOOST_TEST_CONTEXT("seq " << seq << " deleted") {
      auto r = expect_named(
        [seq](rocksdb::DB& db, rocksdb::ColumnFamilyHandle& log_cf) {
          BOOST_TEST_REQUIRE(db.Delete({}, &log_cf, storage::seq_key(seq)).ok());
        },
        seq);
      BOOST_TEST(r.out.find("missing") != std::string::npos, r.out);
    }
  }
}

// (c) The stored values of seq N and N + 1 exchanged: N is named, not N - 1.
BOOST_AUTO_TEST_CASE(verify_names_the_first_of_a_swapped_pair) {
  for (uint64_t seq = 1; seq <= 4; ++seq) {
    BOOST_TEST_CONTEXT("seq " << seq << " and " << seq + 1 << " swapped") {
      expect_named(
        [seq](rocksdb::DB& db, rocksdb::ColumnFamilyHandle& log_cf) {
          auto a = stored(db, log_cf, seq);
          auto b = stored(db, log_cf, seq + 1);
          put(db, log_cf, seq, b);
          put(db, log_cf, seq + 1, a);
        },
        seq);
    }
  }
}

// (d) The last event altered: the tail disagrees with meta, so a normal open
// refuses the log; the audit open walks it and names the tail.
BOOST_AUTO_TEST_CASE(verify_names_an_altered_last_event) {
  auto copy = tampered(flip_payload_byte(5));
  auto r = blastctl("verify --data " + copy->path());
  BOOST_TEST(r.code == 1, r.out);
  BOOST_TEST(r.out.rfind("FAIL: seq 5: ", 0) == 0u, r.out);
  BOOST_TEST(r.out.find("meta chain_head") != std::string::npos, r.out);
  auto events = blastctl("events --data " + copy->path());
  BOOST_TEST(events.code == 0, events.out);
  BOOST_TEST(std::count(events.out.begin(), events.out.end(), '\n') == 5);
  storage::status st;
  BOOST_TEST(!storage::event_log::open(copy->path(), {}, st));
  BOOST_TEST((st.code == storage::errc::corruption), st.message);
}

// (e) An event added after the last one, chained correctly (the tamperer
// computed its prev_hash) but without meta: named as beyond meta's last_seq.
BOOST_AUTO_TEST_CASE(verify_names_an_event_added_beyond_meta) {
  auto r = expect_named(
    [](rocksdb::DB& db, rocksdb::ColumnFamilyHandle& log_cf) {
      auto last = stored(db, log_cf, 5);
      auto e = *storage::decode(5, last);
      e.seq = 6;
      e.payload = "{\"stage\":\"clicked\",\"n\":5}";
      e.prev_hash = storage::chain_hash(5, last);
      put(db, log_cf, 6, storage::encode(e));
    },
    6);
  BOOST_TEST(r.out.find("beyond meta last_seq 5") != std::string::npos, r.out);
}

BOOST_AUTO_TEST_CASE(events_of_a_log_a_blast_and_a_recipient) {
  auto all = blastctl("events --data " + dir.path());
  BOOST_TEST(all.code == 0, all.out);
  BOOST_TEST(std::count(all.out.begin(), all.out.end(), '\n') == 5);
  auto one = blastctl("events --data " + dir.path() + " --blast 1 --recipient 2 --json");
  BOOST_TEST(one.code == 0, one.out);
  std::vector<int64_t> seqs;
  size_t pos = 0;
  while (pos < one.out.size()) {
    auto end = one.out.find('\n', pos);
    auto v = json::parse(one.out.substr(pos, end - pos));
    BOOST_TEST(v.at("recipient").as_int64() == 2);
    BOOST_TEST(v.at("payload").at("stage").as_string() == "read");
    seqs.push_back(v.at("seq").as_int64());
    pos = end + 1;
  }
  BOOST_TEST((seqs == std::vector<int64_t>{2, 4}));
  BOOST_TEST(blastctl("events --data " + dir.path() + " --recipient 2").code == 2);
  BOOST_TEST(blastctl("verify").code == 2);
  BOOST_TEST(blastctl("verify --data /nonexistent/blastd").code == 1);
  test::temp_dir empty;
  auto none = blastctl("verify --data " + empty.path());
  BOOST_TEST(none.code == 1, none.out);  // no log there, and none is created
  BOOST_TEST(!std::filesystem::exists(empty.path() + "/CURRENT"));
}

BOOST_AUTO_TEST_SUITE_END()
