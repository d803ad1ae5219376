// A lock-free histogram with fixed buckets, for the figures /metrics exposes
// (journal batch sizes and sync times here; the layers above use it too).
// Lives in the lowest layer so that storage and actors can keep their own
// figures without knowing how the engine renders them.
//
// Thread safety: observe() from any number of threads at once (relaxed
// atomics: a reader may see an observation's bucket before its sum, never a
// torn value); read() from any thread.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

namespace blast::storage {

class histogram {
public:
  // `upper_bounds` ascending; an implicit last bucket takes everything above.
  explicit histogram(std::vector<double> upper_bounds)
    : bounds_(std::move(upper_bounds)), buckets_(new std::atomic<uint64_t>[bounds_.size() + 1]) {
    for (size_t i = 0; i <= bounds_.size(); ++i)
      buckets_[i].store(0, std::memory_order_relaxed);
  }
  histogram(const histogram&) = delete;
  histogram& operator=(const histogram&) = delete;

  void observe(double v) noexcept {
    size_t i = 0;
    while (i < bounds_.size() && v > bounds_[i])  // a dozen bounds: a scan beats a search
      ++i;
    buckets_[i].fetch_add(1, std::memory_order_relaxed);
    // std::atomic<double> has no fetch_add before C++20.
    double sum = sum_.load(std::memory_order_relaxed);
    while (!sum_.compare_exchange_weak(sum, sum + v, std::memory_order_relaxed))
      ;
  }

  struct snapshot {
    std::vector<double> bounds;     // as given
    std::vector<uint64_t> buckets;  // per bucket (not cumulative); the last one is +Inf
    double sum = 0;
    // The total, from the buckets read: +Inf's cumulative count equals it by construction.
    uint64_t count() const {
      uint64_t n = 0;
      for (auto b : buckets)
        n += b;
      return n;
    }
  };

  snapshot read() const {
    snapshot s;
    s.bounds = bounds_;
    s.buckets.reserve(bounds_.size() + 1);
    for (size_t i = 0; i <= bounds_.size(); ++i)
      s.buckets.push_back(buckets_[i].load(std::memory_order_relaxed));
    s.sum = sum_.load(std::memory_order_relaxed);
    return s;
  }

  // Bounds 1, 2, 4, … up to `max` (inclusive): for counts such as events per batch.
  static std::vector<double> powers_of_two(double max) {
    std::vector<double> b;
    for (double v = 1; v <= max; v *= 2)
      b.push_back(v);
    return b;
  }

private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;
  std::atomic<double> sum_{0};
};

// Seconds from 100 µs to 10 s, for latencies (a WAL sync, an HTTP request).
inline std::vector<double> latency_buckets() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
          0.025,  0.05,    0.1,    0.25,  0.5,    1,     2.5, 5, 10};
}

} // namespace blast::storage
