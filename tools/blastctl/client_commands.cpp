// The client commands: plain requests through tools/http_client, the report stream through
// sse.hpp; tables for people, the server's JSON for scripts (--json).
#include "tools/blastctl/client_commands.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <iostream>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

#include <boost/json.hpp>
#include <boost/url/encode.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>

#include "tools/blastctl/csv.hpp"
#include "tools/blastctl/sse.hpp"
#include "tools/http_client.hpp"

namespace json = boost::json;

namespace blast::tools {

namespace {

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

// Connecting to a live blastd takes microseconds; ten seconds means it is not there. The I/O
// bound is generous because a million-recipient POST is answered only once it is durable.
constexpr auto connect_timeout = 10s;
constexpr auto io_timeout = 300s;

// ---- talking to blastd ----

std::vector<std::pair<std::string, std::string>> auth_headers(const server_options& s) {
  if (s.api_key.empty())
    return {};
  return {{"Authorization", "Bearer " + s.api_key}};
}

http_reply call(const server_options& s, const std::string& method, const std::string& target,
                const std::string& body = {},
                std::function<void(size_t, size_t)> upload_progress = {}) {
  http_client http(s.host, s.port);
  http.set_timeouts(connect_timeout, io_timeout);
  if (upload_progress)
    http.on_upload(std::move(upload_progress));
  return http.request(method, target, body, "application/json", auth_headers(s));
}

int unreachable(const server_options& s, const std::string& why) {
  std::cerr << "blastctl: cannot reach blastd at " << s.url << ": " << why << "\n";
  return exit_unreachable;
}

// An error answer, {"error": {"code", "message"}} or whatever came, on stderr.
void print_server_error(int status, const std::string& body) {
  json::error_code ec;
  auto v = json::parse(body, ec);
  const json::object* err = nullptr;
  if (!ec && v.is_object())
    if (auto* e = v.get_object().if_contains("error"); e && e->is_object())
      err = &e->get_object();
  std::cerr << "blastctl: blastd answered HTTP " << status;
  if (err) {
    auto text = [&](const char* key) {
      auto* f = err->if_contains(key);
      return f && f->is_string() ? std::string(f->get_string()) : std::string();
    };
    std::cerr << ": " << text("code") << ": " << text("message") << "\n";
  } else {
    std::cerr << (body.empty() ? "" : ": " + body.substr(0, 300)) << "\n";
  }
}

// The exit code of a request that failed, having said why: 3 without an answer, 1 for an
// error answer.
int failure(const server_options& s, const http_reply& r) {
  if (r.status == 0)
    return unreachable(s, r.error);
  print_server_error(r.status, r.body);
  return exit_failed;
}

// GET `target`, which must answer 200 with JSON; 0, or the exit code after saying why.
int get_json(const server_options& s, const std::string& target, http_reply& r, json::value& out) {
  r = call(s, "GET", target);
  if (r.status != 200)
    return failure(s, r);
  json::error_code ec;
  out = json::parse(r.body, ec);
  if (ec) {
    std::cerr << "blastctl: blastd answered " << target
              << " with something not JSON: " << r.body.substr(0, 300) << "\n";
    return exit_failed;
  }
  return 0;
}

// ---- showing answers ----

std::string format_count(uint64_t n) { // 1234567 -> 1,234,567
  std::string s = std::to_string(n);
  for (int i = static_cast<int>(s.size()) - 3; i > 0; i -= 3)
    s.insert(static_cast<size_t>(i), ",");
  return s;
}

// A value as a cell: strings bare (line breaks shown as \n), null as "-", objects as
// "key value, ..." (the stage counts of a blast), the rest as JSON.
std::string cell(const json::value* v) {
  if (!v || v->is_null())
    return "-";
  if (v->is_string()) {
    std::string s(v->get_string());
    for (size_t i = 0; (i = s.find('\n', i)) != std::string::npos; i += 2)
      s.replace(i, 1, "\\n");
    return s;
  }
  if (v->is_object()) {
    std::string s;
    for (auto& [k, x] : v->get_object())
      s += (s.empty() ? "" : ", ") + std::string(k) + " " + cell(&x);
    return s;
  }
  return json::serialize(*v);
}

std::string cell(const json::object& o, const char* key) {
  return cell(o.if_contains(key));
}

// Columns as wide as their widest cell; `right` columns (numbers) aligned right.
void print_table(std::ostream& out, const std::vector<std::vector<std::string>>& rows,
                 const std::vector<bool>& right) {
  std::vector<size_t> width;
  for (auto& row : rows)
    for (size_t c = 0; c < row.size(); ++c) {
      width.resize(std::max(width.size(), row.size()));
      width[c] = std::max(width[c], row[c].size());
    }
  for (auto& row : rows) {
    std::string line;
    for (size_t c = 0; c < row.size(); ++c) {
      std::string pad(width[c] - row[c].size(), ' ');
      bool r = c < right.size() && right[c];
      line += (c ? "  " : "") + (r ? pad + row[c] : row[c] + pad);
    }
    line.erase(line.find_last_not_of(' ') + 1);
    out << line << "\n";
  }
}

// "key  value" lines for the given keys of `o` (all of them when `keys` is empty); keys
// missing from `o` are left out.
void print_fields(std::ostream& out, const json::object& o, std::vector<const char*> keys = {}) {
  std::vector<std::vector<std::string>> rows;
  if (keys.empty())
    for (auto& [k, v] : o)
      rows.push_back({std::string(k), cell(&v)});
  for (auto* k : keys)
    if (o.contains(k))
      rows.push_back({k, cell(o, k)});
  print_table(out, rows, {});
}

// The funnel table of a report (GET /report, or one update of the stream).
std::string render_report(const json::value& v) {
  std::ostringstream out;
  if (!v.is_object())
    return "(not a report: " + json::serialize(v) + ")\n";
  auto& o = v.get_object();
  out << "blast " << cell(o, "blastId") << "\n";
  std::vector<std::vector<std::string>> rows = {{"stage", "reached", "percent", "stuck"}};
  if (auto* f = o.if_contains("funnel"); f && f->is_array())
    for (auto& s : f->get_array()) {
      if (!s.is_object())
        continue;
      auto& st = s.get_object();
      std::string percent = "-";
      if (auto* p = st.if_contains("percent"); p && p->is_number()) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.1f%%", p->to_number<double>());
        percent = buf;
      }
      rows.push_back({cell(st, "stage"), cell(st, "reached"), percent, cell(st, "stuck")});
    }
  rows.push_back({"pending", cell(o, "pending"), "", ""});
  rows.push_back({"failed", cell(o, "failed"), "", ""});
  rows.push_back({"total", cell(o, "totalRecipients"), "", ""});
  print_table(out, rows, {false, true, true, true});
  out << "calculated at " << cell(o, "calculatedAt") << "\n";
  return out.str();
}

std::string blast_path(uint64_t id) {
  return "/api/blasts/" + std::to_string(id);
}

// ---- progress on a terminal ----

// One self-overwriting status line on stderr, at most ten updates a second; nothing at all
// when stderr is not a terminal, so scripts and tests read clean output.
class progress_line {
public:
  progress_line() : on_(::isatty(STDERR_FILENO) == 1) {}
  ~progress_line() { clear(); }
  bool wanted() {
    if (!on_)
      return false;
    auto now = steady::now();
    if (now - last_ < 100ms)
      return false;
    last_ = now;
    return true;
  }
  void show(const std::string& text) {
    if (!on_)
      return;
    std::cerr << "\r" << text << "\033[K" << std::flush;
    shown_ = true;
  }
  void clear() {
    if (shown_)
      std::cerr << "\r\033[K" << std::flush;
    shown_ = false;
  }

private:
  bool on_;
  bool shown_ = false;
  steady::time_point last_{};
};

std::string mib(size_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(bytes) / (1 << 20));
  return buf;
}

