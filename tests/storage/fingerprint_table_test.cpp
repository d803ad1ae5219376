// fingerprint_table: look-ups, the newest value winning, and the generation
// bound that keeps memory fixed however many ids pass through.
#define BOOST_TEST_MODULE storage_fingerprint_table
#include <boost/test/unit_test.hpp>

#include <string>

#include "storage/fingerprint_table.hpp"

using blast::storage::fingerprint;
using blast::storage::fingerprint_table;

BOOST_AUTO_TEST_CASE(finds_what_was_put_and_the_newest_value_wins) {
  fingerprint_table<int> t(1000);
  BOOST_TEST(t.find(fingerprint("wamid.a")) == nullptr);
  BOOST_TEST(t.put(fingerprint("wamid.a"), 1));
  BOOST_TEST(t.put(fingerprint("wamid.b"), 2));
  BOOST_TEST(!t.put(fingerprint("wamid.a"), 3));  // not new: overwritten
  BOOST_TEST_REQUIRE(t.find(fingerprint("wamid.a")) != nullptr);
  BOOST_TEST(*t.find(fingerprint("wamid.a")) == 3);
  BOOST_TEST(*t.find(fingerprint("wamid.b")) == 2);
  BOOST_TEST(!t.contains(fingerprint("wamid.c")));
  BOOST_TEST(t.size() == 2u);
}

BOOST_AUTO_TEST_CASE(no_fingerprint_is_the_empty_marker) {
  BOOST_TEST(fingerprint("") != 0u);
  fingerprint_table<int> t(10);
  t.put(fingerprint(""), 7);
  BOOST_TEST(*t.find(fingerprint("")) == 7);
}

BOOST_AUTO_TEST_CASE(remembers_the_last_generation_and_forgets_older_ones) {
  const size_t generation = 10'000;
  fingerprint_table<uint32_t> t(generation);
  const uint32_t n = 55'000;
  for (uint32_t i = 0; i < n; ++i)
    t.put(fingerprint("id-" + std::to_string(i)), i);
  // At least the last `generation` ids, at most twice that.
  for (uint32_t i = n - generation; i < n; ++i) {
    auto* v = t.find(fingerprint("id-" + std::to_string(i)));
    BOOST_TEST_REQUIRE(v != nullptr, i);
    BOOST_TEST(*v == i);
  }
  BOOST_TEST(t.size() <= 2 * generation);
  BOOST_TEST(!t.contains(fingerprint("id-0")));
  BOOST_TEST(!t.contains(fingerprint("id-" + std::to_string(n - 2 * generation - 1))));
  // Memory: two generations of at most 4 x generation slots (half full at most,
  // rounded up to a power of two).
  size_t slot = sizeof(uint64_t) + sizeof(uint32_t) + 4;  // padded to 16
  BOOST_TEST(t.bytes() <= 2 * 4 * generation * slot);
}
