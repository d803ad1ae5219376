// The service: opens storage, rebuilds every blast from the log, starts the
// actor system and translates facade calls into messages.
#include "actors/service.hpp"

#include <atomic>
#include <chrono>
#include <map>

#include "actors/blast_manager.hpp"
#include "actors/clock.hpp"
#include "actors/ingest_actor.hpp"
#include "actors/messages.hpp"
#include "actors/reporting_actor.hpp"
#include "actors/transport_actor.hpp"
#include "actors/worker_pool.hpp"
#include "storage/event_log.hpp"
#include "storage/journal.hpp"

namespace blast::actors {

namespace {

caf::actor_system_config& configure(caf::actor_system_config& cfg, size_t threads) {
  // Work stealing walks long victim queues under locks (quadratic on big
  // fan-outs, see the CAF notes); sharing one queue stays linear.
  cfg.set("scheduler.policy", caf::atom("sharing"));
  cfg.set("scheduler.max-threads", threads);
  cfg.set("logger.console", caf::atom("none"));
  return cfg;
}

class actor_service final : public service {
public:
  actor_service(const service_options& opts, std::unique_ptr<storage::event_log> log)
    : opts_(opts), log_(std::move(log)) {}

  ~actor_service() override { stop(); }

  bool boot(std::string& error) {
    auto t0 = std::chrono::steady_clock::now();
    std::map<uint64_t, std::shared_ptr<blast_state>> blasts;
    std::string fold_error;
    auto st = log_->scan(1, [&](const storage::event& e) {
      ++startup_.events_replayed;
      if (e.blast == 0)
        return true;
      auto& b = blasts[e.blast];
      if (!b)
        b = std::make_shared<blast_state>();
      if (!b->apply(e)) {
        fold_error = "event " + std::to_string(e.seq) + " (" + storage::to_string(e.type) +
                     ") cannot be applied";
        return false;
      }
      return true;
    });
    if (!st || !fold_error.empty()) {
      error = "replaying the log failed: " + (st ? fold_error : st.message);
      return false;
    }
    for (auto& [id, b] : blasts)
      b->finish_replay();
    startup_.blasts = blasts.size();
    for (auto& [id, b] : blasts)
      startup_.recipients += b->size();
    next_blast_ = blasts.empty() ? 1 : blasts.rbegin()->first + 1;

    journal_ = std::make_unique<storage::journal>(*log_);
    system_ = std::make_unique<caf::actor_system>(configure(cfg_, opts_.threads));
    rt_.log = log_.get();
    rt_.journal = journal_.get();
    rt_.passivate_after_ms = opts_.passivate_after_ms;
    rt_.active_recipients = &active_recipients_;
    rt_.reporting = spawn_reporting(*system_);
    rt_.ingest = spawn_ingest(*system_, rt_);
    if (!start_transports(error))
      return false;
    for (auto& [id, b] : blasts)
      caf::anon_send(rt_.reporting, register_msg{id, b->size(), b->counts()});
    manager_ = spawn_blast_manager(*system_, rt_, std::move(blasts));
    caf::anon_send(rt_.ingest, manager_);
    startup_.replay_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return true;
  }

  // Loads each configured transport's plugin, creates its instance and
  // spawns its transport actor. `manual` is built in.
  bool start_transports(std::string& error) {
    auto map = std::make_shared<transport_map>();
    (*map)["manual"] = transport_entry{};
    transports_ = {"manual"};
    for (auto& t : opts_.transports) {
      if (map->count(t.name)) {
        error = "transport '" + t.name + "' is configured twice (or shadows the built-in one)";
        return false;
      }
      auto& lib = libraries_[t.plugin];
      if (!lib) {
        auto path = opts_.plugin_dir + "/" + plugins::plugin_file_name(t.plugin);
        lib = plugins::plugin_library::load(path, error, opts_.log);
        if (!lib) {
          error = "transport '" + t.name + "': " + error;
          return false;
        }
      }
      auto ingest = rt_.ingest;
      auto name = t.name;
      std::shared_ptr<plugins::transport_instance> inst = lib->create(
        t.plugin_config,
        [ingest, name](std::vector<plugins::observation>&& obs) {
          caf::anon_send(ingest,
                         pushed_msg{name, storage::event_source::transport, std::move(obs)});
        },
        error);
      if (!inst) {
        error = "transport '" + t.name + "' (plugin " + t.plugin + "): " + error;
        return false;
      }
      if (!inst->can(1u /* BLAST_CAP_SEND */)) {
        error = "transport '" + t.name + "': plugin " + t.plugin + " cannot send";
        return false;
      }
      auto pool = std::make_shared<worker_pool>(t.workers);
      instances_.push_back(inst);
      pools_.push_back(pool);
      (*map)[t.name] = transport_entry{spawn_transport(*system_, t, inst, pool), t.max_attempts,
                                       t.retry_base_ms};
      transports_.push_back(t.name);
    }
    if (!map->count(opts_.default_transport)) {
      error = "defaultTransport '" + opts_.default_transport + "' is not a configured transport";
      return false;
    }
    rt_.transports = map;
    return true;
  }

