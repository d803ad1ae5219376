// blastctl, blastd's command-line tool: a small dispatcher over a table of commands: the
// plugin conformance check, the auditor's offline commands (verify, replay, events) and the client
// commands over blastd's HTTP API (create, list, show, report, watch).
//
// Exit codes, for every command: 0 success, 1 the command ran and found a failure (for the
// client commands: blastd answered an error, or the input data is bad), 2 usage, 3 (client
// commands) blastd could not be reached.
#include "engine/iso_time.hpp"
#include "tools/blastctl/client_commands.hpp"
#include "tools/blastctl/log_commands.hpp"
#include "tools/blastctl/plugin_check.hpp"
#include "tools/blastctl/replay_command.hpp"

#include <cstdlib>
#include <functional>
#include <optional>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

namespace {

constexpr int exit_usage = 2;

using args = std::vector<std::string>;

struct command {
  std::vector<std::string> words; // e.g. {"plugin", "check"}
  const char* synopsis;           // the arguments after the words
  const char* summary;            // one line, for `blastctl help`
  const char* details;            // for `blastctl help <command>`
  int (*run)(const args& rest);   // rest = the arguments after the words
};

int usage_error(const std::string& message) {
  std::cerr << "blastctl: " << message << "\n(see: blastctl help)\n";
  return exit_usage;
}

// `--name VALUE` or `--name=VALUE`; advances `i` past what it consumed.
bool option_value(const args& a, size_t& i, const std::string& name, std::string& value,
                  std::string& error) {
  const std::string& arg = a[i];
  if (arg == name) {
    if (i + 1 >= a.size()) {
      error = name + " needs a value";
      return true;
    }
    value = a[++i];
    return true;
  }
  if (arg.compare(0, name.size() + 1, name + "=") == 0) {
    value = arg.substr(name.size() + 1);
    return true;
  }
  return false;
}

int plugin_check(const args& a) {
  blast::tools::plugin_check_options opt;
  bool have_path = false;
  for (size_t i = 0; i < a.size(); ++i) {
    std::string value, error;
    if (option_value(a, i, "--config", value, error)) {
      if (!error.empty())
        return usage_error(error);
      opt.config = value;
    } else if (option_value(a, i, "--timeout", value, error)) {
      if (!error.empty())
        return usage_error(error);
      char* end = nullptr;
      double seconds = std::strtod(value.c_str(), &end);
      if (value.empty() || *end != '\0' || !(seconds > 0 && seconds <= 3600))
        return usage_error("--timeout takes seconds in (0, 3600], got \"" + value + "\"");
      opt.timeout = std::chrono::milliseconds(static_cast<long long>(seconds * 1000));
    } else if (a[i] == "--verbose" || a[i] == "-v") {
      opt.verbose = true;
    } else if (a[i].size() > 1 && a[i][0] == '-') {
      return usage_error("plugin check: unknown option " + a[i]);
    } else if (!have_path) {
      opt.path = a[i];
      have_path = true;
    } else {
      return usage_error("plugin check: one plugin at a time (got \"" + opt.path + "\" and \"" +
                         a[i] + "\")");
    }
  }
  if (!have_path)
    return usage_error("plugin check: which plugin? blastctl plugin check PATH.so");
  // dlopen searches the library path for a bare file name; a plugin check means this file.
  if (opt.path.find('/') == std::string::npos)
    opt.path = "./" + opt.path;
  return blast::tools::run_plugin_check(opt);
}

// Parses a decimal id (1..max) into `out`; false, with `error` set, when it is not one.
bool id_option(const std::string& name, const std::string& value, uint64_t max, uint64_t& out,
               std::string& error) {
  char* end = nullptr;
  out = std::strtoull(value.c_str(), &end, 10);
  if (value.empty() || *end != '\0' || out == 0 || out > max) {
    error = name + " takes a positive id, got \"" + value + "\"";
    return false;
  }
  return true;
}

// The arguments the offline commands share: --data DIR (required), --blast ID when `blast` is
// given, and the command's own options through `option` (false for an argument it does not
// know; `error` for a bad value). 0 when all is well, else the usage error's exit code.
int offline_args(const args& a, const std::string& cmd, std::string& data,
                 std::optional<uint64_t>* blast,
                 const std::function<bool(size_t& i, std::string& error)>& option = {}) {
  for (size_t i = 0; i < a.size(); ++i) {
    std::string value, error;
    uint64_t id = 0;
    if (option_value(a, i, "--data", value, error)) {
      if (!error.empty())
        return usage_error(error);
      data = value;
    } else if (blast && option_value(a, i, "--blast", value, error)) {
      if (!error.empty() || !id_option("--blast", value, UINT64_MAX, id, error))
        return usage_error(error);
      *blast = id;
    } else if (!option || !option(i, error)) {
      return usage_error(cmd + ": unknown argument " + a[i]);
    } else if (!error.empty()) {
      return usage_error(error);
    }
  }
  if (data.empty())
    return usage_error(cmd + ": which data folder? blastctl " + cmd + " --data DIR");
  return 0;
}

int verify(const args& a) {
  std::string data;
  if (int rc = offline_args(a, "verify", data, nullptr))
    return rc;
  return blast::tools::verify_log(data);
}

int events(const args& a) {
  blast::tools::events_query q;
  int rc = offline_args(a, "events", q.data_dir, &q.blast, [&](size_t& i, std::string& error) {
    std::string value;
    uint64_t id = 0;
    if (option_value(a, i, "--recipient", value, error)) {
      if (error.empty())
        id_option("--recipient", value, UINT32_MAX, id, error);
      q.recipient = static_cast<uint32_t>(id);
      return true;
    }
    q.json |= a[i] == "--json";
    return a[i] == "--json";
  });
  if (rc)
    return rc;
  if (q.recipient && !q.blast)
    return usage_error("events: --recipient needs --blast (recipient ids are per blast)");
  return blast::tools::print_events(q);
}

int replay(const args& a) {
  blast::tools::replay_query q;
  int rc = offline_args(a, "replay", q.data_dir, &q.blast, [&](size_t& i, std::string& error) {
    std::string value;
    uint64_t id = 0;
    if (option_value(a, i, "--until-seq", value, error)) {
      if (error.empty())
        id_option("--until-seq", value, UINT64_MAX, id, error);
      q.until_seq = id;
      return true;
    }
    if (option_value(a, i, "--until", value, error)) {
      q.until_ms = blast::engine::parse_iso(value);
      if (error.empty() && !q.until_ms)
        error = "--until takes an ISO 8601 time with a time zone, e.g. 2026-12-01T09:00:00Z; "
                "got \"" + value + "\"";
      return true;
    }
    return false;
  });
  if (rc)
    return rc;
  return blast::tools::replay_log(q);
}

// The arguments every client command shares: --server URL and --api-key KEY (defaults from
// BLASTD_URL and BLASTD_API_KEY), the blast's ID when `id` is given, and the command's own
// options through `option` (false for an argument it does not know; `error` for a bad value).
// 0 when all is well, else the usage error's exit code, the error printed.
int client_args(const args& a, const std::string& cmd, blast::tools::server_options& server,
                uint64_t* id, const std::function<bool(size_t& i, std::string& error)>& option) {
  server = blast::tools::server_options::from_environment();
  bool have_id = false;
  for (size_t i = 0; i < a.size(); ++i) {
    std::string error;
    bool known = option_value(a, i, "--server", server.url, error) ||
                 option_value(a, i, "--api-key", server.api_key, error) || option(i, error);
    if (!known) {
      if (!id || have_id || (a[i].size() > 1 && a[i][0] == '-'))
        return usage_error(cmd + ": unknown argument " + a[i]);
      if (std::string bad; !id_option("ID", a[i], UINT64_MAX, *id, bad))
        return usage_error(cmd + ": " + bad);
      have_id = true;
    }
    if (!error.empty())
      return usage_error(cmd + ": " + error);
  }
  if (id && !have_id)
    return usage_error(cmd + ": which blast? blastctl " + cmd + " ID");
  std::string error;
  if (!server.resolve(error))
    return usage_error(cmd + ": " + error);
  return 0;
}

int create(const args& a) {
  blast::tools::create_options o;
  bool have_message = false;
  if (int code = client_args(a, "create", o.server, nullptr, [&](size_t& i, std::string& error) {
        std::string v;
        if (option_value(a, i, "--csv", v, error))
          o.csv_path = v;
        else if (option_value(a, i, "--message", v, error))
          o.message = v, have_message = true;
        else if (option_value(a, i, "--message-file", v, error))
          o.message_file = v;
        else if (option_value(a, i, "--tag", v, error))
          o.tag = v;
        else if (option_value(a, i, "--transport", v, error))
          o.transport = v;
        else if (option_value(a, i, "--schedule", v, error))
          o.scheduled_at = v;
        else if (a[i] == "--json")
          o.json = true;
        else if (a[i] == "--dry-run")
          o.dry_run = true;
        else
          return false;
        return true;
      }))
    return code;
  if (o.csv_path.empty())
    return usage_error("create: who receives it? --csv FILE");
  if (have_message == !o.message_file.empty())
    return usage_error("create: give the text with one of --message TEXT or --message-file FILE");
  if (have_message && o.message.empty())
    return usage_error("create: --message is empty");
  return blast::tools::create_blast(o);
}

int list(const args& a) {
  blast::tools::list_options o;
  if (int code = client_args(a, "list", o.server, nullptr, [&](size_t& i, std::string& error) {
        std::string v;
        if (option_value(a, i, "--tag", v, error))
          o.tag = v;
        else if (option_value(a, i, "--status", v, error))
          o.status = v;
        else if (a[i] == "--json")
          o.json = true;
        else
          return false;
        return true;
      }))
    return code;
  return blast::tools::list_blasts(o);
}

// show and report: ID [--json].
int show_or_report(const args& a, const std::string& cmd,
                   int (*run)(const blast::tools::server_options&, uint64_t, bool)) {
  blast::tools::server_options server;
  uint64_t id = 0;
  bool json = false;
  if (int code = client_args(a, cmd, server, &id, [&](size_t& i, std::string&) {
        if (a[i] != "--json")
          return false;
        json = true;
        return true;
      }))
    return code;
  return run(server, id, json);
}

int show(const args& a) { return show_or_report(a, "show", blast::tools::show_blast); }
int report(const args& a) { return show_or_report(a, "report", blast::tools::show_report); }

int watch(const args& a) {
  blast::tools::watch_options o;
  if (int code = client_args(a, "watch", o.server, &o.id, [&](size_t& i, std::string& error) {
        std::string v;
        char* end = nullptr;
        if (option_value(a, i, "--until-stable", v, error)) {
          o.until_stable = std::strtod(v.c_str(), &end);
          if (error.empty() && (v.empty() || *end != '\0' || !(o.until_stable > 0)))
            error = "--until-stable takes seconds > 0, got \"" + v + "\"";
        } else if (option_value(a, i, "--max-updates", v, error)) {
          o.max_updates = std::strtoull(v.c_str(), &end, 10);
          if (error.empty() && (v.empty() || *end != '\0' || o.max_updates == 0 || v[0] == '-'))
            error = "--max-updates takes a count > 0, got \"" + v + "\"";
        } else if (a[i] == "--json") {
          o.json = true;
        } else {
          return false;
        }
        return true;
      }))
    return code;
  return blast::tools::watch_report(o);
}

int help(const args& a);

const std::vector<command>& commands() {
  static const std::vector<command> table = {
      {{"plugin", "check"},
       "PATH.so [--config JSON] [--timeout SECONDS] [--verbose]",
       "check a transport plugin against the plugin ABI (conformance)",
       "Loads the plugin through blastd's own loader and exercises every capability it\n"
       "declares with good and bad input. Prints one line per check, \"PASS <name>\" or\n"
       "\"FAIL <name>: <reason>\" (\"INFO\" lines count for nothing), then \"N passed, M "
       "failed\".\n"
       "Exit code 0 iff no check failed.\n"
       "\n"
       "  --config JSON     the instance config given to create (default {})\n"
       "  --timeout SECONDS how long to wait for a first push (default 10); give plugins\n"
       "                    that push a fast config, e.g. for sim --config '{\"timeScale\":0}'\n"
       "  --verbose, -v     show every plugin log line on stderr (default: errors only)\n",
       plugin_check},
      {{"verify"},
       "--data DIR",
       "check an event log's sequence and hash chain (offline)",
       "Opens the log in DIR read-only (blastd stopped, or a copy of its folder; nothing in\n"
       "it is written) and walks it from the first event: every seq from 1 to meta's\n"
       "last_seq present, each prev_hash the SHA-256 chain hash of the event before, the\n"
       "last event's hash meta's chain_head, nothing beyond meta's last_seq. Prints\n"
       "\"ok: N events ...\", the last seq, the chain head and the rate, and exits 0; or\n"
       "\"FAIL: seq N: ...\" naming the first bad sequence number, and exits 1. Shows\n"
       "progress on stderr when it is a terminal.\n",
       verify},
      {{"replay"},
       "--data DIR [--until TIME | --until-seq N] [--blast ID]",
       "rebuild blasts from the log and print their reports (offline)",
       "Opens the log in DIR read-only and folds it with blastd's own fold, up to the\n"
       "cut: events logged at or before TIME (ISO 8601), or up to seq N; the whole log\n"
       "by default. Prints each blast's report (or --blast ID's), one JSON line each,\n"
       "exactly as GET /api/blasts/{id}/report answered at that point, calculatedAt\n"
       "being the cut's time. The events folded and the rate go to stderr. Exit code 1\n"
       "when the log cannot be read or the blast did not exist at the cut.\n",
       replay},
      {{"events"},
       "--data DIR [--blast ID [--recipient ID]] [--json]",
       "print the events of a log, of a blast or of one recipient (offline)",
       "One event per line in log order: seq, time (ms), type, source, blast/recipient,\n"
       "message id and payload, tab-separated; --json prints one JSON object per line.\n",
       events},
      {{"create"},
       "--csv FILE (--message TEXT | --message-file FILE) [--tag T] [--transport NAME]\n"
       "      [--schedule ISO8601] [--json] [--dry-run] [--server URL] [--api-key KEY]",
       "create a blast from a CSV file of recipients",
       "Reads FILE (\"-\": standard input), a CSV file (RFC 4180: quoted fields, \"\" for a\n"
       "quote, CRLF or LF, a UTF-8 byte order mark is skipped) whose first line names the\n"
       "columns: \"phone\" or \"phoneNumber\" (required), \"name\", and any others, which\n"
       "become the recipient's vars ({{vars.<column>}} in the message; empty cells are left\n"
       "out). Sends POST /api/blasts and prints the blast's id, status, totalRecipients and\n"
       "duplicatesDropped (--json: blastd's answer as it came). A malformed file is reported\n"
       "with its line and nothing is sent. Progress goes to stderr when it is a terminal.\n"
       "\n"
       "  --message-file FILE  the text from a file (one final line break is dropped)\n"
       "  --tag, --transport, --schedule  blastTag, transport, scheduledAt (blastd checks them)\n"
       "  --dry-run            print the request body instead of sending it\n"
       "  --server URL         blastd's address (default: $BLASTD_URL, or\n"
       "                       http://127.0.0.1:8080)\n"
       "  --api-key KEY        sent as \"Authorization: Bearer KEY\" (default: $BLASTD_API_KEY)\n",
       create},
      {{"list"},
       "[--tag T] [--status S] [--json] [--server URL] [--api-key KEY]",
       "list blasts: id, tag, status, total, created",
       "GET /api/blasts as a table, filtered by blast tag and status (pending, scheduled,\n"
       "sending, completed, paused, cancelled, failed); --json prints blastd's answer.\n",
       list},
      {{"show"},
       "ID [--json] [--server URL] [--api-key KEY]",
       "show one blast, with its recipients per stage and send status",
       "GET /api/blasts/ID as \"field value\" lines; --json prints blastd's answer.\n",
       show},
      {{"report"},
       "ID [--json] [--server URL] [--api-key KEY]",
       "show a blast's funnel: reached, percent and stuck per stage",
       "GET /api/blasts/ID/report as a table: one row per stage (sent, delivered, read,\n"
       "replied, closed) with the recipients that reached it, their percentage of the total\n"
       "and those stuck there, then pending, failed, total and when it was calculated.\n"
       "--json prints blastd's answer verbatim.\n",
       report},
      {{"watch"},
       "ID [--json] [--until-stable SECONDS] [--max-updates N] [--server URL] [--api-key KEY]",
       "follow a blast's funnel live (Server-Sent Events)",
       "Follows GET /api/blasts/ID/report/stream and prints the funnel at every update: on a\n"
       "terminal it redraws the screen; otherwise it prints one table per update, separated\n"
       "by a blank line (--json: one JSON line per update, blastd's report as sent).\n"
       "Runs until Ctrl-C, or:\n"
       "\n"
       "  --until-stable SECONDS  until the funnel has not changed for that long\n"
       "  --max-updates N         after N updates (the first comes at once)\n"
       "\n"
       "All three end with exit code 0; a stream blastd ends or that falls silent (no\n"
       "heartbeat for 45 s) exits 3.\n",
       watch},
      {{"help"},
       "[COMMAND]",
       "show this help, or one command's",
       "Lists the commands, or explains one: blastctl help plugin check\n",
       help},
  };
  return table;
}

std::string name_of(const command& c) {
  std::string s;
  for (const auto& w : c.words)
    s += (s.empty() ? "" : " ") + w;
  return s;
}

// The command whose words start `a`, or nullptr; `partial` is set when `a` names only a group
// ("plugin") so the error can list what follows.
const command* find(const args& a, bool& partial) {
  partial = false;
  for (const auto& c : commands()) {
    size_t n = 0;
    while (n < c.words.size() && n < a.size() && a[n] == c.words[n])
      ++n;
    if (n == c.words.size())
      return &c;
    if (n > 0 && n == a.size())
      partial = true;
  }
  return nullptr;
}

int help(const args& a) {
  if (!a.empty()) {
    bool partial;
    const command* c = find(a, partial);
    if (!c && partial) { // a group: list its commands
      for (const auto& cmd : commands())
        if (cmd.words[0] == a[0])
          std::cout << "  " << name_of(cmd) << " " << cmd.synopsis << "\n      " << cmd.summary
                    << "\n";
      return 0;
    }
    if (!c)
      return usage_error("help: no command \"" + a[0] + "\"");
    std::cout << "usage: blastctl " << name_of(*c) << " " << c->synopsis << "\n\n" << c->details;
    return 0;
  }
  std::cout << "usage: blastctl COMMAND [ARGS]\n\ncommands:\n";
  for (const auto& c : commands())
    std::cout << "  " << name_of(c) << " " << c.synopsis << "\n      " << c.summary << "\n";
  std::cout << "\nexit codes: 0 success; 1 failure found (client commands: blastd answered an\n"
               "error, whose code, message and HTTP status go to stderr, or the input data is\n"
               "bad); 2 usage error; 3 (client commands) blastd could not be reached, or the\n"
               "connection was lost\n";
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  args a(argv + 1, argv + argc);
  if (a.empty())
    return usage_error("no command given");
  if (a[0] == "--help" || a[0] == "-h")
    return help({});
  bool partial;
  const command* c = find(a, partial);
  if (!c) {
    std::string known;
    for (const auto& cmd : commands())
      if (partial && cmd.words[0] == a[0])
        known += "\n  blastctl " + name_of(cmd) + " " + cmd.synopsis;
    return usage_error(partial ? "\"" + a[0] + "\" needs a subcommand:" + known
                               : "unknown command \"" + a[0] + "\"");
  }
  return c->run(args(a.begin() + static_cast<std::ptrdiff_t>(c->words.size()), a.end()));
}
