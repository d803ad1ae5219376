// ISO 8601 formatting and parsing, and the listen-address parser.
#define BOOST_TEST_MODULE engine_iso_time
#include <boost/test/unit_test.hpp>

#include "engine/config.hpp"
#include "engine/iso_time.hpp"

using namespace blast::engine;

BOOST_AUTO_TEST_SUITE(iso_time)

BOOST_AUTO_TEST_CASE(formats_utc_with_millis) {
  BOOST_TEST(format_iso(0) == "1970-01-01T00:00:00.000Z");
  BOOST_TEST(format_iso(1768716040123) == "2026-01-18T06:00:40.123Z");
  BOOST_TEST(format_iso(951782400000) == "2000-02-29T00:00:00.000Z");
  BOOST_TEST(format_iso(-1) == "1969-12-31T23:59:59.999Z");
}

BOOST_AUTO_TEST_CASE(parses_zones_and_fractions) {
  BOOST_TEST(*parse_iso("2026-01-18T06:00:40.123Z") == 1768716040123);
  BOOST_TEST(*parse_iso("2026-01-18T06:00:40Z") == 1768716040000);
  BOOST_TEST(*parse_iso("2026-01-18T14:00:40.1+08:00") == 1768716040100);
  BOOST_TEST(*parse_iso("2026-01-18T01:00:40.123456-05:00") == 1768716040123);
  for (int64_t ms : {int64_t{0}, int64_t{951782400000}, int64_t{1768716040123}})
    BOOST_TEST(*parse_iso(format_iso(ms)) == ms);
}

BOOST_AUTO_TEST_CASE(rejects_what_is_not_a_time) {
  for (auto bad : {"", "tomorrow", "2026-01-18", "2026-01-18T06:00:40", "2026-13-01T00:00:00Z",
                   "2026-02-29T00:00:00Z", "2026-01-18T24:00:00Z", "2026-01-18T06:00:40.Z",
                   "2026-01-18T06:00:40Zjunk", "2026-01-18T06:00:40+0800"})
    BOOST_TEST(!parse_iso(bad), bad);
}

BOOST_AUTO_TEST_CASE(listen_addresses) {
  std::string host;
  uint16_t port = 0;
  BOOST_TEST(parse_listen("127.0.0.1:8080", host, port));
  BOOST_TEST(host == "127.0.0.1");
  BOOST_TEST(port == 8080);
  BOOST_TEST(parse_listen("[::1]:0", host, port));
  BOOST_TEST(host == "::1");
  BOOST_TEST(!parse_listen("localhost", host, port));
  BOOST_TEST(!parse_listen("h:99999", host, port));
  BOOST_TEST(!parse_listen("h:80x", host, port));
}

BOOST_AUTO_TEST_SUITE_END()
