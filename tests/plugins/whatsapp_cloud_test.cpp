// Tests of the whatsapp_cloud transport plugin, loaded through blastd's host API: sends against
// a scripted fake Graph API (the simulators' listener with a handler written here, recording
// what the plugin put on the wire), error classes, webhook signatures, batched notifications,
// and the verification handshake answered through ABI 1.1's answer_webhook.
#define BOOST_TEST_MODULE plugins_whatsapp_cloud
#include "plugins/host/transport_plugin.hpp"
#include "plugins/sdk/blast_transport.h"
#include "tests/support/send_error_print.hpp"
#include "tools/wsapme_sim/listener.hpp"
#include "tools/wsapme_sim/webhook_sender.hpp"

#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>
#include <dlfcn.h>
#include <mutex>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

using namespace blast::plugins;
namespace json = boost::json;
namespace sim = blast::tools::wsapme_sim;


namespace {

// A Graph API stand-in: answers what the test scripts, records every request.
struct fake_graph {
  std::mutex mu;
  std::vector<sim::request> seen;
  sim::response next; // the answer to every request
  sim::listener server{"127.0.0.1", 0, 1,
                       [this](const sim::request& r) {
                         std::lock_guard lock(mu);
                         seen.push_back(r);
                         return next;
                       },
                       0};

  std::string base_url() { return "http://127.0.0.1:" + std::to_string(server.port()); }
  sim::request last() {
    std::lock_guard lock(mu);
    BOOST_REQUIRE(!seen.empty());
    return seen.back();
  }
  void answer(unsigned status, std::string body) {
    std::lock_guard lock(mu);
    next.status = status;
    next.body = std::move(body);
  }
};

std::shared_ptr<plugin_library> load_plugin() {
  std::string error;
  auto lib = plugin_library::load(WA_PLUGIN, error);
  BOOST_REQUIRE_MESSAGE(lib, error);
  return lib;
}

std::unique_ptr<transport_instance> create(plugin_library& lib, const json::object& cfg) {
  std::string error;
  auto inst = lib.create(json::serialize(cfg), {}, error);
  BOOST_REQUIRE_MESSAGE(inst, error);
  return inst;
}

json::object base_config(const std::string& url) {
  return {{"baseUrl", url},          {"apiVersion", "v21.0"}, {"phoneNumberId", "1000"},
          {"accessToken", "tok"},    {"appSecret", "s3cret"}, {"verifyToken", "vt-123"},
          {"requestTimeoutMs", 5000}};
}

webhook_request signed_post(const std::string& body, const std::string& secret = "s3cret") {
  return {"POST", "/webhooks/wa", "",
          {{"x-hub-signature-256", "sha256=" + sim::hmac_sha256_hex(secret, body)}}, body};
}

const char* ok_answer =
    R"({"messaging_product":"whatsapp", "contacts":[{"input":"60123","wa_id":"60123"}],)"
    R"( "messages":[{"id":"wamid.ABC=="}]})";

} // namespace

BOOST_AUTO_TEST_CASE(declares_the_current_abi_and_the_answer_capability) {
  auto lib = load_plugin();
  BOOST_TEST(lib->info().name == "whatsapp-cloud");
  BOOST_TEST((lib->info().abi_version & 0xffffu) == BLAST_TRANSPORT_ABI_MINOR);
  BOOST_TEST(lib->info().capabilities ==
             (BLAST_CAP_SEND | BLAST_CAP_WEBHOOK | BLAST_CAP_WEBHOOK_ANSWER));
}

BOOST_AUTO_TEST_CASE(config_is_strict_and_names_the_key) {
  auto lib = load_plugin();
  std::string error;
  auto cfg = base_config("http://127.0.0.1:1");
  cfg.erase("phoneNumberId");
  BOOST_TEST(!lib->create(json::serialize(cfg), {}, error));
  BOOST_TEST(error.find("phoneNumberId") != std::string::npos, error);
  cfg = base_config("http://127.0.0.1:1");
  cfg["acessToken"] = "typo";
  BOOST_TEST(!lib->create(json::serialize(cfg), {}, error));
  BOOST_TEST(error.find("acessToken") != std::string::npos, error);
  cfg = base_config("http://127.0.0.1:1");
  cfg["messageType"] = "template"; // without its template object
  BOOST_TEST(!lib->create(json::serialize(cfg), {}, error));
  BOOST_TEST(error.find("template") != std::string::npos, error);
}

