// blastctl's client commands: the CSV reader and the event-stream parser on their own, the
// event-stream reader and `watch` against a scripted Beast server (chunks split anywhere,
// heartbeats, errors), and every command as a process against a real blastd.
#define BOOST_TEST_MODULE tools_blastctl_client
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <functional>
#include <mutex>
#include <optional>
#include <poll.h>
#include <regex>
#include <sstream>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"
#include "tools/blastctl/csv.hpp"
#include "tools/blastctl/sse.hpp"
#include "tools/http_client.hpp"

namespace json = boost::json;
namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;
using namespace blast;
using namespace std::chrono_literals;

extern char** environ;

namespace {

// ---- blastctl as a child process ----

struct run_result {
  int code = -1; // the exit code; 128 + signal when killed (also on a timeout)
  std::string out, err;
  double seconds = 0;
};

// blastctl with `args`, stdout and stderr on pipes (not terminals, as in scripts), stdin
// empty, and BLASTD_URL / BLASTD_API_KEY only as given in `env` ("NAME=value").
class blastctl_process {
public:
  explicit blastctl_process(std::vector<std::string> args, std::vector<std::string> env = {})
      : started_(std::chrono::steady_clock::now()) {
    args.insert(args.begin(), BLASTCTL);
    for (char** e = environ; *e; ++e)
      if (std::strncmp(*e, "BLASTD_", 7) != 0)
        env.push_back(*e);
    int out[2], err[2];
    BOOST_TEST_REQUIRE(::pipe(out) == 0);
    BOOST_TEST_REQUIRE(::pipe(err) == 0);
    pid_ = ::fork();
    BOOST_TEST_REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      std::vector<char*> argv, envp;
      for (auto& a : args)
        argv.push_back(a.data());
      argv.push_back(nullptr);
      for (auto& e : env)
        envp.push_back(e.data());
      envp.push_back(nullptr);
      int null = ::open("/dev/null", O_RDONLY);
      ::dup2(null, 0);
      ::dup2(out[1], 1);
      ::dup2(err[1], 2);
      ::close(out[0]);
      ::close(err[0]);
      ::execve(argv[0], argv.data(), envp.data());
      _exit(127);
    }
    ::close(out[1]);
    ::close(err[1]);
    fd_[0] = out[0];
    fd_[1] = err[0];
  }
  ~blastctl_process() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    for (int fd : fd_)
      if (fd >= 0)
        ::close(fd);
  }

  pid_t pid() const { return pid_; }

  // The next line of its stdout (without the '\n'); nullopt when it ended or after `timeout`.
  std::optional<std::string> line(std::chrono::milliseconds timeout) {
    auto until = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      auto nl = out_.find('\n', taken_);
      if (nl != std::string::npos) {
        std::string l = out_.substr(taken_, nl - taken_);
        taken_ = nl + 1;
        return l;
      }
      if (!pump(until))
        return std::nullopt;
    }
  }

  // Everything until it exits (killed after `timeout`); `out` is what line() did not take.
  run_result finish(std::chrono::milliseconds timeout = 30s) {
    auto until = std::chrono::steady_clock::now() + timeout;
    while (pump(until)) {
    }
    run_result r;
    if (fd_[0] >= 0 || fd_[1] >= 0)
      ::kill(pid_, SIGKILL); // timed out
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    r.out = out_.substr(taken_);
    r.err = err_;
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
    return r;
  }

private:
  // One wait for output; false once both pipes ended or at `until`.
  bool pump(std::chrono::steady_clock::time_point until) {
    if (fd_[0] < 0 && fd_[1] < 0)
      return false;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        until - std::chrono::steady_clock::now());
    if (left.count() <= 0)
      return false;
    pollfd p[2] = {{fd_[0], POLLIN, 0}, {fd_[1], POLLIN, 0}};
    if (::poll(p, 2, static_cast<int>(left.count())) <= 0)
      return true; // the loop looks at the clock again
    for (int i = 0; i < 2; ++i) {
      if (fd_[i] < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
        continue;
      char buf[65536];
      auto n = ::read(fd_[i], buf, sizeof buf);
      if (n > 0) {
        (i == 0 ? out_ : err_).append(buf, static_cast<size_t>(n));
      } else {
        ::close(fd_[i]);
        fd_[i] = -1;
      }
    }
    return true;
  }

  pid_t pid_ = -1;
  int fd_[2] = {-1, -1};
  std::string out_, err_;
  size_t taken_ = 0;
  std::chrono::steady_clock::time_point started_;
};

run_result blastctl(std::vector<std::string> args, std::vector<std::string> env = {}) {
  return blastctl_process(std::move(args), std::move(env)).finish();
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);)
    out.push_back(l);
  return out;
}

// Runs of spaces as one, for comparing table rows without their alignment.
std::string squeeze(const std::string& s) {
  return std::regex_replace(s, std::regex(" +"), " ");
}

bool has_line(const std::string& text, const std::string& squeezed) {
  for (auto& l : lines_of(text))
    if (squeeze(l) == squeezed)
      return true;
  return false;
}

// ---- a scripted HTTP server ----

