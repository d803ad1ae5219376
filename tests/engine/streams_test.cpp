// Streamed bodies over a real socket against a blastd process: the CSV export
// of 100,000 recipients read slowly, with the server's memory checked flat,
// and the report's Server-Sent Events reaching a client as the funnel moves.
#define BOOST_TEST_MODULE engine_streams
#include <boost/test/unit_test.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include <boost/json.hpp>

#include "tests/support/process.hpp"
#include "tests/support/raw_socket.hpp"
#include "tests/support/temp_dir.hpp"
#include "tools/http_client.hpp"

namespace json = boost::json;

namespace {

// Resident memory of a process, from /proc (kB).
long rss_kb(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("VmRSS:", 0) == 0)
      return std::stol(line.substr(6));
  return -1;
}

// A plain socket client: sends one GET and reads the answer as it arrives.
class raw_get {
public:
  raw_get(uint16_t port, const std::string& target) {
    fd_ = blast::test::connect_loopback(port);
    // A small receive buffer, so that a slow reader really holds the server back.
    int small = 64 << 10;
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    timeval tv{10, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    auto req = "GET " + target + " HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n";
    BOOST_TEST_REQUIRE(::send(fd_, req.data(), req.size(), 0) == ssize_t(req.size()));
  }
  ~raw_get() { ::close(fd_); }

  // Appends what arrives (at most `max` bytes); false at the end of the stream.
  bool read_some(std::string& into, size_t max = 16 << 10) {
    char buf[64 << 10];
    auto n = ::recv(fd_, buf, std::min(max, sizeof buf), 0);
    if (n <= 0)
      return false;
    into.append(buf, static_cast<size_t>(n));
    return true;
  }

private:
  int fd_ = -1;
};

// Removes chunked transfer encoding: size line, data, CRLF ... 0 CRLF CRLF.
std::string dechunk(const std::string& body, bool& complete) {
  std::string out;
  size_t at = 0;
  complete = false;
  for (;;) {
    auto eol = body.find("\r\n", at);
    if (eol == std::string::npos)
      return out;
    size_t size = std::stoul(body.substr(at, eol - at), nullptr, 16);
    if (size == 0) {
      complete = body.compare(eol, 4, "\r\n\r\n") == 0;
      return out;
    }
    out += body.substr(eol + 2, size);
    at = eol + 2 + size + 2;
  }
}

// Under AddressSanitizer the allocator keeps freed blocks in a quarantine (up
// to 256 MB) so that a use after free is caught: RSS then grows with every
// buffer the export frees, flat or not. The blastd under test inherits our
// environment, so it is started without the quarantine, and the memory bound
// below measures the same thing in both builds.
struct no_asan_quarantine {
  no_asan_quarantine() {
#if defined(__SANITIZE_ADDRESS__)
    const char* now = std::getenv("ASAN_OPTIONS");
    std::string opts = now ? now : "";
    ::setenv("ASAN_OPTIONS", (opts + (opts.empty() ? "" : ":") + "quarantine_size_mb=0").c_str(), 1);
#endif
  }
};

// The export may add at most this fraction of its size to the server's RSS.
// ASan's redzones and shadow memory (a byte per eight) make every live buffer
// bigger, so its build gets a half instead of a third: still far from the
// whole export, which is what a non-streamed body would cost.
#if defined(__SANITIZE_ADDRESS__)
constexpr long kGrowthDivisor = 2;
#else
constexpr long kGrowthDivisor = 3;
#endif

struct fixture {
  no_asan_quarantine asan;
  blast::test::temp_dir dir;
  std::string log = dir.path() + "/blastd.log";
  blast::test::blastd_process proc{BLASTD_PATH, dir.path() + "/data", log,
                                   {"--default-transport", "manual", "--log-level", "warn"}};
  blast::tools::http_client http{"127.0.0.1", proc.port()};

