// Tests of the plugin host through real loaded .so files: the scripted test
// transport end to end, and broken plugins refused or contained at the boundary.
#define BOOST_TEST_MODULE plugins_loader
#include "plugins/host/transport_plugin.hpp"
#include "plugins/sdk/blast_transport.h"
#include "tests/support/temp_dir.hpp"

#include <atomic>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <optional>
#include <ostream>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

using namespace blast::plugins;

namespace blast::plugins {
// Found by ADL, so that failed checks print the error's name.
std::ostream& operator<<(std::ostream& os, send_error e) {
  switch (e) {
    case send_error::none:
      return os << "none";
    case send_error::retryable:
      return os << "retryable";
    case send_error::rate_limited:
      return os << "rate_limited";
    case send_error::permanent:
      return os << "permanent";
    case send_error::invalid:
      return os << "invalid";
    case send_error::internal:
      return os << "internal";
  }
  return os << "send_error(" << static_cast<int>(e) << ")";
}
} // namespace blast::plugins

namespace {

std::string plugin_path(const std::string& name) {
  return std::string(TESTPLUGIN_DIR) + "/" + plugin_file_name(name);
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

std::shared_ptr<plugin_library> load_ok(const std::string& name, log_fn log = {}) {
  std::string error;
  auto lib = plugin_library::load(plugin_path(name), error, std::move(log));
  BOOST_TEST_REQUIRE(bool(lib), error);
  BOOST_TEST(error.empty());
  return lib;
}

std::string load_error(const std::string& path) {
  std::string error;
  auto lib = plugin_library::load(path, error);
  BOOST_TEST(!lib);
  BOOST_TEST(!error.empty());
  return error;
}

std::unique_ptr<transport_instance> create_ok(plugin_library& lib, const std::string& config,
                                              push_fn push = {}) {
  std::string error;
  auto inst = lib.create(config, std::move(push), error);
  BOOST_TEST_REQUIRE(bool(inst), error);
  return inst;
}

std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);)
    lines.push_back(line);
  return lines;
}

std::string json_string(const std::string& s) {
  return "\"" + s + "\"";
}

// Collects pushed observations; must outlive the instances pushing to it.
struct push_collector {
  std::mutex mutex;
  std::condition_variable arrived;
  std::vector<observation> got;

  push_fn fn() {
    return [this](std::vector<observation>&& obs) {
      std::lock_guard lock(mutex);
      for (auto& o : obs)
        got.push_back(std::move(o));
      arrived.notify_all();
    };
  }

  std::vector<observation> wait_for(size_t n) {
    std::unique_lock lock(mutex);
    arrived.wait_for(lock, std::chrono::seconds(5), [&] { return got.size() >= n; });
    return got;
  }
};

webhook_request signed_webhook(std::string body, std::string signature = "good") {
  webhook_request req;
  req.method = "POST";
  req.path = "/hooks/scripted";
  req.headers = {{"content-type", "application/json"}, {"x-test-signature", signature}};
  req.body = std::move(body);
  return req;
}

} // namespace

BOOST_AUTO_TEST_SUITE(plugins_loader)

BOOST_AUTO_TEST_CASE(scripted_loads_and_describes_itself) {
  std::vector<std::pair<int, std::string>> lines;
  std::mutex m;
  auto lib = load_ok("scripted", [&](int level, const std::string& msg) {
    std::lock_guard lock(m);
    lines.emplace_back(level, msg);
  });
  const auto& info = lib->info();
  BOOST_TEST(info.path == plugin_path("scripted"));
  BOOST_TEST(info.name == "scripted");
  BOOST_TEST(info.version == "1.0.0");
  BOOST_TEST(info.abi_version == BLAST_TRANSPORT_ABI_VERSION);
  BOOST_TEST(info.capabilities ==
             (BLAST_CAP_SEND | BLAST_CAP_STATUS_QUERY | BLAST_CAP_WEBHOOK | BLAST_CAP_PUSH));

  auto inst = create_ok(*lib, "{}");
  BOOST_TEST(inst->info().name == "scripted");
  for (uint32_t cap : {BLAST_CAP_SEND, BLAST_CAP_STATUS_QUERY, BLAST_CAP_WEBHOOK, BLAST_CAP_PUSH})
    BOOST_TEST(inst->can(cap));
  // The plugin logs through the host table into the library's log_fn.
  std::lock_guard lock(m);
  BOOST_TEST_REQUIRE(lines.size() == 1u);
  BOOST_TEST(lines[0].first == BLAST_LOG_INFO);
  BOOST_TEST(lines[0].second == "scripted instance created");
}