// On a loopback port, one connection at a time: reads the request, records it and hands the
// socket to `script`, which writes whatever bytes the case needs (a torn chunked stream, a
// 404...). Stopping waits for the running script, so scripts end when their writes fail.
class scripted_server {
public:
  using script = std::function<void(const bhttp::request<bhttp::string_body>&, tcp::socket&)>;

  explicit scripted_server(script s)
      : acceptor_(ioc_, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0)),
        script_(std::move(s)), thread_([this] { serve(); }) {}
  ~scripted_server() {
    stopping_ = true;
    boost::system::error_code ec;
    tcp::socket poke(ioc_); // a blocked accept() does not wake on close(): connect once
    poke.connect(acceptor_.local_endpoint(), ec);
    thread_.join();
  }

  std::string url() const {
    return "http://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port());
  }
  std::vector<bhttp::request<bhttp::string_body>> requests() {
    std::lock_guard lk(mutex_);
    return requests_;
  }

private:
  void serve() {
    while (!stopping_) {
      tcp::socket s(ioc_);
      boost::system::error_code ec;
      acceptor_.accept(s, ec);
      if (ec || stopping_)
        continue;
      beast::flat_buffer buf;
      bhttp::request<bhttp::string_body> req;
      bhttp::read(s, buf, req, ec);
      if (ec)
        continue;
      {
        std::lock_guard lk(mutex_);
        requests_.push_back(req);
      }
      script_(req, s);
    }
  }

  net::io_context ioc_;
  tcp::acceptor acceptor_;
  script script_;
  std::mutex mutex_;
  std::vector<bhttp::request<bhttp::string_body>> requests_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

bool write_raw(tcp::socket& s, const std::string& bytes) {
  boost::system::error_code ec;
  net::write(s, net::buffer(bytes), ec);
  return !ec;
}

std::string chunk(const std::string& data) {
  char size[16];
  std::snprintf(size, sizeof size, "%zx\r\n", data.size());
  return size + data + "\r\n";
}

const std::string stream_head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                                "Cache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n\r\n";

// A report as blastd renders it, `delivered` of 4 recipients delivered.
std::string report_json(int delivered, const std::string& at = "2026-11-28T06:12:00.000Z") {
  auto pct = [](int n) { return std::to_string(n * 25) + ".0"; };
  return "{\"blastId\":7,\"totalRecipients\":4,\"pending\":0,\"failed\":0,\"funnel\":["
         "{\"stage\":\"sent\",\"reached\":4,\"percent\":100.0,\"stuck\":" +
         std::to_string(4 - delivered) +
         "},{\"stage\":\"delivered\",\"reached\":" + std::to_string(delivered) +
         ",\"percent\":" + pct(delivered) + ",\"stuck\":" + std::to_string(delivered) +
         "},{\"stage\":\"read\",\"reached\":0,\"percent\":0.0,\"stuck\":0},"
         "{\"stage\":\"replied\",\"reached\":0,\"percent\":0.0,\"stuck\":0},"
         "{\"stage\":\"closed\",\"reached\":0,\"percent\":0.0,\"stuck\":null}],"
         "\"stuck\":{\"sent\":" +
         std::to_string(4 - delivered) + ",\"delivered\":" + std::to_string(delivered) +
         ",\"read\":0,\"replied\":0},\"calculatedAt\":\"" + at + "\"}";
}

// Three report updates (0, 1, 2 delivered), torn across chunks mid-line and mid-CRLF, with a
// comment and an unrelated event between them; then heartbeats until the client hangs up.
void three_updates(const bhttp::request<bhttp::string_body>&, tcp::socket& s) {
  std::string all = ": welcome\r\n\r\nevent: report\r\ndata: " + report_json(0) + "\r\n\r\n" +
                    "event: other\ndata: ignored\n\n" + "event: report\ndata: " + report_json(1) +
                    "\n\n" + "event: report\rdata: " + report_json(2) + "\r\r";
  if (!write_raw(s, stream_head))
    return;
  for (size_t at = 0, n = 1; at < all.size(); at += n, n = n * 3 % 97 + 1) {
    if (!write_raw(s, chunk(all.substr(at, n))))
      return;
    if (n % 5 == 0)
      std::this_thread::sleep_for(1ms);
  }
  for (int i = 0; i < 200 && write_raw(s, chunk(": heartbeat\n")); ++i)
    std::this_thread::sleep_for(50ms);
}

// ---- a real blastd ----

struct blastd_fixture {
  test::temp_dir dir;
  std::unique_ptr<test::blastd_process> proc;
  std::unique_ptr<tools::http_client> http;
  std::string url;

  blastd_fixture() {
    // `manual` only: nothing is sent, statuses come from the tests (no plugin needed).
    std::ofstream(dir.path() + "/blastd.json")
        << R"({"transports": {}, "defaultTransport": "manual"})";
    proc = std::make_unique<test::blastd_process>(
        BLASTD_PATH, dir.path() + "/data", dir.path() + "/blastd.log",
        std::vector<std::string>{"--config", dir.path() + "/blastd.json"});
    http = std::make_unique<tools::http_client>("127.0.0.1", proc->port());
    url = "http://127.0.0.1:" + std::to_string(proc->port());
  }

  std::string file(const std::string& name, const std::string& content) {
    std::string path = dir.path() + "/" + name;
    std::ofstream(path, std::ios::binary) << content;
    return path;
  }

