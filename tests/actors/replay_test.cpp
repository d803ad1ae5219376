// The fold's helpers on their own: reading a status's provider event id.
#define BOOST_TEST_MODULE actors_replay
#include <boost/test/unit_test.hpp>

#include "actors/clock.hpp"
#include "actors/replay.hpp"

#include <limits>

using namespace blast::actors;

namespace {
blast::storage::event status(const std::string& event_id, const std::string& raw,
                             const std::string& note = {}) {
  status_evidence ev;
  ev.observed = stage::delivered;
  ev.time_ms = 1;
  ev.source = blast::storage::event_source::webhook;
  ev.event_id = event_id;
  ev.raw = raw;
  ev.note = note;
  return make_status_event(1, 1, ev, stage::sent, stage::delivered, outcome::advanced);
}
} // namespace

BOOST_AUTO_TEST_CASE(event_id_of_reads_the_top_level_id_only) {
  BOOST_TEST(event_id_of(status("wh-1", "")) == "wh-1");
  // The same key inside the raw fragment or a note is not the event's id.
  BOOST_TEST(event_id_of(status("", R"({"eventId":"inner","x":1})")) == "");
  BOOST_TEST(event_id_of(status("", "", R"(,"eventId":"forged")")) == "");
  BOOST_TEST(event_id_of(status("outer", R"({"eventId":"inner"})")) == "outer");
  // Ids with characters JSON escapes take the full parse and come out whole.
  BOOST_TEST(event_id_of(status("a\"b\\c", "")) == "a\"b\\c");
  BOOST_TEST(event_id_of(status("ü-1", "")) == "ü-1");
  // make_status_event writes eventId before raw, so the search ends at raw (never reading
  // the provider's fragment); a member the walk does not expect takes the full parse.
  auto other = status("", "");
  other.payload = R"({"raw":"x","eventId":"after-raw"})";
  BOOST_TEST(event_id_of(other) == "");
  other.payload = R"({"n":1,"eventId":"after-number"})";
  BOOST_TEST(event_id_of(other) == "after-number");
  other.payload = R"({"stage":"read"})";
  BOOST_TEST(event_id_of(other) == "");
  other.payload = R"({"stage":"re)";
  BOOST_TEST(event_id_of(other) == "");
  // A webhook's status names its logged webhook (a number member, last) and repeats no raw.
  status_evidence ev;
  ev.observed = stage::read;
  ev.source = blast::storage::event_source::webhook;
  ev.event_id = "wh-3";
  ev.webhook_seq = 41;
  auto named = make_status_event(1, 1, ev, stage::delivered, stage::read, outcome::advanced);
  BOOST_TEST(named.payload.find("\"webhook\":41}") != std::string::npos, named.payload);
  BOOST_TEST(named.payload.find("raw") == std::string::npos, named.payload);
  BOOST_TEST(event_id_of(named) == "wh-3");
  other.payload = R"({"webhook":7,"eventId":"after-webhook"})";
  BOOST_TEST(event_id_of(other) == "");
  // Only statuses carry one.
  auto e = status("wh-2", "");
  e.type = blast::storage::event_type::send_failed;
  BOOST_TEST(event_id_of(e) == "");
}

BOOST_AUTO_TEST_CASE(the_webhook_window_holds_at_the_ends_of_time) {
  // Times and the window come from a log or a snapshot, which may be damaged: the window's
  // horizon saturates instead of overflowing (the sanitizer build fails on the overflow).
  auto webhook = [](uint64_t seq, int64_t time_ms) {
    blast::storage::event e;
    e.seq = seq;
    e.type = blast::storage::event_type::webhook_received;
    e.time_ms = time_ms;
    return e;
  };
  constexpr int64_t lo = std::numeric_limits<int64_t>::min(), hi = std::numeric_limits<int64_t>::max();
  std::string error;
  replayed r;
  BOOST_TEST(r.apply(webhook(1, lo), error));
  BOOST_TEST(r.apply(webhook(2, lo + 5), error));
  BOOST_TEST(r.webhooks.size() == 2u);  // both within the hour
  BOOST_TEST(r.apply(webhook(3, hi), error));
  BOOST_TEST(r.webhooks.size() == 1u);  // only the newest is within the hour
  r.webhook_window_ms = hi;
  BOOST_TEST(r.apply(webhook(4, lo + 1), error));
  BOOST_TEST(r.webhooks.size() == 2u);  // lo + 1 - hi saturates at lo: nothing is older

  replayed damaged;  // a damaged snapshot's negative window: the horizon after the newest
  damaged.webhook_window_ms = -1;
  BOOST_TEST(damaged.apply(webhook(1, 0), error));
  BOOST_TEST(damaged.webhooks.empty());  // "older" than 0 + 1, the newest too: and no crash
  BOOST_TEST(damaged.apply(webhook(2, hi), error));
  BOOST_TEST(damaged.webhooks.size() == 1u);  // hi + 1 saturates at hi
  BOOST_TEST(ms_before(lo, 1) == lo);
  BOOST_TEST(ms_before(hi, -1) == hi);
  BOOST_TEST(ms_before(10, 3) == 7);
}