// ---- the body of POST /api/blasts ----

// The length of the UTF-8 sequence at p (a lead byte >= 0x80), or 0 when it is not valid
// UTF-8 (overlong forms, surrogates and values past U+10FFFF included).
size_t utf8_length(const unsigned char* p, const unsigned char* e) {
  auto cont = [&](size_t i) { return p + i < e && (p[i] & 0xC0) == 0x80; };
  unsigned c = p[0];
  if (c >= 0xC2 && c <= 0xDF)
    return cont(1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (!cont(1) || !cont(2) || (c == 0xE0 && p[1] < 0xA0) || (c == 0xED && p[1] > 0x9F))
      return 0;
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (!cont(1) || !cont(2) || !cont(3) || (c == 0xF0 && p[1] < 0x90) ||
        (c == 0xF4 && p[1] > 0x8F))
      return 0;
    return 4;
  }
  return 0;
}

// Appends `s` as a JSON string literal. False when `s` is not valid UTF-8, which blastd's
// parser would reject (for the whole body, with no line to point at).
//
// Why a writer rather than a json::value: as a json::value the body of a million recipients is
// millions of small allocations, built and then serialized. Measured on a 1M-row, 41 MB CSV
// (--dry-run, same machine and load): this writer 0.53-0.63 s and 106 MiB peak RSS, a
// json::value 2.1-2.3 s and 545 MiB.
bool append_json_string(std::string& out, std::string_view s) {
  static const char hex[] = "0123456789abcdef";
  out += '"';
  auto* p = reinterpret_cast<const unsigned char*>(s.data());
  auto* e = p + s.size();
  auto* run = p;
  while (p < e) {
    unsigned c = *p;
    if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
      ++p;
      continue;
    }
    out.append(reinterpret_cast<const char*>(run), static_cast<size_t>(p - run));
    if (c >= 0x80) {
      size_t n = utf8_length(p, e);
      if (n == 0)
        return false;
      out.append(reinterpret_cast<const char*>(p), n);
      p += n;
    } else {
      switch (c) {
        case '"':
          out += "\\\"";
          break;
        case '\\':
          out += "\\\\";
          break;
        case '\n':
          out += "\\n";
          break;
        case '\r':
          out += "\\r";
          break;
        case '\t':
          out += "\\t";
          break;
        default:
          out += "\\u00";
          out += hex[c >> 4];
          out += hex[c & 15];
      }
      ++p;
    }
    run = p;
  }
  out.append(reinterpret_cast<const char*>(run), static_cast<size_t>(p - run));
  out += '"';
  return true;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

