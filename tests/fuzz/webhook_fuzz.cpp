// Fuzz target: every shipped plugin's webhook parser through the real ABI
// (plugins/host loads each built .so and calls parse_webhook and, for a
// request other than POST, answer_webhook), with an instance configured
// without a webhook secret and one with it.
//
// Input (fuzz_input.hpp): the first line is "<plugin> <mode> <METHOD> [query]",
// then headers and the body. plugin: wsapme, whatsapp_cloud, template, sim
// (another word picks one by its length). mode: "unsigned" (the instance
// without a secret), "signed" (with a secret, and the driver adds the correct
// signature of the body, so the parser behind the gate is reached), "secret"
// (with a secret and only the input's own headers: the gate itself).
//
// Beyond crashes and sanitizer reports, it checks: a status the ABI defines;
// never BLAST_E_INTERNAL (bad input is BLAST_E_INVALID); observations with a
// defined stage; a correctly signed body never refused
// for its signature; a handshake reply with a real HTTP status.
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "plugins/host/transport_plugin.hpp"
#include "plugins/sdk/blast_transport.h"
#include "tests/fuzz/fuzz_input.hpp"

using namespace blast;

namespace {

const char* const secret = "fuzz-secret";

struct plugin_spec {
  std::string name;
  std::string config;            // without a secret
  std::string secret_config;     // with `secret`
  std::string signature_header;  // "sha256=<HMAC of the body>"; "" = none
  std::string secret_header;     // the secret itself (template); "" = none
};

struct target {
  plugin_spec spec;
  std::shared_ptr<plugins::plugin_library> lib;
  std::unique_ptr<plugins::transport_instance> open;    // without a secret
  std::unique_ptr<plugins::transport_instance> locked;  // with one
};
std::vector<target>* targets = nullptr;

std::string hmac_sha256_hex(const std::string& key, const std::string& data) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac, &len);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    out += hex[mac[i] >> 4];
    out += hex[mac[i] & 15];
  }
  return out;
}

std::unique_ptr<plugins::transport_instance> create(plugins::plugin_library& lib,
                                                    const std::string& config) {
  std::string err;
  auto inst = lib.create(config, [](std::vector<plugins::observation>&&) {}, err);
  if (!inst) {
    std::fprintf(stderr, "webhook_fuzz: %s refused %s: %s\n", lib.info().name.c_str(),
                 config.c_str(), err.c_str());
    std::abort();
  }
  return inst;
}

[[noreturn]] void fail(const target& t, const std::string& mode, const std::string& what) {
  std::fprintf(stderr, "webhook_fuzz: %s (%s): %s\n", t.spec.name.c_str(), mode.c_str(), what.c_str());
  std::abort();
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const std::string s = secret;
  const std::string wa = R"({"baseUrl":"http://127.0.0.1:9","apiVersion":"v21.0",)"
                         R"("phoneNumberId":"1000","accessToken":"tok")";
  const std::string ws = R"({"baseUrl":"http://127.0.0.1:9","token":"tok","device":"5850")";
  const plugin_spec specs[] = {
    {"wsapme", ws + "}", ws + R"(,"webhookSecret":")" + s + "\"}", "X-Wsapme-Signature", ""},
    {"whatsapp_cloud", wa + "}", wa + R"(,"verifyToken":"vt-123","appSecret":")" + s + "\"}",
     "X-Hub-Signature-256", ""},
    {"template", "{}", R"({"webhookSecret":")" + s + "\"}", "", "X-Echo-Secret"},
    {"sim", "{}", "{}", "", ""},  // takes no webhooks: BLAST_E_UNSUPPORTED, whatever comes
  };
  targets = new std::vector<target>();
  for (auto& sp : specs)
    targets->push_back(target{sp, nullptr, nullptr, nullptr});
  for (auto& t : *targets) {
    std::string err;
    t.lib = plugins::plugin_library::load(
      std::string(BLAST_FUZZ_PLUGIN_DIR) + "/" + plugins::plugin_file_name(t.spec.name), err,
      [](int, const std::string&) {});
    if (!t.lib) {
      std::fprintf(stderr, "webhook_fuzz: %s\n", err.c_str());
      std::abort();
    }
    t.open = create(*t.lib, t.spec.config);
    t.locked = create(*t.lib, t.spec.secret_config);
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 64 * 1024)
    return 0;
  auto in = test::fuzz::parse_text_input(data, size);
  // "<plugin> <mode> <METHOD> [query]"
  std::vector<std::string> words;
  size_t start = 0;
  for (int i = 0; i < 3; ++i) {
    size_t sp = in.first.find(' ', start);
    words.push_back(in.first.substr(start, sp == std::string::npos ? sp : sp - start));
    start = sp == std::string::npos ? in.first.size() : sp + 1;
  }
  std::string query = in.first.substr(start);
  target* t = nullptr;
  for (auto& c : *targets)
    if (c.spec.name == words[0])
      t = &c;
  if (!t)
    t = &(*targets)[words[0].size() % targets->size()];
  const std::string& mode = words[1];
  bool with_secret = mode == "signed" || mode == "secret";

  plugins::webhook_request req{words[2], "/webhooks/" + t->spec.name, query, std::move(in.headers),
                               std::move(in.body)};
  if (mode == "signed") {
    if (!t->spec.signature_header.empty())
      req.headers.emplace_back(t->spec.signature_header,
                               "sha256=" + hmac_sha256_hex(secret, req.body));
    else if (!t->spec.secret_header.empty())
      req.headers.emplace_back(t->spec.secret_header, secret);
  }
  auto& inst = with_secret ? *t->locked : *t->open;

  if (req.method != "POST") {
    std::optional<plugins::webhook_reply> reply;
    auto s = inst.answer_webhook(req, reply);
    if (!plugins::status_name(s.code))
      fail(*t, mode, "answer_webhook returned an undefined status " + std::to_string(s.code));
    if (s.ok() && reply) {
      if (reply->status < 100 || reply->status > 599)
        fail(*t, mode, "answer_webhook replied with HTTP status " + std::to_string(reply->status));
      return 0;
    }
  }
  std::vector<plugins::observation> out;
  auto s = inst.parse_webhook(req, out);
  if (!plugins::status_name(s.code))
    fail(*t, mode, "parse_webhook returned an undefined status " + std::to_string(s.code));
  if (mode == "signed" && s.code == BLAST_E_SIGNATURE)
    fail(*t, mode, "a correctly signed body was refused: " + s.message);
  if (s.code == BLAST_E_INTERNAL)
    fail(*t, mode, "bad input must be BLAST_E_INVALID, not an internal error: " + s.message);
  if (!s.ok() && s.message.empty())
    fail(*t, mode, "an error without a message");
  for (auto& o : out)
    if (o.stage < BLAST_STAGE_NONE || o.stage > BLAST_STAGE_FAILED || o.stage == 5)
      fail(*t, mode, "an observation with stage " + std::to_string(o.stage));
  return 0;
}
