// Group commit: one writer thread turns whatever callers queued meanwhile into
// one event_log::append, so one WAL sync acknowledges many submissions.
#include "storage/journal.hpp"

#include <algorithm>
#include <exception>
#include <string>
#include <utility>

namespace blast::storage {

namespace {

// Callbacks must not throw (see journal.hpp); if one does, the writer must
// still acknowledge the others, so the exception is dropped here.
void call(const journal::done_fn& done, const status& st, std::vector<event>&& events) {
  if (!done)
    return;
  try {
    done(st, std::move(events));
  } catch (...) {
  }
}

// Between attempts to recover from a failed append: soon at first (a full
// disk may be freed at once), at most a second later (each attempt flushes).
constexpr std::chrono::milliseconds first_backoff{50};
constexpr std::chrono::milliseconds max_backoff{1000};

} // namespace

journal::journal(event_log& log, journal_options opts) : log_(log), opts_(opts) {
  // Started last: run() reads every other member.
  writer_ = std::thread([this] { run(); });
}

journal::~journal() { stop(); }

void journal::submit(std::vector<event> events, done_fn done) {
  status refused;
  {
    std::lock_guard lock{mu_};
    if (stopping_) {
      refused = {errc::shutting_down, "journal is stopping"};
    } else if (!queue_.empty() && queued_events_ + events.size() > opts_.max_queued_events) {
      // An empty queue takes any submission, so one larger than the limit is
      // not refused forever.
      refused = {errc::busy, "journal queue full: " + std::to_string(queued_events_) +
                               " events queued, limit " +
                               std::to_string(opts_.max_queued_events)};
    } else {
      queued_events_ += events.size();
      queue_.push_back({std::move(events), std::move(done)});
    }
  }
  if (!refused) {
    // Outside the lock: the callback may call submit() or get_stats().
    call(done, refused, std::move(events));
    return;
  }
  cv_.notify_one();
}

void journal::stop() {
  {
    std::lock_guard lock{mu_};
    stopping_ = true;
  }
  cv_.notify_all();
  // From a callback (on the writer itself) the writer cannot be joined: it
  // drains and exits after the callback returns; the owner's stop() joins.
  if (std::this_thread::get_id() == writer_.get_id())
    return;
  std::lock_guard lock{join_mu_};
  if (writer_.joinable())
    writer_.join();
}

journal::stats journal::get_stats() const {
  std::lock_guard lock{mu_};
  return {commits_,     committed_events_, queued_events_, failed_commits_,
          refused_degraded_, recoveries_,  degraded_,      error_};
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

void journal::run() {
  std::vector<pending> taken;
  std::vector<event> batch;
  for (;;) {
    size_t n = 0;
    status refused;  // not ok: what was taken fails without reaching the log
    {
      std::unique_lock lock{mu_};
      for (;;) {
        if (degraded_ && try_recover(lock))
          continue;
        if (!queue_.empty() || stopping_)
          break;
        if (degraded_)
          cv_.wait_until(lock, next_attempt_);  // the next attempt to recover, or a submission
        else
          cv_.wait(lock);
      }
      if (queue_.empty())
        return;  // stopping, and everything submitted before has been answered
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
      queued_events_ -= n;
    }
    if (!refused) {
      for (auto& p : taken)
        call(p.done, refused, std::move(p.events));
      taken.clear();
      continue;
    }

    status st;
    bool joined = false;  // whether batch holds the submissions' events
    auto started = std::chrono::steady_clock::now();
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
      st = log_.append(batch);
    } catch (const std::exception& ex) {
      st = {errc::io_error, std::string("append failed with an exception: ") + ex.what()};
    } catch (...) {
      st = {errc::io_error, "append failed with an unknown exception"};
    }
    sync_seconds_.observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());

    // Hand each submission its events back: with seq and prev_hash on success,
    // unchanged on failure (append() restores them).
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
    {
      std::lock_guard lock{mu_};
      if (st) {
        ++commits_;
        committed_events_ += n;
      } else {
        ++failed_commits_;
        // An invalid batch (an event over 4 GiB) is its submitter's problem;
        // an I/O error is the disk's, and every later append would meet it.
        if (st.code == errc::io_error && !degraded_) {
          degraded_ = true;
          error_ = st.message;
          backoff_ = first_backoff;
          next_attempt_ = std::chrono::steady_clock::now() + backoff_;
        }
      }
    }
    if (st)
      batch_events_.observe(static_cast<double>(n));
    // Without mu_: callbacks may submit() (asynchronously) or read stats.
    for (auto& p : taken)
      call(p.done, st, std::move(p.events));
    taken.clear();
  }
}

} // namespace blast::storage
