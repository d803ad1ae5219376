// The funnel state machine of one recipient, as a plain value: the actor owns
// it, the log replays it. No I/O, no clock: time comes with the evidence.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

namespace blast::actors {

// Stages in funnel order; `failed` sits outside the order. The numbers are part
// of snapshots and reports: never renumber.
enum class stage : uint8_t { pending = 0, sent = 1, delivered = 2, read = 3, replied = 4,
                             closed = 5, failed = 6 };
constexpr size_t stage_count = 7;
// The stages a report's funnel lists, in order.
constexpr std::array<stage, 5> funnel_stages{stage::sent, stage::delivered, stage::read,
                                             stage::replied, stage::closed};

const char* to_string(stage s);
std::optional<stage> stage_from_string(std::string_view s);

// What applying one piece of evidence did.
enum class outcome : uint8_t {
  advanced = 1,    // the stage moved forward (or failed / recovered from failed)
  backfilled = 2,  // the stage stayed, an unknown timestamp of an earlier stage was filled
  duplicate = 3,   // evidence already known: nothing changed
  stale = 4,       // evidence contradicted by later evidence (e.g. failed after delivered)
};
const char* to_string(outcome o);

struct funnel {
  stage current = stage::pending;
  // Time (ms since epoch) at which each stage was evidenced, 0 = unknown.
  // Indexed by stage; pending's slot is unused.
  std::array<int64_t, stage_count> at{};

  // Applies evidence that the recipient reached `observed` at `time_ms`.
  // Rules (ARCHITECTURE.md, "The funnel"):
  //  - later evidence implies the earlier stages but never invents their times;
  //  - the stage never moves backwards; older evidence only fills an unknown time;
  //  - `failed` applies only while not yet delivered; evidence of delivery or
  //    later overrides an earlier failure (the message did arrive), and so does
  //    a send evidenced after the failure (a resend that got through);
  //  - `pending` is not evidence of anything and is reported as stale.
  outcome apply(stage observed, int64_t time_ms);

  // Whether the recipient has reached `s` (implied stages count).
  bool reached(stage s) const;
  // Time the current stage was entered, 0 if unknown.
  int64_t stage_time() const { return at[static_cast<size_t>(current)]; }

  friend bool operator==(const funnel& a, const funnel& b) {
    return a.current == b.current && a.at == b.at;
  }
  friend bool operator!=(const funnel& a, const funnel& b) { return !(a == b); }
};

} // namespace blast::actors
