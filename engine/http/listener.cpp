// The listener: accepts connections and starts a session for each, on a
// strand of its own when there are several I/O threads; the I/O threads run here.
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <stdexcept>
#include <string_view>
#include <sys/resource.h>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include "engine/http/server.hpp"
#include "engine/http/session.hpp"
#include "engine/log.hpp"
#include "storage/thread_name.hpp"

namespace net = boost::asio;
using tcp = boost::asio::ip::tcp;

namespace blast::engine::http {

namespace {

// File descriptors kept for everything but connections: the log's RocksDB
// files, plugins' sockets, refusals in flight.
constexpr rlim_t reserved_fds = 1024;
// Connections being turned away at once, at most; past that a new one is
// closed without an answer (a flood gets resets rather than our memory).
constexpr size_t max_refusals = 256;

// Raises the soft limit on open files as far as `max_connections` needs and
// the hard limit allows; returns the connections that fit.
size_t fit_fd_limit(size_t max_connections) {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0)
    return max_connections;
  rlim_t want = static_cast<rlim_t>(max_connections) + reserved_fds;
  if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want) {
    rlimit raised = rl;
    raised.rlim_cur = rl.rlim_max == RLIM_INFINITY ? want : std::min(want, rl.rlim_max);
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0)
      rl = raised;
  }
  if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= want)
    return max_connections;
  size_t fit = rl.rlim_cur > reserved_fds + 1 ? static_cast<size_t>(rl.rlim_cur - reserved_fds) : 1;
  log(log_level::warn, "maxConnections " + std::to_string(max_connections) +
                         " does not fit the open-file limit (" + std::to_string(rl.rlim_cur) +
                         "); serving at most " + std::to_string(fit) + " connections");
  return fit;
}

} // namespace

struct server::impl {
  impl(router& r, server_options o)
    : router_(r), opts(std::move(o)), ioc(static_cast<int>(opts.threads)),
      acceptor(executor()), retry(acceptor.get_executor()) {
    if (!opts.connections)
      opts.connections = std::make_shared<std::atomic<size_t>>(0);
    opts.max_connections = fit_fd_limit(std::max<size_t>(1, opts.max_connections));
  }

  // A connection's handlers never run concurrently: one I/O thread ensures it
  // alone; several need a strand per connection. (Without one, each handler
  // skipped the strand's queue, lock and type-erased copies: a few per cent of
  // the single-status webhook row's CPU.)
  net::any_io_executor executor() {
    if (opts.threads > 1)
      return net::make_strand(ioc);
    return ioc.get_executor();
  }

  void accept() {
    acceptor.async_accept(executor(), [this](boost::system::error_code ec, tcp::socket socket) {
      if (ec == net::error::operation_aborted)
        return;
      if (ec) {
        // Out of file descriptors (or memory): retrying at once would spin.
        log(log_level::warn, "accept failed: " + ec.message());
        retry.expires_after(std::chrono::milliseconds(100));
        retry.async_wait([this](boost::system::error_code ec) {
          if (!ec)
            accept();
        });
        return;
      }
      // Only this handler adds connections (one at a time, on the acceptor's
      // executor), so the count cannot pass the limit between check and add.
      if (*opts.connections < opts.max_connections)
        std::make_shared<session>(std::move(socket), router_, opts, opts.connections, registry)
            ->run();
      else
        refuse(std::move(socket));
      accept();
    });
  }

  // Past maxConnections: answered 503 and closed at once, rather than left
  // in the backlog where the client cannot tell a full server from a slow one.
  void refuse(tcp::socket socket) {
    if (*refusing >= max_refusals)
      return;  // the socket closes as it goes out of scope
    ++refused;
    auto now = std::chrono::steady_clock::now();
    if (now - last_refusal_log >= std::chrono::seconds(10)) {
      log(log_level::warn, "maxConnections (" + std::to_string(opts.max_connections) +
                             ") reached: " + std::to_string(refused) +
                             " connection(s) turned away with 503");
      last_refusal_log = now;
      refused = 0;
    }
    auto r = error_response(503, "too_many_connections",
                            "blastd is serving its maximum of " +
                              std::to_string(opts.max_connections) +
                              " connections; retry shortly");
    r.headers.emplace_back("Retry-After", "1");
    std::make_shared<session>(std::move(socket), router_, opts, refusing, registry)
      ->refuse(std::move(r));
  }