BOOST_AUTO_TEST_CASE(plugin_file_names) {
  BOOST_TEST(plugin_file_name("sim") == "blast_sim.so");
  BOOST_TEST(plugin_file_name("wsapme") == "blast_wsapme.so");
}

BOOST_AUTO_TEST_CASE(ok_send_keeps_the_document_byte_for_byte) {
  auto lib = load_ok("scripted");
  auto inst = create_ok(*lib, R"({"default": "ok"})");
  // Quotes, a newline and UTF-8: the document must come back exactly as sent.
  auto r = inst->send("15550001", "say \"hi\"\n\xc3\xa9", "b1-r1");
  BOOST_TEST(r.error == send_error::none, r.message);
  BOOST_TEST(r.message_id == "S-15550001-1");
  BOOST_TEST(r.document ==
             R"({"key":{"remoteJid":"15550001@s.whatsapp.net","fromMe":true,"id":"S-15550001-1"},)"
             R"("status":"PENDING","text":"say \"hi\"\n)"
             "\xc3\xa9"
             R"(","idempotencyKey":"b1-r1"})");
  BOOST_TEST(r.message.empty());
  auto again = inst->send("15550001", "x", "b1-r1");
  BOOST_TEST(again.message_id == "S-15550001-2");
  BOOST_TEST(inst->send("15550002", "x", "b1-r2").message_id == "S-15550002-1");
}

