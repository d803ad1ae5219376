// Tests of the event encoding, the chain hash and the enum names: the byte
// format is the audit format, so its exact bytes are pinned here.
#define BOOST_TEST_MODULE storage_event
#include <boost/test/unit_test.hpp>

#include "storage/event.hpp"

#include <cstdint>
#include <limits>
#include <string>

using namespace blast::storage;

namespace {

std::string from_hex(std::string_view hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2)
    out.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  return out;
}

hash256 filled(uint8_t b) {
  hash256 h;
  h.fill(b);
  return h;
}

void check_equal(const event& a, const event& b) {
  BOOST_TEST(a.seq == b.seq);
  BOOST_TEST(static_cast<uint16_t>(a.type) == static_cast<uint16_t>(b.type));
  BOOST_TEST(static_cast<uint8_t>(a.source) == static_cast<uint8_t>(b.source));
  BOOST_TEST(a.blast == b.blast);
  BOOST_TEST(a.recipient == b.recipient);
  BOOST_TEST(a.time_ms == b.time_ms);
  BOOST_TEST(a.logged_ms == b.logged_ms);
  BOOST_TEST(a.message_id == b.message_id);
  BOOST_TEST(a.payload == b.payload);
  BOOST_TEST(to_hex(a.prev_hash) == to_hex(b.prev_hash));
}

// The sample whose bytes are written out by hand below, from the layout in event.hpp.
event sample() {
  event e;
  e.type = event_type::recipient_status;
  e.source = event_source::webhook;
  e.blast = 0x0102030405060708ull;
  e.recipient = 0x0a0b0c0du;
  e.time_ms = -2;
  e.logged_ms = 0x1122334455;
  e.message_id = "m1";
  e.payload = "{}";
  e.prev_hash = filled(0xab);
  return e;
}

const std::string sample_hex = "02"                // format
                               "0300"              // type 3, u16 LE
                               "04"                // source 4
                               "0807060504030201"  // blast, u64 LE
                               "0d0c0b0a"          // recipient, u32 LE
                               "feffffffffffffff"  // time_ms -2, i64 LE
                               "5544332211000000"  // logged_ms, i64 LE
                               "02000000"
                               "6d31"  // "m1"
                               "02000000"
                               "7b7d"  // "{}"
                               "abababababababababababababababab"
                               "abababababababababababababababab";

} // namespace

BOOST_AUTO_TEST_SUITE(storage_event)

BOOST_AUTO_TEST_CASE(encoding_matches_the_documented_layout) {
  auto bytes = encode(sample());
  BOOST_TEST(bytes == from_hex(sample_hex));
  auto e = decode(42, bytes);
  BOOST_TEST_REQUIRE(e.has_value());
  auto expected = sample();
  expected.seq = 42;  // from the key, not the value
  check_equal(*e, expected);
}

BOOST_AUTO_TEST_CASE(format_1_is_still_read) {
  // The first layout had no logged_ms; its fact time stands in for it.
  const std::string v1_hex = "01" "0300" "04" "0807060504030201" "0d0c0b0a" "feffffffffffffff"
                             "02000000" "6d31" "02000000" "7b7d"
                             "abababababababababababababababab"
                             "abababababababababababababababab";
  auto e = decode(42, from_hex(v1_hex));
  BOOST_TEST_REQUIRE(e.has_value());
  auto expected = sample();
  expected.seq = 42;
  expected.logged_ms = expected.time_ms;
  check_equal(*e, expected);
}

BOOST_AUTO_TEST_CASE(round_trip) {
  event empty;  // empty message_id and payload, zero hash
  event binary;
  binary.type = event_type::blast_created;
  binary.source = event_source::api;
  binary.blast = std::numeric_limits<uint64_t>::max();
  binary.recipient = std::numeric_limits<uint32_t>::max();
  binary.time_ms = std::numeric_limits<int64_t>::min();
  binary.logged_ms = std::numeric_limits<int64_t>::max();
  binary.message_id = std::string("id\0with\xffnul", 11);
  binary.payload = std::string("\0\x01\x02\xff\xfe", 5) + std::string(100000, '\x80');
  binary.prev_hash = filled(0xff);
  event msg;
  msg.type = event_type::blast_status;
  msg.source = event_source::poll;
  msg.blast = 7;
  msg.recipient = 3;
  msg.time_ms = 1700000000123;
  msg.message_id = "provider-msg-123";
  msg.payload = R"({"status":"delivered"})";
  for (const auto* e : {&empty, &binary, &msg}) {
    auto copy = *e;
    copy.seq = 9;
    auto d = decode(9, encode(*e));
    BOOST_TEST_REQUIRE(d.has_value());
    check_equal(*d, copy);
  }
  BOOST_TEST(encode(empty).size() == 72u);  // the fixed part alone
}

BOOST_AUTO_TEST_CASE(decode_rejects_every_truncation_and_trailing_bytes) {
  for (const auto& e : {sample(), event{}}) {
    auto bytes = encode(e);
    for (size_t len = 0; len < bytes.size(); ++len)
      BOOST_TEST(!decode(1, std::string_view(bytes).substr(0, len)).has_value(),
                 "truncated to " << len << " of " << bytes.size() << " bytes");
    BOOST_TEST(!decode(1, bytes + '\0').has_value());
    BOOST_TEST(!decode(1, bytes + "trailing").has_value());
  }
}

