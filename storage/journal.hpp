// Group commit in front of the event log: callers from any thread submit
// events; one writer thread drains everything queued into one write (one
// WriteBatch), and one syncer thread makes everything written meanwhile
// durable with one WAL sync, then acknowledges each caller. An
// acknowledgement with an ok status means the events are durable.
//
// Before each sync, the syncer has the writer write whatever queued up behind
// the batch it takes, so that this sync covers it too: a submission that came
// in during a sync waits for one write more, not for one whole sync more.
//
// Two threads, so that a sync overlaps the next batch's work (encoding,
// hashing, the WAL write, the memtable inserts): with one thread doing both,
// the log stood idle during each sync, which here takes about as long as the
// CPU work of the few hundred events it covers (see README, Performance).
//
// When a write or a sync fails (disk full, an I/O error) the journal is
// *degraded*: the failed batch's submitters get the error, and so does every
// submission while it lasts, at once and without touching the disk. The
// writer asks the log to recover, backing off from 50 ms to 1 s between
// attempts, and takes submissions again as soon as it has. (Nothing of a
// failed write reaches the log; the events of a failed sync may: see
// event_log::write.)
//
// Thread safety: submit() and stop() are thread-safe. Callbacks run on the
// syncer thread, in the order the submissions were taken, each round's
// followed by journal_options::after_round; they must be quick
// and must not call submit() synchronously and wait for it (that would
// deadlock the syncer).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "storage/event.hpp"
#include "storage/event_log.hpp"
#include "storage/histogram.hpp"
#include "storage/status.hpp"

namespace blast::storage {

struct journal_options {
  size_t max_batch_events = 4096;    // events per WriteBatch, at most (one submission is never split)
  size_t max_queued_events = 1 << 20;  // past this, submit() fails with errc::busy
  // Run on the syncer thread after the callbacks of each round (one WAL sync
  // and every submission it acknowledged), so that callers can pass on what
  // those callbacks gathered as one message instead of one each. Must be quick
  // and must not throw, like the callbacks.
  std::function<void()> after_round;
};

class journal {
public:
  // `committed` holds the caller's events with seq and prev_hash filled in;
  // on error `st` says why, and the events are unchanged (after a failed
  // sync they keep the seqs they were written with: see event_log::write).
  using done_fn = std::function<void(const status& st, std::vector<event>&& committed)>;

  journal(event_log& log, journal_options opts = {});
  ~journal();  // stop()s
  journal(const journal&) = delete;
  journal& operator=(const journal&) = delete;

  // Queues `events` to be committed atomically and contiguously. `done` is
  // always called exactly once: on the syncer thread after the sync, or
  // synchronously with errc::busy (max_queued_events submitted and not yet
  // answered) / errc::shutting_down.
  void submit(std::vector<event> events, done_fn done);
  // One event, moved in: a braced {std::move(e)} would copy it (an initializer
  // list's elements are const), a whole webhook's text per request.
  void submit(event e, done_fn done) {
    std::vector<event> events;
    events.push_back(std::move(e));
    submit(std::move(events), std::move(done));
  }

  // Commits everything queued, then stops the writer. Idempotent.
  void stop();

  struct stats {
    uint64_t commits = 0;            // WAL syncs that succeeded
    uint64_t writes = 0;             // batches written, synced or not (a commit syncs one or more)
    uint64_t events = 0;
    size_t queued_events = 0;        // submitted and not yet answered
    uint64_t failed_commits = 0;     // writes and syncs that failed (each fails its batches)
    uint64_t refused_degraded = 0;   // submissions failed at once while degraded
    uint64_t recoveries = 0;         // times the log came back after a failure
    bool degraded = false;
    std::string error;               // while degraded: the failure, as the submitters got it
  };
  stats get_stats() const;

  // Events per commit (one WAL sync, which may cover several written
  // batches), and the time each sync took (publishing included), in seconds;
  // failed syncs included in the latter.
  const histogram& batch_events() const { return batch_events_; }
  const histogram& sync_seconds() const { return sync_seconds_; }

private:
  struct pending {
    std::vector<event> events;
    done_fn done;
  };
  // What the writer hands the syncer: a batch written (to be synced), or
  // submissions that failed without reaching the log (answered in turn).
  struct written {
    std::vector<pending> taken;
    status st;  // not ok: failed before the sync
    uint64_t last_seq = 0;
    size_t events = 0;
  };
  void run();
  void run_syncer();
  // While degraded: tries to recover when the back-off allows; true once recovered.
  bool try_recover(std::unique_lock<std::mutex>& lock);
  // Under mu_: a write or sync failed with an I/O error, which every later
  // one would meet too; the first error is kept and the back-off starts.
  void degrade(const std::string& error);

  event_log& log_;
  journal_options opts_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<pending> queue_;
  size_t queued_events_ = 0;
  bool stopping_ = false;
  uint64_t commits_ = 0;
  uint64_t writes_ = 0;
  uint64_t committed_events_ = 0;
  uint64_t failed_commits_ = 0;
  uint64_t refused_degraded_ = 0;
  uint64_t recoveries_ = 0;
  bool degraded_ = false;
  std::string error_;
  std::chrono::steady_clock::time_point next_attempt_;
  std::chrono::milliseconds backoff_{0};
  histogram batch_events_{histogram::powers_of_two(65536)};
  histogram sync_seconds_{latency_buckets()};
  // From the writer to the syncer (under mu_), and whether the syncer is
  // between taking some and answering them.
  std::deque<written> to_sync_;
  bool syncing_ = false;
  bool writer_done_ = false;
  std::condition_variable sync_cv_;  // to the syncer: work, or the writer is done
  std::mutex join_mu_;  // serialises stop()'s join: two threads may not join one thread
  std::thread syncer_;
  std::thread writer_;
};

} // namespace blast::storage