BOOST_AUTO_TEST_CASE(every_scripted_outcome_maps_to_its_send_error) {
  blast::test::temp_dir dir;
  std::string log = dir.path() + "/sends.log";
  auto lib = load_ok("scripted");
  auto inst = create_ok(*lib, R"({"script": {"100": ["retryable", "ok"],
                                             "200": ["rate_limited:250"],
                                             "300": ["permanent"],
                                             "400": ["throw"],
                                             "500": ["sleep:50"]},
                                  "default": "ok", "sendLog": )" +
                                  json_string(log) + "}");

  auto r = inst->send("100", "t", "k1");
  BOOST_TEST(r.error == send_error::retryable);
  BOOST_TEST(r.message == "scripted retryable failure");
  BOOST_TEST(r.message_id.empty());
  BOOST_TEST(r.document.empty());
  r = inst->send("100", "t", "k1");
  BOOST_TEST(r.error == send_error::none);
  BOOST_TEST(r.message_id == "S-100-2"); // n counts every send to that number

  r = inst->send("200", "t", "k2");
  BOOST_TEST(r.error == send_error::rate_limited);
  BOOST_TEST(r.retry_after_ms == 250);
  BOOST_TEST(r.message == "scripted rate limit");
  r = inst->send("200", "t", "k2"); // script exhausted: "default"
  BOOST_TEST(r.error == send_error::none);
  BOOST_TEST(r.retry_after_ms == 0);

  r = inst->send("300", "t", "k3");
  BOOST_TEST(r.error == send_error::permanent);
  BOOST_TEST(r.message == "scripted permanent failure");

  // The exception stays inside the plugin; the host gets its text and goes on.
  r = inst->send("400", "t", "k4");
  BOOST_TEST(r.error == send_error::internal);
  BOOST_TEST(r.message == "plugin exception: scripted exception sending to 400");
  r = inst->send("400", "t", "k4");
  BOOST_TEST(r.error == send_error::none);
  BOOST_TEST(r.message_id == "S-400-2");

  auto start = std::chrono::steady_clock::now();
  r = inst->send("500", "t", "k5");
  BOOST_TEST(r.error == send_error::none);
  BOOST_TEST(r.message_id == "S-500-1");
  auto elapsed = std::chrono::steady_clock::now() - start;
  BOOST_TEST(std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count() >= 50);

  r = inst->send("12ab", "t", "k6");
  BOOST_TEST(r.error == send_error::invalid);
  BOOST_TEST(r.message == "'to' must be digits");

  std::vector<std::string> expected = {
      "100 k1 retryable", "100 k1 ok",        "200 k2 rate_limited:250",
      "200 k2 ok",        "300 k3 permanent", "400 k4 throw",
      "400 k4 ok",        "500 k5 sleep:50",  "12ab k6 invalid"};
  BOOST_TEST(read_lines(log) == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(send_log_appends_across_instances) {
  // What a restart looks like to the plugin: a new instance, the same file.
  blast::test::temp_dir dir;
  std::string log = dir.path() + "/sends.log";
  std::string config = R"({"sendLog": )" + json_string(log) + "}";
  auto lib = load_ok("scripted");
  create_ok(*lib, config)->send("1", "t", "b1-r1");
  create_ok(*lib, config)->send("1", "t", "b1-r1");
  std::vector<std::string> expected = {"1 b1-r1 ok", "1 b1-r1 ok"};
  BOOST_TEST(read_lines(log) == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(abi_violations_in_send_are_internal_errors) {
  auto lib = load_ok("scripted");
  auto inst = create_ok(*lib, R"({"script": {"1": ["no_id", "status:42"]}})");
  auto r = inst->send("1", "t", "k");
  BOOST_TEST(r.error == send_error::internal);
  BOOST_TEST(r.message == "plugin reported success without a message id");
  BOOST_TEST(r.message_id.empty());
  r = inst->send("1", "t", "k");
  BOOST_TEST(r.error == send_error::internal);
  BOOST_TEST(contains(r.message, "unexpected status 42"), r.message);
  BOOST_TEST(contains(r.message, "scripted raw status"), r.message);
}

BOOST_AUTO_TEST_CASE(bad_scripted_config_is_refused_with_the_reason) {
  auto lib = load_ok("scripted");
  std::string error;
  BOOST_TEST(!lib->create("not json", {}, error));
  BOOST_TEST(contains(error, plugin_path("scripted")), error);
  BOOST_TEST(contains(error, "config is not a JSON object"), error);
  BOOST_TEST(!lib->create(R"({"script": {"1": ["sometimes"]}})", {}, error));
  BOOST_TEST(contains(error, "unknown script entry 'sometimes'"), error);
}

BOOST_AUTO_TEST_CASE(pushed_delivery_arrives_with_every_field_copied) {
  push_collector pushes;
  auto lib = load_ok("scripted");
  auto inst = create_ok(*lib, R"({"pushDelivered": true})", pushes.fn());
  auto before = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  auto r = inst->send("4471", "hello", "b2-r7");
  BOOST_TEST_REQUIRE(r.error == send_error::none);
  auto got = pushes.wait_for(1);
  BOOST_TEST_REQUIRE(got.size() == 1u);
  const auto& o = got[0];
  BOOST_TEST(o.message_id == "S-4471-1");
  BOOST_TEST(o.stage == BLAST_STAGE_DELIVERED);
  BOOST_TEST(o.provider_status == "DELIVERY_ACK");
  BOOST_TEST(o.event_id == "ev-S-4471-1");
  BOOST_TEST(o.raw == R"({"id":"S-4471-1","status":"DELIVERY_ACK"})");
  // The plugin read the time from the host table's clock.
  BOOST_TEST(o.provider_time_ms >= before);
  BOOST_TEST(o.provider_time_ms < before + 5000);
  BOOST_TEST(o.sender.empty());
  BOOST_TEST(o.quoted_id.empty());
}

BOOST_AUTO_TEST_CASE(no_push_reaches_the_host_after_destroy) {
  std::atomic<bool> destroyed{false};
  std::atomic<int> pushed{0}, late{0};
  auto lib = load_ok("scripted");
  for (int round = 0; round < 5; ++round) {
    auto inst = create_ok(*lib, R"({"pushDelivered": true})", [&](std::vector<observation>&&) {
      ++pushed;
      if (destroyed)
        ++late;
    });
    destroyed = false;
    for (int i = 0; i < 20; ++i)
      inst->send(std::to_string(i), "t", "k");
    std::this_thread::sleep_for(std::chrono::milliseconds(round * 4));
    inst.reset(); // with pushes still queued in the plugin
    destroyed = true;
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  BOOST_TEST(late == 0);
  BOOST_TEST(pushed <= 100);
}

BOOST_AUTO_TEST_CASE(query_status_returns_observations_or_none) {
  auto lib = load_ok("scripted");
  auto inst = create_ok(*lib, "{}");
  std::string doc = R"({"key":{"id":"S-1-1"}, "status": "PENDING"})";
  std::vector<observation> out(1); // results are appended
  auto st = inst->query_status("S-1-1", doc, out);
  BOOST_TEST(st.ok(), st.message);
  BOOST_TEST_REQUIRE(out.size() == 2u);
  BOOST_TEST(out[1].message_id == "S-1-1");
  BOOST_TEST(out[1].stage == BLAST_STAGE_DELIVERED);
  BOOST_TEST(out[1].provider_status == "DELIVERY_ACK");
  BOOST_TEST(out[1].event_id == "q-S-1-1");
  BOOST_TEST(out[1].raw == doc);

  out.clear();
  st = inst->query_status("X-9", doc, out);
  BOOST_TEST(st.ok(), st.message); // "no status yet"
  BOOST_TEST(out.empty());
}

BOOST_AUTO_TEST_CASE(webhook_good_signature_gives_one_observation) {
  auto lib = load_ok("scripted");
  auto inst = create_ok(*lib, "{}");
  std::string body = R"({ "id": "S-1-1",  "status": 3 })";
  std::vector<observation> out;
  auto st = inst->parse_webhook(signed_webhook(body), out);
  BOOST_TEST(st.ok(), st.message);
  BOOST_TEST_REQUIRE(out.size() == 1u);
  BOOST_TEST(out[0].message_id == "S-1-1");
  BOOST_TEST(out[0].stage == BLAST_STAGE_READ);
  BOOST_TEST(out[0].provider_status == "STATUS_3");
  BOOST_TEST(out[0].event_id == "wh-S-1-1-3");
  BOOST_TEST(out[0].raw == body); // the raw fragment, whitespace and all
  BOOST_TEST(out[0].provider_time_ms == 0);

  // An inbound reply fills every field of the observation.
  out.clear();
  body = R"({"id": "", "status": 4, "from": "4479001", "quotedId": "S-4479001-1",)"
         R"( "providerStatus": "REPLY", "time": 1700000000123, "eventId": "e-1"})";
  st = inst->parse_webhook(signed_webhook(body), out);
  BOOST_TEST(st.ok(), st.message);
  BOOST_TEST_REQUIRE(out.size() == 1u);
  BOOST_TEST(out[0].message_id.empty());
  BOOST_TEST(out[0].sender == "4479001");
  BOOST_TEST(out[0].stage == BLAST_STAGE_REPLIED);
  BOOST_TEST(out[0].provider_status == "REPLY");
  BOOST_TEST(out[0].provider_time_ms == 1700000000123);
  BOOST_TEST(out[0].event_id == "e-1");
  BOOST_TEST(out[0].raw == body);
  BOOST_TEST(out[0].quoted_id == "S-4479001-1");
}

BOOST_AUTO_TEST_CASE(webhook_bad_signature_and_bad_body) {
  auto lib = load_ok("scripted");
  auto inst = create_ok(*lib, "{}");
  std::vector<observation> out;
  auto st = inst->parse_webhook(signed_webhook(R"({"id": "S-1-1", "status": 3})", "forged"), out);
  BOOST_TEST(st.code == BLAST_E_SIGNATURE);
  BOOST_TEST(st.message == "x-test-signature missing or wrong");
  BOOST_TEST(out.empty());

  webhook_request unsigned_req = signed_webhook(R"({"id": "S-1-1", "status": 3})");
  unsigned_req.headers.pop_back();
  st = inst->parse_webhook(unsigned_req, out);
  BOOST_TEST(st.code == BLAST_E_SIGNATURE);

  for (std::string body : {"not json", "", R"({"id": 7, "status": 3})", R"([1, 2])"}) {
    BOOST_TEST_CONTEXT("body " << body) {
      st = inst->parse_webhook(signed_webhook(body), out);
      BOOST_TEST(st.code == BLAST_E_INVALID);
      BOOST_TEST(!st.message.empty());
      BOOST_TEST(out.empty());
    }
  }
}

BOOST_AUTO_TEST_CASE(observation_fields_past_struct_size_stay_default) {
  auto lib = load_ok("scripted");
  auto inst = create_ok(*lib, "{}");
  auto hook = [&](size_t struct_size) {
    std::vector<observation> out;
    std::string body = R"({"id": "S-1-1", "status": 4, "from": "44", "quotedId": "S-44-1",)"
                       R"( "time": 17, "eventId": "e", "structSize": )" +
                       std::to_string(struct_size) + "}";
    auto st = inst->parse_webhook(signed_webhook(body), out);
    BOOST_TEST_REQUIRE(st.ok(), st.message);
    BOOST_TEST_REQUIRE(out.size() == 1u);
    return out[0];
  };

  // An older plugin whose observation ends before provider_time_ms.
  auto o = hook(offsetof(blast_observation, provider_time_ms));
  BOOST_TEST(o.message_id == "S-1-1");
  BOOST_TEST(o.sender == "44");
  BOOST_TEST(o.stage == 4);
  BOOST_TEST(o.provider_status == "STATUS_4");
  BOOST_TEST(o.provider_time_ms == 0);
  BOOST_TEST(o.event_id.empty());
  BOOST_TEST(o.raw.empty());
  BOOST_TEST(o.quoted_id.empty());

  o = hook(offsetof(blast_observation, stage));
  BOOST_TEST(o.sender == "44");
  BOOST_TEST(o.stage == 0);
  BOOST_TEST(o.provider_status.empty());

  o = hook(0);
  BOOST_TEST(o.message_id.empty());
  BOOST_TEST(o.stage == 0);

  // A newer plugin: the host reads the fields it knows and nothing past them.
  o = hook(sizeof(blast_observation) + 64);
  BOOST_TEST(o.message_id == "S-1-1");
  BOOST_TEST(o.provider_time_ms == 17);
  BOOST_TEST(o.quoted_id == "S-44-1");
}

BOOST_AUTO_TEST_CASE(concurrent_sends_on_one_instance) {
  blast::test::temp_dir dir;
  std::string log = dir.path() + "/sends.log";
  auto lib = load_ok("scripted");
  auto inst = create_ok(*lib, R"({"sendLog": )" + json_string(log) + "}");
  std::mutex m;
  std::set<std::string> ids;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        auto r = inst->send("777", "t", "b1-r" + std::to_string(t * 50 + i));
        std::lock_guard lock(m);
        ids.insert(r.message_id);
      }
    });
  for (auto& th : threads)
    th.join();
  BOOST_TEST(ids.size() == 200u);
  BOOST_TEST(ids.count("S-777-1") == 1u);
  BOOST_TEST(ids.count("S-777-200") == 1u);
  BOOST_TEST(read_lines(log).size() == 200u);
}

BOOST_AUTO_TEST_CASE(a_throwing_plugin_is_contained) {
  auto lib = load_ok("thrower");
  auto inst = create_ok(*lib, "{}");
  auto r = inst->send("1", "t", "k");
  BOOST_TEST(r.error == send_error::internal);
  BOOST_TEST(r.message == "plugin exception: thrower: send always throws");

  std::vector<observation> out;
  auto st = inst->query_status("S-1-1", "{}", out);
  BOOST_TEST(st.code == BLAST_E_INTERNAL);
  BOOST_TEST(st.message == "plugin exception of unknown type");

  // Not a declared capability: refused by the host without calling the plugin
  // (whose parse_webhook would answer BLAST_E_INTERNAL).
  BOOST_TEST(!inst->can(BLAST_CAP_WEBHOOK));
  st = inst->parse_webhook(signed_webhook("{}"), out);
  BOOST_TEST(st.code == BLAST_E_UNSUPPORTED);
  BOOST_TEST(contains(st.message, "thrower"), st.message);
  BOOST_TEST(out.empty());

  // The host keeps working, with this plugin and others.
  BOOST_TEST(inst->send("1", "t", "k").error == send_error::internal);
  auto scripted = load_ok("scripted");
  BOOST_TEST(create_ok(*scripted, "{}")->send("1", "t", "k").error == send_error::none);
}

// ABI 1.1 appended answer_webhook; a plugin built against 1.0 must keep loading and working,
// and the host must not read the bytes after its table (the test plugin puts a function there
// that would answer 299 if it were called).
BOOST_AUTO_TEST_CASE(a_1_0_plugin_loads_and_answers_no_webhook_itself) {
  auto lib = load_ok("abi_1_0");
  BOOST_TEST((lib->info().abi_version & 0xffffu) == 0u);
  auto inst = create_ok(*lib, "{}");
  std::optional<webhook_reply> reply;
  webhook_request get{"GET", "/webhooks/x", "hub.mode=subscribe", {}, ""};
  auto st = inst->answer_webhook(get, reply);
  BOOST_TEST(st.ok(), st.message);
  BOOST_TEST(!reply.has_value());
  std::vector<observation> out;
  BOOST_TEST(inst->parse_webhook(get, out).code == BLAST_E_UNSUPPORTED);
}

BOOST_AUTO_TEST_CASE(broken_plugins_are_refused_naming_file_and_reason) {
  struct broken {
    std::string name;
    std::string reason;
  };
  std::vector<broken> cases = {
      {"wrong_major", "plugin ABI 2.0, this blastd speaks 1.x"},
      {"short_table", "short table"},
      {"no_entry", "not a blastd transport plugin: no symbol blast_transport_entry"},
      {"null_entry", "entry point returned NULL"},
      {"null_fn", "send is NULL"},
      {"answer_short", "BLAST_CAP_WEBHOOK_ANSWER declared but answer_webhook is beyond struct_size"},
  };
  for (const auto& c : cases) {
    BOOST_TEST_CONTEXT("plugin " << c.name) {
      std::string error = load_error(plugin_path(c.name));
      BOOST_TEST(contains(error, plugin_path(c.name)), error);
      BOOST_TEST(contains(error, c.reason), error);
    }
  }
  // Refusals leave nothing behind: a good plugin still loads.
  load_ok("scripted");
}

BOOST_AUTO_TEST_CASE(create_error_text_is_propagated) {
  auto lib = load_ok("bad_create");
  for (int i = 0; i < 2; ++i) {
    std::string error;
    auto inst = lib->create(R"({"url": "http://x"})", {}, error);
    BOOST_TEST(!inst);
    BOOST_TEST(contains(error, plugin_path("bad_create")), error);
    BOOST_TEST(contains(error, "missing token in config"), error);
  }
}

BOOST_AUTO_TEST_CASE(files_that_are_not_plugins) {
  std::string missing = std::string(TESTPLUGIN_DIR) + "/blast_nonexistent.so";
  std::string error = load_error(missing);
  BOOST_TEST(contains(error, "cannot load plugin " + missing + ": "), error);
  BOOST_TEST(error.size() > ("cannot load plugin " + missing + ": ").size()); // dlerror's text

  blast::test::temp_dir dir;
  std::string junk = dir.path() + "/blast_junk.so";
  std::ofstream(junk) << "not an ELF file\n";
  error = load_error(junk);
  BOOST_TEST(contains(error, "cannot load plugin " + junk + ": "), error);
}

BOOST_AUTO_TEST_CASE(one_plugin_loaded_twice_and_instances_are_independent) {
  push_collector pushes1;
  auto lib1 = load_ok("scripted");
  auto lib2 = load_ok("scripted");
  BOOST_TEST(lib1 != lib2);
  auto inst1 =
      create_ok(*lib1, R"({"script": {"1": ["permanent"]}, "pushDelivered": true})", pushes1.fn());
  auto inst2 = create_ok(*lib2, R"({"default": "ok"})");
  auto inst3 = create_ok(*lib1, R"({"default": "retryable"})");

  BOOST_TEST(inst1->send("1", "t", "k").error == send_error::permanent);
  BOOST_TEST(inst2->send("1", "t", "k").message_id == "S-1-1"); // its own counter
  BOOST_TEST(inst3->send("1", "t", "k").error == send_error::retryable);
  BOOST_TEST(inst2->send("1", "t", "k").message_id == "S-1-2");

  // The plugin's code is shared, so its stored host table is the latest
  // load's; after that library is gone, pushes for lib1's instance must still
  // reach it (and must not touch freed memory).
  inst2.reset();
  lib2.reset();
  auto r = inst1->send("2", "t", "k");
  BOOST_TEST_REQUIRE(r.error == send_error::none, r.message);
  auto got = pushes1.wait_for(1);
  BOOST_TEST_REQUIRE(got.size() == 1u);
  BOOST_TEST(got[0].message_id == r.message_id);
}

BOOST_AUTO_TEST_CASE(lifetimes_of_libraries_and_instances) {
  auto mapped = [] {
    std::ifstream maps("/proc/self/maps");
    std::stringstream ss;
    ss << maps.rdbuf();
    std::string maps_text = ss.str();
    bool found = contains(maps_text, plugin_path("scripted"));
    if (found)
      BOOST_TEST_MESSAGE(maps_text);
    return found;
  };
  {
    // Instances destroyed before their library.
    auto lib = load_ok("scripted");
    auto a = create_ok(*lib, R"({"pushDelivered": true})", [](std::vector<observation>&&) {});
    auto b = create_ok(*lib, "{}");
    a->send("1", "t", "k");
    a.reset();
    b.reset();
    lib.reset();
  }
  BOOST_TEST(!mapped()); // dlclose'd with its last reference
  {
    // The caller drops the library first: its instance keeps it loaded.
    auto lib = load_ok("scripted");
    auto inst = create_ok(*lib, "{}");
    lib.reset();
    BOOST_TEST(mapped());
    BOOST_TEST(inst->info().name == "scripted");
    BOOST_TEST(inst->send("1", "t", "k").message_id == "S-1-1");
    inst.reset();
  }
  BOOST_TEST(!mapped());
  // And it loads again after being unloaded.
  auto lib = load_ok("scripted");
  BOOST_TEST(create_ok(*lib, "{}")->send("1", "t", "k").message_id == "S-1-1");
}

BOOST_AUTO_TEST_CASE(plugins_export_only_the_entry_point) {
  for (std::string name : {"scripted", "thrower", "bad_create"}) {
    BOOST_TEST_CONTEXT("plugin " << name) {
      std::string cmd = "nm -D --defined-only '" + plugin_path(name) + "' 2>&1";
      FILE* p = popen(cmd.c_str(), "r");
      BOOST_TEST_REQUIRE(p);
      std::vector<std::string> symbols;
      char buf[512];
      while (fgets(buf, sizeof buf, p)) {
        std::istringstream line(buf);
        std::string word, last;
        while (line >> word)
          last = word;
        if (!last.empty())
          symbols.push_back(last);
      }
      BOOST_TEST(pclose(p) == 0);
      std::vector<std::string> expected = {"blast_transport_entry"};
      BOOST_TEST(symbols == expected, boost::test_tools::per_element());
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