  // Long names make the export big next to the memory it may add.
  uint64_t create(int n, const std::string& padding = {}) {
    std::string body = "{\"message\":\"hi\",\"recipients\":[";
    for (int i = 0; i < n; ++i) {
      if (i)
        body += ',';
      // Names with commas and quotes exercise the CSV quoting at scale.
      body += "{\"phoneNumber\":\"" + std::to_string(60100000000LL + i) +
              "\",\"name\":\"Customer " + std::to_string(i) + ", \\\"VIP\\\"" + padding + "\"}";
    }
    body += "]}";
    auto r = http.post("/api/blasts", body);
    BOOST_TEST_REQUIRE(r.status == 201, r.body);
    return json::parse(r.body).at("id").to_number<uint64_t>();
  }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(engine_streams, fixture)

BOOST_AUTO_TEST_CASE(csv_export_of_100k_recipients_streams_with_flat_memory) {
  const int n = 100'000;
  auto blast = create(n, " of the Northern Region's loyalty programme, since 2019");
  auto url = "/api/blasts/" + std::to_string(blast);
  for (int id : {1, 2, 3})
    BOOST_TEST_REQUIRE(http.post(url + "/recipients/" + std::to_string(id) + "/status",
                                 id == 3 ? R"({"stage":"failed","note":"number, gone"})"
                                         : R"({"stage":"read"})")
                         .status == 200);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // settle the creation's heap
  long before = rss_kb(proc.pid());

  raw_get get(proc.port(), url + "/recipients.csv");
  std::string raw;
  long peak = before;
  size_t reads = 0;
  while (get.read_some(raw)) {
    // A slow client: the server must wait for it, not buffer the export.
    if (++reads % 16 == 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      peak = std::max(peak, rss_kb(proc.pid()));
    }
  }
  auto head_end = raw.find("\r\n\r\n");
  BOOST_TEST_REQUIRE(head_end != std::string::npos);
  auto head = raw.substr(0, head_end);
  BOOST_TEST(head.find("HTTP/1.1 200") == 0u);
  BOOST_TEST(head.find("Content-Type: text/csv") != std::string::npos);
  BOOST_TEST(head.find("Transfer-Encoding: chunked") != std::string::npos);
  bool complete = false;
  auto csv = dechunk(raw.substr(head_end + 4), complete);
  BOOST_TEST(complete);

  std::istringstream lines(csv);
  std::string line;
  std::getline(lines, line);
  BOOST_TEST(line.rfind("id,phoneNumber,name,stage,stageSince,sentAt", 0) == 0u);
  size_t rows = 0;
  std::string first, third, last;
  while (std::getline(lines, line)) {
    ++rows;
    if (rows == 1)
      first = line;
    if (rows == 3)
      third = line;
    last = line;
  }
  BOOST_TEST(rows == size_t(n));
  BOOST_TEST(first.find("1,60100000000,\"Customer 0, \"\"VIP\"\" of the Northern") == 0u, first);
  BOOST_TEST(first.find(",read,") != std::string::npos, first);
  BOOST_TEST(third.find(",failed,") != std::string::npos, third);
  BOOST_TEST(third.find("\"manual reported failed: number, gone\"") != std::string::npos, third);
  BOOST_TEST(last.find("100000,60100099999,") == 0u, last);

  // Flat: the export is many times the memory it may add.
  long grew_kb = peak - before;
  BOOST_TEST_MESSAGE("CSV " << csv.size() / 1024 << " KiB; server RSS " << before << " kB -> peak "
                            << peak << " kB");
  BOOST_TEST(csv.size() > 8u << 20);
  BOOST_TEST(grew_kb * 1024 < long(csv.size() / kGrowthDivisor), "RSS grew " << grew_kb << " kB");
}

BOOST_AUTO_TEST_CASE(the_report_stream_reaches_a_real_client_as_the_funnel_moves) {
  auto blast = create(3);
  auto url = "/api/blasts/" + std::to_string(blast);
  raw_get get(proc.port(), url + "/report/stream");
  std::string raw;
  auto events = [&] {
    size_t count = 0;
    for (size_t at = 0; (at = raw.find("event: report\ndata: ", at)) != std::string::npos; ++at)
      ++count;
    return count;
  };
  while (events() < 1)
    BOOST_TEST_REQUIRE(get.read_some(raw));
  BOOST_TEST(raw.find("Content-Type: text/event-stream") != std::string::npos);
  BOOST_TEST(raw.find("\"pending\":3") != std::string::npos);

  // Three quick changes: the client sees the last state, coalesced.
  for (int id : {1, 2, 3})
    BOOST_TEST_REQUIRE(
      http.post(url + "/recipients/" + std::to_string(id) + "/status", R"({"stage":"delivered"})")
        .status == 200);
  auto t0 = std::chrono::steady_clock::now();
  while (raw.find("\"pending\":0") == std::string::npos)
    BOOST_TEST_REQUIRE(get.read_some(raw));
  BOOST_TEST((std::chrono::steady_clock::now() - t0 < std::chrono::seconds(2)));
  BOOST_TEST(events() <= 4u);  // at most one per 250 ms, not one per change
}

BOOST_AUTO_TEST_SUITE_END()