  const startup_stats& startup() const override { return startup_; }
  const std::vector<std::string>& transports() const override { return transports_; }

  void create_blast(blast_spec spec, callback<blast_summary> cb) override {
    if (spec.transport.empty())
      spec.transport = opts_.default_transport;
    if (std::find(transports_.begin(), transports_.end(), spec.transport) == transports_.end()) {
      cb(result<blast_summary>::fail(errc::invalid, "unknown transport '" + spec.transport + "'"));
      return;
    }
    auto events = std::make_shared<std::vector<storage::event>>(
      make_blast_events(spec, next_blast_++, now_ms()));
    auto mgr = manager_;
    journal_->submit(std::move(*events), [mgr, cb = std::move(cb)](
                                           const storage::status& st,
                                           std::vector<storage::event>&& committed) mutable {
      if (!st) {
        auto code = st.code == storage::errc::busy ? errc::busy : errc::unavailable;
        cb(result<blast_summary>::fail(code, "blast not stored: " + st.message));
        return;
      }
      auto evs = std::make_shared<std::vector<storage::event>>(std::move(committed));
      caf::anon_send(mgr, create_msg{std::move(evs), std::move(cb)});
    });
  }

  void list_blasts(blast_filter filter, callback<std::vector<blast_summary>> cb) override {
    caf::anon_send(manager_, list_msg{std::move(filter), std::move(cb)});
  }
  void get_blast(uint64_t blast, callback<blast_summary> cb) override {
    caf::anon_send(manager_, get_msg{blast, std::move(cb)});
  }
  void get_report(uint64_t blast, callback<report> cb) override {
    caf::anon_send(rt_.reporting, report_msg{blast, std::move(cb)});
  }
  void list_recipients(uint64_t blast, recipient_query q, callback<recipient_page> cb) override {
    caf::anon_send(manager_, recipients_msg{blast, q, std::move(cb)});
  }
  void get_recipient(uint64_t blast, std::string ref, callback<recipient_detail> cb) override {
    caf::anon_send(manager_, recipient_msg{blast, std::move(ref), std::move(cb)});
  }
  void update_status(uint64_t blast, std::string ref, status_update u,
                     callback<status_result> cb) override {
    caf::anon_send(manager_, update_msg{blast, std::move(ref), std::move(u), std::move(cb)});
  }
  void get_stats(callback<service_stats> cb) override {
    auto journal_stats = journal_->get_stats();
    uint64_t last = log_->last_seq();
    uint64_t active = active_recipients_.load();
    caf::anon_send(manager_, stats_msg{[=](result<service_stats> r) {
                     if (r.value) {
                       r.value->journal_commits = journal_stats.commits;
                       r.value->journal_events = journal_stats.events;
                       r.value->last_seq = last;
                       r.value->active_recipient_actors = active;
                     }
                     cb(std::move(r));
                   }});
  }

  void change_lifecycle(uint64_t blast, lifecycle action, callback<blast_summary> cb) override {
    caf::anon_send(manager_, lifecycle_msg{blast, action, std::move(cb)});
  }
  void resend(uint64_t blast, std::vector<send_state> states, callback<uint64_t> cb) override {
    caf::anon_send(manager_, resend_msg{blast, std::move(states), std::move(cb)});
  }

  void stop() override {
    if (!system_)
      return;
    // Plugin instances first (no push after destroy), then the actors (their
    // pending commits are answered by the journal), then the journal drains,
    // then the system joins its workers, and the worker pools finish.
    for (auto& [name, entry] : *rt_.transports)
      if (entry.handle)
        caf::anon_send_exit(entry.handle, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(manager_, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(rt_.reporting, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(rt_.ingest, caf::exit_reason::user_shutdown);
    pools_.clear();      // joins: in-flight plugin calls finish
    instances_.clear();  // destroys the instances (transport actors hold the last refs)
    journal_->stop();
    manager_ = nullptr;
    rt_ = runtime{};
    system_.reset();
    journal_.reset();
  }

private:
  service_options opts_;
  std::unique_ptr<storage::event_log> log_;
  std::unique_ptr<storage::journal> journal_;
  caf::actor_system_config cfg_;
  std::unique_ptr<caf::actor_system> system_;
  runtime rt_;
  caf::actor manager_;
  std::map<std::string, std::shared_ptr<plugins::plugin_library>> libraries_;
  std::vector<std::shared_ptr<plugins::transport_instance>> instances_;
  std::vector<std::shared_ptr<worker_pool>> pools_;
  std::atomic<uint64_t> next_blast_{1};
  std::atomic<uint64_t> active_recipients_{0};
  startup_stats startup_;
  std::vector<std::string> transports_;
};

} // namespace

std::unique_ptr<service> service::start(const service_options& opts, std::string& error) {
  storage::log_options lo;
  lo.sync = opts.sync;
  storage::status st;
  auto log = storage::event_log::open(opts.data_dir, lo, st);
  if (!log) {
    error = "cannot open the event log in '" + opts.data_dir + "': " + st.message;
    return nullptr;
  }
  auto svc = std::make_unique<actor_service>(opts, std::move(log));
  if (!svc->boot(error))
    return nullptr;
  return svc;
}

} // namespace blast::actors
