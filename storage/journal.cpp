// Group commit: a writer thread turns whatever callers queued meanwhile into
// one event_log::write, and a syncer thread makes every batch written while it
// synced last durable with one event_log::sync, so one WAL sync acknowledges
// many submissions while the next batch is being written.
#include "storage/journal.hpp"

#include "storage/rocks.hpp"
#include "storage/thread_name.hpp"

#include <algorithm>
#include <exception>
#include <string>
#include <utility>

namespace blast::storage {

namespace {

// Callbacks must not throw (see journal.hpp); if one does, the writer must
// still acknowledge the others, so the exception is dropped here.
template <class Fn, class... Args>
void call(const Fn& fn, Args&&... args) {
  if (!fn)
    return;
  try {
    fn(std::forward<Args>(args)...);
  } catch (...) {
  }
}

// Between attempts to recover from a failed append: soon at first (a full
// disk may be freed at once), at most a second later (each attempt flushes).
constexpr std::chrono::milliseconds first_backoff{50};
constexpr std::chrono::milliseconds max_backoff{1000};

} // namespace

journal::journal(event_log& log, journal_options opts) : log_(log), opts_(opts) {
  // Started last: they read every other member.
  syncer_ = std::thread([this] {
    name_this_thread("journal-sync");
    run_syncer();
  });
  writer_ = std::thread([this] {
    name_this_thread("journal-write");
    run();
  });
}

journal::~journal() { stop(); }

void journal::submit(std::vector<event> events, done_fn done) {
  status refused;
  bool wake = false;
  {
    std::lock_guard lock{mu_};
    if (stopping_) {
      refused = {errc::shutting_down, "journal is stopping"};
    } else if (queued_events_ != 0 && queued_events_ + events.size() > opts_.max_queued_events) {
      // With nothing in flight any submission is taken, so one larger than the
      // limit is not refused forever.
      refused = {errc::busy, "journal full: " + std::to_string(queued_events_) +
                               " events submitted and not yet committed, limit " +
                               std::to_string(opts_.max_queued_events)};
    } else {
      // The writer waits for a first submission only while no batch waits for
      // the syncer; otherwise the syncer wakes it when it takes that batch.
      // Waking it for every submission cost a context switch each, for a
      // writer that could only wait again (a third of the single-status row's
      // switches).
      wake = queue_.empty() && to_sync_.empty();
      queued_events_ += events.size();
      queue_.push_back({std::move(events), std::move(done)});
    }
  }
  if (!refused) {
    // Outside the lock: the callback may call submit() or get_stats().
    call(done, refused, std::move(events));
    return;
  }
  if (wake)
    cv_.notify_one();
}

void journal::stop() {
  {
    std::lock_guard lock{mu_};
    stopping_ = true;
  }
  cv_.notify_all();
  // From a callback (on the syncer) the syncer cannot be joined: both drain
  // and exit after the callback returns; the owner's stop() joins.
  auto me = std::this_thread::get_id();
  if (me == syncer_.get_id() || me == writer_.get_id())
    return;
  std::lock_guard lock{join_mu_};
  if (writer_.joinable())
    writer_.join();
  if (syncer_.joinable())
    syncer_.join();
}

journal::stats journal::get_stats() const {
  std::lock_guard lock{mu_};
  return {commits_,          writes_,     committed_events_, queued_events_, failed_commits_,
          refused_degraded_, recoveries_, degraded_,         error_};
}

bool journal::try_recover(std::unique_lock<std::mutex>& lock) {
  auto now = std::chrono::steady_clock::now();
  if (now < next_attempt_)
    return false;
  // Without mu_: submitters keep being answered (refused) while the log tries.
  lock.unlock();
  auto st = log_.recover();
  lock.lock();
  if (st) {
    degraded_ = false;
    error_.clear();
    ++recoveries_;
    return true;
  }
  error_ = st.message;
  backoff_ = std::min(max_backoff, backoff_ * 2);
  next_attempt_ = std::chrono::steady_clock::now() + backoff_;
  return false;
}

void journal::degrade(const std::string& error) {
  if (degraded_)
    return;
  degraded_ = true;
  error_ = error;
  backoff_ = first_backoff;
  next_attempt_ = std::chrono::steady_clock::now() + backoff_;
}

void journal::run() {
  no_perf_counts();
  std::vector<pending> taken;
  std::vector<event> batch;
  auto hand_over = [this](written&& w) {
    {
      std::lock_guard lock{mu_};
      if (w.st && w.last_seq != 0)
        ++writes_;
      to_sync_.push_back(std::move(w));
    }
    sync_cv_.notify_one();
  };
  for (;;) {
    size_t n = 0;
    status refused;  // not ok: what was taken fails without reaching the log
    {
      std::unique_lock lock{mu_};
      for (;;) {
        // The log recovers only while no sync runs (event_log::recover).
        bool syncer_idle = !syncing_ && to_sync_.empty();
        if (degraded_ && syncer_idle && try_recover(lock))
          continue;
        // One batch waits for the syncer at most: while it syncs, the next
        // batch fills (fewer, larger writes) and the memory in flight stays
        // bounded by max_queued_events.
        if ((!queue_.empty() && to_sync_.empty()) || (stopping_ && queue_.empty()))
          break;
        if (degraded_ && syncer_idle)
          cv_.wait_until(lock, next_attempt_);  // the next attempt to recover, or a submission
        else
          cv_.wait(lock);  // a submission, the syncer taking its batch, or going idle
      }
      if (queue_.empty()) {
        // Stopping, and everything submitted before has been handed over: the
        // syncer answers it, then exits too.
        writer_done_ = true;
        sync_cv_.notify_one();
        return;
      }
      if (degraded_) {
        // Everything queued fails now: a client waiting for the disk to come
        // back would hold its connection (and the caller's memory) meanwhile.
        while (!queue_.empty()) {
          n += queue_.front().events.size();
          taken.push_back(std::move(queue_.front()));
          queue_.pop_front();
        }
        refused_degraded_ += taken.size();
        refused = {errc::io_error, "storage unavailable: " + error_};
      } else {
        // Whole submissions only, and at least one even if it alone is larger
        // than max_batch_events: a submission is committed atomically.
        do {
          n += queue_.front().events.size();
          taken.push_back(std::move(queue_.front()));
          queue_.pop_front();
        } while (!queue_.empty() && n + queue_.front().events.size() <= opts_.max_batch_events);
      }
    }
    if (!refused) {
      hand_over({std::move(taken), refused, 0, n});
      taken = {};
      continue;
    }

    status st;
    bool joined = false;  // whether batch holds the submissions' events
    try {
      if (taken.size() == 1) {
        batch.swap(taken.front().events);
      } else {
        batch.clear();
        batch.reserve(n);  // the only step that can throw before the events move
        for (auto& p : taken)
          for (auto& e : p.events)
            batch.push_back(std::move(e));
      }
      joined = true;
      st = log_.write(batch);
    } catch (const std::exception& ex) {
      st = {errc::io_error, std::string("append failed with an exception: ") + ex.what()};
    } catch (...) {
      st = {errc::io_error, "append failed with an unknown exception"};
    }
    uint64_t last_seq = st && !batch.empty() ? batch.back().seq : 0;

    // Hand each submission its events back: with seq and prev_hash on success,
    // unchanged on failure (write() restores them).
    if (joined) {
      if (taken.size() == 1) {
        taken.front().events.swap(batch);
      } else {
        size_t pos = 0;
        for (auto& p : taken)
          for (auto& e : p.events)
            e = std::move(batch[pos++]);
      }
    }
    if (!st) {
      std::lock_guard lock{mu_};
      ++failed_commits_;
      // An invalid batch (an event over 4 GiB) is its submitter's problem;
      // an I/O error is the disk's.
      if (st.code == errc::io_error)
        degrade(st.message);
    }
    hand_over({std::move(taken), st, last_seq, n});
    taken = {};
  }
}

void journal::run_syncer() {
  no_perf_counts();
  std::vector<written> round;
  bool wake_writer = false;
  for (;;) {
    {
      std::unique_lock lock{mu_};
      sync_cv_.wait(lock, [&] { return !to_sync_.empty() || writer_done_; });
      if (to_sync_.empty())
        return;  // the writer is done and everything is answered
      auto take = [&] {
        while (!to_sync_.empty()) {
          round.push_back(std::move(to_sync_.front()));
          to_sync_.pop_front();
        }
      };
      take();
      syncing_ = true;
      // What was queued behind the batch just taken (it came in while the last
      // sync ran, after the writer had written that batch) would wait for one
      // whole sync more. The writer writes it now, and this sync covers it
      // too: a write's wait instead of a sync's. Single-status webhooks on 64
      // connections: +6% (median of 13 pairs), with fewer syncs.
      if (!queue_.empty() && !stopping_ && !degraded_) {
        lock.unlock();
        cv_.notify_all();
        lock.lock();
        // The writer hands over whatever it writes next (refused, if the log
        // failed meanwhile); it always does, stopping or not.
        sync_cv_.wait(lock, [&] { return !to_sync_.empty() || writer_done_; });
        take();
      }
      wake_writer = !queue_.empty() || stopping_;
    }
    if (wake_writer)
      cv_.notify_all();  // the writer may write its next batch
    // One sync for every batch written so far; the failures among them are
    // answered in their turn.
    uint64_t upto = 0;
    size_t events = 0, answered = 0;
    for (const auto& w : round) {
      answered += w.events;
      if (w.st && w.last_seq != 0) {
        upto = w.last_seq;
        events += w.events;
      }
    }
    status st;
    if (upto != 0) {
      auto started = std::chrono::steady_clock::now();
      try {
        st = log_.sync(upto);
      } catch (const std::exception& ex) {
        st = {errc::io_error, std::string("sync failed with an exception: ") + ex.what()};
      } catch (...) {
        st = {errc::io_error, "sync failed with an unknown exception"};
      }
      sync_seconds_.observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    }
    {
      std::lock_guard lock{mu_};
      queued_events_ -= answered;
      if (upto != 0) {
        if (st) {
          ++commits_;
          committed_events_ += events;
        } else {
          ++failed_commits_;
          degrade(st.message);
        }
      }
    }
    if (upto != 0 && st)
      batch_events_.observe(static_cast<double>(events));
    // Without mu_: callbacks may submit() (asynchronously) or read stats.
    for (auto& w : round) {
      const status& answer = w.st ? st : w.st;
      for (auto& p : w.taken)
        call(p.done, answer, std::move(p.events));
    }
    call(opts_.after_round);
    round.clear();
    {
      std::lock_guard lock{mu_};
      syncing_ = false;
      wake_writer = degraded_ || stopping_;
    }
    if (wake_writer)
      cv_.notify_all();  // a degraded writer waits for this to recover
  }
}

} // namespace blast::storage
