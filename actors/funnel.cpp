// The funnel state machine's transition rules.
#include "actors/funnel.hpp"

namespace blast::actors {

namespace {
constexpr std::array<const char*, stage_count> stage_names{
  "pending", "sent", "delivered", "read", "replied", "closed", "failed"};

size_t idx(stage s) { return static_cast<size_t>(s); }
} // namespace

const char* to_string(stage s) {
  return idx(s) < stage_count ? stage_names[idx(s)] : "unknown";
}

std::optional<stage> stage_from_string(std::string_view s) {
  for (size_t i = 0; i < stage_count; ++i)
    if (s == stage_names[i])
      return static_cast<stage>(i);
  return std::nullopt;
}

const char* to_string(outcome o) {
  switch (o) {
    case outcome::advanced: return "advanced";
    case outcome::backfilled: return "backfilled";
    case outcome::duplicate: return "duplicate";
    case outcome::stale: return "stale";
  }
  return "unknown";
}

bool funnel::reached(stage s) const {
  if (s == stage::failed)
    return current == stage::failed;
  if (current == stage::failed)
    return s == stage::pending;
  return idx(current) >= idx(s);
}

outcome funnel::apply(stage observed, int64_t time_ms) {
  auto& slot = at[idx(observed)];
  if (observed == stage::pending)
    return outcome::stale;
  if (observed == stage::failed) {
    // A failure after delivery is contradicted by the delivery: logged, no downgrade.
    if (current != stage::failed && idx(current) >= idx(stage::delivered))
      return outcome::stale;
    if (current == stage::failed)
      return outcome::duplicate;
    current = stage::failed;
    slot = time_ms;
    return outcome::advanced;
  }
  // A positive stage. From failed, evidence of delivery or later counts (the
  // message did arrive), and so does a send after the failure (a resend that
  // got through); a "sent" from before the failure is old news.
  bool forward = current == stage::failed
                   ? idx(observed) >= idx(stage::delivered) || time_ms > at[idx(stage::failed)]
                   : idx(observed) > idx(current);
  if (forward) {
    current = observed;
    if (slot == 0)
      slot = time_ms;
    return outcome::advanced;
  }
  if (slot == 0 && reached(observed)) {
    slot = time_ms;  // evidence for an implied stage arrived late: its time is now known
    return outcome::backfilled;
  }
  if (slot == 0)
    return outcome::stale;  // e.g. "sent" after a failure: older than what we know
  return outcome::duplicate;
}

} // namespace blast::actors
