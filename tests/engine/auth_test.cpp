// API keys: the config's entries and the access rule on their own, then blastd
// as a process with keys in its config file: 401/403 with their bodies and
// WWW-Authenticate, scopes, what stays open (signed webhooks, /healthz, the
// dashboard, /metrics unless configured), bodies not read without a key, and
// the loopback rule at start-up.
#define BOOST_TEST_MODULE engine_auth
#include <boost/test/unit_test.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/hmac.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <thread>

#include <boost/json.hpp>

#include "engine/config.hpp"
#include "engine/http/auth.hpp"
#include "tests/support/process.hpp"
#include "tests/support/raw_socket.hpp"
#include "tests/support/temp_dir.hpp"
#include "tools/http_client.hpp"

namespace json = boost::json;
using namespace blast;

namespace {

const std::string admin_secret = "ops-0123456789abcdef";
const std::string read_secret = "viewer-0123456789abcdef";
const std::string hook_secret = "hook-secret";

std::string hex(const unsigned char* p, size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    out += digits[p[i] >> 4];
    out += digits[p[i] & 15];
  }
  return out;
}

std::string sha256_hex(const std::string& s) {
  auto d = engine::http::key_digest(s);
  return hex(d.data(), d.size());
}

std::string hmac_hex(const std::string& key, const std::string& body) {
  unsigned char mac[32];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(body.data()), body.size(), mac, &len);
  return hex(mac, len);
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

json::value parse_keys(const std::string& text) { return json::parse(text); }

// What parse_api_keys says about `entries` ("" when it accepts them).
std::string key_error(const std::string& entries) {
  std::vector<engine::http::api_key> keys;
  std::string error;
  if (engine::http::parse_api_keys(parse_keys(entries), keys, error))
    return "";
  return error;
}

// A blastd process with two keys in its config file: "ops" (admin, given as
// the secret) and "viewer" (read, given as its SHA-256), a `wsapme` transport
// "wa" whose webhooks must be signed, and `manual` as the default transport.
struct keyed_blastd {
  test::temp_dir dir;
  std::unique_ptr<test::blastd_process> proc;
  std::unique_ptr<tools::http_client> http;

  explicit keyed_blastd(const std::string& extra_config = "") {
    std::ofstream(dir.path() + "/blastd.json")
      << R"({"defaultTransport": "manual",)"
      << R"( "transports": {"wa": {"plugin": "wsapme", "baseUrl": "http://127.0.0.1:1",)"
      << R"( "token": "t", "device": "5850", "webhookSecret": ")" << hook_secret << R"("}},)"
      << R"( "apiKeys": [{"name": "ops", "key": ")" << admin_secret
      << R"(", "scopes": ["admin"]},)"
      << R"( {"name": "viewer", "sha256": ")" << sha256_hex(read_secret)
      << R"(", "scopes": ["read"]}])" << extra_config << "}";
    proc = std::make_unique<test::blastd_process>(
      BLASTD_PATH, dir.path() + "/data", log_path(),
      std::vector<std::string>{"--config", dir.path() + "/blastd.json", "--plugin-dir",
                               PLUGIN_DIR});
    http = std::make_unique<tools::http_client>("127.0.0.1", proc->port());
  }

  std::string log_path() const { return dir.path() + "/blastd.log"; }

  tools::http_reply call(const std::string& method, const std::string& target,
                         const std::string& key, const std::string& body = {}) {
    std::vector<std::pair<std::string, std::string>> h;
    if (!key.empty())
      h.emplace_back("Authorization", "Bearer " + key);
    return http->request(method, target, body, "application/json", h);
  }
};

// The answer is a 401 with the error body and the Bearer challenge.
void check_unauthorized(const tools::http_reply& r, bool token_given) {
  BOOST_TEST(r.status == 401, r.body);
  auto err = json::parse(r.body).at("error");
  BOOST_TEST(err.at("code").as_string() == "unauthorized");
  BOOST_TEST(!err.at("message").as_string().empty());
  BOOST_TEST(r.header("content-type") == "application/json");
  if (token_given)
    BOOST_TEST(r.header("www-authenticate") == R"(Bearer realm="blastd", error="invalid_token")");
  else
    BOOST_TEST(r.header("www-authenticate") == R"(Bearer realm="blastd")");
}