  json::value get(const std::string& target) {
    auto r = http->get(target);
    BOOST_TEST_REQUIRE(r.status == 200, target << ": " << r.status << " " << r.error << r.body);
    return json::parse(r.body);
  }

  // A manual blast of `n` recipients 60120000001.., created over HTTP; its id.
  std::string create(int n, const std::string& tag) {
    json::array rs;
    for (int i = 1; i <= n; ++i)
      rs.push_back(json::string("6012000000" + std::to_string(i)));
    auto r = http->post(
        "/api/blasts",
        json::serialize(json::object{{"message", "Hi"}, {"blastTag", tag}, {"recipients", rs}}));
    BOOST_TEST_REQUIRE(r.status == 201, r.body);
    return std::to_string(json::parse(r.body).at("id").as_int64());
  }

  void set_stage(const std::string& blast, int recipient, const std::string& stage) {
    auto r =
        http->post("/api/blasts/" + blast + "/recipients/" + std::to_string(recipient) + "/status",
                   "{\"stage\":\"" + stage + "\"}");
    BOOST_TEST_REQUIRE(r.status == 200, r.body);
  }

  run_result run(std::vector<std::string> args) {
    args.insert(args.end(), {"--server", url});
    return blastctl(std::move(args));
  }
};

std::vector<tools::sse_event> parse_all(const std::vector<std::string>& pieces,
                                        tools::sse_parser& p) {
  std::vector<tools::sse_event> got;
  for (auto& piece : pieces)
    p.feed(piece, [&](const tools::sse_event& e) {
      got.push_back(e);
      return true;
    });
  return got;
}

} // namespace

// ---- the CSV reader ----

BOOST_AUTO_TEST_SUITE(csv)

std::vector<std::vector<std::string>> read_all(const std::string& text,
                                               std::vector<uint64_t>* lines = nullptr,
                                               std::string* error = nullptr) {
  std::FILE* f = ::fmemopen(const_cast<char*>(text.data()), text.size(), "rb");
  BOOST_TEST_REQUIRE(f != nullptr);
  tools::csv_reader rd(f);
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> row;
  while (rd.next(row)) {
    rows.push_back(row);
    if (lines)
      lines->push_back(rd.line());
  }
  if (error)
    *error = rd.error();
  else
    BOOST_TEST(rd.error() == "");
  std::fclose(f);
  return rows;
}