std::string trim(const std::string& s) {
  auto b = s.find_first_not_of(" \t");
  return b == std::string::npos ? std::string() : s.substr(b, s.find_last_not_of(" \t") + 1 - b);
}

// What each CSV column is for, from the header line.
struct csv_columns {
  size_t count = 0;
  size_t phone = SIZE_MAX;
  size_t name = SIZE_MAX;
  std::vector<std::pair<size_t, std::string>> vars; // column, its name as a JSON string

  // Empty, or what is wrong with the header ("line 1: ...").
  std::string read(const std::vector<std::string>& header) {
    count = header.size();
    std::vector<std::string> seen;
    std::string all;
    for (size_t c = 0; c < header.size(); ++c) {
      std::string label = trim(header[c]);
      std::string key = lower(label);
      all += (all.empty() ? "" : ", ") + label;
      if (label.empty())
        return "line 1: column " + std::to_string(c + 1) + " has no name";
      if (std::find(seen.begin(), seen.end(), key) != seen.end())
        return "line 1: column \"" + label + "\" appears twice";
      seen.push_back(key);
      if (key == "phone" || key == "phonenumber") {
        if (phone != SIZE_MAX)
          return "line 1: two phone columns (\"" + header[phone] + "\" and \"" + label + "\")";
        phone = c;
      } else if (key == "name") {
        name = c;
      } else {
        std::string quoted;
        if (!append_json_string(quoted, label))
          return "line 1: column " + std::to_string(c + 1) + "'s name is not valid UTF-8";
        vars.emplace_back(c, std::move(quoted));
      }
    }
    if (phone == SIZE_MAX)
      return "line 1: no phone column; the header needs one named \"phone\" or \"phoneNumber\" "
             "(it has: " +
             all + ")";
    return {};
  }
};