// A plain socket to blastd, for what http_client hides: a request sent in
// parts, and whether the connection stays open.
class raw_conn {
public:
  explicit raw_conn(uint16_t port) {
    fd_ = test::connect_loopback(port);
    timeval tv{10, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~raw_conn() { ::close(fd_); }
  void send(const std::string& s) {
    BOOST_TEST_REQUIRE(::send(fd_, s.data(), s.size(), MSG_NOSIGNAL) == ssize_t(s.size()));
  }
  // One answer with a Content-Length body: its head and body ("" on a timeout or close).
  std::string answer() {
    for (;;) {
      auto end = buf_.find("\r\n\r\n");
      if (end != std::string::npos) {
        auto head = buf_.substr(0, end + 4);
        auto cl = head.find("Content-Length: ");
        size_t len = cl == std::string::npos ? 0 : std::stoul(head.substr(cl + 16));
        if (buf_.size() >= end + 4 + len) {
          auto whole = buf_.substr(0, end + 4 + len);
          buf_.erase(0, end + 4 + len);
          return whole;
        }
      }
      char b[4096];
      auto n = ::recv(fd_, b, sizeof b, 0);
      if (n <= 0)
        return "";
      buf_.append(b, static_cast<size_t>(n));
    }
  }
  bool closed_by_peer() {
    char b[16];
    return ::recv(fd_, b, sizeof b, 0) == 0;
  }

private:
  int fd_ = -1;
  std::string buf_;
};

struct exit_result {
  int code = -1;
  std::string err;
};

// blastd expected to refuse to start: its exit code and stderr (killed after 20 s).
exit_result run_to_exit(std::vector<std::string> args, const std::string& err_file) {
  args.insert(args.begin(), BLASTD_PATH);
  pid_t pid = ::fork();
  BOOST_TEST_REQUIRE(pid >= 0);
  if (pid == 0) {
    std::vector<char*> argv;
    for (auto& a : args)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    int null = ::open("/dev/null", O_WRONLY);
    ::dup2(null, 1);
    int err = ::open(err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(err, 2);
    ::execv(argv[0], argv.data());
    _exit(127);
  }
  int status = 0;
  for (int i = 0; i < 200 && ::waitpid(pid, &status, WNOHANG) == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  if (::waitpid(pid, &status, WNOHANG) == 0) {  // still running: it did not refuse
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
  }
  return {WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), slurp(err_file)};
}

} // namespace

BOOST_AUTO_TEST_SUITE(keys_and_rules)

BOOST_AUTO_TEST_CASE(bad_entries_are_config_errors_naming_the_entry) {
  std::string ok = R"({"name": "ops", "key": "0123456789abcdef", "scopes": ["admin"]})";
  BOOST_TEST(key_error("[" + ok + "]") == "");
  struct bad {
    std::string entry, error;
  } cases[] = {
    {R"({"name": "ci", "key": "0123456789abcde", "scopes": ["read"]})",
     "apiKeys[1] 'ci': \"key\" must be a string of at least 16 bytes"},
    {R"({"name": "ci", "key": "0123456789abcdef", "scopes": ["write"]})",
     "apiKeys[1] 'ci': unknown scope \"write\""},
    {R"({"name": "ci", "key": "0123456789abcdef", "scopes": []})", "apiKeys[1] 'ci': \"scopes\""},
    {R"({"name": "ci", "key": "0123456789abcdef"})", "apiKeys[1] 'ci': \"scopes\""},
    {R"({"name": "ci", "sha256": "abc", "scopes": ["read"]})",
     "apiKeys[1] 'ci': \"sha256\" must be 64 hex digits"},
    {R"({"name": "ci", "sha256": ")" + std::string(63, 'a') + R"(g", "scopes": ["read"]})",
     "apiKeys[1] 'ci': \"sha256\" must be 64 hex digits"},
    {R"({"name": "ci", "key": "0123456789abcdef", "sha256": ")" + std::string(64, 'a') +
       R"(", "scopes": ["read"]})",
     "apiKeys[1] 'ci': give exactly one of"},
    {R"({"name": "ci", "scopes": ["read"]})", "apiKeys[1] 'ci': give exactly one of"},
    {R"({"name": "ops", "key": "fedcba9876543210", "scopes": ["read"]})",
     "apiKeys[1] 'ops': the name is used by an earlier entry"},
    {R"({"key": "0123456789abcdef", "scopes": ["read"]})", "apiKeys[1]: \"name\""},
    {R"({"name": "ci", "key": "0123456789abcdef", "scopes": ["read"], "scope": "admin"})",
     "apiKeys[1] 'ci': unknown field \"scope\""},
    {R"("0123456789abcdef")", "apiKeys[1]: must be an object"},
  };
  for (auto& c : cases) {
    auto error = key_error("[" + ok + ", " + c.entry + "]");
    BOOST_TEST(contains(error, c.error), c.entry << " -> " << error);
    BOOST_TEST(!contains(error, "0123456789abcde"), "the secret is not repeated: " << error);
  }
  BOOST_TEST(contains(key_error(R"({"name": "ops"})"), "apiKeys must be an array"));
}

