// Label names of the actors' counters; stable, since dashboards query them.
#include "actors/counters.hpp"

namespace blast::actors {

const char* to_string(webhook_tally t) {
  switch (t) {
    case webhook_tally::applied: return "applied";
    case webhook_tally::duplicate: return "duplicate";
    case webhook_tally::parked: return "parked";
    case webhook_tally::unmatched: return "unmatched";
    case webhook_tally::ignored: return "ignored";
    case webhook_tally::rejected: return "rejected";
  }
  return "unknown";
}

const char* to_string(send_tally t) {
  switch (t) {
    case send_tally::succeeded: return "succeeded";
    case send_tally::failed: return "failed";
    case send_tally::retried: return "retried";
    case send_tally::rate_limited: return "rate_limited";
    case send_tally::unknown: return "unknown";
  }
  return "unknown";
}

} // namespace blast::actors
