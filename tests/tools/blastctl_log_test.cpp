// blastctl's offline commands, run as a process on a real data folder:
// verify passes an intact log and names the first bad sequence number of a
// tampered one; events prints a log, a blast's or a recipient's events.
#define BOOST_TEST_MODULE tools_blastctl_log
#include <cstdio>
#include <filesystem>
#include <sys/wait.h>

#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>
#include <rocksdb/db.h>

#include "storage/event_log.hpp"
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

struct fixture {
  test::temp_dir dir;
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
  }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(blastctl_log, fixture)

BOOST_AUTO_TEST_CASE(verify_an_intact_log) {
  auto r = blastctl("verify --data " + dir.path());
  BOOST_TEST(r.code == 0, r.out);
  BOOST_TEST(r.out.rfind("ok: 5 events", 0) == 0u, r.out);
}

BOOST_AUTO_TEST_CASE(verify_names_the_first_tampered_event) {
  {
    std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
    for (const char* name : {"default", "streams", "message_ids", "snapshots", "meta"})
      cfs.emplace_back(name, rocksdb::ColumnFamilyOptions{});
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* raw = nullptr;
    BOOST_TEST_REQUIRE(rocksdb::DB::Open(rocksdb::DBOptions{}, dir.path(), cfs, &handles, &raw).ok());
    std::string value;
    BOOST_TEST_REQUIRE(raw->Get({}, handles[0], storage::seq_key(3), &value).ok());
    auto e = *storage::decode(3, value);
    e.payload = "{\"stage\":\"closed\",\"n\":2}";  // rewrite history
    BOOST_TEST_REQUIRE(raw->Put({}, handles[0], storage::seq_key(3), storage::encode(e)).ok());
    for (auto* h : handles)
      raw->DestroyColumnFamilyHandle(h);
    BOOST_TEST_REQUIRE(raw->Close().ok());
    delete raw;
  }
  auto r = blastctl("verify --data " + dir.path());
  BOOST_TEST(r.code == 1, r.out);
  BOOST_TEST(r.out.find("seq 3") != std::string::npos, r.out);
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