BOOST_AUTO_TEST_CASE(the_rule_per_path_and_method) {
  std::vector<engine::http::api_key> keys;
  std::string error;
  BOOST_TEST_REQUIRE(engine::http::parse_api_keys(
                       parse_keys(R"([{"name": "ops", "key": ")" + admin_secret +
                                  R"(", "scopes": ["read", "admin"]},)"
                                  R"({"name": "viewer", "sha256": ")" + sha256_hex(read_secret) +
                                  R"(", "scopes": ["read"]}])"),
                       keys, error),
                     error);
  engine::http::api_keys guard(std::move(keys), false);
  auto status = [&](const char* method, const char* target, std::string header) {
    std::vector<std::string_view> h;
    if (!header.empty())
      h.push_back(header);
    auto a = guard.authorize(method, target, h);
    return a.denial ? a.denial->status : 200u;
  };
  std::string viewer = "Bearer " + read_secret, ops = "Bearer " + admin_secret;
  BOOST_TEST(status("GET", "/api/blasts", "") == 401u);
  BOOST_TEST(status("GET", "/api/blasts", viewer) == 200u);
  BOOST_TEST(status("HEAD", "/api/blasts/1/report", viewer) == 200u);
  BOOST_TEST(status("POST", "/api/blasts", viewer) == 403u);
  BOOST_TEST(status("DELETE", "/api/blasts/1", viewer) == 403u);
  BOOST_TEST(status("POST", "/api/blasts/1/pause", ops) == 200u);
  BOOST_TEST(status("GET", "/api/blasts", ops) == 200u);  // admin implies read
  // Decoded as the router decodes it: an escaped "api" is still the API.
  BOOST_TEST(status("POST", "/%61pi/blasts", "") == 401u);
  BOOST_TEST(status("GET", "/api", "") == 401u);
  BOOST_TEST(status("GET", "/api?x=1", "") == 401u);
  // The scheme in any case, surrounding blanks; anything else is not a key.
  BOOST_TEST(status("GET", "/api/blasts", "bearer  " + read_secret + " ") == 200u);
  BOOST_TEST(status("GET", "/api/blasts", "Basic " + read_secret) == 401u);
  BOOST_TEST(status("GET", "/api/blasts", "Bearer") == 401u);
  BOOST_TEST(status("GET", "/api/blasts", "Bearer " + read_secret + " x") == 401u);
  BOOST_TEST(status("GET", "/api/blasts", "Bearer " + read_secret.substr(1)) == 401u);
  {  // two Authorization headers are not one key
    std::string a = viewer, b = ops;
    BOOST_TEST(guard.authorize("GET", "/api/blasts", {a, b}).denial->status == 401u);
  }
  // Open: webhooks (their transport checks the signature), health, metrics
  // (not configured), the dashboard.
  for (auto* open : {"/webhooks/wa", "/healthz", "/metrics", "/", "/app.js", "/apix"})
    BOOST_TEST(status("POST", open, "") == 200u, open);
  auto a = guard.authorize("GET", "/api/blasts", {viewer});
  BOOST_TEST(a.key_name == "viewer");

  engine::http::api_keys none({}, true);
  BOOST_TEST(!none.authorize("POST", "/api/blasts", {}).denial);
}

