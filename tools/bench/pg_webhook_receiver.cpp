// pg_webhook_receiver: the webhook receiver most users would write instead of blastd, for
// tools/bench/pg_compare.sh to post the very same workload to. It is made as generous to
// PostgreSQL as a real receiver can be: C++ and Boost.Beast (no interpreter, no ORM), one
// thread and one PostgreSQL connection per keep-alive connection, taken from a pool opened and
// prepared before it listens (no request waits for a connection or a fork), prepared statements. Each POST checks the X-Hub-Signature-256 (as blastd does), parses the
// Cloud API notification, runs one UPDATE "BlastRecipient" by messageId per status in
// autocommit (durable: fsync and synchronous_commit on) and answers 200 once all have
// committed. What blastd does besides (logging the raw webhook, dropping duplicates, never
// moving a recipient backwards) it leaves out.
//
// usage: pg_webhook_receiver --conninfo CONNINFO --secret SECRET [--listen 127.0.0.1:0]
//                            [--pool 64]
// prints "listening on HOST:PORT" on stdout once it accepts; runs until killed.
#include <cstdio>
#include <cstring>
#include <exception>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <vector>
#include <string>
#include <string_view>
#include <thread>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <libpq-fe.h>

#include "blast_signature.hpp" // the plugins' own check: the same cost on both sides

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using tcp = asio::ip::tcp;

namespace blast::tools::bench {
namespace {

struct settings {
  std::string conninfo, secret, host = "127.0.0.1";
  unsigned short port = 0;
  unsigned pool = 64;
};

// The statements a Prisma handler's `blastRecipient.updateMany({ where: { messageId }, data })`
// sends per status, prepared once per connection; the same SQL pgbench runs in pg_compare.sh.
constexpr std::pair<const char*, const char*> statements[] = {
  {"sent", R"(UPDATE "BlastRecipient" SET "status" = 'sent', "sentAt" = now(),
              "updatedAt" = now() WHERE "messageId" = $1)"},
  {"delivered", R"(UPDATE "BlastRecipient" SET "status" = 'delivered', "deliveredAt" = now(),
                   "updatedAt" = now() WHERE "messageId" = $1)"},
  {"read", R"(UPDATE "BlastRecipient" SET "status" = 'read', "readAt" = now(),
              "updatedAt" = now() WHERE "messageId" = $1)"},
  {"failed", R"(UPDATE "BlastRecipient" SET "status" = 'failed', "updatedAt" = now()
                WHERE "messageId" = $1)"},
};

struct pg_connection {
  PGconn* conn;
  bool prepared = false;
  explicit pg_connection(const std::string& conninfo) : conn(PQconnectdb(conninfo.c_str())) {}
  ~pg_connection() { PQfinish(conn); }
  pg_connection(const pg_connection&) = delete;
  pg_connection& operator=(const pg_connection&) = delete;

  // Empty when every statement is prepared, else PostgreSQL's message.
  std::string prepare() {
    if (PQstatus(conn) != CONNECTION_OK)
      return PQerrorMessage(conn);
    for (auto& [name, sql] : statements) {
      std::unique_ptr<PGresult, decltype(&PQclear)> r(PQprepare(conn, name, sql, 1, nullptr),
                                                      &PQclear);
      if (PQresultStatus(r.get()) != PGRES_COMMAND_OK)
        return PQerrorMessage(conn);
    }
    prepared = true;
    return {};
  }

