// The fold's helpers on their own: reading a status's provider event id.
#define BOOST_TEST_MODULE actors_replay
#include <boost/test/unit_test.hpp>

#include "actors/replay.hpp"

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