BOOST_AUTO_TEST_CASE(loopback_addresses) {
  for (auto* h : {"127.0.0.1", "127.1.2.3", "::1", "localhost", "::ffff:127.0.0.1"})
    BOOST_TEST(engine::is_loopback(h), h);
  for (auto* h : {"0.0.0.0", "::", "10.0.0.5", "192.168.1.1", "example.com", "::ffff:10.0.0.1", ""})
    BOOST_TEST(!engine::is_loopback(h), h);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(blastd_with_keys, keyed_blastd)

BOOST_AUTO_TEST_CASE(no_wrong_or_malformed_key_is_401) {
  check_unauthorized(call("GET", "/api/blasts", ""), false);
  check_unauthorized(call("POST", "/api/blasts", "", R"({"message":"x","recipients":[]})"), false);
  check_unauthorized(call("GET", "/api/blasts", "not-a-key-0123456789"), true);
  check_unauthorized(call("GET", "/api/webhooks/rejected", admin_secret + "x"), true);
  check_unauthorized(http->request("GET", "/api/blasts", {}, "application/json",
                                   {{"Authorization", "Basic " + admin_secret}}),
                     true);
  check_unauthorized(
    http->request("GET", "/api/blasts", {}, "application/json", {{"Authorization", "Bearer"}}),
    true);
  check_unauthorized(call("GET", "/%61pi/blasts", ""), false);
  // None of it created anything.
  auto list = call("GET", "/api/blasts", admin_secret);
  BOOST_TEST_REQUIRE(list.status == 200);
  BOOST_TEST(json::parse(list.body).at("items").as_array().empty());
}

BOOST_AUTO_TEST_CASE(a_read_key_reads_and_may_not_write) {
  auto created = call("POST", "/api/blasts", admin_secret,
                      R"({"message":"Hi","recipients":["60123456789","60198765432"]})");
  BOOST_TEST_REQUIRE(created.status == 201, created.body);
  for (auto* target : {"/api/blasts", "/api/blasts/1", "/api/blasts/1/report",
                       "/api/blasts/1/recipients/1", "/api/unmatched"})
    BOOST_TEST(call("GET", target, read_secret).status == 200, target);
  auto csv = call("GET", "/api/blasts/1/recipients.csv", read_secret);
  BOOST_TEST(csv.status == 200);
  BOOST_TEST(contains(csv.body, "60198765432"));

  auto r = call("POST", "/api/blasts", read_secret, R"({"message":"x","recipients":["60123456789"]})");
  BOOST_TEST(r.status == 403, r.body);
  auto err = json::parse(r.body).at("error");
  BOOST_TEST(err.at("code").as_string() == "forbidden");
  BOOST_TEST(contains(std::string(err.at("message").as_string()), "'admin'"), err);
  BOOST_TEST(contains(std::string(err.at("message").as_string()), "'viewer'"), err);
  BOOST_TEST(r.header("www-authenticate") ==
             R"(Bearer realm="blastd", error="insufficient_scope", scope="admin")");
  auto update =
    call("POST", "/api/blasts/1/recipients/1/status", read_secret, R"({"stage":"closed"})");
  BOOST_TEST(update.status == 403, update.body);
  BOOST_TEST(call("POST", "/api/blasts/1/pause", read_secret).status == 403);
  // Nothing changed: one blast, its recipient not closed.
  auto list = json::parse(call("GET", "/api/blasts", read_secret).body);
  BOOST_TEST(list.at("items").as_array().size() == 1u);
  auto one = json::parse(call("GET", "/api/blasts/1/recipients/1", read_secret).body);
  BOOST_TEST(one.at("stage").as_string() == "pending");
}

BOOST_AUTO_TEST_CASE(an_admin_key_creates_and_updates) {
  auto created = call("POST", "/api/blasts", admin_secret,
                      R"({"message":"Hi","recipients":["60123456789"]})");
  BOOST_TEST_REQUIRE(created.status == 201, created.body);
  BOOST_TEST(created.header("location") == "/api/blasts/1");
  auto update =
    call("POST", "/api/blasts/1/recipients/60123456789/status", admin_secret, R"({"stage":"closed"})");
  BOOST_TEST_REQUIRE(update.status == 200, update.body);
  BOOST_TEST(json::parse(update.body).at("outcome").as_string() == "advanced");
  auto report = json::parse(call("GET", "/api/blasts/1/report", admin_secret).body);
  BOOST_TEST(report.at("funnel").at(4).at("reached").as_int64() == 1);

  // The request log names the key, never a secret.
  auto log = slurp(log_path());
  BOOST_TEST(contains(log, "POST /api/blasts 201"), log);
  BOOST_TEST(contains(log, "key=ops"), log);
  BOOST_TEST(!contains(log, admin_secret), log);
  BOOST_TEST(contains(log, "2 API key(s) guard /api/*"), log);
}

BOOST_AUTO_TEST_CASE(webhooks_health_and_the_dashboard_need_no_key) {
  // A WSAPME status for a message id nobody sent yet: signed, it is accepted
  // (and parked); its transport's signature is the guard, not an API key.
  std::string body =
    R"({"event": "message.status", "eventId": "e1", "device": "5850", "data": {"key": )"
    R"({"remoteJid": "60123456789@s.whatsapp.net", "fromMe": true, "id": "3EB0ABC"},)"
    R"( "status": "READ", "statusCode": 4, "timestamp": 1768716100}})";
  auto signed_hook = http->request("POST", "/webhooks/wa", body, "application/json",
                                   {{"X-Wsapme-Signature", "sha256=" + hmac_hex(hook_secret, body)}});
  BOOST_TEST(signed_hook.status == 200, signed_hook.body);
  BOOST_TEST(json::parse(signed_hook.body).at("observations").as_int64() == 1);
  auto forged = http->request("POST", "/webhooks/wa", body, "application/json",
                              {{"X-Wsapme-Signature", "sha256=" + hmac_hex("guess", body)}});
  BOOST_TEST(forged.status == 401, forged.body);
  BOOST_TEST(json::parse(forged.body).at("error").at("code").as_string() == "bad_signature");

  auto health = http->get("/healthz");
  BOOST_TEST(health.status == 200);
  BOOST_TEST(health.body == R"({"status":"ok"})");
  auto page = http->get("/");
  BOOST_TEST(page.status == 200);
  BOOST_TEST(contains(page.header("content-type"), "text/html"));
  BOOST_TEST(http->get("/app.js").status == 200);
  auto metrics = http->get("/metrics");  // metricsRequireKey is false by default
  BOOST_TEST(metrics.status == 200);
  BOOST_TEST(contains(metrics.body, "blastd_blasts"));
}

BOOST_AUTO_TEST_CASE(a_large_body_without_a_key_is_not_read) {
  // Headers announcing 100 MB, and no body: the 401 comes at once, and the
  // connection closes (the body was never taken in).
  raw_conn c(proc->port());
  c.send("POST /api/blasts HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
         "Content-Length: 100000000\r\n\r\n");
  auto a = c.answer();
  BOOST_TEST(a.rfind("HTTP/1.1 401", 0) == 0u, a);
  BOOST_TEST(contains(a, "\"unauthorized\""), a);
  BOOST_TEST(contains(a, "Connection: close"), a);
  BOOST_TEST(c.closed_by_peer());

  // A client that sends its 8 MiB body anyway still reads the 401: blastd
  // drops the body as it comes instead of resetting the connection.
  auto sent = call("POST", "/api/blasts", read_secret, std::string(8 << 20, ' '));
  BOOST_TEST(sent.status == 403, sent.error << sent.body);
  BOOST_TEST(contains(sent.body, "\"forbidden\""), sent.body);

  // Expect: 100-continue: a 401 instead of the "100 Continue".
  raw_conn e(proc->port());
  e.send("POST /api/blasts HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\n"
         "Expect: 100-continue\r\n\r\n");
  auto b = e.answer();
  BOOST_TEST(b.rfind("HTTP/1.1 401", 0) == 0u, b);

  // A small body is read and dropped: the connection stays usable.
  raw_conn k(proc->port());
  k.send("POST /api/blasts HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\n{}");
  auto first = k.answer();
  BOOST_TEST(first.rfind("HTTP/1.1 401", 0) == 0u, first);
  k.send("GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
  auto second = k.answer();
  BOOST_TEST(second.rfind("HTTP/1.1 200", 0) == 0u, second);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(start_up)

BOOST_AUTO_TEST_CASE(metrics_can_require_a_read_key) {
  keyed_blastd b(R"(, "metricsRequireKey": true)");
  check_unauthorized(b.http->get("/metrics"), false);
  auto m = b.call("GET", "/metrics", read_secret);
  BOOST_TEST(m.status == 200);
  BOOST_TEST(contains(m.body, "blastd_journal_commits_total"));
  BOOST_TEST(b.http->get("/healthz").status == 200);
}

BOOST_AUTO_TEST_CASE(keys_from_a_file_replace_the_configs) {
  test::temp_dir dir;
  const std::string ci_secret = "ci-runner-secret-0001";
  std::ofstream(dir.path() + "/keys.json")
    << R"([{"name": "ci", "key": ")" << ci_secret << R"(", "scopes": ["admin"]}])";
  std::ofstream(dir.path() + "/blastd.json")
    << R"({"transports": {}, "apiKeys": [{"name": "ops", "key": ")" << admin_secret
    << R"(", "scopes": ["admin"]}]})";
  test::blastd_process p(BLASTD_PATH, dir.path() + "/data", dir.path() + "/blastd.log",
                         {"--config", dir.path() + "/blastd.json", "--api-keys-file",
                          dir.path() + "/keys.json"});
  tools::http_client http("127.0.0.1", p.port());
  auto with = [&](const std::string& key) {
    return http.request("POST", "/api/blasts", R"({"message":"x","recipients":["60123456789"]})",
                        "application/json", {{"Authorization", "Bearer " + key}});
  };
  BOOST_TEST(with(ci_secret).status == 201);
  BOOST_TEST(with(admin_secret).status == 401);
}

