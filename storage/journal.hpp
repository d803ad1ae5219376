// Group commit in front of the event log: callers from any thread submit
// events; one writer thread drains everything queued into one append (one
// WriteBatch, one WAL sync), then acknowledges each caller. An acknowledgement
// with an ok status means the events are durable.
//
// Thread safety: submit() and stop() are thread-safe. Callbacks run on the
// writer thread, in commit order; they must be quick and must not call submit()
// synchronously and wait for it (that would deadlock the writer).
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "storage/event.hpp"
#include "storage/event_log.hpp"
#include "storage/status.hpp"

namespace blast::storage {

struct journal_options {
  size_t max_batch_events = 4096;    // events per WriteBatch, at most (one submission is never split)
  size_t max_queued_events = 1 << 20;  // past this, submit() fails with errc::busy
};

class journal {
public:
  // `committed` holds the caller's events with seq and prev_hash filled in;
  // on error it holds them unchanged and `st` says why.
  using done_fn = std::function<void(const status& st, std::vector<event>&& committed)>;

  journal(event_log& log, journal_options opts = {});
  ~journal();  // stop()s
  journal(const journal&) = delete;
  journal& operator=(const journal&) = delete;

  // Queues `events` to be committed atomically and contiguously. `done` is
  // always called exactly once: on the writer thread after the sync, or
  // synchronously with errc::busy / errc::shutting_down.
  void submit(std::vector<event> events, done_fn done);

  // Commits everything queued, then stops the writer. Idempotent.
  void stop();

  struct stats {
    uint64_t commits = 0;
    uint64_t events = 0;
    size_t queued_events = 0;
  };
  stats get_stats() const;

private:
  struct pending {
    std::vector<event> events;
    done_fn done;
  };
  void run();

  event_log& log_;
  journal_options opts_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<pending> queue_;
  size_t queued_events_ = 0;
  bool stopping_ = false;
  uint64_t commits_ = 0;
  uint64_t committed_events_ = 0;
  std::mutex join_mu_;  // serialises stop()'s join: two threads may not join one thread
  std::thread writer_;
};

} // namespace blast::storage
