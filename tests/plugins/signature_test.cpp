// The SDK's webhook signature check (plugins/sdk/blast_signature.hpp) against OpenSSL's one-shot
// HMAC(): its per-thread keyed context must give the same answers whatever secrets and threads
// take turns.
#define BOOST_TEST_MODULE plugins_signature
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "plugins/sdk/blast_signature.hpp"
#include "tools/wsapme_sim/webhook_sender.hpp"

namespace {

// The reference: OpenSSL's one-shot HMAC(), as the simulators sign.
std::string header_for(const std::string& secret, const std::string& body) {
  return "sha256=" + blast::tools::wsapme_sim::hmac_sha256_hex(secret, body);
}

bool verify(const std::string& header, const std::string& secret, const std::string& body) {
  std::string why;
  return blast_sdk::verify_sha256_signature(header, secret, body, why);
}

// Short, empty, and longer than SHA-256's 64-byte block (HMAC hashes those first).
const std::vector<std::string> secrets = {"bench-secret", "", std::string(100, 'k'), "other"};

} // namespace

BOOST_AUTO_TEST_CASE(secrets_taking_turns_on_one_thread) {
  const std::vector<std::string> bodies = {"", "{}", std::string(5000, 'x'), R"({"a":1})"};
  for (int round = 0; round < 3; ++round)
    for (const auto& secret : secrets)
      for (const auto& body : bodies) {
        BOOST_TEST(verify(header_for(secret, body), secret, body));
        // The same body under every other secret is refused.
        for (const auto& other : secrets)
          if (other != secret)
            BOOST_TEST(!verify(header_for(other, body), secret, body));
      }
}

BOOST_AUTO_TEST_CASE(a_changed_body_or_signature_is_refused) {
  const std::string body = R"({"statuses":[{"id":"wamid.1","status":"read"}]})";
  auto good = header_for("bench-secret", body);
  BOOST_TEST(verify(good, "bench-secret", body));
  BOOST_TEST(!verify(good, "bench-secret", body + " "));
  auto flipped = good;
  flipped.back() = flipped.back() == '0' ? '1' : '0';
  std::string why;
  BOOST_TEST(!blast_sdk::verify_sha256_signature(flipped, "bench-secret", body, why));
  BOOST_TEST(why == "signature does not match the body");
  BOOST_TEST(!blast_sdk::verify_sha256_signature("sha256=zz", "bench-secret", body, why));
  BOOST_TEST(why == "the signature is not sha256=<64 hex digits>");
}

BOOST_AUTO_TEST_CASE(threads_with_their_own_secrets_at_once) {
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (size_t t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 500; ++i) {
        const auto& secret = secrets[(t + i) % secrets.size()];
        std::string body = "body " + std::to_string(i) + " of thread " + std::to_string(t);
        if (!verify(header_for(secret, body), secret, body))
          ++wrong;
        if (verify(header_for(secret + "!", body), secret, body))
          ++wrong;
      }
    });
  for (auto& t : threads)
    t.join();
  BOOST_TEST(wrong.load() == 0);
}
