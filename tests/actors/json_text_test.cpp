// Client bytes as JSON text: the UTF-8 check, the U+FFFD repair for messages,
// and the base64 fallback that keeps any body byte for byte.
#define BOOST_TEST_MODULE actors_json_text
#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include "actors/json_text.hpp"

#include <vector>

namespace json = boost::json;
using namespace blast::actors;

BOOST_AUTO_TEST_CASE(is_utf8_follows_rfc_3629) {
  BOOST_TEST(is_utf8(""));
  BOOST_TEST(is_utf8(R"({"statuses":[{"id":"wamid.1","status":"read"}]})"));
  BOOST_TEST(is_utf8("Terima kasih \xF0\x9F\x99\x8F, caf\xC3\xA9, \xE2\x82\xAC"));
  // The word-at-a-time path and the byte path meet at every offset.
  for (size_t at = 0; at < 20; ++at) {
    std::string s(20, 'a');
    s[at] = '\xFF';
    BOOST_TEST(!is_utf8(s), at);
    s[at] = 'b';
    BOOST_TEST(is_utf8(s), at);
  }
  BOOST_TEST(!is_utf8("\xC0\xAF"));          // overlong '/'
  BOOST_TEST(!is_utf8("\xE0\x80\xAF"));      // overlong, three bytes
  BOOST_TEST(!is_utf8("\xED\xA0\x80"));      // a surrogate
  BOOST_TEST(!is_utf8("\xF4\x90\x80\x80"));  // past U+10FFFF
  BOOST_TEST(!is_utf8("abc\xE2\x82"));       // cut short
  BOOST_TEST(!is_utf8("\x80"));              // a continuation byte alone
}

BOOST_AUTO_TEST_CASE(to_utf8_replaces_each_bad_byte) {
  BOOST_TEST(to_utf8("ok \xC3\xA9") == "ok \xC3\xA9");
  BOOST_TEST(to_utf8("a\xFF" "b\xC3") == "a\xEF\xBF\xBD" "b\xEF\xBF\xBD");
  // A cut sequence: its lead byte is replaced, and the byte after it read as a start again.
  BOOST_TEST(to_utf8("\xE2\x82x") == "\xEF\xBF\xBD\xEF\xBF\xBDx");
  BOOST_TEST(to_utf8("\xE2\x82\xAC") == "\xE2\x82\xAC");
  // Valid runs are copied whole: the word-at-a-time path and the repair meet at every offset.
  for (size_t at = 0; at < 20; ++at) {
    std::string s(20, 'a');
    s[at] = '\xFF';
    std::string want = std::string(at, 'a') + "\xEF\xBF\xBD" + std::string(19 - at, 'a');
    BOOST_TEST(to_utf8(s) == want, at);
  }
}

BOOST_AUTO_TEST_CASE(json_strings_are_the_bytes_json_serialize_gives) {
  std::vector<std::string> cases = {"", "plain", "caf\xC3\xA9 \xF0\x9F\x99\x8F", "\"\\/\x7F",
                                    std::string("nul\0inside", 10), "end\n"};
  for (int b = 0; b < 0x80; ++b) {  // every ASCII byte alone, at the start, middle and end
    std::string c(1, static_cast<char>(b));
    cases.push_back(c);
    cases.push_back(c + "tail");
    cases.push_back("head" + c + "tail");
    cases.push_back("head" + c);
  }
  for (auto& s : cases) {
    std::string text = "x";
    append_json_string(text, s);
    BOOST_TEST(text == "x" + json::serialize(json::value(json::string(s))), text);
    BOOST_TEST(json::parse(text.substr(1)).as_string() == s);
  }
}

// The request's text in a logged webhook is written without a json::object; these are the bytes
// the one it replaced serialized to, and a replay parses them the same.
BOOST_AUTO_TEST_CASE(text_members_are_the_bytes_a_json_object_serializes) {
  using members = std::vector<std::pair<std::string, std::string>>;
  std::vector<members> cases = {
    {},
    {{"Host", "127.0.0.1"}, {"Content-Type", "application/json"}},
    {{"X-Hub-Signature-256", "sha256=ab"}, {"x", "1"}, {"X-Hub-Signature-256", "sha256=cd"}},
    {{"a", "1"}, {"b", "2"}, {"a", "3"}, {"c", "4"}, {"b", "5"}},
    {{"quote\"back\\slash", "tab\tnewline\n\x01"}, {"", ""}},
    {{"bad\xFF", "v\xC3"}, {"bad\xFE", "w"}, {"caf\xC3\xA9", "\xF0\x9F\x99\x8F"}},
  };
  for (size_t c = 0; c < cases.size(); ++c) {
    json::object o;
    for (auto& [k, v] : cases[c])
      o[to_utf8(k)] = to_utf8(v);
    std::string text;
    append_json_text_object(text, cases[c]);
    BOOST_TEST(text == json::serialize(o), c);
    for (auto& [k, v] : cases[c]) {
      std::string one;
      append_json_text(one, v);
      BOOST_TEST(one == json::serialize(json::value(to_utf8(v))), c);
    }
  }
}

BOOST_AUTO_TEST_CASE(bytes_members_keep_any_bytes_in_json_that_parses) {
  std::string every_byte;
  for (int b = 0; b < 256; ++b)
    every_byte.push_back(static_cast<char>(b));
  std::vector<std::string> cases;
  for (size_t n = 0; n <= every_byte.size(); n += (n < 8 ? 1 : 37)) {
    cases.push_back(every_byte.substr(0, n));                      // ASCII (controls too) first
    cases.push_back(every_byte.substr(every_byte.size() - n));  // the non-UTF-8 end first
  }
  cases.push_back("caf\xC3\xA9 \xF0\x9F\x99\x8F");
  for (auto& bytes : cases) {
    auto n = bytes.size();
    std::string text = "{";
    append_bytes_member(text, "body", bytes);
    text += '}';
    json::error_code ec;
    auto v = json::parse(text, ec);
    BOOST_TEST_REQUIRE(!ec, n << ": " << text);
    BOOST_TEST(v.as_object().contains(is_utf8(bytes) ? "body" : "bodyBase64"), n);
    auto back = bytes_member(v.as_object(), "body");
    BOOST_TEST_REQUIRE(back.has_value(), n);
    BOOST_TEST((*back == bytes), n);

    json::object o;
    put_bytes_member(o, "body", bytes);
    BOOST_TEST(json::serialize(o) == text, n);
  }
  BOOST_TEST(json::parse("{\"bodyBase64\":\"aGk=\"}").as_object().size() == 1u);
  BOOST_TEST(*bytes_member(json::parse("{\"bodyBase64\":\"aGk=\"}").as_object(), "body") == "hi");
  BOOST_TEST(!bytes_member(json::parse("{\"bodyBase64\":\"aGk\"}").as_object(), "body"));
  BOOST_TEST(!bytes_member(json::parse("{\"other\":\"x\"}").as_object(), "body"));
}
