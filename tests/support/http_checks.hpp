// Small helpers of the end-to-end suites that drive blastd over HTTP: a reply that must have a
// status and parse as JSON, and polling until a condition holds.
#pragma once

#include <chrono>
#include <thread>

#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include "tools/http_client.hpp"

namespace blast::test {

// The reply's JSON body; the test case stops (REQUIRE) on another status.
inline boost::json::value ok_json(const tools::http_reply& r, int status) {
  BOOST_TEST_REQUIRE(r.status == status, "HTTP " << r.status << " " << r.error << " " << r.body);
  return boost::json::parse(r.body);
}

// Polls `pred` every 100 ms until it holds or `timeout` passes; its last answer.
template <class Pred>
bool eventually(Pred pred, std::chrono::seconds timeout) {
  auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (pred())
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return pred();
}

} // namespace blast::test