BOOST_AUTO_TEST_CASE(decode_rejects_malformed_values) {
  auto bytes = encode(sample());
  for (uint8_t format : {0, 3, 0xff}) {
    auto bad = bytes;
    bad[0] = static_cast<char>(format);
    BOOST_TEST(!decode(1, bad).has_value(), "format " << int(format));
  }
  // Length fields pointing past the end, including one that would overflow a
  // careless pos + len.
  for (auto len : {from_hex("03000000"), from_hex("ffffffff"), from_hex("fffffff0")}) {
    auto bad = bytes;
    bad.replace(32, 4, len);  // message_id length
    BOOST_TEST(!decode(1, bad).has_value());
    bad = bytes;
    bad.replace(38, 4, len);  // payload length
    BOOST_TEST(!decode(1, bad).has_value());
  }
  // A message_id length one short shifts every later field.
  auto shifted = bytes;
  shifted.replace(32, 4, from_hex("01000000"));
  BOOST_TEST(!decode(1, shifted).has_value());
}

BOOST_AUTO_TEST_CASE(unknown_type_and_source_numbers_survive) {
  auto e = sample();
  e.type = static_cast<event_type>(999);
  e.source = static_cast<event_source>(77);
  auto d = decode(1, encode(e));
  BOOST_TEST_REQUIRE(d.has_value());
  BOOST_TEST(static_cast<uint16_t>(d->type) == 999);
  BOOST_TEST(static_cast<uint8_t>(d->source) == 77);
  BOOST_TEST(std::string(to_string(d->type)) == "unknown");
  BOOST_TEST(std::string(to_string(d->source)) == "unknown");
  BOOST_TEST(encode(*d) == encode(e));  // re-encodes to the same bytes
}

BOOST_AUTO_TEST_CASE(enum_names) {
  const std::pair<event_type, const char*> types[] = {
      {event_type::blast_created, "blast_created"},
      {event_type::recipients_added, "recipients_added"},
      {event_type::recipient_status, "recipient_status"},
      {event_type::blast_status, "blast_status"}};
  for (auto [t, name] : types) {
    BOOST_TEST(std::string(to_string(t)) == name);
    auto back = event_type_from_string(name);
    BOOST_TEST_REQUIRE(back.has_value());
    BOOST_TEST(static_cast<int>(*back) == static_cast<int>(t));
  }
  const std::pair<event_source, const char*> sources[] = {
      {event_source::api, "api"},         {event_source::manual, "manual"},
      {event_source::transport, "transport"}, {event_source::webhook, "webhook"},
      {event_source::poll, "poll"},       {event_source::system, "system"}};
  for (auto [s, name] : sources) {
    BOOST_TEST(std::string(to_string(s)) == name);
    auto back = event_source_from_string(name);
    BOOST_TEST_REQUIRE(back.has_value());
    BOOST_TEST(static_cast<int>(*back) == static_cast<int>(s));
  }
  for (auto bad : {"", "API", "unknown", "blast_created ", "webhooks"}) {
    BOOST_TEST(!event_type_from_string(bad).has_value());
    BOOST_TEST(!event_source_from_string(bad).has_value());
  }
  // The numbers are part of the format.
  BOOST_TEST(static_cast<int>(event_type::blast_status) == 4);
  BOOST_TEST(static_cast<int>(event_source::system) == 6);
}

BOOST_AUTO_TEST_CASE(seq_keys_sort_by_number) {
  BOOST_TEST(seq_key(0x0102030405060708ull) == from_hex("0102030405060708"));
  // std::string's < compares bytes as unsigned, like RocksDB's bytewise
  // comparator; the extra parentheses keep Boost.Test's element-wise (signed
  // char) collection comparison out of it.
  BOOST_TEST((seq_key(255) < seq_key(256)));
  BOOST_TEST((seq_key(0x7f) < seq_key(0x80)));
  BOOST_TEST((seq_key(1) < seq_key(std::numeric_limits<uint64_t>::max())));
  for (uint64_t s : {1ull, 255ull, 256ull, 0xdeadbeefcafeull, ~0ull})
    BOOST_TEST(seq_from_key(seq_key(s)) == s);
  BOOST_TEST(seq_from_key("short") == 0u);
  BOOST_TEST(seq_from_key("nine bytes") == 0u);
}

BOOST_AUTO_TEST_CASE(to_hex_is_lower_case) {
  hash256 h{};
  h[0] = 0xAB;
  h[1] = 0x01;
  h[31] = 0xF0;
  BOOST_TEST(to_hex(h) == "ab01" + std::string(58, '0') + "f0");
}

BOOST_AUTO_TEST_CASE(chain_hash_known_answers) {
  // printf '\x00\x00\x00\x00\x00\x00\x00\x01abc' | sha256sum
  BOOST_TEST(to_hex(chain_hash(1, "abc")) ==
             "e98bc483cc6af9ccf82bc23e481a128c12818251d9d359a7b560dcabfd7909d6");
  // printf '\x01\x02\x03\x04\x05\x06\x07\x08' | sha256sum  (empty value)
  BOOST_TEST(to_hex(chain_hash(0x0102030405060708ull, "")) ==
             "66840dda154e8a113c31dd0ad32f7f3a366a80e8136979d8f5a101d3d29d6f72");
  // (printf '\0\0\0\0\0\0\0\x05'; echo -n <sample_hex> | xxd -r -p) | sha256sum
  BOOST_TEST(to_hex(chain_hash(5, from_hex(sample_hex))) ==
             "1be4e0bd3810b4672bfe5f9fb27ca2d0c3d4f5bec2b9977fc7b08b13bd47b357");
  // The seq is part of the hash: moving an event changes its hash.
  BOOST_TEST(to_hex(chain_hash(2, "abc")) != to_hex(chain_hash(1, "abc")));
}

BOOST_AUTO_TEST_SUITE_END()
