// The simulated WhatsApp Cloud API (Graph API): the send endpoint as a function request ->
// response, and the webhooks it owes, batched as Meta batches them (many statuses per request,
// signed with X-Hub-Signature-256), with knobs for the awkward cases a plugin must survive.
#pragma once

#include "tools/wsapme_sim/gateway.hpp" // request, response

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>

namespace blast::tools::wacloud_sim {

using wsapme_sim::request;
using wsapme_sim::response;

struct cloud_options {
  std::string address = "127.0.0.1";
  uint16_t port = 0;
  unsigned threads = 1;
  std::string access_token;             // expected "Authorization: Bearer <token>" (required)
  std::string phone_number_id = "1000"; // the only sender the API knows
  std::string webhook_url;              // "http://host:port/path"; empty = no webhooks
  std::string app_secret;               // signs the webhooks; empty = unsigned
  uint64_t seed = 42;

  double deliver_rate = 1.0; // P(delivered | not failed)
  double read_rate = 1.0;    // P(read | delivered)
  double reply_rate = 0.0;   // P(reply | read)
  double quote_rate = 0.5;   // replies carrying context.id; the others only have `from`
  unsigned delay_ms = 0;     // between two stages of one message
  unsigned batch_size = 100; // statuses and messages per webhook request, at most
  unsigned batch_interval_ms = 20; // how long events gather before a batch goes out
  double duplicate_rate = 0;              // events sent twice (another batch or the same)
  bool reorder = false;                   // shuffle the events of each flush
  double read_without_delivered_rate = 0; // read messages whose delivered never comes
  std::set<std::string> fail_numbers;     // accepted, then status failed (131026)
  std::map<std::string, int> error_numbers; // number -> Graph error code the send answers
  // number -> {Graph error code, how many sends to it get that error before one is accepted}:
  // a throughput or rate limit that passes. Rate limits (4, 80007, 131048) carry Retry-After: 1.
  std::map<std::string, std::pair<int, unsigned>> transient_errors;
  bool keep_bodies = false; // keep each number's last send body (last_send_body)
  unsigned webhook_tries = 3;
};

struct cloud_stats {
  uint64_t accepted = 0;  // sends answered with a wamid
  uint64_t refused = 0;   // sends answered with a Graph error
  uint64_t events = 0;    // statuses and messages put in webhooks, duplicates included
  uint64_t requests = 0;  // webhook requests scheduled
};

// Thread-safe: handle() runs on the listener's threads, the batcher on its own thread.
// Construction validates the options (std::invalid_argument), listens and starts the threads;
// stop() (or the destructor) joins them, dropping what is still queued.
class cloud_api {
public:
  explicit cloud_api(cloud_options opts);
  ~cloud_api();
  cloud_api(const cloud_api&) = delete;
  cloud_api& operator=(const cloud_api&) = delete;

  uint16_t port() const;
  cloud_stats stats() const;
  response handle(const request& req);
  // The stage a message's plan ends at ("sent", "delivered", "read", "replied", "failed"), or
  // "" for an id the API never gave; a test's expectation for blastd's funnel.
  std::string planned_stage(const std::string& wamid) const;
  // The body of the last send to `number` (with keep_bodies), or "".
  std::string last_send_body(const std::string& number) const;
  // Every event due so far goes out now, in batches (tests and benchmarks).
  void flush();
  void stop();

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace blast::tools::wacloud_sim