BOOST_AUTO_TEST_CASE(without_keys_loopback_runs_open_and_says_so) {
  test::temp_dir dir;
  auto log = dir.path() + "/blastd.log";
  test::blastd_process p(BLASTD_PATH, dir.path() + "/data", log, {"--log-level", "warn"});
  tools::http_client http("127.0.0.1", p.port());
  auto r = http.post("/api/blasts", R"({"message":"x","transport":"manual","recipients":["60123456789"]})");
  BOOST_TEST(r.status == 201, r.body);
  BOOST_TEST(contains(slurp(log), "no API keys configured: /api/* is open to anyone who can reach "
                                  "127.0.0.1:" + std::to_string(p.port())),
             slurp(log));
}

BOOST_AUTO_TEST_CASE(without_keys_elsewhere_it_refuses_unless_allowed) {
  test::temp_dir dir;
  auto r = run_to_exit({"--data-dir", dir.path() + "/data", "--listen", "0.0.0.0:0"},
                       dir.path() + "/err.log");
  BOOST_TEST(r.code == 2, r.err);
  BOOST_TEST(contains(r.err, "no API keys configured and 0.0.0.0 is not a loopback address"), r.err);
  BOOST_TEST(contains(r.err, "--allow-unauthenticated"), r.err);
  BOOST_TEST(!std::filesystem::exists(dir.path() + "/data"), "no log was opened");

  // Asked for: it runs, and says so loudly (at error level, whatever the log level).
  auto log = dir.path() + "/blastd.log";
  test::blastd_process p(BLASTD_PATH, dir.path() + "/data", log,
                         {"--listen", "0.0.0.0:0", "--allow-unauthenticated", "--log-level",
                          "error"});
  tools::http_client http("127.0.0.1", p.port());
  BOOST_TEST(http.get("/api/blasts").status == 200);
  BOOST_TEST(contains(slurp(log), "is open to ANYONE who can reach 0.0.0.0:"), slurp(log));
  BOOST_TEST(p.stop() == 0);

  // The same from the config file.
  std::ofstream(dir.path() + "/open.json") << R"({"listen": "0.0.0.0:0", "allowUnauthenticated": true})";
  test::blastd_process q(BLASTD_PATH, dir.path() + "/data", log,
                         {"--config", dir.path() + "/open.json"});
  BOOST_TEST(tools::http_client("127.0.0.1", q.port()).get("/api/blasts").status == 200);
}

BOOST_AUTO_TEST_CASE(a_bad_key_entry_stops_start_up) {
  test::temp_dir dir;
  std::ofstream(dir.path() + "/blastd.json")
    << R"({"apiKeys": [{"name": "ops", "key": ")" << admin_secret << R"(", "scopes": ["admin"]},)"
    << R"( {"name": "bi", "key": ")" << read_secret << R"(", "scopes": ["reader"]}]})";
  auto r = run_to_exit({"--config", dir.path() + "/blastd.json", "--data-dir",
                        dir.path() + "/data", "--listen", "127.0.0.1:0"},
                       dir.path() + "/err.log");
  BOOST_TEST(r.code == 2, r.err);
  BOOST_TEST(contains(r.err, "config: apiKeys[1] 'bi': unknown scope \"reader\""), r.err);
  BOOST_TEST(!contains(r.err, read_secret), r.err);
}

BOOST_AUTO_TEST_SUITE_END()
