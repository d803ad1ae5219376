// blastctl's client commands over blastd's HTTP API: create (a blast from a CSV file), list,
// show, report and watch (the funnel, live over Server-Sent Events).
#pragma once

#include <cstdint>
#include <string>

namespace blast::tools {

// Exit codes of the client commands besides 0 (success) and 2 (usage, main.cpp's).
constexpr int exit_failed = 1;      // blastd answered an error, or the input data is bad
constexpr int exit_unreachable = 3; // blastd could not be reached or the connection was lost

// Which blastd, and the key to show it.
struct server_options {
  std::string url;     // http://HOST:PORT
  std::string api_key; // sent as "Authorization: Bearer KEY" when not empty
  std::string host;    // from url, by resolve()
  uint16_t port = 0;

  // BLASTD_URL (default http://127.0.0.1:8080) and BLASTD_API_KEY.
  static server_options from_environment();
  // Splits url into host and port; false with a message when it is no http://HOST:PORT.
  bool resolve(std::string& error);
};

struct create_options {
  server_options server;
  std::string csv_path;                     // "-" reads standard input
  std::string message;                      // the text, unless message_file is given
  std::string message_file;                 // its content is the text, less one final line break
  std::string tag, transport, scheduled_at; // empty: not sent (blastd's defaults)
  bool json = false;                        // print blastd's answer as it came
  bool dry_run = false;                     // print the request body instead of sending it
};

// Reads the CSV (header: phone or phoneNumber, optional name, every other column a var),
// builds the body of POST /api/blasts and prints the created blast. A malformed CSV is named
// by line and sends nothing. Progress goes to stderr when it is a terminal.
int create_blast(const create_options& options);

struct list_options {
  server_options server;
  std::string tag, status; // filters; empty: any
  bool json = false;
};
int list_blasts(const list_options& options);

int show_blast(const server_options& server, uint64_t id, bool json);

// The funnel table of GET /api/blasts/{id}/report; with json its body verbatim.
int show_report(const server_options& server, uint64_t id, bool json);

struct watch_options {
  server_options server;
  uint64_t id = 0;
  bool json = false;        // one JSON line per update instead of tables
  double until_stable = 0;  // > 0: return after that many seconds without a change
  uint64_t max_updates = 0; // > 0: return after that many updates
};
// Follows GET /api/blasts/{id}/report/stream, printing the funnel at every update, until
// until_stable, max_updates or Ctrl-C (all exit 0); a lost stream exits 3.
int watch_report(const watch_options& options);

} // namespace blast::tools
