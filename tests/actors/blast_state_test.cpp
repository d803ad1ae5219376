// The blast fold: creation events (de-duplication, chunking, profiles), the
// phone index, status events, and replay equal to the live path.
#define BOOST_TEST_MODULE actors_blast_state
#include <boost/test/unit_test.hpp>

#include "actors/blast_state.hpp"
#include "actors/phone_number.hpp"

using namespace blast::actors;
using blast::storage::event;
using blast::storage::event_type;

namespace {
blast_spec spec_of(std::vector<uint64_t> phones) {
  blast_spec s;
  s.message = "Hello {{name}}";
  s.tag = "promo";
  s.transport = "manual";
  for (auto p : phones)
    s.recipients.push_back({p, "", ""});
  return s;
}

blast_state fold(const std::vector<event>& events) {
  blast_state b;
  for (auto& e : events)
    BOOST_REQUIRE(b.apply(e));
  return b;
}
} // namespace

BOOST_AUTO_TEST_SUITE(blast_fold)

BOOST_AUTO_TEST_CASE(phone_numbers_normalise) {
  BOOST_TEST(*parse_phone("60123456789") == 60123456789ull);
  BOOST_TEST(*parse_phone("+60 12-345 6789") == 60123456789ull);
  BOOST_TEST(*parse_phone("(601) 2345.6789") == 60123456789ull);
  BOOST_TEST(*parse_phone("999999999999999") == 999999999999999ull);  // 15 digits
  BOOST_TEST(!parse_phone("9999999999999999"));                       // 16
  BOOST_TEST(!parse_phone("123456"));                                 // 6
  BOOST_TEST(!parse_phone("0123456789"));                             // local form
  BOOST_TEST(!parse_phone("60-12x3456789"));
  BOOST_TEST(!parse_phone("60+123456789"));
  BOOST_TEST(!parse_phone(""));
  BOOST_TEST(format_phone(60123456789ull) == "60123456789");
}

BOOST_AUTO_TEST_CASE(duplicates_dropped_first_wins_order_kept) {
  auto spec = spec_of({60111111111, 60222222222, 60111111111, 60333333333, 60222222222});
  spec.recipients[0].name = "First";
  spec.recipients[2].name = "Second";
  auto events = make_blast_events(spec, 7, 5000);
  auto b = fold(events);
  BOOST_TEST(b.def.id == 7u);
  BOOST_TEST(b.def.total == 3u);
  BOOST_TEST(b.def.duplicates_dropped == 2u);
  BOOST_TEST(b.size() == 3u);
  BOOST_TEST(b.phone(1) == 60111111111ull);
  BOOST_TEST(b.phone(2) == 60222222222ull);
  BOOST_TEST(b.phone(3) == 60333333333ull);
  BOOST_TEST(b.name(1) == "First");
  BOOST_TEST(b.def.message == "Hello {{name}}");
  BOOST_TEST(b.def.tag == "promo");
  BOOST_TEST(b.def.created_ms == 5000);
  BOOST_TEST((b.status == blast_status::sending));
  BOOST_TEST(b.counts()[0] == 3u);
}

BOOST_AUTO_TEST_CASE(chunks_and_profiles) {
  blast_spec spec = spec_of({});
  for (uint64_t i = 0; i < 25; ++i)
    spec.recipients.push_back({60100000000 + i, i % 2 ? "Name \"" + std::to_string(i) + "\"" : "",
                               i % 3 ? "" : "{\"city\":\"KL\",\"n\":" + std::to_string(i) + "}"});
  auto events = make_blast_events(spec, 1, 1, 10);
  BOOST_TEST(events.size() == 4u);  // created + 10 + 10 + 5
  BOOST_TEST((events[0].type == event_type::blast_created));
  for (size_t i = 1; i < events.size(); ++i)
    BOOST_TEST((events[i].type == event_type::recipients_added));
  auto b = fold(events);
  BOOST_TEST(b.size() == 25u);
  for (uint32_t id = 1; id <= 25; ++id) {
    uint64_t i = id - 1;
    BOOST_TEST(b.phone(id) == 60100000000 + i);
    BOOST_TEST(b.name(id) == (i % 2 ? "Name \"" + std::to_string(i) + "\"" : ""));
    BOOST_TEST(b.vars_json(id) ==
               (i % 3 ? "" : "{\"city\":\"KL\",\"n\":" + std::to_string(i) + "}"));
    BOOST_TEST(*b.find_phone(60100000000 + i) == id);
  }
  BOOST_TEST(!b.find_phone(60199999999));
}

BOOST_AUTO_TEST_CASE(chunks_out_of_order_are_rejected) {
  auto events = make_blast_events(spec_of({60111111111, 60222222222, 60333333333}), 1, 1, 1);
  blast_state b;
  BOOST_REQUIRE(b.apply(events[0]));
  BOOST_TEST(!b.apply(events[2]));  // a gap in the recipient list is corruption
  BOOST_TEST(b.apply(events[1]));
}