// The wire form of a text send, and the answer kept byte for byte as the document.
BOOST_AUTO_TEST_CASE(text_send_posts_to_the_phone_number_and_keeps_the_exact_answer) {
  fake_graph g;
  g.answer(200, ok_answer);
  auto lib = load_plugin();
  auto inst = create(*lib, base_config(g.base_url()));
  auto r = inst->send("60123", "Hello \"Ana\"", "b1-r1");
  BOOST_TEST(r.error == send_error::none, r.message);
  BOOST_TEST(r.message_id == "wamid.ABC==");
  BOOST_TEST(r.document == ok_answer); // spacing and order untouched
  auto req = g.last();
  BOOST_TEST(req.method == "POST");
  BOOST_TEST(req.target == "/v21.0/1000/messages");
  BOOST_TEST(req.header("Authorization") == "Bearer tok");
  auto body = json::parse(req.body).as_object();
  BOOST_TEST(body.at("messaging_product").as_string() == "whatsapp");
  BOOST_TEST(body.at("to").as_string() == "60123");
  BOOST_TEST(body.at("type").as_string() == "text");
  BOOST_TEST(body.at("text").at("body").as_string() == "Hello \"Ana\"");
}

// Per-recipient template parameters: the rendered message's fields fill {{1}}, {{2}}, ...
BOOST_AUTO_TEST_CASE(template_send_fills_parameters_from_the_rendered_message) {
  fake_graph g;
  g.answer(200, ok_answer);
  auto lib = load_plugin();
  auto cfg = base_config(g.base_url());
  cfg["messageType"] = "template";
  cfg["template"] = json::parse(R"({"name":"promo_1","language":"ms","components":[
      {"type":"body","parameters":[{"type":"text","text":"{{1}}"},
                                   {"type":"text","text":"code {{2}}"}]}]})");
  auto inst = create(*lib, cfg);
  auto r = inst->send("60123", "Ana|X12", "b1-r1");
  BOOST_TEST(r.error == send_error::none, r.message);
  auto t = json::parse(g.last().body).at("template");
  BOOST_TEST(t.at("name").as_string() == "promo_1");
  BOOST_TEST(t.at("language").at("code").as_string() == "ms");
  auto params = t.at("components").at(0).at("parameters").as_array();
  BOOST_TEST(params.at(0).at("text").as_string() == "Ana");
  BOOST_TEST(params.at(1).at("text").as_string() == "code X12");
  // A placeholder the message has no field for is the blast's mistake: invalid, not retried.
  auto bad = inst->send("60123", "Ana", "b1-r2");
  BOOST_TEST(bad.error == send_error::invalid);
  BOOST_TEST(bad.message.find("{{2}}") != std::string::npos, bad.message);
}

// ABI 1.2: the recipient's vars fill {{vars.<key>}} directly (numbers as JSON writes them);
// a var the recipient lacks is the blast's mistake, named in the error; a request from a 1.1
// host (shorter, no vars) is served without reading past its end.
BOOST_AUTO_TEST_CASE(template_send_fills_parameters_from_the_recipients_vars) {
  fake_graph g;
  g.answer(200, ok_answer);
  auto lib = load_plugin();
  auto cfg = base_config(g.base_url());
  cfg["messageType"] = "template";
  cfg["template"] = json::parse(R"({"name":"promo_2","language":"en_US","components":[
      {"type":"header","parameters":[{"type":"text","text":"{{vars.first}}"}]},
      {"type":"body","parameters":[{"type":"text","text":"{{vars.code}}"},
                                   {"type":"text","text":"{{vars.points}} pts, {{text}}"}]}]})");
  auto inst = create(*lib, cfg);
  auto r = inst->send("60123", "Hi Ana", "b1-r1", R"({"first":"Ana","code":"X12","points":250})");
  BOOST_TEST_REQUIRE(r.error == send_error::none, r.message);
  auto components = json::parse(g.last().body).at("template").at("components").as_array();
  BOOST_TEST(components.at(0).at("parameters").at(0).at("text").as_string() == "Ana");
  BOOST_TEST(components.at(1).at("parameters").at(0).at("text").as_string() == "X12");
  BOOST_TEST(components.at(1).at("parameters").at(1).at("text").as_string() ==
             "250 pts, Hi Ana");

  auto missing = inst->send("60123", "Hi Bo", "b1-r2", R"({"first":"Bo","points":1})");
  BOOST_TEST(missing.error == send_error::invalid);
  BOOST_TEST(missing.message.find("\"code\"") != std::string::npos, missing.message);
  auto none = inst->send("60123", "Hi Cy", "b1-r3");
  BOOST_TEST(none.error == send_error::invalid);

  // The same call as a 1.1 host makes it: struct_size stops before `vars`, whose bytes here
  // are garbage that must not be read.
  void* so = dlopen(WA_PLUGIN, RTLD_NOW | RTLD_NOLOAD); // the library `lib` holds
  BOOST_TEST_REQUIRE(so != nullptr);
  auto entry = reinterpret_cast<blast_transport_entry_fn>(dlsym(so, BLAST_TRANSPORT_ENTRY_SYMBOL));
  static blast_host_v1 host{}; // the plugin keeps the pointer until it is next loaded
  host.abi_version = (1u << 16) | 1u;
  host.struct_size = sizeof host;
  const blast_transport_v1* t = entry(&host);
  BOOST_TEST_REQUIRE(t != nullptr);
  char err[256] = {};
  std::string to = "60123", text = "x", key = "b1-r4";
  blast_send_request old{};
  old.struct_size = offsetof(blast_send_request, vars);
  old.to = {to.data(), to.size()};
  old.text = {text.data(), text.size()};
  old.idempotency_key = {key.data(), key.size()};
  old.vars = {reinterpret_cast<const char*>(uintptr_t{1}), size_t{1} << 40};
  auto* raw = t->create(json::serialize(cfg).data(), json::serialize(cfg).size(), nullptr, err,
                        sizeof err);
  BOOST_TEST_REQUIRE(raw != nullptr, err);
  int64_t retry = 0;
  int code = t->send(raw, &old, [](void*, blast_str, blast_str) {}, nullptr, &retry, err,
                     sizeof err);
  BOOST_TEST(code == BLAST_E_INVALID); // {{vars.first}} has no value: no vars from this host
  BOOST_TEST(std::string(err).find("vars.first") != std::string::npos, err);
  t->destroy(raw);
  dlclose(so);
}

