// What wsapme-sim can be told on its command line, with the defaults a newcomer
// gets; parse_command_line() is shared by the binary and the tests.
#pragma once

#include <cstdint>
#include <optional>
#include <ostream>
#include <set>
#include <string>

namespace blast::tools::wsapme_sim {

// Rates are probabilities in [0, 1]. The funnel rates are conditional, like a
// real funnel: read_rate applies to delivered messages, reply_rate to read ones.
struct sim_options {
  std::string address = "127.0.0.1"; // plain HTTP on loopback only: a test double
  uint16_t port = 0;                 // 0 = any free port
  unsigned threads = 1;              // I/O threads of the HTTP server
  std::string token;                 // expected x-wsapme-token (required)
  std::string device = "5850";
  std::string webhook_url;    // "http://host:port/path"; empty = no webhooks
  std::string webhook_secret; // empty = unsigned webhooks
  uint64_t seed = 42;

  double deliver_rate = 0.95;
  double read_rate = 0.7;
  double reply_rate = 0.25;
  double quote_rate = 0.5;    // replies carrying quotedId; the others only have `from`
  unsigned delay_min_ms = 50; // delay between two stages, drawn uniformly
  unsigned delay_max_ms = 500;
  double duplicate_rate = 0;              // webhooks sent twice with one eventId
  bool reorder = false;                   // shuffle each message's status webhooks
  double read_without_delivered_rate = 0; // read messages that skip DELIVERY_ACK
  std::set<std::string> reject_numbers;   // answered 200 with "success": false
  std::set<std::string> error_numbers;    // accepted, then status ERROR (0)
  unsigned rate_limit = 0;                // sends per second before 429; 0 = unlimited
  double fail_5xx_rate = 0;               // random 503 on the gateway endpoints
  unsigned latency_ms = 0;                // added to every gateway answer
  std::string reply_text = "Yes, interested";
  bool messageinfo_empty = false; // /api/messageInfo answers {"success":true,"data":{}}
  bool extra_fields = false;      // data gains fields the contract does not list

  unsigned webhook_tries = 3;        // attempts per webhook copy
  unsigned webhook_backoff_ms = 200; // before the 2nd attempt; doubles after
  unsigned webhook_timeout_ms = 5000;
};

// Parses argv into options. Returns nullopt after writing the help to `out`
// when --help is asked; throws std::invalid_argument on a bad command line.
std::optional<sim_options> parse_command_line(int argc, const char* const argv[],
                                              std::ostream& out);

// Throws std::invalid_argument when options are inconsistent (a rate outside
// [0, 1], no token, an unusable webhook URL).
void validate(const sim_options& o);

} // namespace blast::tools::wsapme_sim