BOOST_AUTO_TEST_CASE(scheduled_in_the_future) {
  auto spec = spec_of({60111111111});
  spec.scheduled_ms = 10'000;
  auto b = fold(make_blast_events(spec, 1, 5'000));
  BOOST_TEST((b.status == blast_status::scheduled));
  BOOST_TEST(b.def.scheduled_ms == 10'000);
}

BOOST_AUTO_TEST_CASE(status_events_fold_like_the_live_path) {
  auto events = make_blast_events(spec_of({60111111111, 60222222222, 60333333333}), 3, 1);
  auto replayed = fold(events);
  auto live = fold(events);
  struct step {
    uint32_t id;
    stage s;
    int64_t t;
  };
  std::vector<step> steps = {{1, stage::read, 10},      {1, stage::delivered, 9},
                             {1, stage::delivered, 11}, {2, stage::failed, 12},
                             {2, stage::delivered, 13}, {3, stage::closed, 14},
                             {3, stage::failed, 15},    {2, stage::sent, 16}};
  for (auto& st : steps) {
    // Live: the recipient actor decides with funnel::apply and the blast adopts it.
    funnel next = live.funnel_of(st.id);
    auto from = next.current;
    auto out = next.apply(st.s, st.t);
    live.set_funnel(st.id, next);
    // Replay: the event the actor wrote, folded.
    status_evidence ev;
    ev.observed = st.s;
    ev.time_ms = st.t;
    ev.source = blast::storage::event_source::manual;
    ev.note = "n";
    auto e = make_status_event(3, st.id, ev, from, next.current, out);
    BOOST_TEST((status_event_stage(e) == st.s));
    BOOST_REQUIRE(replayed.apply(e));
  }
  for (uint32_t id = 1; id <= 3; ++id)
    BOOST_TEST((replayed.funnel_of(id) == live.funnel_of(id)));
  BOOST_TEST((replayed.counts() == live.counts()));
  BOOST_TEST(replayed.counts()[static_cast<size_t>(stage::read)] == 1u);
  BOOST_TEST(replayed.counts()[static_cast<size_t>(stage::delivered)] == 1u);
  BOOST_TEST(replayed.counts()[static_cast<size_t>(stage::closed)] == 1u);
  BOOST_TEST(replayed.counts()[static_cast<size_t>(stage::pending)] == 0u);
}

BOOST_AUTO_TEST_CASE(send_attempts_fold_from_any_payload_shape) {
  auto events = make_blast_events(spec_of({60111111111, 60222222222, 60333333333}), 3, 1);
  auto b = fold(events);
  // As make_send_requested writes it (read in place), with the text holding
  // look-alikes of the key.
  BOOST_REQUIRE(b.apply(make_send_requested(3, 1, 7, "{\"attempt\":99}", 10)));
  BOOST_TEST(b.attempts(1) == 7u);
  // Other shapes take the full parse: keys in another order, spaces, a number
  // too long for the fast path, or no attempt at all (the first).
  auto requested = make_send_requested(3, 2, 1, "x", 11);
  requested.payload = R"({"text":"{\"attempt\":5}","attempt":4})";
  BOOST_REQUIRE(b.apply(requested));
  BOOST_TEST(b.attempts(2) == 4u);
  requested.payload = R"({"attempt": 12, "text":"x"})";
  BOOST_REQUIRE(b.apply(requested));
  BOOST_TEST(b.attempts(2) == 12u);
  requested.payload = R"({"attempt":1000000000000,"text":"x"})";
  BOOST_REQUIRE(b.apply(requested));
  BOOST_TEST(b.attempts(2) == 255u);  // capped, as before
  requested.recipient = 3;
  requested.payload = R"({"text":"x"})";
  BOOST_REQUIRE(b.apply(requested));
  BOOST_TEST(b.attempts(3) == 1u);
}

BOOST_AUTO_TEST_CASE(undecodable_payloads_change_nothing) {
  auto events = make_blast_events(spec_of({60111111111}), 1, 1);
  auto b = fold(events);
  event bad;
  bad.type = event_type::recipient_status;
  bad.blast = 1;
  bad.recipient = 1;
  bad.payload = "{\"stage\":\"teleported\"}";
  BOOST_TEST(!b.apply(bad));
  bad.payload = "not json";
  BOOST_TEST(!b.apply(bad));
  bad.recipient = 2;  // no such recipient
  bad.payload = "{\"stage\":\"read\"}";
  BOOST_TEST(!b.apply(bad));
  BOOST_TEST((b.funnel_of(1).current == stage::pending));
}

BOOST_AUTO_TEST_SUITE_END()