// Each Graph error class, with its code kept in the message (it ends up in the event).
BOOST_AUTO_TEST_CASE(graph_errors_map_to_retryable_rate_limited_and_permanent) {
  struct row {
    unsigned http;
    int code; // -1: no Graph error object
    send_error expected;
  };
  const row rows[] = {
      {400, 130429, send_error::retryable},    {400, 131056, send_error::retryable},
      {500, 131000, send_error::retryable},    {503, -1, send_error::retryable},
      {400, 4, send_error::rate_limited},      {400, 80007, send_error::rate_limited},
      {429, -1, send_error::rate_limited},     {400, 131049, send_error::permanent},
      {400, 131026, send_error::permanent},    {400, 132001, send_error::permanent},
      {400, 132000, send_error::permanent},    {400, 100, send_error::permanent},
      {401, 190, send_error::permanent},
  };
  fake_graph g;
  auto lib = load_plugin();
  auto inst = create(*lib, base_config(g.base_url()));
  for (const auto& row : rows) {
    BOOST_TEST_CONTEXT("HTTP " << row.http << " code " << row.code) {
      g.answer(row.http,
               row.code < 0 ? std::string("upstream trouble")
                            : json::serialize(json::object{
                                  {"error", json::object{{"message", "m"},
                                                         {"code", row.code},
                                                         {"error_subcode", 2494055},
                                                         {"fbtrace_id", "TRACE1"}}}}));
      auto r = inst->send("60123", "hi", "k");
      BOOST_TEST(r.error == row.expected, r.message);
      if (row.code >= 0) {
        BOOST_TEST(r.message.find(std::to_string(row.code)) != std::string::npos, r.message);
        BOOST_TEST(r.message.find("TRACE1") != std::string::npos, r.message);
      }
    }
  }
  // No answer at all (nothing listens): retryable.
  auto cfg = base_config("http://127.0.0.1:1");
  auto dead = create(*lib, cfg);
  BOOST_TEST(dead->send("60123", "hi", "k").error == send_error::retryable);
}

BOOST_AUTO_TEST_CASE(signature_is_checked_over_the_raw_body) {
  auto lib = load_plugin();
  auto inst = create(*lib, base_config("http://127.0.0.1:1"));
  std::string body = R"({"object":"whatsapp_business_account","entry":[]})";
  std::vector<observation> out;
  BOOST_TEST(inst->parse_webhook(signed_post(body), out).ok());
  auto wrong_key = signed_post(body, "other");
  BOOST_TEST(inst->parse_webhook(wrong_key, out).code == BLAST_E_SIGNATURE);
  auto altered = signed_post(body);
  altered.body += " "; // one byte more than was signed
  BOOST_TEST(inst->parse_webhook(altered, out).code == BLAST_E_SIGNATURE);
  auto unsigned_req = signed_post(body);
  unsigned_req.headers.clear();
  BOOST_TEST(inst->parse_webhook(unsigned_req, out).code == BLAST_E_SIGNATURE);
  BOOST_TEST(out.empty());
  // Verified but unreadable: invalid, so blastd keeps it in the rejected list.
  BOOST_TEST(inst->parse_webhook(signed_post("[1,2]"), out).code == BLAST_E_INVALID);
}

