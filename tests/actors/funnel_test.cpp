// The funnel state machine: the full transition table, out-of-order and
// duplicate evidence, and order independence of positive evidence.
#define BOOST_TEST_MODULE actors_funnel
#include <algorithm>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "actors/funnel.hpp"

using namespace blast::actors;

namespace {
constexpr int64_t t0 = 1000, t1 = 2000;

// A funnel at `s` with evidence for `s` only (implied stages have no time).
funnel at_stage(stage s) {
  funnel f;
  if (s != stage::pending)
    BOOST_REQUIRE(f.apply(s, t0) == outcome::advanced);
  return f;
}

struct row {
  stage from, observed, to;
  outcome out;
};

// Every (current stage, observed stage) pair, written out from the rules in
// ARCHITECTURE.md rather than computed, so that a change to the rules fails here.
const std::vector<row> table = {
  {stage::pending, stage::pending, stage::pending, outcome::stale},
  {stage::pending, stage::sent, stage::sent, outcome::advanced},
  {stage::pending, stage::delivered, stage::delivered, outcome::advanced},
  {stage::pending, stage::read, stage::read, outcome::advanced},
  {stage::pending, stage::replied, stage::replied, outcome::advanced},
  {stage::pending, stage::closed, stage::closed, outcome::advanced},
  {stage::pending, stage::failed, stage::failed, outcome::advanced},

  {stage::sent, stage::pending, stage::sent, outcome::stale},
  {stage::sent, stage::sent, stage::sent, outcome::duplicate},
  {stage::sent, stage::delivered, stage::delivered, outcome::advanced},
  {stage::sent, stage::read, stage::read, outcome::advanced},
  {stage::sent, stage::replied, stage::replied, outcome::advanced},
  {stage::sent, stage::closed, stage::closed, outcome::advanced},
  {stage::sent, stage::failed, stage::failed, outcome::advanced},

  {stage::delivered, stage::pending, stage::delivered, outcome::stale},
  {stage::delivered, stage::sent, stage::delivered, outcome::backfilled},
  {stage::delivered, stage::delivered, stage::delivered, outcome::duplicate},
  {stage::delivered, stage::read, stage::read, outcome::advanced},
  {stage::delivered, stage::replied, stage::replied, outcome::advanced},
  {stage::delivered, stage::closed, stage::closed, outcome::advanced},
  {stage::delivered, stage::failed, stage::delivered, outcome::stale},

  {stage::read, stage::pending, stage::read, outcome::stale},
  {stage::read, stage::sent, stage::read, outcome::backfilled},
  {stage::read, stage::delivered, stage::read, outcome::backfilled},
  {stage::read, stage::read, stage::read, outcome::duplicate},
  {stage::read, stage::replied, stage::replied, outcome::advanced},
  {stage::read, stage::closed, stage::closed, outcome::advanced},
  {stage::read, stage::failed, stage::read, outcome::stale},

  {stage::replied, stage::pending, stage::replied, outcome::stale},
  {stage::replied, stage::sent, stage::replied, outcome::backfilled},
  {stage::replied, stage::delivered, stage::replied, outcome::backfilled},
  {stage::replied, stage::read, stage::replied, outcome::backfilled},
  {stage::replied, stage::replied, stage::replied, outcome::duplicate},
  {stage::replied, stage::closed, stage::closed, outcome::advanced},
  {stage::replied, stage::failed, stage::replied, outcome::stale},

  {stage::closed, stage::pending, stage::closed, outcome::stale},
  {stage::closed, stage::sent, stage::closed, outcome::backfilled},
  {stage::closed, stage::delivered, stage::closed, outcome::backfilled},
  {stage::closed, stage::read, stage::closed, outcome::backfilled},
  {stage::closed, stage::replied, stage::closed, outcome::backfilled},
  {stage::closed, stage::closed, stage::closed, outcome::duplicate},
  {stage::closed, stage::failed, stage::closed, outcome::stale},

  {stage::failed, stage::pending, stage::failed, outcome::stale},
  {stage::failed, stage::sent, stage::sent, outcome::advanced},  // later than the failure: a resend
  {stage::failed, stage::delivered, stage::delivered, outcome::advanced},
  {stage::failed, stage::read, stage::read, outcome::advanced},
  {stage::failed, stage::replied, stage::replied, outcome::advanced},
  {stage::failed, stage::closed, stage::closed, outcome::advanced},
  {stage::failed, stage::failed, stage::failed, outcome::duplicate},
};
} // namespace

BOOST_AUTO_TEST_SUITE(funnel_fsm)

BOOST_AUTO_TEST_CASE(table_covers_every_pair) {
  BOOST_TEST(table.size() == stage_count * stage_count);
}

