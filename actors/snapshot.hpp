// State snapshots, so that start-up replays the log's tail instead of the
// whole log. A snapshot is a replayed state's bytes at a sequence number, kept
// in the log's snapshot column family: never part of the hash chain, always
// re-derivable from the log, and ignored (with the reason) when it does not
// match the log it sits beside.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "actors/replay.hpp"
#include "storage/event_log.hpp"

namespace blast::actors {

// Writes `bytes` (a replayed state's save() at `seq`) as the latest snapshot,
// replacing the previous one in the same write.
storage::status save_snapshot(storage::event_log& log, std::string_view bytes, uint64_t seq);

// Loads the latest snapshot into `into`. False when there is none (`why` then
// empty) or when it cannot be used (`why` says why: damaged, from another
// log, a format this build does not read): start-up then replays the whole log.
bool load_snapshot(const storage::event_log& log, replayed& into, std::string& why);

// Keeps the snapshot within `every_events` of the log's end: a background
// thread that, when the log has grown that much, loads the last snapshot,
// folds the log since, and saves the result. It works on its own copy of the
// state (the live one is spread over actors), so a refresh costs a second
// copy of the state while it runs; it runs at most once at a time.
class snapshotter {
public:
  using log_fn = std::function<void(const std::string&)>;
  snapshotter(storage::event_log& log, uint64_t every_events, uint64_t snapshot_seq, log_fn say);
  ~snapshotter();  // finishes a refresh under way, then joins
  snapshotter(const snapshotter&) = delete;
  snapshotter& operator=(const snapshotter&) = delete;

  // Saves a state start-up already holds (serialised by the caller before
  // the actors own it), in the background.
  void save(std::string bytes, uint64_t seq);
  uint64_t snapshot_seq() const;  // of the latest snapshot written or loaded; 0 = none

private:
  void run();
  void refresh();

  storage::event_log& log_;
  uint64_t every_;
  log_fn say_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::string pending_;  // bytes handed over by save()
  uint64_t pending_seq_ = 0;
  uint64_t seq_ = 0;
  std::thread thread_;
};

} // namespace blast::actors