// One request, several entries, changes, statuses and messages: one observation each, in order.
BOOST_AUTO_TEST_CASE(a_batched_notification_yields_one_observation_per_status_and_message) {
  auto lib = load_plugin();
  auto inst = create(*lib, base_config("http://127.0.0.1:1"));
  std::string body = R"({"object":"whatsapp_business_account","entry":[
    {"id":"W1","changes":[{"field":"messages","value":{"statuses":[
      {"id":"wamid.A","status":"sent","timestamp":"1700000000","recipient_id":"601"},
      {"id":"wamid.A","status":"read","timestamp":"1700000009","recipient_id":"601"},
      {"id":"wamid.B","status":"played","timestamp":"1700000010","recipient_id":"602"},
      {"id":"wamid.C","status":"deleted","timestamp":"1700000011","recipient_id":"603"}]}}]},
    {"id":"W1","changes":[{"field":"messages","value":{
      "statuses":[{"id":"wamid.D","status":"failed","timestamp":"1700000012",
                   "recipient_id":"604","errors":[{"code":131049,"title":"Not delivered"}]}],
      "messages":[
        {"from":"601","id":"wamid.IN1","timestamp":"1700000020","type":"text",
         "text":{"body":"yes"},"context":{"from":"1000","id":"wamid.A"}},
        {"from":"605","id":"wamid.IN2","timestamp":"1700000021","type":"text",
         "text":{"body":"hi"}}]}}]}]})";
  std::vector<observation> out;
  auto st = inst->parse_webhook(signed_post(body), out);
  BOOST_TEST_REQUIRE(st.ok(), st.message);
  BOOST_TEST_REQUIRE(out.size() == 6u); // "deleted" is no funnel stage
  BOOST_TEST(out[0].message_id == "wamid.A");
  BOOST_TEST(out[0].stage == BLAST_STAGE_SENT);
  BOOST_TEST(out[0].provider_time_ms == 1700000000000);
  BOOST_TEST(out[1].stage == BLAST_STAGE_READ); // a read with no delivered: reported as is
  BOOST_TEST(out[2].stage == BLAST_STAGE_READ); // played counts as read
  BOOST_TEST(out[2].provider_status == "played");
  BOOST_TEST(out[3].stage == BLAST_STAGE_FAILED);
  BOOST_TEST(out[3].provider_status.find("131049") != std::string::npos, out[3].provider_status);
  BOOST_TEST(out[4].stage == BLAST_STAGE_REPLIED);
  BOOST_TEST(out[4].sender == "601");
  BOOST_TEST(out[4].quoted_id == "wamid.A");
  BOOST_TEST(out[5].sender == "605");
  BOOST_TEST(out[5].quoted_id.empty());
  // Event ids are stable, so the same notification sent twice is de-duplicated by blastd.
  std::vector<observation> again;
  BOOST_TEST(inst->parse_webhook(signed_post(body), again).ok());
  for (size_t i = 0; i < out.size(); ++i)
    BOOST_TEST(out[i].event_id == again[i].event_id);
  BOOST_TEST(out[0].event_id != out[1].event_id);
  BOOST_TEST(json::parse(out[0].raw).at("status").as_string() == "sent");
}

BOOST_AUTO_TEST_CASE(the_verification_handshake_is_answered_by_the_plugin) {
  auto lib = load_plugin();
  auto inst = create(*lib, base_config("http://127.0.0.1:1"));
  auto get = [&](const std::string& query) {
    std::optional<webhook_reply> reply;
    auto st = inst->answer_webhook({"GET", "/webhooks/wa", query, {}, ""}, reply);
    BOOST_TEST(st.ok(), st.message);
    return reply;
  };
  auto good = get("hub.mode=subscribe&hub.verify_token=vt-123&hub.challenge=1158201444");
  BOOST_TEST_REQUIRE(good.has_value());
  BOOST_TEST(good->status == 200);
  BOOST_TEST(good->body == "1158201444");
  auto bad = get("hub.mode=subscribe&hub.verify_token=vt-124&hub.challenge=1158201444");
  BOOST_TEST_REQUIRE(bad.has_value());
  BOOST_TEST(bad->status == 403);
  BOOST_TEST(bad->body.find("1158201444") == std::string::npos);
  BOOST_TEST(get("hub.mode=subscribe&hub.challenge=1")->status == 403); // no token at all
  BOOST_TEST(!get("a=b").has_value()); // not a handshake: left to the host
  // Without a configured verifyToken every handshake is refused.
  auto cfg = base_config("http://127.0.0.1:1");
  cfg.erase("verifyToken");
  auto no_token = create(*lib, cfg);
  std::optional<webhook_reply> reply;
  BOOST_TEST(no_token->answer_webhook({"GET", "/w", "hub.mode=subscribe&hub.verify_token=&"
                                                    "hub.challenge=1", {}, ""}, reply).ok());
  BOOST_TEST_REQUIRE(reply.has_value());
  BOOST_TEST(reply->status == 403);
}
