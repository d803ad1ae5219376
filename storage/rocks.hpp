// Small pieces both RocksDB instances of the storage layer use (the log's in
// event_log.cpp, the index's in stream_index.cpp). Internal to storage/: the
// only folder that includes RocksDB.
#pragma once

#include <rocksdb/db.h>
#include <rocksdb/metadata.h>
#include <rocksdb/perf_level.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "storage/status.hpp"

namespace blast::storage {

inline std::string_view view(const rocksdb::Slice& s) { return {s.data(), s.size()}; }

// A RocksDB failure as our status: corruption and invalid arguments keep their
// kind, everything else is an I/O error.
inline status rocks_error(const rocksdb::Status& s, const std::string& what) {
  errc code = errc::io_error;
  if (s.IsCorruption())
    code = errc::corruption;
  else if (s.IsInvalidArgument())
    code = errc::invalid_argument;
  return {code, what + ": " + s.ToString()};
}

// Table files in level 0 across `handles`: one per memtable flush until a
// compaction merges them.
inline uint64_t level0_files(rocksdb::DB& db,
                             const std::vector<rocksdb::ColumnFamilyHandle*>& handles) {
  uint64_t total = 0;
  for (auto* h : handles) {
    rocksdb::ColumnFamilyMetaData meta;
    db.GetColumnFamilyMetaData(h, &meta);
    if (!meta.levels.empty())
      total += meta.levels.front().files.size();
  }
  return total;
}

// RocksDB counts every key comparison (and more) in a thread_local perf
// context unless the thread says otherwise: its default level is
// kEnableCount. From the shared library each count costs calls through
// __tls_get_addr; nothing in blastd reads the counts. Each thread of ours that
// writes or scans a lot turns them off when it starts.
inline void no_perf_counts() { rocksdb::SetPerfLevel(rocksdb::PerfLevel::kDisable); }

} // namespace blast::storage