// Everything that can stop a CSV before anything is sent: printed with the file name.
int data_error(const std::string& file, const std::string& what) {
  std::cerr << "blastctl: " << file << ": " << what << "\n";
  return exit_failed;
}

bool read_file(const std::string& path, std::string& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return false;
  std::ostringstream ss;
  ss << in.rdbuf();
  out = ss.str();
  return true;
}

struct file_closer {
  void operator()(std::FILE* f) const {
    if (f && f != stdin)
      std::fclose(f);
  }
};

} // namespace

server_options server_options::from_environment() {
  server_options s;
  const char* url = std::getenv("BLASTD_URL");
  s.url = url && *url ? url : "http://127.0.0.1:8080";
  if (const char* key = std::getenv("BLASTD_API_KEY"))
    s.api_key = key;
  return s;
}

bool server_options::resolve(std::string& error) {
  if (!parse_base_url(url, host, port)) {
    error = "the server must be given as http://HOST:PORT, got \"" + url + "\"" +
            (url.rfind("https://", 0) == 0 ? " (https is not supported; use a local proxy)" : "");
    return false;
  }
  return true;
}

int create_blast(const create_options& o) {
  std::string message = o.message;
  if (!o.message_file.empty()) {
    if (!read_file(o.message_file, message))
      return data_error(o.message_file, std::string("cannot read: ") + std::strerror(errno));
    // Editors end a file with a line break nobody means to send.
    if (!message.empty() && message.back() == '\n')
      message.pop_back();
    if (!message.empty() && message.back() == '\r')
      message.pop_back();
  }

  std::unique_ptr<std::FILE, file_closer> file(
      o.csv_path == "-" ? stdin : std::fopen(o.csv_path.c_str(), "rb"));
  if (!file)
    return data_error(o.csv_path, std::string("cannot open: ") + std::strerror(errno));
  const std::string& name = o.csv_path == "-" ? "standard input" : o.csv_path;
  csv_reader csv(file.get());
  std::vector<std::string> row;
  if (!csv.next(row))
    return data_error(name, csv.error().empty() ? "empty; the first line must name the columns"
                                                : csv.error());
  csv_columns cols;
  if (auto err = cols.read(row); !err.empty())
    return data_error(name, err);

  std::string body;
  struct stat st {};
  // The body is the CSV plus the keys of every row, 2-3 times its size: one allocation up
  // front rather than doubling (a doubling copy at 80 MB briefly holds both). Untouched
  // pages cost nothing; past blastd's default body limit (256 MiB) growing is fine.
  const bool sized = ::fstat(::fileno(file.get()), &st) == 0 && S_ISREG(st.st_mode);
  if (sized)
    body.reserve(std::min<size_t>(static_cast<size_t>(st.st_size) * 3, size_t(256) << 20) + 4096);
  body += "{\"message\":";
  if (!append_json_string(body, message))
    return data_error(o.message_file.empty() ? "--message" : o.message_file,
                      "the message is not valid UTF-8");
  body += ",\"recipients\":[";
  // The CSV line of each recipient, to point at lines when blastd rejects some by index.
  std::vector<uint64_t> lines;
  progress_line progress;
  auto not_utf8 = [&](size_t c) {
    return data_error(name, "line " + std::to_string(csv.line()) + ": column " +
                                std::to_string(c + 1) +
                                " is not valid UTF-8 (save the file as "
                                "UTF-8)");
  };
  while (csv.next(row)) {
    if (row.size() != cols.count)
      return data_error(name, "line " + std::to_string(csv.line()) + ": " +
                                  std::to_string(row.size()) + " fields, but the header has " +
                                  std::to_string(cols.count));
    if (trim(row[cols.phone]).empty())
      return data_error(name, "line " + std::to_string(csv.line()) + ": no phone number");
    body += lines.empty() ? "{\"phoneNumber\":" : ",{\"phoneNumber\":";
    if (!append_json_string(body, row[cols.phone]))
      return not_utf8(cols.phone);
    if (cols.name != SIZE_MAX && !row[cols.name].empty()) {
      body += ",\"name\":";
      if (!append_json_string(body, row[cols.name]))
        return not_utf8(cols.name);
    }
    bool first_var = true;
    for (auto& [c, key] : cols.vars) {
      if (row[c].empty())
        continue;
      body += first_var ? ",\"vars\":{" : ",";
      first_var = false;
      body += key;
      body += ':';
      if (!append_json_string(body, row[c]))
        return not_utf8(c);
    }
    body += first_var ? "}" : "}}";
    lines.push_back(csv.line());
    if ((lines.size() & 0xFFF) == 0 && progress.wanted())
      progress.show("reading " + name + ": " + format_count(lines.size()) + " rows, " +
                    mib(csv.bytes_read()) +
                    (sized ? " of " + mib(static_cast<size_t>(st.st_size)) : ""));
  }
  if (!csv.error().empty())
    return data_error(name, csv.error());
  if (std::ferror(file.get()))
    return data_error(name, std::string("read error: ") + std::strerror(errno));
  if (lines.empty())
    return data_error(name, "no recipients: the file has a header line only");
  body += ']';
  auto optional_field = [&](const char* key, const std::string& value) {
    if (value.empty())
      return;
    body += ",\"";
    body += key;
    body += "\":";
    append_json_string(body, value); // command-line text; blastd judges it
  };
  optional_field("blastTag", o.tag);
  optional_field("transport", o.transport);
  optional_field("scheduledAt", o.scheduled_at);
  body += '}';
  progress.clear();

  if (o.dry_run) {
    std::cout << body << "\n";
    return 0;
  }
  auto reply = call(o.server, "POST", "/api/blasts", body, [&](size_t sent, size_t total) {
    if (sent == total)
      progress.show("sent " + mib(total) + "; waiting for blastd to store " +
                    format_count(lines.size()) + " recipients");
    else if (progress.wanted())
      progress.show("uploading " + mib(sent) + " of " + mib(total));
  });
  progress.clear();
  if (reply.status != 201) {
    int code = failure(o.server, reply);
    // Name the CSV lines of the recipients blastd found invalid (by index in the body).
    json::error_code ec;
    auto v = json::parse(reply.body, ec);
    const json::value* details = ec ? nullptr : v.find_pointer("/error/details", ec);
    if (details && details->is_array())
      for (auto& d : details->get_array()) {
        auto* index = d.is_object() ? d.get_object().if_contains("index") : nullptr;
        if (!index || !index->is_int64() || index->get_int64() < 0 ||
            static_cast<uint64_t>(index->get_int64()) >= lines.size())
          continue;
        auto* value = d.get_object().if_contains("value");
        const json::value* phone =
            value && value->is_object() ? value->get_object().if_contains("phoneNumber") : value;
        std::cerr << "  " << name << ": line " << lines[static_cast<size_t>(index->get_int64())]
                  << ": " << cell(phone) << ": " << cell(d.get_object(), "reason") << "\n";
      }
    return code;
  }
  if (o.json) {
    std::cout << reply.body << "\n";
    return 0;
  }
  json::error_code ec;
  auto v = json::parse(reply.body, ec);
  if (ec || !v.is_object()) {
    std::cout << reply.body << "\n";
    return 0;
  }
  print_fields(std::cout, v.get_object(), {"id", "status", "totalRecipients", "duplicatesDropped"});
  return 0;
}

