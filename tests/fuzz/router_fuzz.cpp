// Fuzz target: the HTTP API (engine::http::router::handle) over one real
// actor service on a temporary log, with a manual blast and a whatsapp_cloud
// transport (webhooks through its plugin) set up once. Each input is one
// request (fuzz_input.hpp: "METHOD TARGET", headers, body); the service keeps
// its state between inputs, as a server does between requests.
//
// Beyond crashes and sanitizer reports, it checks what every client relies
// on: exactly one answer, within seconds; no 500; every JSON answer parses; an
// error answer has the shape {"error": {"code", "message"}}.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <memory>
#include <mutex>
#include <string>

#include <boost/json.hpp>

#include "actors/service.hpp"
#include "engine/http/router.hpp"
#include "tests/fuzz/fuzz_input.hpp"

namespace json = boost::json;
using namespace blast;

namespace {

struct world {
  std::string dir;
  std::unique_ptr<actors::service> svc;
  std::unique_ptr<engine::http::router> router;
};
world* w = nullptr;

[[noreturn]] void fail(const std::string& what, const engine::http::request& req) {
  std::fprintf(stderr, "router_fuzz: %s\n  request: %s %s\n", what.c_str(), req.method.c_str(),
               req.target.c_str());
  std::abort();
}

// One request, answered within `limit`; the answer, or abort().
engine::http::response call(engine::http::request req,
                            std::chrono::seconds limit = std::chrono::seconds(20)) {
  struct slot {
    std::promise<engine::http::response> p;
    std::atomic<int> calls{0};
  };
  auto s = std::make_shared<slot>();
  auto copy = req;
  w->router->handle(std::move(req), [s](engine::http::response r) {
    if (s->calls.fetch_add(1) == 0)
      s->p.set_value(std::move(r));
    else
      std::abort();  // `done` called twice: the router's contract is exactly once
  });
  auto f = s->p.get_future();
  if (f.wait_for(limit) != std::future_status::ready)
    fail("no answer within " + std::to_string(limit.count()) + " s", copy);
  return f.get();
}

void check_answer(const engine::http::request& req, engine::http::response& r) {
  if (r.status < 200 || r.status > 599)
    fail("status " + std::to_string(r.status), req);
  if (r.status == 500)
    fail("500: " + r.body, req);
  if (r.stream) {
    // A CSV export or an SSE stream: its first piece must come. A stream
    // that ends at once is fine; a live one is dropped after it.
    std::promise<engine::http::body_source::piece> p;
    auto f = p.get_future();
    auto once = std::make_shared<std::promise<engine::http::body_source::piece>>(std::move(p));
    r.stream->next([once](engine::http::body_source::piece pc) { once->set_value(std::move(pc)); });
    if (f.wait_for(std::chrono::seconds(20)) != std::future_status::ready)
      fail("a streamed body's first piece never came", req);
    return;
  }
  if (r.content_type != "application/json")
    return;
  json::error_code ec;
  json::value v = json::parse(r.body, ec);
  if (ec)
    fail("the JSON answer does not parse: " + r.body, req);
  if (r.status >= 400) {
    const json::object* o = v.if_object();
    const json::value* e = o ? o->if_contains("error") : nullptr;
    const json::object* eo = e ? e->if_object() : nullptr;
    const json::value* code = eo ? eo->if_contains("code") : nullptr;
    const json::value* msg = eo ? eo->if_contains("message") : nullptr;
    if (!code || !code->is_string() || !msg || !msg->is_string() || msg->get_string().empty())
      fail("an error without {\"error\": {\"code\", \"message\"}}: " + r.body, req);
  }
}

// At exit: remove the temporary log, then end the process at once. The
// service is not stopped: exit() has already destroyed function-local statics
// first used after start-up (CAF's and ours), and stopping the actors against
// them corrupts the heap. libFuzzer ends with exit(0) after -max_total_time
// and the replay driver after its last input; a failure never gets here
// (abort() runs no exit handlers).
void remove_world() {
  std::error_code ec;
  std::filesystem::remove_all(w->dir, ec);
  std::fflush(nullptr);
  std::_Exit(0);
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  std::string tmpl = (std::filesystem::temp_directory_path() / "blast-fuzz-XXXXXX").string();
  if (!mkdtemp(tmpl.data()))
    std::abort();
  w = new world;
  w->dir = tmpl;

  actors::service_options o;
  o.data_dir = w->dir;
  o.plugin_dir = BLAST_FUZZ_PLUGIN_DIR;
  o.sync = false;            // durability is not under test here; fsync would set the pace
  o.passivate_after_ms = 200;  // recipients go and come back while the fuzzer runs
  o.log = [](int, const std::string&) {};
  // Webhooks reach the plugin's parser through /webhooks/wa; sends to it
  // fail fast (nothing listens on port 9) and are retried, then failed.
  actors::transport_options t;
  t.name = "wa";
  t.plugin = "whatsapp_cloud";
  t.plugin_config = R"({"baseUrl":"http://127.0.0.1:9","apiVersion":"v21.0",)"
                    R"("phoneNumberId":"1000","accessToken":"tok","verifyToken":"vt-123",)"
                    R"("requestTimeoutMs":1000})";
  t.max_attempts = 2;
  t.retry_base_ms = 50;
  o.transports = {t};
  std::string err;
  w->svc = actors::service::start(o, err);
  if (!w->svc) {
    std::fprintf(stderr, "router_fuzz: the service did not start: %s\n", err.c_str());
    std::abort();
  }
  engine::http::router_options ro;
  ro.max_recipients = 200;  // bounded memory however many blasts the fuzzer creates
  w->router = std::make_unique<engine::http::router>(*w->svc, ro);
  std::atexit(remove_world);

  // Blast 1 (manual, three recipients, one of them read), so that paths
  // under /api/blasts/1 reach real state from the first input on.
  engine::http::request create{"POST", "/api/blasts", {},
                               R"({"message":"Hi {{name}}","blastTag":"seed","transport":"manual",)"
                               R"("recipients":["60123456789",{"phoneNumber":"60198765432",)"
                               R"("name":"Aisyah","vars":{"plan":"gold"}},"60111111111"]})"};
  if (call(create).status != 201)
    std::abort();
  engine::http::request read{"POST", "/api/blasts/1/recipients/1/status", {}, R"({"stage":"read"})"};
  if (call(read).status != 200)
    std::abort();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 64 * 1024)
    return 0;  // the interesting structure is small; huge inputs only slow the search
  auto in = test::fuzz::parse_text_input(data, size);
  auto [method, target] = test::fuzz::split_first_word(in.first);
  engine::http::request req{method, target, std::move(in.headers), std::move(in.body)};
  auto copy = req;
  auto r = call(std::move(req));
  check_answer(copy, r);
  return 0;
}
