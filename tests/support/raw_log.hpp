// Going around the event log in tests: edit a closed log's folder with plain
// RocksDB, the way a damaged disk or a tamperer would, and list a folder's
// files to show that something (an audit) left it untouched.
#pragma once

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>
#include <rocksdb/db.h>

namespace blast::test {

// Opens the closed log in `dir` with plain RocksDB (its five column families,
// in event_log's order), lets `fn` edit it and closes it again.
inline void raw_edit(const std::string& dir,
                     const std::function<void(rocksdb::DB&, rocksdb::ColumnFamilyHandle& log_cf,
                                              rocksdb::ColumnFamilyHandle& meta_cf)>& fn) {
  // Every column family there is, as a writable open wants: "default" (the
  // log) first, then "snapshots" and "meta" (schema 1 logs have two more).
  std::vector<std::string> names;
  auto s = rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions{}, dir, &names);
  BOOST_TEST_REQUIRE(s.ok(), s.ToString());
  auto meta = std::find(names.begin(), names.end(), "meta");
  BOOST_TEST_REQUIRE((names.front() == "default" && meta != names.end()));
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
  for (const auto& name : names)
    cfs.emplace_back(name, rocksdb::ColumnFamilyOptions{});
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  s = rocksdb::DB::Open(rocksdb::DBOptions{}, dir, cfs, &handles, &raw);
  BOOST_TEST_REQUIRE(s.ok(), s.ToString());
  fn(*raw, *handles[0], *handles[meta - names.begin()]);
  for (auto* h : handles)
    raw->DestroyColumnFamilyHandle(h);
  BOOST_TEST_REQUIRE(raw->Close().ok());
  delete raw;
}

// One line per file below `dir`: its path, size and modification time (ns),
// sorted; equal listings mean nothing was created, removed or written.
inline std::string listing(const std::string& dir) {
  std::vector<std::string> lines;
  for (const auto& f : std::filesystem::recursive_directory_iterator(dir)) {
    struct stat st {};
    BOOST_TEST_REQUIRE(::stat(f.path().c_str(), &st) == 0);
    lines.push_back(f.path().lexically_relative(dir).string() + " " + std::to_string(st.st_size) +
                    " " + std::to_string(st.st_mtim.tv_sec) + "." +
                    std::to_string(st.st_mtim.tv_nsec));
  }
  std::sort(lines.begin(), lines.end());
  std::string out;
  for (const auto& l : lines)
    out += l + "\n";
  return out;
}

} // namespace blast::test