BOOST_AUTO_TEST_CASE(transition_table) {
  for (auto& r : table) {
    auto f = at_stage(r.from);
    auto before = f;
    auto out = f.apply(r.observed, t1);
    BOOST_TEST_CONTEXT(to_string(r.from) << " + " << to_string(r.observed)) {
      BOOST_TEST(to_string(f.current) == to_string(r.to));
      BOOST_TEST(to_string(out) == to_string(r.out));
      // Times: set only for the observed stage, only when it was unknown, only
      // when the evidence was taken; everything else untouched.
      for (size_t i = 0; i < stage_count; ++i) {
        auto s = static_cast<stage>(i);
        bool takes = s == r.observed && before.at[i] == 0 &&
                     (out == outcome::advanced || out == outcome::backfilled);
        BOOST_TEST(f.at[i] == (takes ? t1 : before.at[i]), "time of " << to_string(s));
      }
      if (out == outcome::duplicate || out == outcome::stale)
        BOOST_TEST((f == before));
    }
  }
}

BOOST_AUTO_TEST_CASE(read_before_delivered_never_invents_delivered_time) {
  funnel f;
  BOOST_TEST((f.apply(stage::sent, 100) == outcome::advanced));
  BOOST_TEST((f.apply(stage::read, 300) == outcome::advanced));
  BOOST_TEST(f.reached(stage::delivered));
  BOOST_TEST(f.at[static_cast<size_t>(stage::delivered)] == 0);
  // The late delivery receipt fills its own time, and only once.
  BOOST_TEST((f.apply(stage::delivered, 200) == outcome::backfilled));
  BOOST_TEST(f.at[static_cast<size_t>(stage::delivered)] == 200);
  BOOST_TEST((f.apply(stage::delivered, 250) == outcome::duplicate));
  BOOST_TEST(f.at[static_cast<size_t>(stage::delivered)] == 200);
  BOOST_TEST((f.current == stage::read));
  BOOST_TEST(f.stage_time() == 300);
}

BOOST_AUTO_TEST_CASE(failure_only_before_delivery_and_recovered_by_delivery) {
  funnel f;
  f.apply(stage::sent, 100);
  BOOST_TEST((f.apply(stage::failed, 200) == outcome::advanced));
  BOOST_TEST(f.reached(stage::failed));
  BOOST_TEST(!f.reached(stage::sent));
  BOOST_TEST((f.apply(stage::sent, 150) == outcome::duplicate));  // its time is known
  BOOST_TEST((f.apply(stage::delivered, 300) == outcome::advanced));
  BOOST_TEST((f.current == stage::delivered));
  BOOST_TEST((f.apply(stage::failed, 400) == outcome::stale));
  BOOST_TEST((f.current == stage::delivered));
}

BOOST_AUTO_TEST_CASE(sent_before_the_failure_is_old_news_after_it_a_resend) {
  funnel f;
  BOOST_TEST((f.apply(stage::failed, 500) == outcome::advanced));
  BOOST_TEST((f.apply(stage::sent, 400) == outcome::stale));  // the attempt that failed
  BOOST_TEST((f.current == stage::failed));
  BOOST_TEST((f.apply(stage::sent, 900) == outcome::advanced));  // a later attempt got through
  BOOST_TEST((f.current == stage::sent));
  BOOST_TEST(f.at[static_cast<size_t>(stage::failed)] == 500);
  BOOST_TEST(f.at[static_cast<size_t>(stage::sent)] == 900);
}

BOOST_AUTO_TEST_CASE(positive_evidence_is_order_independent) {
  // Every ordering of every subset of positive stages folds to the same funnel.
  std::vector<stage> all(funnel_stages.begin(), funnel_stages.end());
  for (unsigned mask = 1; mask < (1u << all.size()); ++mask) {
    std::vector<stage> subset;
    for (size_t i = 0; i < all.size(); ++i)
      if (mask & (1u << i))
        subset.push_back(all[i]);
    funnel reference;
    for (auto s : subset)
      reference.apply(s, 1000 + static_cast<int64_t>(s));
    std::sort(subset.begin(), subset.end());
    do {
      funnel f;
      for (auto s : subset)
        f.apply(s, 1000 + static_cast<int64_t>(s));
      BOOST_TEST((f == reference));
    } while (std::next_permutation(subset.begin(), subset.end()));
    BOOST_TEST((reference.current == subset.back()));
  }
}

BOOST_AUTO_TEST_CASE(stage_names_round_trip) {
  for (size_t i = 0; i < stage_count; ++i) {
    auto s = static_cast<stage>(i);
    BOOST_TEST((stage_from_string(to_string(s)) == s));
  }
  BOOST_TEST(!stage_from_string("READ"));
  BOOST_TEST(!stage_from_string(""));
}

BOOST_AUTO_TEST_SUITE_END()