BOOST_AUTO_TEST_CASE(quotes_line_breaks_and_the_byte_order_mark) {
  std::vector<uint64_t> lines;
  auto rows = read_all("\xEF\xBB\xBFphone,name\r\n"
                       "1,\"Tan, Aisyah\"\r\n"
                       "\r\n"
                       "2,\"say \"\"hi\"\"\nand go\"\n"
                       "3,5'11\"\r"
                       "4,\n"
                       ",",
                       &lines);
  std::vector<std::vector<std::string>> want = {{"phone", "name"},
                                                {"1", "Tan, Aisyah"},
                                                {"2", "say \"hi\"\nand go"},
                                                {"3", "5'11\""},
                                                {"4", ""},
                                                {"", ""}};
  BOOST_TEST_REQUIRE(rows.size() == want.size());
  for (size_t i = 0; i < rows.size(); ++i)
    BOOST_TEST(rows[i] == want[i], boost::test_tools::per_element());
  BOOST_TEST(lines == (std::vector<uint64_t>{1, 2, 4, 6, 7, 8}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(errors_name_their_line) {
  std::string error;
  read_all("phone,name\n1,a\n2,\"open\n3,c\n", nullptr, &error);
  BOOST_TEST(error.rfind("line 3: a quoted field", 0) == 0u, error);
  read_all("phone,name\n1,a\n2,\"b\"c\n", nullptr, &error);
  BOOST_TEST(error.rfind("line 3: text after the closing quote", 0) == 0u, error);
}

BOOST_AUTO_TEST_CASE(records_across_buffer_boundaries) {
  // Over 3 MiB of quoted fields with doubled quotes and line breaks: the reader's 1 MiB buffer
  // ends inside quotes, between doubled quotes and inside CRLFs somewhere among them.
  std::string text = "phone,name\r\n";
  const int n = 40000;
  for (int i = 0; i < n; ++i)
    text += std::to_string(i) + ",\"" + std::string(static_cast<size_t>(i % 97), 'x') +
            "\"\"q\"\"\r\n" + std::to_string(i) + "\"\r\n";
  std::vector<uint64_t> lines;
  auto rows = read_all(text, &lines);
  BOOST_TEST_REQUIRE(rows.size() == static_cast<size_t>(n + 1));
  for (int i = 0; i < n; ++i) {
    auto want = std::string(static_cast<size_t>(i % 97), 'x') + "\"q\"\r\n" + std::to_string(i);
    if (rows[static_cast<size_t>(i + 1)][1] != want ||
        lines[static_cast<size_t>(i + 1)] != static_cast<uint64_t>(2 + 2 * i)) {
      BOOST_TEST(rows[static_cast<size_t>(i + 1)][1] == want, "row " << i);
      BOOST_TEST(lines[static_cast<size_t>(i + 1)] == static_cast<uint64_t>(2 + 2 * i));
      break;
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()

// ---- the event-stream parser and reader ----

BOOST_AUTO_TEST_SUITE(sse)

BOOST_AUTO_TEST_CASE(parses_the_same_however_the_bytes_are_split) {
  const std::string stream = "\xEF\xBB\xBF: hello\r\n"
                             "event: report\r\ndata: {\"a\":1}\r\n\r\n"
                             "data:no space\ndata:  two spaces\n\n"
                             "id: 7\nevent: report\ndata: x\r\rretry: 100\nfoo: bar\n\n"
                             "event: report\n\n"
                             ": heartbeat\n"
                             "data: never finished\n";
  auto check = [](const std::vector<tools::sse_event>& got, const std::string& how) {
    BOOST_TEST_REQUIRE(got.size() == 3u, how);
    BOOST_TEST(got[0].name == "report");
    BOOST_TEST(got[0].data == "{\"a\":1}");
    BOOST_TEST(got[1].name == "message");
    BOOST_TEST(got[1].data == "no space\n two spaces");
    BOOST_TEST(got[2].name == "report");
    BOOST_TEST(got[2].data == "x");
    BOOST_TEST(got[2].id == "7");
  };
  {
    tools::sse_parser p;
    check(parse_all({stream}, p), "at once");
    BOOST_TEST(p.comments() == 2u);
  }
  std::vector<std::string> bytes;
  for (char c : stream)
    bytes.emplace_back(1, c);
  tools::sse_parser by_byte;
  check(parse_all(bytes, by_byte), "byte by byte");
  for (size_t cut = 1; cut < stream.size(); ++cut) {
    tools::sse_parser p;
    check(parse_all({stream.substr(0, cut), stream.substr(cut)}, p),
          "cut at " + std::to_string(cut));
  }
}

BOOST_AUTO_TEST_CASE(a_handler_saying_stop_ends_the_feed) {
  tools::sse_parser p;
  int calls = 0;
  BOOST_TEST(!p.feed("data: a\n\ndata: b\n\n", [&](const tools::sse_event&) {
    ++calls;
    return false;
  }));
  BOOST_TEST(calls == 1);
}

BOOST_AUTO_TEST_CASE(reads_a_chunked_stream_with_the_api_key) {
  scripted_server server(three_updates);
  tools::sse_request req;
  std::string host;
  BOOST_TEST_REQUIRE(tools::parse_base_url(server.url(), host, req.port));
  req.host = host;
  req.target = "/api/blasts/7/report/stream";
  req.headers = {{"Authorization", "Bearer k3y"}};
  std::vector<tools::sse_event> got;
  auto r = tools::read_event_stream(
      req,
      [&](const tools::sse_event& e) {
        got.push_back(e);
        return got.size() < 4;
      },
      [] { return tools::sse_clock::time_point::max(); });
  BOOST_TEST(static_cast<int>(r.end) == static_cast<int>(tools::sse_end::stopped), r.error);
  BOOST_TEST(r.status == 200);
  BOOST_TEST_REQUIRE(got.size() == 4u);
  BOOST_TEST(got[0].data == report_json(0));
  BOOST_TEST(got[1].name == "other");
  BOOST_TEST(got[2].data == report_json(1));
  BOOST_TEST(got[3].data == report_json(2));
  auto reqs = server.requests();
  BOOST_TEST_REQUIRE(reqs.size() == 1u);
  BOOST_TEST(reqs[0].target() == "/api/blasts/7/report/stream");
  BOOST_TEST(reqs[0][bhttp::field::authorization] == "Bearer k3y");
  BOOST_TEST(reqs[0][bhttp::field::accept] == "text/event-stream");
}

BOOST_AUTO_TEST_CASE(an_error_answer_a_closed_stream_and_a_deadline) {
  tools::sse_request req;
  req.host = "127.0.0.1";
  req.target = "/api/blasts/9/report/stream";
  auto never = [] { return tools::sse_clock::time_point::max(); };
  auto ignore = [](const tools::sse_event&) { return true; };
  {
    scripted_server server([](auto&, tcp::socket& s) {
      write_raw(s,
                "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: 53\r\n"
                "\r\n{\"error\":{\"code\":\"not_found\",\"message\":\"no blast 9\"}}");
    });
    std::string host;
    tools::parse_base_url(server.url(), host, req.port);
    auto r = tools::read_event_stream(req, ignore, never);
    BOOST_TEST(static_cast<int>(r.end) == static_cast<int>(tools::sse_end::http_error), r.error);
    BOOST_TEST(r.status == 404);
    BOOST_TEST(json::parse(r.body).at("error").at("code").as_string() == "not_found", r.body);
  }
  {
    scripted_server server([](auto&, tcp::socket& s) {
      write_raw(s, stream_head + chunk("data: one\n\n") + "0\r\n\r\n");
    });
    std::string host;
    tools::parse_base_url(server.url(), host, req.port);
    int events = 0;
    auto r = tools::read_event_stream(
        req, [&](const tools::sse_event&) { return ++events, true; }, never);
    BOOST_TEST(static_cast<int>(r.end) == static_cast<int>(tools::sse_end::closed), r.error);
    BOOST_TEST(events == 1);
  }
  {
    scripted_server server(three_updates); // heartbeats for 10 s after its updates
    std::string host;
    tools::parse_base_url(server.url(), host, req.port);
    auto t0 = tools::sse_clock::now();
    auto r = tools::read_event_stream(req, ignore, [&] { return t0 + 300ms; });
    BOOST_TEST(static_cast<int>(r.end) == static_cast<int>(tools::sse_end::deadline), r.error);
    BOOST_TEST((tools::sse_clock::now() - t0 < 5s));
  }
  req.port = test::free_port(); // nobody listens there
  auto r = tools::read_event_stream(req, ignore, never);
  BOOST_TEST(static_cast<int>(r.end) == static_cast<int>(tools::sse_end::unreachable));
  BOOST_TEST(r.error.find("refused") != std::string::npos, r.error);
}

BOOST_AUTO_TEST_SUITE_END()

// ---- blastctl watch (and the API key) against the scripted server ----

BOOST_AUTO_TEST_SUITE(watch_scripted)

BOOST_AUTO_TEST_CASE(json_lines_tables_and_max_updates) {
  scripted_server server(three_updates);
  auto r = blastctl({"watch", "7", "--json", "--max-updates", "3", "--server", server.url()});
  BOOST_TEST(r.code == 0, r.err);
  BOOST_TEST(r.err == "");
  BOOST_TEST(lines_of(r.out) ==
                 (std::vector<std::string>{report_json(0), report_json(1), report_json(2)}),
             boost::test_tools::per_element());

  // Not a terminal: one table per update, a blank line between them.
  r = blastctl({"watch", "7", "--max-updates", "2", "--api-key", "s3cret"},
               {"BLASTD_URL=" + server.url()});
  BOOST_TEST(r.code == 0, r.err);
  BOOST_TEST(r.out.find("\033") == std::string::npos); // no screen control
  auto tables = r.out.find("\n\nblast 7\n");
  BOOST_TEST(tables != std::string::npos, r.out);
  BOOST_TEST(r.out.find("\n\nblast 7\n", tables + 1) == std::string::npos, r.out);
  BOOST_TEST(has_line(r.out, "delivered 0 0.0% 0"), r.out);
  BOOST_TEST(has_line(r.out, "delivered 1 25.0% 1"), r.out);
  BOOST_TEST(has_line(r.out, "closed 0 0.0% -"), r.out);
  auto reqs = server.requests();
  BOOST_TEST_REQUIRE(reqs.size() == 2u);
  BOOST_TEST(reqs[0][bhttp::field::authorization] == ""); // no key, no header
  BOOST_TEST(reqs[1][bhttp::field::authorization] == "Bearer s3cret");
}

BOOST_AUTO_TEST_CASE(until_stable_counts_changes_not_updates_or_heartbeats) {
  // Two updates that differ only in calculatedAt, then heartbeats for 10 s: --until-stable
  // must end it long before the server would, with both updates printed.
  scripted_server server([](auto&, tcp::socket& s) {
    if (!write_raw(s, stream_head + chunk("event: report\ndata: " + report_json(1) + "\n\n")))
      return;
    std::this_thread::sleep_for(200ms);
    write_raw(s,
              chunk("event: report\ndata: " + report_json(1, "2026-11-28T06:12:00.250Z") + "\n\n"));
    for (int i = 0; i < 100 && write_raw(s, chunk(": heartbeat\n")); ++i)
      std::this_thread::sleep_for(100ms);
  });
  auto r = blastctl({"watch", "7", "--json", "--until-stable", "0.5", "--server", server.url()});
  BOOST_TEST(r.code == 0, r.err);
  BOOST_TEST(lines_of(r.out).size() == 2u, r.out);
  BOOST_TEST(r.seconds < 5.0);
}

BOOST_AUTO_TEST_CASE(ctrl_c_is_a_normal_end) {
  scripted_server server(three_updates);
  blastctl_process watch({"watch", "7", "--json", "--server", server.url()});
  BOOST_TEST_REQUIRE(watch.line(10s).has_value());
  ::kill(watch.pid(), SIGINT);
  auto r = watch.finish(10s);
  BOOST_TEST(r.code == 0, r.err);
}

BOOST_AUTO_TEST_CASE(a_stream_that_ends_is_a_lost_connection) {
  scripted_server server([](auto&, tcp::socket& s) {
    write_raw(s,
              stream_head + chunk("event: report\ndata: " + report_json(0) + "\n\n") + "0\r\n\r\n");
  });
  auto r = blastctl({"watch", "7", "--json", "--server", server.url()});
  BOOST_TEST(r.code == 3, r.err);
  BOOST_TEST(lines_of(r.out).size() == 1u, r.out);
  BOOST_TEST(r.err.find(server.url()) != std::string::npos, r.err);
}

BOOST_AUTO_TEST_CASE(plain_requests_carry_the_api_key) {
  scripted_server server([](auto&, tcp::socket& s) {
    std::string body = report_json(2);
    write_raw(s, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
                     std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body);
  });
  auto r =
      blastctl({"report", "7", "--json", "--server", server.url()}, {"BLASTD_API_KEY=from-env"});
  BOOST_TEST(r.code == 0, r.err);
  BOOST_TEST(r.out == report_json(2) + "\n");
  auto reqs = server.requests();
  BOOST_TEST_REQUIRE(reqs.size() == 1u);
  BOOST_TEST(reqs[0].target() == "/api/blasts/7/report");
  BOOST_TEST(reqs[0][bhttp::field::authorization] == "Bearer from-env");
}

BOOST_AUTO_TEST_SUITE_END()

// ---- every command against a real blastd ----

BOOST_FIXTURE_TEST_SUITE(against_blastd, blastd_fixture)

BOOST_AUTO_TEST_CASE(create_from_a_csv) {
  auto csv =
      file("people.csv", "\xEF\xBB\xBF"
                         "Name,PhoneNumber,plan,note,city\r\n"
                         "\"Tan, Aisyah \"\"Ai\"\"\",+60 12-345 6789,gold,\"line 1\r\nline 2\","
                         "Kuala Lumpur\r\n"
                         "Bob,60198765432,,x,\r\n"
                         "\r\n"
                         ",60111111111,silver,,Ipoh\r\n"
                         "Again,+60123456789,,,\r\n");
  auto msg = file("message.txt", "Hello {{name}}, your plan: {{vars.plan}}\n");
  auto r = run({"create", "--csv", csv, "--message-file", msg, "--tag", "csv-test", "--transport",
                "manual"});
  BOOST_TEST_REQUIRE(r.code == 0, r.err);
  BOOST_TEST(r.err == ""); // not a terminal: no progress
  BOOST_TEST(has_line(r.out, "id 1"), r.out);
  BOOST_TEST(has_line(r.out, "status sending"), r.out);
  BOOST_TEST(has_line(r.out, "totalRecipients 3"), r.out);
  BOOST_TEST(has_line(r.out, "duplicatesDropped 1"), r.out);

  auto blast = get("/api/blasts/1").as_object();
  BOOST_TEST(blast.at("message").as_string() == "Hello {{name}}, your plan: {{vars.plan}}");
  BOOST_TEST(blast.at("blastTag").as_string() == "csv-test");
  BOOST_TEST(blast.at("transport").as_string() == "manual");
  auto first = get("/api/blasts/1/recipients/1").as_object();
  BOOST_TEST(first.at("phoneNumber").as_string() == "60123456789");
  BOOST_TEST(first.at("name").as_string() == "Tan, Aisyah \"Ai\"");
  BOOST_TEST(json::serialize(first.at("vars")) ==
             R"({"plan":"gold","note":"line 1\r\nline 2","city":"Kuala Lumpur"})");
  auto second = get("/api/blasts/1/recipients/2").as_object();
  BOOST_TEST(second.at("name").as_string() == "Bob");
  BOOST_TEST(json::serialize(second.at("vars")) == R"({"note":"x"})"); // empty cells left out
  auto third = get("/api/blasts/1/recipients/60111111111").as_object();
  BOOST_TEST(third.at("name").is_null());
  BOOST_TEST(json::serialize(third.at("vars")) == R"({"plan":"silver","city":"Ipoh"})");

  // --json: blastd's answer; the env's URL when there is no --server.
  auto again =
      blastctl({"create", "--csv", csv, "--message", "Hi", "--json"}, {"BLASTD_URL=" + url});
  BOOST_TEST_REQUIRE(again.code == 0, again.err);
  BOOST_TEST(json::parse(again.out).at("id").as_int64() == 2);
}

BOOST_AUTO_TEST_CASE(csv_errors_name_the_line_and_send_nothing) {
  struct bad {
    const char* csv;
    const char* error;
  } cases[] = {
      {"phone,name\n60120000001,a\n60120000002,b\n60120000003,c,extra\n",
       "line 4: 3 fields, but the header has 2"},
      {"phone,name\n60120000001,a\n60120000002,\"b\n60120000003,c\n",
       "line 3: a quoted field starting on this line is never closed"},
      {"mobile,name\n60120000001,a\n", "line 1: no phone column"},
      {"phone,name\n60120000001,a\n,b\n", "line 3: no phone number"},
      {"phone,name\n", "no recipients"},
      {"phone,name\n60120000001,\xC3\n", "line 2: column 2 is not valid UTF-8"},
  };
  for (auto& c : cases) {
    auto r = run({"create", "--csv", file("bad.csv", c.csv), "--message", "Hi"});
    BOOST_TEST(r.code == 1, c.error << ": " << r.err);
    BOOST_TEST(r.err.find(c.error) != std::string::npos, r.err);
    BOOST_TEST(r.out == "");
  }
  BOOST_TEST(get("/api/blasts").at("items").as_array().empty());

  // blastd rejects numbers by index in the body; blastctl names their CSV lines.
  auto r = run({"create", "--csv", file("bad.csv", "phone\n60120000001\n\n12\n60120000002\n"),
                "--message", "Hi"});
  BOOST_TEST(r.code == 1, r.err);
  BOOST_TEST(r.err.find("HTTP 422: invalid_recipients") != std::string::npos, r.err);
  BOOST_TEST(r.err.find("line 4: 12: not a phone number") != std::string::npos, r.err);
  BOOST_TEST(get("/api/blasts").at("items").as_array().empty());
}

BOOST_AUTO_TEST_CASE(list_show_and_report) {
  auto a = create(2, "alpha");
  auto b = create(3, "beta");
  set_stage(a, 1, "sent");
  set_stage(a, 1, "delivered");
  set_stage(a, 2, "sent");

  auto list = run({"list"});
  BOOST_TEST_REQUIRE(list.code == 0, list.err);
  auto rows = lines_of(list.out);
  BOOST_TEST_REQUIRE(rows.size() == 3u, list.out);
  BOOST_TEST(squeeze(rows[0]) == "id tag status total created");
  BOOST_TEST(squeeze(rows[1]).rfind(" 1 alpha sending 2 20", 0) == 0u, rows[1]);
  BOOST_TEST(squeeze(rows[2]).rfind(" 2 beta sending 3 20", 0) == 0u, rows[2]);
  auto only_beta = run({"list", "--tag", "beta", "--json"});
  BOOST_TEST(only_beta.code == 0, only_beta.err);
  BOOST_TEST(json::parse(only_beta.out) == get("/api/blasts?blastTag=beta"));
  BOOST_TEST(json::parse(only_beta.out).at("items").as_array().size() == 1u);

  auto show = run({"show", a});
  BOOST_TEST(show.code == 0, show.err);
  BOOST_TEST(has_line(show.out, "blastTag alpha"), show.out);
  BOOST_TEST(has_line(show.out, "totalRecipients 2"), show.out);
  BOOST_TEST(has_line(show.out, "stages pending 0, sent 1, delivered 1, read 0, replied 0, "
                                "closed 0, failed 0"),
             show.out);
  auto show_json = run({"show", a, "--json"});
  BOOST_TEST(json::parse(show_json.out) == get("/api/blasts/" + a));

  auto report = run({"report", a});
  BOOST_TEST(report.code == 0, report.err);
  for (auto* row :
       {"stage reached percent stuck", "sent 2 100.0% 1", "delivered 1 50.0% 1", "read 0 0.0% 0",
        "replied 0 0.0% 0", "closed 0 0.0% -", "pending 0", "failed 0", "total 2"})
    BOOST_TEST(has_line(report.out, row), row << " in\n" << report.out);
  BOOST_TEST(report.out.find("calculated at 20") != std::string::npos, report.out);

  auto report_json_out = run({"report", a, "--json"});
  BOOST_TEST(report_json_out.code == 0, report_json_out.err);
  auto mine = json::parse(report_json_out.out);
  auto theirs = get("/api/blasts/" + a + "/report");
  mine.as_object().erase("calculatedAt");
  theirs.as_object().erase("calculatedAt");
  BOOST_TEST(json::serialize(mine) == json::serialize(theirs));
}

BOOST_AUTO_TEST_CASE(exit_codes) {
  auto unknown = run({"show", "99"});
  BOOST_TEST(unknown.code == 1);
  BOOST_TEST(unknown.err.find("HTTP 404: not_found") != std::string::npos, unknown.err);
  BOOST_TEST(run({"report", "99", "--json"}).code == 1);
  BOOST_TEST(run({"list", "--status", "bogus"}).code == 1);

  std::string nowhere = "http://127.0.0.1:" + std::to_string(test::free_port());
  for (auto cmd : std::vector<std::vector<std::string>>{
           {"list"}, {"show", "1"}, {"report", "1"}, {"watch", "1"}}) {
    cmd.insert(cmd.end(), {"--server", nowhere});
    auto r = blastctl(cmd);
    BOOST_TEST(r.code == 3, cmd[0] << ": " << r.err);
    BOOST_TEST(r.err.find("cannot reach blastd at " + nowhere) != std::string::npos, r.err);
  }
  auto csv = file("ok.csv", "phone\n60120000001\n");
  BOOST_TEST(blastctl({"create", "--csv", csv, "--message", "x", "--server", nowhere}).code == 3);

  for (auto args : std::vector<std::vector<std::string>>{
           {"show"},
           {"show", "abc"},
           {"report", "1", "2"},
           {"list", "--bogus"},
           {"create", "--message", "x"},
           {"create", "--csv", csv},
           {"create", "--csv", csv, "--message", "x", "--message-file", csv},
           {"watch", "1", "--max-updates", "0"},
           {"watch", "1", "--until-stable", "soon"},
           {"list", "--server", "https://127.0.0.1:8443"},
           {"list", "--server"}}) {
    auto r = blastctl(args);
    BOOST_TEST(r.code == 2, args[0] << " " << (args.size() > 1 ? args[1] : "") << ": " << r.err);
    BOOST_TEST(r.out == "");
  }
  BOOST_TEST(get("/api/blasts").at("items").as_array().empty());
}

// Needs blastd's GET /api/blasts/{id}/report/stream.
BOOST_AUTO_TEST_CASE(watch_follows_manual_updates) {
  auto id = create(2, "watched");
  blastctl_process watch({"watch", id, "--json", "--until-stable", "1.5", "--server", url});
  auto first = watch.line(10s);
  if (!first) {
    auto r = watch.finish(5s);
    BOOST_FAIL("no first update from watch (exit " << r.code << "): " << r.err);
  }
  BOOST_TEST(json::parse(*first).at("funnel").at(0).at("reached").as_int64() == 0, *first);
  set_stage(id, 1, "sent");
  set_stage(id, 1, "delivered");
  auto r = watch.finish(20s);
  BOOST_TEST(r.code == 0, r.err);
  auto updates = lines_of(r.out);
  BOOST_TEST_REQUIRE(updates.size() >= 1u, "only the first update came");
  auto last = json::parse(updates.back());
  BOOST_TEST(last.at("funnel").at(0).at("reached").as_int64() == 1, updates.back());
  BOOST_TEST(last.at("funnel").at(1).at("reached").as_int64() == 1, updates.back());
  auto now = get("/api/blasts/" + id + "/report");
  last.as_object().erase("calculatedAt");
  now.as_object().erase("calculatedAt");
  BOOST_TEST(json::serialize(last) == json::serialize(now));
}

BOOST_AUTO_TEST_SUITE_END()

// ---- the client commands against a blastd that wants API keys ----

BOOST_AUTO_TEST_SUITE(against_blastd_with_keys)

BOOST_AUTO_TEST_CASE(api_key_flag_and_environment) {
  const std::string admin = "ops-0123456789abcdef", viewer = "viewer-0123456789abcdef";
  test::temp_dir dir;
  std::ofstream(dir.path() + "/blastd.json")
      << R"({"transports": {}, "defaultTransport": "manual", "apiKeys": [)"
      << R"({"name": "ops", "key": ")" << admin << R"(", "scopes": ["admin"]},)"
      << R"({"name": "viewer", "key": ")" << viewer << R"(", "scopes": ["read"]}]})";
  test::blastd_process proc(BLASTD_PATH, dir.path() + "/data", dir.path() + "/blastd.log",
                            {"--config", dir.path() + "/blastd.json"});
  std::string url = "http://127.0.0.1:" + std::to_string(proc.port());
  std::string csv = dir.path() + "/people.csv";
  std::ofstream(csv) << "phone,name\n60120000001,Aisyah\n60120000002,Bob\n";

  // Without a key, or with a wrong one: blastd's 401 and exit 1.
  auto none = blastctl({"list", "--server", url});
  BOOST_TEST(none.code == 1, none.err);
  BOOST_TEST(none.err.find("blastd answered HTTP 401: unauthorized: an API key is required") !=
                 std::string::npos,
             none.err);
  auto wrong = blastctl({"report", "1", "--server", url, "--api-key", "nope-0123456789abcdef"});
  BOOST_TEST(wrong.code == 1, wrong.err);
  BOOST_TEST(wrong.err.find("HTTP 401: unauthorized: the API key is not valid") !=
                 std::string::npos,
             wrong.err);
  auto watch_none = blastctl({"watch", "1", "--max-updates", "1", "--server", url});
  BOOST_TEST(watch_none.code == 1, watch_none.err);
  BOOST_TEST(watch_none.err.find("HTTP 401") != std::string::npos, watch_none.err);

  // A read key may not create: 403 naming the scope, exit 1, nothing created. Also with a CSV
  // over 64 KiB, whose body blastd refuses without reading it (the 403 still arrives).
  auto denied = blastctl({"create", "--csv", csv, "--message", "Hi", "--server", url},
                         {"BLASTD_API_KEY=" + viewer});
  BOOST_TEST(denied.code == 1, denied.err);
  BOOST_TEST(denied.err.find("blastd answered HTTP 403: forbidden: API key 'viewer' lacks the "
                             "'admin' scope") != std::string::npos,
             denied.err);
  std::string big_csv = dir.path() + "/big.csv";
  {
    std::ofstream big(big_csv);
    big << "phone,name\n";
    for (int i = 0; i < 5000; ++i)
      big << "601" << 20000000 + i << ",Recipient number " << i << "\n";
  }
  auto denied_big = blastctl({"create", "--csv", big_csv, "--message", "Hi", "--server", url,
                              "--api-key", viewer});
  BOOST_TEST(denied_big.code == 1, denied_big.err);
  BOOST_TEST(denied_big.err.find("HTTP 403: forbidden") != std::string::npos, denied_big.err);

  // --api-key wins over the environment; the admin key creates.
  auto created = blastctl({"create", "--csv", csv, "--message", "Hi", "--server", url,
                           "--api-key", admin, "--json"},
                          {"BLASTD_API_KEY=" + viewer});
  BOOST_TEST_REQUIRE(created.code == 0, created.err);
  BOOST_TEST(json::parse(created.out).at("id").as_int64() == 1);

  // The read key from the environment lists, shows, reports and watches.
  std::vector<std::string> env = {"BLASTD_API_KEY=" + viewer, "BLASTD_URL=" + url};
  auto list = blastctl({"list"}, env);
  BOOST_TEST(list.code == 0, list.err);
  BOOST_TEST(lines_of(list.out).size() == 2u, list.out);  // the header and blast 1
  auto show = blastctl({"show", "1"}, env);
  BOOST_TEST(show.code == 0, show.err);
  BOOST_TEST(has_line(show.out, "totalRecipients 2"), show.out);
  auto report = blastctl({"report", "1", "--json"}, env);
  BOOST_TEST(report.code == 0, report.err);
  BOOST_TEST(json::parse(report.out).at("totalRecipients").as_int64() == 2);
  auto watch = blastctl({"watch", "1", "--json", "--max-updates", "1"}, env);
  BOOST_TEST(watch.code == 0, watch.err);
  BOOST_TEST(json::parse(watch.out).at("blastId").as_int64() == 1, watch.out);
}

BOOST_AUTO_TEST_SUITE_END()
