// Per-transport figures the actors keep for /metrics: plain atomics, written
// on actor and worker threads, read whenever the engine renders them. The
// label sets are bounded by construction: one entry per transport instance,
// fixed at start-up, and outcomes from the enums below.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

namespace blast::actors {

// What became of an observation a webhook carried (or of the webhook itself,
// when it was rejected). Numbers index the counters; names are the labels.
enum class webhook_tally : uint8_t {
  applied = 0,    // handed to its recipient (the funnel decides whether it moves)
  duplicate = 1,  // its event id was applied before
  parked = 2,     // its message id is not known yet: waiting (GET /api/unmatched)
  unmatched = 3,  // a reply from a number no blast messaged (GET /api/unmatched)
  ignored = 4,    // "no status yet" or nothing to match it by
  rejected = 5,   // the whole webhook: bad signature (401) or unparseable body (400)
};
constexpr size_t webhook_tally_count = 6;
const char* to_string(webhook_tally t);

// What a send attempt's answer led to.
enum class send_tally : uint8_t {
  succeeded = 0,     // the provider accepted it
  failed = 1,        // failed for good (permanent, or out of attempts)
  retried = 2,       // failed, a retry is scheduled
  rate_limited = 3,  // the provider said "slow down"; retried after its Retry-After
  unknown = 4,       // found requested without an outcome at start-up (a crash)
};
constexpr size_t send_tally_count = 5;
const char* to_string(send_tally t);

struct transport_counters {
  std::array<std::atomic<uint64_t>, webhook_tally_count> webhook_events{};
  std::array<std::atomic<uint64_t>, send_tally_count> sends{};
  std::atomic<uint64_t> queued{0};     // sends waiting at the transport actor
  std::atomic<uint64_t> in_flight{0};  // sends handed to the plugin, not answered yet

  void count(webhook_tally t, uint64_t n = 1) {
    webhook_events[static_cast<size_t>(t)].fetch_add(n, std::memory_order_relaxed);
  }
  void count(send_tally t, uint64_t n = 1) {
    sends[static_cast<size_t>(t)].fetch_add(n, std::memory_order_relaxed);
  }
};

// By transport name. Built before the actors start and never changed after,
// so readers need no lock; entries live as long as the service.
using counters_map = std::map<std::string, std::unique_ptr<transport_counters>>;

} // namespace blast::actors