int list_blasts(const list_options& o) {
  std::string target = "/api/blasts";
  char sep = '?';
  for (auto& [key, value] : {std::pair{"blastTag", o.tag}, std::pair{"status", o.status}})
    if (!value.empty()) {
      target +=
          sep + std::string(key) + "=" + boost::urls::encode(value, boost::urls::unreserved_chars);
      sep = '&';
    }
  http_reply r;
  json::value v;
  if (int code = get_json(o.server, target, r, v))
    return code;
  if (o.json) {
    std::cout << r.body << "\n";
    return 0;
  }
  const json::value* items = v.is_object() ? v.get_object().if_contains("items") : nullptr;
  if (!items || !items->is_array() || items->get_array().empty()) {
    std::cout << "no blasts\n";
    return 0;
  }
  std::vector<std::vector<std::string>> rows = {{"id", "tag", "status", "total", "created"}};
  for (auto& b : items->get_array())
    if (b.is_object())
      rows.push_back({cell(b.get_object(), "id"), cell(b.get_object(), "blastTag"),
                      cell(b.get_object(), "status"), cell(b.get_object(), "totalRecipients"),
                      cell(b.get_object(), "createdAt")});
  print_table(std::cout, rows, {true, false, false, true, false});
  return 0;
}

int show_blast(const server_options& server, uint64_t id, bool json_out) {
  http_reply r;
  json::value v;
  if (int code = get_json(server, blast_path(id), r, v))
    return code;
  if (json_out || !v.is_object())
    std::cout << r.body << "\n";
  else
    print_fields(std::cout, v.get_object());
  return 0;
}