  // One status in its own transaction; empty on success.
  std::string update(std::string_view status, const std::string& message_id) {
    const char* values[] = {message_id.c_str()};
    std::string name(status);
    std::unique_ptr<PGresult, decltype(&PQclear)> r(
      PQexecPrepared(conn, name.c_str(), 1, values, nullptr, nullptr, 0), &PQclear);
    if (PQresultStatus(r.get()) != PGRES_COMMAND_OK)
      return PQerrorMessage(conn);
    return {};
  }
};

bool known_status(std::string_view s) {
  for (auto& st : statements)
    if (s == st.first)
      return true;
  return false;
}

http::response<http::string_body> answer(http::status status, unsigned version, bool keep_alive,
                                         std::string_view code, std::string_view message) {
  http::response<http::string_body> res{status, version};
  res.set(http::field::content_type, "application/json");
  res.keep_alive(keep_alive);
  res.body() = code.empty() ? std::string("{\"ok\":true}")
                            : json::serialize(json::object{{"error", code}, {"message", message}});
  res.prepare_payload();
  return res;
}

// Answers one webhook: the signature, the body's statuses, their UPDATEs.
http::response<http::string_body> handle(const http::request<http::string_body>& req,
                                         pg_connection& pg, const settings& s) {
  const unsigned v = req.version();
  const bool ka = req.keep_alive();
  if (req.method() != http::verb::post)
    return answer(http::status::method_not_allowed, v, ka, "method_not_allowed", "POST only");
  std::string why;
  auto got = req[beast::string_view("X-Hub-Signature-256")];
  if (!blast_sdk::verify_sha256_signature(std::string_view(got.data(), got.size()), s.secret,
                                          req.body(), why))
    return answer(http::status::unauthorized, v, ka, "bad_signature", why);
  json::error_code ec;
  json::value body = json::parse(req.body(), ec);
  if (ec || !body.is_object())
    return answer(http::status::bad_request, v, ka, "bad_json", ec.message());
  // entry[].changes[].value.statuses[]: {id, status, ...}
  const json::array* entries = body.as_object().if_contains("entry")
                                 ? body.as_object().at("entry").if_array() : nullptr;
  if (!entries)
    return answer(http::status::bad_request, v, ka, "bad_notification", "no entry array");
  for (const json::value& entry : *entries) {
    const json::value* changes = entry.is_object() ? entry.as_object().if_contains("changes")
                                                   : nullptr;
    if (!changes || !changes->is_array())
      continue;
    for (const json::value& change : changes->as_array()) {
      const json::value* value = change.is_object() ? change.as_object().if_contains("value")
                                                    : nullptr;
      const json::value* statuses = value && value->is_object()
                                      ? value->as_object().if_contains("statuses") : nullptr;
      if (!statuses || !statuses->is_array())
        continue;
      for (const json::value& st : statuses->as_array()) {
        const json::string* id = st.is_object() && st.as_object().if_contains("id")
                                   ? st.as_object().at("id").if_string() : nullptr;
        const json::string* status = st.is_object() && st.as_object().if_contains("status")
                                       ? st.as_object().at("status").if_string() : nullptr;
        if (!id || !status || !known_status(*status))
          continue;
        std::string err = pg.update(*status, std::string(*id));
        if (!err.empty())
          return answer(http::status::service_unavailable, v, ka, "database", err);
      }
    }
  }
  return answer(http::status::ok, v, ka, {}, {});
}

// Open, prepared connections; a keep-alive connection holds one for its lifetime.
class pg_pool {
public:
  pg_pool(const std::string& conninfo, unsigned size) : conninfo_(conninfo) {
    for (unsigned i = 0; i < size; ++i) {
      auto pg = std::make_unique<pg_connection>(conninfo);
      if (std::string err = pg->prepare(); !err.empty())
        throw std::runtime_error("PostgreSQL: " + err);
      idle_.push_back(std::move(pg));
    }
  }
  // An idle connection, or a new one beyond the pool's size (prepare() tells if it works).
  std::unique_ptr<pg_connection> take() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!idle_.empty()) {
        auto pg = std::move(idle_.back());
        idle_.pop_back();
        return pg;
      }
    }
    return std::make_unique<pg_connection>(conninfo_);
  }
  void give_back(std::unique_ptr<pg_connection> pg) {
    std::lock_guard<std::mutex> lock(mutex_);
    idle_.push_back(std::move(pg));
  }

private:
  std::string conninfo_;
  std::mutex mutex_;
  std::vector<std::unique_ptr<pg_connection>> idle_;
};

// One keep-alive connection, on its own thread, with its own PostgreSQL connection.
void serve(tcp::socket socket, const settings& s, pg_pool& pool) {
  auto pg = pool.take();
  std::string pg_error = pg->prepared ? std::string() : pg->prepare();
  beast::flat_buffer buffer;
  beast::error_code ec;
  for (;;) {
    http::request<http::string_body> req;
    http::read(socket, buffer, req, ec);
    if (ec)
      break;
    auto res = pg_error.empty()
                 ? handle(req, *pg, s)
                 : answer(http::status::service_unavailable, req.version(), false, "database",
                          pg_error);
    http::write(socket, res, ec);
    if (ec || !res.keep_alive())
      break;
  }
  if (pg_error.empty())
    pool.give_back(std::move(pg));
}

bool parse_args(int argc, char** argv, settings& s) {
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string_view name = argv[i];
    std::string value = argv[i + 1];
    if (name == "--conninfo") {
      s.conninfo = value;
    } else if (name == "--secret") {
      s.secret = value;
    } else if (name == "--pool") {
      s.pool = static_cast<unsigned>(std::stoul(value));
    } else if (name == "--listen") {
      auto colon = value.rfind(':');
      if (colon == std::string::npos)
        return false;
      s.host = value.substr(0, colon);
      s.port = static_cast<unsigned short>(std::stoul(value.substr(colon + 1)));
    } else {
      return false;
    }
  }
  return argc % 2 == 1 && !s.conninfo.empty() && !s.secret.empty();
}

} // namespace
} // namespace blast::tools::bench

int main(int argc, char** argv) {
  using namespace blast::tools::bench;
  static settings s; // outlives the detached connection threads
  try {
    if (!parse_args(argc, argv, s)) {
      std::fprintf(stderr, "usage: pg_webhook_receiver --conninfo CONNINFO --secret SECRET "
                           "[--listen HOST:PORT] [--pool N]\n");
      return 2;
    }
    static pg_pool pool(s.conninfo, s.pool);
    asio::io_context io;
    tcp::acceptor acceptor(io, {asio::ip::make_address(s.host), s.port});
    std::printf("listening on %s:%u\n", s.host.c_str(),
                static_cast<unsigned>(acceptor.local_endpoint().port()));
    std::fflush(stdout);
    for (;;) {
      tcp::socket socket(io);
      acceptor.accept(socket);
      socket.set_option(tcp::no_delay(true));
      std::thread(serve, std::move(socket), std::cref(s), std::ref(pool)).detach();
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "pg_webhook_receiver: %s\n", e.what());
    return 1;
  }
}