  router& router_;
  server_options opts;
  std::shared_ptr<session_registry> registry = std::make_shared<session_registry>();
  net::io_context ioc;
  // A session waiting for the router's answer (a commit) has no operation
  // pending in the io_context: without this guard, run() would return once
  // the acceptor closes at a shutdown, and those answers would never be written.
  net::executor_work_guard<net::io_context::executor_type> work{ioc.get_executor()};
  tcp::acceptor acceptor;
  net::steady_timer retry;  // re-accepts after a failed accept
  std::shared_ptr<std::atomic<size_t>> refusing = std::make_shared<std::atomic<size_t>>(0);
  size_t refused = 0;  // since the last warning (acceptor's executor only)
  std::chrono::steady_clock::time_point last_refusal_log{};
  std::vector<std::thread> threads;
  std::mutex run_mu;
  std::condition_variable run_cv;  // notified as each I/O thread's run() returns
  size_t running = 0;              // I/O threads still in run() (run_mu)
  uint16_t port = 0;
  bool stopped = false;
};

server::server(router& r, server_options opts) {
  try {
    impl_ = std::make_unique<impl>(r, std::move(opts));
  } catch (const boost::system::system_error& e) {
    // Asio's backend is fixed at build time: a kernel or container that refuses
    // io_uring fails here, and the error says what to change, not just Asio's
    // "io_uring_queue_init: Operation not permitted".
    if (std::string_view{io_backend()} != "io_uring")
      throw;
    throw std::runtime_error(std::string("cannot start the HTTP server's io_uring (") + e.what() +
                             "): allow io_uring (sysctl kernel.io_uring_disabled=0, or the "
                             "container's seccomp profile), or build blastd with "
                             "-DBLASTD_IO_URING=OFF");
  }
  boost::system::error_code ec;
  auto addr = net::ip::make_address(impl_->opts.address, ec);
  if (ec)
    throw std::runtime_error("invalid listen address '" + impl_->opts.address + "'");
  tcp::endpoint ep{addr, impl_->opts.port};
  auto& a = impl_->acceptor;
  a.open(ep.protocol(), ec);
  if (!ec)
    a.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec)
    a.bind(ep, ec);
  if (!ec)
    a.listen(net::socket_base::max_listen_connections, ec);
  if (ec)
    throw std::runtime_error("cannot listen on " + impl_->opts.address + ":" +
                             std::to_string(impl_->opts.port) + ": " + ec.message());
  impl_->port = a.local_endpoint().port();
  impl_->accept();
  size_t threads = std::max<size_t>(1, impl_->opts.threads);
  impl_->running = threads;
  for (size_t i = 0; i < threads; ++i)
    impl_->threads.emplace_back([this] {
      storage::name_this_thread("http");
      impl_->ioc.run();
      std::lock_guard lock{impl_->run_mu};
      --impl_->running;
      impl_->run_cv.notify_all();
    });
}

server::~server() { stop(); }

uint16_t server::port() const { return impl_->port; }

const char* server::io_backend() {
#ifdef BLASTD_IO_URING
  return "io_uring";
#else
  return "epoll";
#endif
}

size_t server::max_connections() const { return impl_->opts.max_connections; }

void server::stop() {
  if (impl_->stopped)
    return;
  impl_->stopped = true;
  auto& reg = *impl_->registry;
  // No new connection: the port refuses from now on.
  std::promise<void> closed;
  net::post(impl_->acceptor.get_executor(), [this, &closed] {
    boost::system::error_code ec;
    impl_->acceptor.close(ec);
    impl_->retry.cancel();
    closed.set_value();
  });
  closed.get_future().wait();
  // Idle connections close; requests under way (a commit being made durable,
  // say) are answered with "Connection: close"; then the I/O threads stop.
  reg.draining.store(true, std::memory_order_release);
  std::vector<std::shared_ptr<session>> live;
  {
    std::lock_guard lock{reg.mu};
    for (auto& [p, weak] : reg.live)
      if (auto s = weak.lock())
        live.push_back(std::move(s));
  }
  for (auto& s : live)
    s->drain();
  live.clear();  // a session must be able to end while we wait
  {
    std::unique_lock lock{reg.mu};
    if (!reg.cv.wait_for(lock, std::chrono::seconds(impl_->opts.drain_timeout_seconds),
                         [&] { return reg.live.empty(); }))
      log(log_level::warn, std::to_string(reg.live.size()) +
                             " connections still busy at the end of the shutdown's grace "
                             "period; closing them");
  }
  // The I/O threads finish what is left, then run() returns by itself. A
  // closed socket's operation ends only when its cancellation has come back
  // (through the ring, on io_uring): stopping the context before that left the
  // operation in an object Asio 1.81 frees and destroys after the socket
  // service, a use-after-free at exit (ASan, engine.limits under load). A
  // connection still open past the grace period gets a moment, then stop().
  impl_->work.reset();
  {
    std::unique_lock lock{impl_->run_mu};
    if (!impl_->run_cv.wait_for(lock, std::chrono::seconds(2),
                                [&] { return impl_->running == 0; }))
      impl_->ioc.stop();
  }
  for (auto& t : impl_->threads)
    t.join();
}

} // namespace blast::engine::http