int show_report(const server_options& server, uint64_t id, bool json_out) {
  http_reply r;
  json::value v;
  if (int code = get_json(server, blast_path(id) + "/report", r, v))
    return code;
  std::cout << (json_out ? r.body + "\n" : render_report(v));
  return 0;
}

int watch_report(const watch_options& o) {
  sse_request req;
  req.host = o.server.host;
  req.port = o.server.port;
  req.target = blast_path(o.id) + "/report/stream";
  req.headers = auth_headers(o.server);
  req.connect_timeout = connect_timeout;
  req.stop_on_sigint = true; // Ctrl-C is how a person stops watching: a success
  const bool tty = ::isatty(STDOUT_FILENO) == 1;
  uint64_t updates = 0;
  std::string last; // the last report less its calculatedAt, to tell changes
  auto last_change = sse_clock::now();
  auto on_event = [&](const sse_event& e) {
    if (e.name != "report")
      return true;
    ++updates;
    json::error_code ec;
    auto v = json::parse(e.data, ec);
    if (!ec && v.is_object())
      v.get_object().erase("calculatedAt");
    std::string state = ec ? e.data : json::serialize(v);
    if (state != last) {
      last = std::move(state);
      last_change = sse_clock::now();
    }
    if (o.json) {
      std::cout << e.data << "\n";
    } else if (ec) {
      std::cerr << "blastctl: an update that is not JSON: " << e.data.substr(0, 300) << "\n";
    } else {
      v = json::parse(e.data); // with its calculatedAt again
      if (tty)                 // clear the screen and draw from the top: a live view
        std::cout << "\033[H\033[2J"
                  << "watching " << o.server.url << req.target << " (Ctrl-C to stop)\n\n";
      else if (updates > 1)
        std::cout << "\n";
      std::cout << render_report(v);
    }
    std::cout << std::flush;
    return !(o.max_updates && updates >= o.max_updates);
  };
  auto deadline = [&] {
    if (o.until_stable <= 0)
      return sse_clock::time_point::max();
    return last_change + std::chrono::duration_cast<sse_clock::duration>(
                             std::chrono::duration<double>(o.until_stable));
  };
  auto r = read_event_stream(req, on_event, deadline);
  switch (r.end) {
    case sse_end::stopped:
    case sse_end::deadline:
    case sse_end::interrupted:
      return 0;
    case sse_end::closed:
      return unreachable(o.server, "blastd ended the report stream after " +
                                       std::to_string(updates) + " updates");
    case sse_end::unreachable:
      return unreachable(o.server, r.error);
    case sse_end::http_error:
      print_server_error(r.status, r.body);
      return exit_failed;
  }
  return exit_failed;
}

} // namespace blast::tools
