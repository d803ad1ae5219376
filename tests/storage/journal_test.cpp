// Tests of the group-commit journal: acknowledgements, ordering, batching,
// backpressure and shutdown.
#define BOOST_TEST_MODULE storage_journal
#include <boost/test/unit_test.hpp>

#include "storage/journal.hpp"
#include "tests/support/temp_dir.hpp"

#include <algorithm>
#include <ostream>
#include <chrono>
#include <condition_variable>
#include <future>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace blast::storage;

namespace blast::storage {
// Found by ADL, so that failed checks print the code's name.
std::ostream& operator<<(std::ostream& os, errc c) { return os << to_string(c); }
} // namespace blast::storage
using namespace std::chrono_literals;

namespace {

std::vector<event> make_events(size_t n, const std::string& tag) {
  std::vector<event> out(n);
  for (size_t k = 0; k < n; ++k) {
    out[k].type = event_type::recipient_status;
    out[k].blast = 1;
    out[k].recipient = static_cast<uint32_t>(k + 1);
    out[k].payload = tag + "/" + std::to_string(k);
  }
  return out;
}

// Counts acknowledgements and lets the test wait for a number of them.
class acks {
public:
  journal::done_fn expect_ok() {
    return [this](const status& st, std::vector<event>&&) { record(st); };
  }
  void record(const status& st) {
    std::lock_guard lock{mu_};
    ++total_;
    if (st)
      ++ok_;
    else
      last_error_ = st;
    cv_.notify_all();
  }
  bool wait_for(size_t n) {
    std::unique_lock lock{mu_};
    return cv_.wait_for(lock, 120s, [&] { return total_ >= n; });
  }
  size_t total() const {
    std::lock_guard lock{mu_};
    return total_;
  }
  size_t ok() const {
    std::lock_guard lock{mu_};
    return ok_;
  }
  std::string last_error() const {
    std::lock_guard lock{mu_};
    return last_error_.message;
  }

private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  size_t total_ = 0;
  size_t ok_ = 0;
  status last_error_;
};

struct journal_fixture {
  blast::test::temp_dir dir;
  std::unique_ptr<event_log> log;

  journal_fixture() {
    status st;
    log_options lo;
    lo.sync = true;
    log = event_log::open(dir.path(), lo, st);
    BOOST_TEST_REQUIRE(bool(st), st.message);
  }
};

// Holds the syncer thread inside a callback: the writer writes one batch
// more, which waits for the syncer, and the queue builds up behind it.
struct writer_block {
  std::promise<void> entered;
  std::promise<void> release;

