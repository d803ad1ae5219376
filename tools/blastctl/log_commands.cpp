// blastctl verify / events: read the event log directly, never through blastd.
#include "tools/blastctl/log_commands.hpp"

#include <iostream>

#include <boost/json.hpp>

#include "storage/event_log.hpp"

namespace json = boost::json;

namespace blast::tools {

namespace {

std::unique_ptr<storage::event_log> open_log(const std::string& dir) {
  storage::status st;
  storage::log_options opts;
  opts.sync = false;     // nothing is written
  opts.create = false;   // a mistyped folder is an error, not a new empty log
  auto log = storage::event_log::open(dir, opts, st);
  if (!log)
    std::cout << "FAIL: cannot open the event log in " << dir << ": " << st.message
              << (st.message.find("lock") != std::string::npos
                    ? " (is blastd still running on it? use a stopped server or a copy)"
                    : "")
              << "\n";
  return log;
}

json::object event_json(const storage::event& e) {
  json::object o{{"seq", e.seq},
                 {"type", storage::to_string(e.type)},
                 {"source", storage::to_string(e.source)},
                 {"timeMs", e.time_ms},
                 {"blast", e.blast},
                 {"recipient", e.recipient},
                 {"prevHash", storage::to_hex(e.prev_hash)}};
  if (!e.message_id.empty())
    o["messageId"] = e.message_id;
  json::error_code ec;
  auto payload = json::parse(e.payload, ec);
  o["payload"] = ec ? json::value(e.payload) : payload;
  return o;
}

} // namespace

int verify_log(const std::string& data_dir) {
  auto log = open_log(data_dir);
  if (!log)
    return 1;
  auto st = log->verify();
  if (!st) {
    std::cout << "FAIL: " << st.message << "\n";
    return 1;
  }
  std::cout << "ok: " << log->last_seq() << " events, sequence continuous, hash chain intact, "
            << "head " << storage::to_hex(log->head()) << "\n";
  return 0;
}

int print_events(const events_query& q) {
  auto log = open_log(q.data_dir);
  if (!log)
    return 1;
  auto print = [&](const storage::event& e) {
    if (q.json) {
      std::cout << json::serialize(event_json(e)) << "\n";
    } else {
      std::cout << e.seq << '\t' << e.time_ms << '\t' << storage::to_string(e.type) << '\t'
                << storage::to_string(e.source) << '\t' << e.blast << '/' << e.recipient << '\t'
                << (e.message_id.empty() ? "-" : e.message_id) << '\t' << e.payload << "\n";
    }
    return true;
  };
  auto st = q.blast ? log->scan_stream(*q.blast, q.recipient.value_or(0), print)
                    : log->scan(1, print);
  if (!st) {
    std::cerr << "blastctl: reading the log failed: " << st.message << "\n";
    return 1;
  }
  return 0;
}

} // namespace blast::tools
