// Server-Sent Events for `blastctl watch`: an incremental text/event-stream parser, and a
// blocking reader of one event stream over HTTP/1.1 (Beast stays inside sse.cpp).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace blast::tools {

// One dispatched event: its `event:` name ("message" when the stream gave none), its `data:`
// lines joined by '\n', and the last `id:` seen.
struct sse_event {
  std::string name;
  std::string data;
  std::string id;
};

// Return false to stop reading.
using sse_handler = std::function<bool(const sse_event&)>;

// The event-stream format as browsers read it (WHATWG HTML, "Parsing an event stream"):
// lines end with CRLF, LF or CR; a blank line dispatches the event gathered so far (if it has
// data); lines starting with ':' are comments (heartbeats); "field: value" loses one space
// after the colon; unknown fields are ignored. Bytes may be fed split anywhere, even inside a
// CRLF. Not thread-safe.
class sse_parser {
public:
  // Parses `bytes`, calling `on_event` for each event completed by them. Returns false as soon
  // as on_event does (the rest of `bytes` is then dropped).
  bool feed(std::string_view bytes, const sse_handler& on_event);
  // Comment lines seen so far (the server's heartbeats).
  uint64_t comments() const { return comments_; }

private:
  bool line(const sse_handler& on_event); // handles line_, the complete line

  std::string line_;
  bool after_cr_ = false; // the last byte was a CR: an LF right after it ends nothing
  bool started_ = false;  // past a possible byte order mark
  sse_event event_;
  bool has_data_ = false;
  std::string last_id_;
  uint64_t comments_ = 0;
};

struct sse_request {
  std::string host;
  uint16_t port = 0;
  std::string target;                                       // e.g. /api/blasts/7/report/stream
  std::vector<std::pair<std::string, std::string>> headers; // e.g. Authorization
  std::chrono::milliseconds connect_timeout{10000};
  // A stream silent for this long (not even a heartbeat) counts as lost.
  std::chrono::milliseconds idle_timeout{45000};
  bool stop_on_sigint = false; // SIGINT ends the read (sse_end::interrupted) instead of the process
};

enum class sse_end {
  stopped,     // the handler returned false
  deadline,    // the deadline passed
  interrupted, // SIGINT (with stop_on_sigint)
  closed,      // the server ended the stream
  unreachable, // no connection, or it failed or fell silent (error says which)
  http_error,  // the server answered something other than 200 text/event-stream
};

struct sse_result {
  sse_end end = sse_end::closed;
  int status = 0;    // the HTTP status, once the answer's head arrived
  std::string body;  // with http_error: the answer's body (at most 64 KiB of it)
  std::string error; // with unreachable: what failed
};

using sse_clock = std::chrono::steady_clock;

// Connects, sends `GET target` (Accept: text/event-stream), and calls `on_event` for every
// event until the handler says stop, `deadline()` passes, SIGINT (if asked), the server closes
// or the connection fails. `deadline` is asked again after every read, so it can move (e.g.
// "N seconds after the last change"); sse_clock::time_point::max() for none. Chunked and
// identity bodies both work. Blocks the calling thread; while it runs with stop_on_sigint it
// owns SIGINT's handling.
sse_result read_event_stream(const sse_request& request, const sse_handler& on_event,
                             const std::function<sse_clock::time_point()>& deadline);

} // namespace blast::tools