  void submit_to(journal& j) {
    auto released = release.get_future().share();
    j.submit(make_events(1, "blocker"), [this, released](const status&, std::vector<event>&&) {
      entered.set_value();
      released.wait();
    });
    BOOST_TEST_REQUIRE((entered.get_future().wait_for(60s) == std::future_status::ready));
  }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(storage_journal, journal_fixture)

BOOST_AUTO_TEST_CASE(concurrent_submissions_are_group_committed) {
  constexpr size_t threads = 8;
  constexpr size_t per_thread = 500;
  // Declared before the journal: callbacks may still run while it is destroyed.
  std::mutex mu;
  std::vector<uint64_t> seqs;
  std::vector<uint64_t> first_seq_in_ack_order;
  size_t bad_submissions = 0;
  acks done;
  journal j{*log};

  auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> pool;
  size_t total_events = 0;
  for (size_t t = 0; t < threads; ++t) {
    for (size_t i = 0; i < per_thread; ++i)
      total_events += 1 + i % 3;
    pool.emplace_back([&, t] {
      for (size_t i = 0; i < per_thread; ++i) {
        auto tag = std::to_string(t) + "-" + std::to_string(i);
        size_t n = 1 + i % 3;
        j.submit(make_events(n, tag), [&, tag, n](const status& st, std::vector<event>&& evs) {
          {
            std::lock_guard lock{mu};
            // A submission comes back whole, in its own order, with contiguous seqs.
            bool good = evs.size() == n;
            for (size_t k = 0; good && k < n; ++k)
              good = evs[k].seq == evs[0].seq + k &&
                     evs[k].payload == tag + "/" + std::to_string(k);
            if (!good)
              ++bad_submissions;
            if (!evs.empty())
              first_seq_in_ack_order.push_back(evs[0].seq);
            for (const auto& e : evs)
              seqs.push_back(e.seq);
          }
          done.record(st);
        });
      }
    });
  }
  for (auto& th : pool)
    th.join();
  BOOST_TEST_REQUIRE(done.wait_for(threads * per_thread));
  auto elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  auto stats = j.get_stats();
  j.stop();

  BOOST_TEST(done.ok() == threads * per_thread, done.last_error());
  BOOST_TEST(bad_submissions == 0u);
  std::sort(seqs.begin(), seqs.end());
  BOOST_TEST_REQUIRE(seqs.size() == total_events);
  for (size_t i = 0; i < seqs.size(); ++i)
    BOOST_TEST_REQUIRE(seqs[i] == i + 1);  // unique and contiguous from 1
  // Callbacks run in commit order.
  BOOST_TEST(std::is_sorted(first_seq_in_ack_order.begin(), first_seq_in_ack_order.end()));
  BOOST_TEST(stats.events == total_events);
  BOOST_TEST(stats.queued_events == 0u);
  BOOST_TEST(stats.commits < threads * per_thread);  // one sync acknowledged many submissions
  BOOST_TEST(log->last_seq() == total_events);
  BOOST_TEST(bool(log->verify()));
  BOOST_TEST_MESSAGE(threads * per_thread << " submissions, " << total_events << " events in "
                                          << stats.commits << " commits, " << elapsed << " s, "
                                          << total_events / elapsed << " events/s");
}

BOOST_AUTO_TEST_CASE(stop_drains_then_refuses) {
  acks done;
  journal j{*log};
  constexpr size_t n = 1000;
  for (size_t i = 0; i < n; ++i)
    j.submit(make_events(2, "s" + std::to_string(i)), done.expect_ok());
  j.stop();
  // Everything submitted before stop() is committed by the time it returns.
  BOOST_TEST(done.total() == n);
  BOOST_TEST(done.ok() == n, done.last_error());
  BOOST_TEST(log->last_seq() == 2 * n);

  bool called = false;
  j.submit(make_events(3, "late"), [&](const status& st, std::vector<event>&& evs) {
    called = true;
    BOOST_TEST(st.code == errc::shutting_down);
    BOOST_TEST_REQUIRE(evs.size() == 3u);  // handed back unchanged
    BOOST_TEST(evs[2].payload == "late/2");
    BOOST_TEST(evs[2].seq == 0u);
  });
  BOOST_TEST(called);  // synchronously
  j.stop();            // idempotent
  BOOST_TEST(log->last_seq() == 2 * n);
}

BOOST_AUTO_TEST_CASE(busy_when_the_queue_is_full) {
  acks done;
  journal_options opts;
  opts.max_queued_events = 4;
  journal j{*log, opts};
  // After the journal: destroyed first, its broken promise frees a blocked writer.
  writer_block block;
  block.submit_to(j);

  for (int i = 0; i < 4; ++i)
    j.submit(make_events(1, "q" + std::to_string(i)), done.expect_ok());
  BOOST_TEST(done.total() == 0u);  // queued, not refused
  BOOST_TEST(j.get_stats().queued_events == 4u);

  for (size_t n : {1, 2}) {
    bool called = false;
    j.submit(make_events(n, "over"), [&](const status& st, std::vector<event>&& evs) {
      called = true;
      BOOST_TEST(st.code == errc::busy);
      BOOST_TEST(!st.message.empty());
      BOOST_TEST(evs.size() == n);
    });
    BOOST_TEST(called);  // synchronously
  }

  block.release.set_value();
  BOOST_TEST_REQUIRE(done.wait_for(4));
  BOOST_TEST(done.ok() == 4u);
  // With the queue empty again, even a submission above the limit is taken.
  j.submit(make_events(10, "big"), done.expect_ok());
  BOOST_TEST_REQUIRE(done.wait_for(5));
  BOOST_TEST(done.ok() == 5u, done.last_error());
  j.stop();
  BOOST_TEST(log->last_seq() == 1u + 4u + 10u);
}

BOOST_AUTO_TEST_CASE(batches_take_whole_submissions_up_to_max_batch_events) {
  acks done;
  journal_options opts;
  opts.max_batch_events = 10;
  opts.max_queued_events = 1000;
  journal j{*log, opts};
  writer_block block;
  block.submit_to(j);
  auto before = j.get_stats().writes;
  BOOST_TEST(before == 1u);

  for (int i = 0; i < 5; ++i)
    j.submit(make_events(4, "four"), done.expect_ok());
  j.submit(make_events(25, "big"), done.expect_ok());  // larger than a batch, never split
  block.release.set_value();
  j.stop();
  BOOST_TEST(done.ok() == 6u, done.last_error());
  // Greedy, while one batch waits for the blocked syncer: [4] or [4,4] first,
  // then the rest, [4,4] [4,4] [25] or [4,4] [4] [25]; 4 writes either way.
  BOOST_TEST(j.get_stats().writes - before == 4u);
  BOOST_TEST(log->last_seq() == 1u + 20u + 25u);
}

BOOST_AUTO_TEST_CASE(what_queues_behind_a_written_batch_rides_its_sync) {
  acks done;
  journal j{*log};
  writer_block block;  // round 1, held in its callback
  block.submit_to(j);
  // Written at once, then waiting for the held syncer...
  j.submit(make_events(1, "written"), done.expect_ok());
  auto deadline = std::chrono::steady_clock::now() + 60s;
  while (j.get_stats().writes < 2 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(1ms);
  BOOST_TEST_REQUIRE(j.get_stats().writes == 2u);
  // ...and these queue behind it, the writer waiting for the syncer.
  for (int i = 0; i < 3; ++i)
    j.submit(make_events(2, "queued"), done.expect_ok());
  BOOST_TEST(j.get_stats().writes == 2u);
  block.release.set_value();
  BOOST_TEST_REQUIRE(done.wait_for(4));
  auto stats = j.get_stats();
  j.stop();
  BOOST_TEST(done.ok() == 4u, done.last_error());
  // The queued submissions were written as one batch more, and the sync that
  // took the waiting batch covered them too: two syncs in all, not three.
  BOOST_TEST(stats.writes == 3u);
  BOOST_TEST(stats.commits == 2u);
  BOOST_TEST(stats.events == 1u + 1u + 6u);
  BOOST_TEST(log->last_seq() == 8u);
}

BOOST_AUTO_TEST_CASE(a_throwing_callback_does_not_stop_the_writer) {
  acks done;
  journal j{*log};
  j.submit(make_events(1, "throws"),
           [](const status&, std::vector<event>&&) { throw std::runtime_error("callback bug"); });
  // Submitting from a callback (without waiting for it) is allowed.
  j.submit(make_events(1, "outer"), [&](const status& st, std::vector<event>&&) {
    done.record(st);
    j.submit(make_events(1, "inner"), done.expect_ok());
  });
  BOOST_TEST_REQUIRE(done.wait_for(2));
  BOOST_TEST(done.ok() == 2u, done.last_error());
  j.stop();
  BOOST_TEST(log->last_seq() == 3u);
}

BOOST_AUTO_TEST_CASE(after_round_follows_each_rounds_callbacks_on_the_syncer) {
  // What the syncer ran, in order: 'c' a callback, 'r' the after_round hook.
  std::string order;
  std::thread::id syncer;
  bool other_thread = false;
  journal_options opts;
  opts.after_round = [&] {
    if (syncer == std::thread::id{})
      syncer = std::this_thread::get_id();  // the blocker's round, the first
    other_thread |= std::this_thread::get_id() != syncer;
    order += 'r';
  };
  acks done;
  {
    journal j{*log, opts};
    writer_block block;  // the first round is the blocked write alone; the rest queue meanwhile
    block.submit_to(j);
    constexpr int submitters = 4, each = 50;
    std::vector<std::thread> threads;
    for (int t = 0; t < submitters; ++t)
      threads.emplace_back([&] {
        for (int i = 0; i < each; ++i)
          j.submit(make_events(1, "x"), [&](const status& st, std::vector<event>&&) {
            if (syncer == std::thread::id{})
              syncer = std::this_thread::get_id();
            other_thread |= std::this_thread::get_id() != syncer;
            order += 'c';
            done.record(st);
          });
      });
    for (auto& t : threads)
      t.join();
    block.release.set_value();
    BOOST_TEST_REQUIRE(done.wait_for(submitters * each));
    j.stop();
  }
  BOOST_TEST(done.ok() == 200u, done.last_error());
  BOOST_TEST(!other_thread);
  // Every round answers at least one submission, then runs the hook once: the
  // log ends with the hook, and never runs it twice in a row. The 200
  // submissions queued behind the blocked write take more than one callback
  // per round on average.
  BOOST_TEST_REQUIRE(!order.empty());
  BOOST_TEST(order.back() == 'r');
  BOOST_TEST(order.find("rr") == std::string::npos, order);
  auto rounds = std::count(order.begin(), order.end(), 'r');
  BOOST_TEST(std::count(order.begin(), order.end(), 'c') == 200);
  BOOST_TEST(rounds >= 1);
  BOOST_TEST(rounds < 200);
}

BOOST_AUTO_TEST_SUITE_END()
