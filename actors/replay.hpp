// The fold of the log: the one code path that turns events into state, shared
// by start-up, point-in-time reports, snapshots and the auditor's `blastctl
// replay`, so that all four agree with the running system bit for bit.
#pragma once

#include <cstdint>
#include <deque>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "actors/blast_state.hpp"
#include "storage/event_log.hpp"

namespace blast::actors {

// How many provider event ids the engine remembers to drop duplicate webhooks
// (the newest ones); the ingest actor keeps the same bound at run time.
constexpr size_t remembered_event_ids = 4'000'000;
// How many rejected webhooks are listed (the newest); the log keeps them all.
constexpr size_t remembered_rejected = 10'000;

// Where a replay stops: it folds the events with seq <= until_seq that were
// logged at or before until_ms. Logged times never decrease along the log, so
// either bound cuts a prefix: the log as it stood at that point.
struct replay_cut {
  uint64_t until_seq = std::numeric_limits<uint64_t>::max();
  int64_t until_ms = std::numeric_limits<int64_t>::max();
  bool admits(const storage::event& e) const {
    return e.seq <= until_seq && e.logged_ms <= until_ms;
  }
};

// What folding a prefix of the log gives: every blast, and the engine-wide
// facts start-up needs besides them.
struct replayed {
  std::map<uint64_t, std::shared_ptr<blast_state>> blasts;
  // Applied provider event ids by fingerprint (storage::fingerprint), oldest
  // first, bounded: what the ingest actor remembers them by. 8 bytes each
  // instead of a string: 4M ids took ~200 MB at start-up and in snapshots.
  std::deque<uint64_t> event_ids;
  std::deque<uint64_t> rejected;      // seqs of rejected webhooks, oldest first, bounded
  // (seq, time) of accepted webhooks no older than `webhook_window_ms` before
  // the newest: those start-up parses again (see service.cpp).
  std::deque<std::pair<uint64_t, int64_t>> webhooks;
  int64_t webhook_window_ms = 3'600'000;
  uint64_t last_seq = 0;       // the last event folded; the next replay starts after it
  int64_t last_logged_ms = 0;  // its logged time
  uint64_t events = 0;         // events folded, over every replay into this value

  // Folds one event (the next in the log). False, with a reason, when the
  // event cannot be applied: the log and this build disagree.
  bool apply(const storage::event& e, std::string& error);
  // The state as bytes (snapshots); equal states give equal bytes.
  std::string save() const;
  // Replaces this value with what save() wrote; false when the bytes are damaged.
  bool load(std::string_view bytes);
};

// Folds the log's events after `into.last_seq` that the cut admits. On error
// returns false with the reason in `error` (`into` then holds a partial fold).
bool replay(const storage::event_log& log, const replay_cut& cut, replayed& into,
            std::string& error);

// Folds one blast's events that the cut admits into a fresh state (whose
// def.id is 0 when the blast did not exist yet at the cut); nullptr with
// `error` set when the log cannot be read or folded. The blast's own stream
// index keeps this O(the blast's events).
std::shared_ptr<blast_state> replay_blast(const storage::event_log& log, uint64_t blast,
                                          const replay_cut& cut, std::string& error);

// The provider event id a recipient_status payload carries, or empty.
std::string event_id_of(const storage::event& e);

} // namespace blast::actors
