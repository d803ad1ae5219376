// The service: opens storage, rebuilds every blast from the log, starts the
// actor system and translates facade calls into messages.
#include "actors/service.hpp"

#include <atomic>
#include <algorithm>
#include <chrono>
#include <deque>
#include <map>
#include <mutex>

#include <boost/json.hpp>

#include "actors/blast_manager.hpp"
#include "actors/clock.hpp"
#include "actors/ingest_actor.hpp"
#include "actors/json_text.hpp"
#include "actors/messages.hpp"
#include "actors/replay.hpp"
#include "actors/reporting_actor.hpp"
#include "actors/snapshot.hpp"
#include "actors/transport_actor.hpp"
#include "actors/worker_pool.hpp"
#include "storage/event_log.hpp"
#include "storage/journal.hpp"

namespace json = boost::json;

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
    replayed state;
    std::string why;
    if (opts_.snapshot_every_events > 0 && load_snapshot(*log_, state, why))
      startup_.snapshot_seq = state.last_seq;
    else if (!why.empty())
      say(1, "snapshot ignored, replaying the whole log: " + why);
    state.webhook_window_ms = opts_.reapply_webhooks_ms;
    auto before = state.events;
    if (!replay(*log_, replay_cut{}, state, error)) {
      error = "replaying the log failed: " + error;
      return false;
    }
    startup_.events_replayed = state.events - before;
    if (auto st = log_->resume_compactions(); !st) {
      error = st.message;
      return false;
    }
    // A long tail is folded once here; keep it for the next start.
    std::string snapshot_bytes;
    if (opts_.snapshot_every_events > 0 && startup_.events_replayed >= opts_.snapshot_every_events)
      snapshot_bytes = state.save();
    auto& blasts = state.blasts;
    std::map<std::string, uint64_t> unknown_sends;  // by transport, counted once its counters exist
    for (auto& [id, b] : blasts)
      if (auto n = b->finish_replay())
        unknown_sends[b->def.transport] += n;
    startup_.blasts = blasts.size();
    for (auto& [id, b] : blasts)
      startup_.recipients += b->size();
    next_blast_ = blasts.empty() ? 1 : blasts.rbegin()->first + 1;
    for (auto seq : state.rejected)
      if (auto e = log_->get(seq))
        remember_rejected(*e);
    std::vector<uint64_t> applied_event_ids(state.event_ids.begin(), state.event_ids.end());
    state.event_ids = {};

    storage::journal_options jo;
    jo.max_queued_events = std::max<size_t>(1, opts_.journal_max_queued_events);
    jo.after_round = [this] { end_webhook_round(); };
    journal_ = std::make_unique<storage::journal>(*log_, jo);
    audit_ = std::make_unique<worker_pool>(1, "log-reader");
    system_ = std::make_unique<caf::actor_system>(configure(cfg_, opts_.threads));
    rt_.log = log_.get();
    rt_.journal = journal_.get();
    rt_.passivate_after_ms = opts_.passivate_after_ms;
    rt_.active_recipients = &active_recipients_;
    rt_.counters = &counters_;
    rt_.reporting = spawn_reporting(*system_, blasts.size());
    rt_.ingest = spawn_ingest(*system_, rt_);
    if (!start_transports(error))
      return false;
    for (auto& [name, n] : unknown_sends)
      if (auto it = counters_.find(name); it != counters_.end())
        it->second->count(send_tally::unknown, n);
    ingest_seed_msg seed{std::move(applied_event_ids), {}};
    for (auto& [id, b] : blasts)
      for (uint32_t r = 1; r <= b->size(); ++r)
        if (b->sending(r) == send_state::sent)
          seed.sent.push_back({b->phone(r), id, r, b->funnel_of(r).at[size_t(stage::sent)]});
    caf::anon_send(rt_.ingest, std::move(seed));
    for (auto& [id, b] : blasts)
      caf::anon_send(rt_.reporting, register_msg{id, b->size(), b->counts()});
    manager_ = spawn_blast_manager(*system_, rt_, std::move(blasts));
    caf::anon_send(rt_.ingest, manager_);
    reapply_webhooks(state.webhooks);
    snapshots_ = std::make_unique<snapshotter>(
      *log_, opts_.snapshot_every_events,
      snapshot_bytes.empty() ? startup_.snapshot_seq : state.last_seq,
      [this](const std::string& m) { say(2, m); });
    if (!snapshot_bytes.empty())
      snapshots_->save(std::move(snapshot_bytes), state.last_seq);
    startup_.replay_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return true;
  }

  // Loads each configured transport's plugin, creates its instance and
  // spawns its transport actor. `manual` is built in.
  bool start_transports(std::string& error) {
    auto map = std::make_shared<transport_map>();
    counters_["manual"] = std::make_unique<transport_counters>();
    (*map)["manual"] = transport_entry{};
    (*map)["manual"].counters = counters_["manual"].get();
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
      auto pool = std::make_shared<worker_pool>(t.workers, "tx-" + t.name);
      instances_.push_back(inst);
      by_name_[t.name] = inst;
      pools_.push_back(pool);
      bool can_poll = inst->can(0x2u /* BLAST_CAP_STATUS_QUERY */);
      auto* counters = (counters_[t.name] = std::make_unique<transport_counters>()).get();
      (*map)[t.name] = transport_entry{
        spawn_transport(*system_, t, inst, pool, rt_.ingest, counters), counters,
        t.max_attempts, t.retry_base_ms, can_poll ? t.poll_interval_ms : 0, t.poll_max_age_ms};
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

  // The log reads below run on the audit thread: long folds and range scans
  // must not hold an actor (or an HTTP I/O thread) for their duration.
  void report_at(uint64_t blast, int64_t at_ms, callback<report> cb) override {
    auto* log = log_.get();
    audit_->post([log, blast, at_ms, cb = std::move(cb)] {
      replay_cut cut;
      cut.until_ms = at_ms;
      std::string error;
      auto b = replay_blast(*log, blast, cut, error);
      if (!b)
        return cb(result<report>::fail(errc::unavailable, error));
      if (b->def.id == 0)
        return cb(result<report>::fail(errc::not_found, "no blast " + std::to_string(blast) +
                                                          " existed at that time"));
      cb(result<report>::ok({blast, b->size(), b->counts(), at_ms}));
    });
  }

  void record_report(uint64_t blast, std::string body, callback<stored_report> cb) override {
    storage::event e;
    e.type = storage::event_type::report_snapshot;
    e.source = storage::event_source::api;
    e.blast = blast;
    e.time_ms = now_ms();
    e.payload = std::move(body);
    journal_->submit(std::move(e), [cb = std::move(cb)](const storage::status& st,
                                                        std::vector<storage::event>&& done) {
      if (!st)
        return cb(result<stored_report>::fail(
          st.code == storage::errc::busy ? errc::busy : errc::unavailable,
          "report not stored: " + st.message));
      auto& e = done.front();
      cb(result<stored_report>::ok({e.seq, e.time_ms, std::move(e.payload)}));
    });
  }

  void list_reports(uint64_t blast, callback<std::vector<stored_report>> cb) override {
    auto* log = log_.get();
    audit_->post([log, blast, cb = std::move(cb)] {
      bool exists = false;
      std::vector<stored_report> out;
      auto st = log->scan_blast_level(blast, [&](const storage::event& e) {
        exists |= e.type == storage::event_type::blast_created;
        if (e.type == storage::event_type::report_snapshot)
          out.push_back({e.seq, e.time_ms, e.payload});
        return true;
      });
      if (!st)
        return cb(result<std::vector<stored_report>>::fail(errc::unavailable, st.message));
      if (!exists)
        return cb(result<std::vector<stored_report>>::fail(
          errc::not_found, "no blast with id " + std::to_string(blast)));
      std::reverse(out.begin(), out.end());
      cb(result<std::vector<stored_report>>::ok(std::move(out)));
    });
  }

  void export_recipients(uint64_t blast, recipient_query q, callback<export_page> cb) override {
    auto* log = log_.get();
    auto* audit = audit_.get();
    list_recipients(blast, q, [log, audit, blast, cb = std::move(cb)](result<recipient_page> r) {
      if (!r.value)
        return cb(result<export_page>::fail(r.err.code, r.err.message));
      audit->post([log, blast, page = std::move(*r.value), cb = std::move(cb)]() mutable {
        export_page out;
        out.next_cursor = page.next_cursor;
        out.rows.reserve(page.items.size());
        for (auto& v : page.items)
          out.rows.push_back({std::move(v), {}, {}});
        if (out.rows.empty())
          return cb(result<export_page>::ok(std::move(out)));
        // One range scan over the page's recipients; rows and events both come in id order.
        size_t row = 0;
        auto st = log->scan_recipients(
          blast, out.rows.front().view.id, out.rows.back().view.id,
          [&](const storage::event& e) {
            while (row < out.rows.size() && out.rows[row].view.id < e.recipient)
              ++row;
            if (row == out.rows.size() || out.rows[row].view.id != e.recipient)
              return true;  // a recipient the page's filter left out
            auto& x = out.rows[row];
            if (e.type == storage::event_type::send_succeeded)
              x.message_id = e.message_id;
            if (x.view.state.current == stage::failed)
              if (auto why = failure_reason(e); !why.empty())
                x.failure = std::move(why);
            return true;
          });
        if (!st)
          return cb(result<export_page>::fail(errc::unavailable, st.message));
        cb(result<export_page>::ok(std::move(out)));
      });
    });
  }
  void get_recipient(uint64_t blast, std::string ref, callback<recipient_detail> cb) override {
    caf::anon_send(manager_, recipient_msg{blast, std::move(ref), std::move(cb)});
  }
  void update_status(uint64_t blast, std::string ref, status_update u,
                     callback<status_result> cb) override {
    caf::anon_send(manager_, update_msg{blast, std::move(ref), std::move(u), std::move(cb)});
  }
  void get_stats(callback<service_stats> cb) override {
    // Everything but the blast directory is read here; the manager adds that.
    auto s = std::make_shared<service_stats>();
    auto j = journal_->get_stats();
    s->journal_commits = j.commits;
    s->journal_events = j.events;
    s->journal_failed_commits = j.failed_commits;
    s->journal_refused = j.refused_degraded;
    s->journal_recoveries = j.recoveries;
    s->journal_queued_events = j.queued_events;
    s->journal_batch_events = journal_->batch_events().read();
    s->journal_sync_seconds = journal_->sync_seconds().read();
    s->storage = {!j.degraded, j.error};
    s->last_seq = log_->last_seq();
    s->log_level0_files = log_->level0_files();
    s->log_index_lag = log_->index_lag();
    s->active_recipient_actors = active_recipients_.load();
    s->snapshot_seq = snapshots_->snapshot_seq();
    for (auto& [name, c] : counters_) {
      transport_stats t;
      t.name = name;
      for (size_t i = 0; i < webhook_tally_count; ++i)
        t.webhook_events[i] = c->webhook_events[i].load(std::memory_order_relaxed);
      for (size_t i = 0; i < send_tally_count; ++i)
        t.sends[i] = c->sends[i].load(std::memory_order_relaxed);
      t.queued = c->queued.load(std::memory_order_relaxed);
      t.in_flight = c->in_flight.load(std::memory_order_relaxed);
      s->transports.push_back(std::move(t));
    }
    caf::anon_send(manager_, stats_msg{[s, cb = std::move(cb)](result<service_stats> r) {
                     if (r.value) {
                       s->blasts = r.value->blasts;
                       s->recipients = r.value->recipients;
                       r.value = std::move(*s);
                     }
                     cb(std::move(r));
                   }});
  }

  storage_health health() const override {
    auto j = journal_->get_stats();
    return {!j.degraded, j.error};
  }

  void change_lifecycle(uint64_t blast, lifecycle action, callback<blast_summary> cb) override {
    caf::anon_send(manager_, lifecycle_msg{blast, action, std::move(cb)});
  }
  void resend(uint64_t blast, std::vector<send_state> states, callback<uint64_t> cb) override {
    caf::anon_send(manager_, resend_msg{blast, std::move(states), std::move(cb)});
  }

  void ingest_webhook(std::string transport, webhook_input in,
                      callback<webhook_outcome> cb) override {
    auto it = by_name_.find(transport);
    if (it == by_name_.end() || !it->second->can(0x4u /* BLAST_CAP_WEBHOOK */)) {
      cb(result<webhook_outcome>::fail(
        errc::not_found, "no transport '" + transport + "' that accepts webhooks"));
      return;
    }
    plugins::webhook_request req{in.method, in.path, in.query, in.headers, in.body};
    if (in.method != "POST") {
      // A handshake (Meta's GET hub.challenge) the plugin may answer itself; a plugin that
      // does not (ABI 1.0, or not this request) gets it through parse_webhook as before.
      std::optional<plugins::webhook_reply> answer;
      auto st = it->second->answer_webhook(req, answer);
      if (!st.ok()) {
        cb(result<webhook_outcome>::fail(errc::rejected, st.message));
        return;
      }
      if (answer) {
        webhook_outcome o;
        o.reply = webhook_reply{answer->status, std::move(answer->content_type),
                                std::move(answer->body)};
        cb(result<webhook_outcome>::ok(std::move(o)));
        return;
      }
    }
    std::vector<plugins::observation> obs;
    // Parsing is CPU work (a signature and a JSON body), fine on the caller's thread.
    auto status = it->second->parse_webhook(req, obs);
    auto* counters = counters_.at(transport).get();
    if (status.code == -5 /* BLAST_E_SIGNATURE */) {
      counters->count(webhook_tally::rejected);
      cb(result<webhook_outcome>::fail(errc::unauthorized, status.message));
      return;
    }
    bool rejected = !status.ok();
    storage::event e;
    e.type = rejected ? storage::event_type::webhook_rejected : storage::event_type::webhook_received;
    e.source = storage::event_source::webhook;
    e.time_ms = now_ms();
    // JSON text is UTF-8: the request line and headers as text (a byte that is not becomes
    // U+FFFD; signatures and the other headers a plugin reads are ASCII), the body byte for
    // byte (json_text.hpp: base64 when it is not UTF-8). Written straight into the text, the
    // bytes serializing a json::object of them gave, without building one first.
    size_t head = 128 + in.method.size() + in.path.size() + in.query.size();
    for (auto& [k, v] : in.headers)
      head += k.size() + v.size() + 6;
    e.payload.reserve(head + in.body.size() * 9 / 8);
    e.payload += "{\"transport\":";
    append_json_string(e.payload, transport);
    e.payload += ",\"method\":";
    append_json_text(e.payload, in.method);
    e.payload += ",\"path\":";
    append_json_text(e.payload, in.path);
    e.payload += ",\"query\":";
    append_json_text(e.payload, in.query);
    e.payload += ",\"headers\":";
    append_json_text_object(e.payload, in.headers);
    e.payload += ',';
    append_bytes_member(e.payload, "body", in.body);
    if (rejected) {
      e.payload += ",\"error\":";
      append_json_string(e.payload, to_utf8(status.message));
    } else {
      e.payload += ",\"observations\":" + std::to_string(obs.size());
    }
    e.payload += '}';
    auto self = this;
    journal_->submit(
      std::move(e),
      [self, transport, rejected, counters, message = status.message, obs = std::move(obs),
       cb = std::move(cb)](const storage::status& st, std::vector<storage::event>&& committed) mutable {
        if (!st) {
          auto code = st.code == storage::errc::busy ? errc::busy : errc::unavailable;
          cb(result<webhook_outcome>::fail(code, "webhook not stored: " + st.message));
          return;
        }
        if (rejected) {
          counters->count(webhook_tally::rejected);
          self->remember_rejected(committed.front());
          cb(result<webhook_outcome>::fail(errc::rejected, message));
          return;
        }
        // Durable first, queued for the ingest actor second, answered third, applied after:
        // once a provider (or a test) has the 2xx, whatever it asks the ingest actor next
        // (the unmatched list) comes after these observations in its mailbox. Answering
        // first let a preempted syncer thread reorder the two (seen under CPU load).
        // Both wait for the end of the journal's round (end_webhook_round), which sends
        // the round's webhooks to the ingest actor as one message, then answers them.
        auto seq = committed.front().seq;
        auto count = obs.size();
        auto& round = self->webhook_round_;
        round.parts.push_back({transport, storage::event_source::webhook, std::move(obs), seq});
        round.answers.push_back({std::move(cb), seq, count});
      });
  }

  // journal_options::after_round, on the syncer thread: the webhooks the round made
  // durable go to the ingest actor in one message, and only then are they answered.
  void end_webhook_round() {
    auto& round = webhook_round_;
    if (round.parts.empty())
      return;
    caf::anon_send(rt_.ingest, pushed_batch_msg{std::move(round.parts)});
    round.parts = {};
    for (auto& a : round.answers)
      a.cb(result<webhook_outcome>::ok({a.seq, a.observations, std::nullopt}));
    round.answers.clear();
  }

  void list_unmatched(int64_t older_than_ms, callback<std::vector<unmatched_item>> cb) override {
    caf::anon_send(rt_.ingest, unmatched_msg{older_than_ms, std::move(cb)});
  }

  void list_rejected(callback<std::vector<rejected_webhook>> cb) override {
    std::lock_guard<std::mutex> lock(rejected_mu_);
    cb(result<std::vector<rejected_webhook>>::ok({rejected_.rbegin(), rejected_.rend()}));
  }

  void get_webhook(uint64_t seq, callback<logged_webhook> cb) override {
    auto* log = log_.get();
    audit_->post([log, seq, cb = std::move(cb)] {  // a read: not on the caller's I/O thread
      auto e = log->get(seq);
      if (!e || (e->type != storage::event_type::webhook_received &&
                 e->type != storage::event_type::webhook_rejected))
        return cb(result<logged_webhook>::fail(
          errc::not_found, "no webhook at seq " + std::to_string(seq)));
      cb(result<logged_webhook>::ok({e->seq, e->time_ms,
                                     e->type == storage::event_type::webhook_received,
                                     std::move(e->payload)}));
    });
  }

  void stop() override {
    if (!system_)
      return;
    // Plugin instances first (no push after destroy), then the actors (their
    // pending commits are answered by the journal), then the journal drains,
    // then the system joins its workers, and the worker pools finish.
    if (rt_.transports)  // null when start-up failed while loading the transports
      for (auto& [name, entry] : *rt_.transports)
        if (entry.handle)
          caf::anon_send_exit(entry.handle, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(manager_, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(rt_.reporting, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(rt_.ingest, caf::exit_reason::user_shutdown);
    pools_.clear();      // joins: in-flight plugin calls finish
    by_name_.clear();
    instances_.clear();  // destroys the instances (transport actors hold the last refs)
    journal_->stop();
    audit_.reset();      // log readers finish before the log closes
    snapshots_.reset();  // a refresh under way finishes; a handed-over state is written
    manager_ = nullptr;
    rt_ = runtime{};
    system_.reset();
    journal_.reset();
  }

private:
  // A webhook is answered once its raw form is durable and applied right
  // after; a crash in between must not lose its effect. So the recent ones
  // (opts_.reapply_webhooks_ms before the last) are parsed again at start-up:
  // de-duplication by event id makes applying one twice harmless, and what
  // was parked waiting for a message id gets its chance again.
  void reapply_webhooks(std::deque<std::pair<uint64_t, int64_t>>& webhooks) {
    if (webhooks.empty() || opts_.reapply_webhooks_ms <= 0)
      return;
    int64_t horizon = ms_before(webhooks.back().second, opts_.reapply_webhooks_ms);
    auto first = std::find_if(webhooks.begin(), webhooks.end(),
                              [&](auto& w) { return w.second >= horizon; });
    uint64_t from = first->first;
    webhooks = {};
    // To the ingest actor in batches, like the live path's rounds: an hour of webhooks is one
    // message per thousand, not one each, and never all of them in memory at once.
    constexpr size_t batch = 1024;
    pushed_batch_msg pending;
    auto flush = [&] {
      if (!pending.parts.empty())
        caf::anon_send(rt_.ingest, std::move(pending));
      pending = {};
    };
    log_->scan(from, [&](const storage::event& e) {
      if (e.type != storage::event_type::webhook_received)
        return true;
      json::error_code ec;
      auto v = json::parse(e.payload, ec);
      auto* o = ec ? nullptr : v.if_object();
      auto str = [&](const char* k) {
        auto* x = o ? o->if_contains(k) : nullptr;
        return x && x->is_string() ? std::string(x->get_string()) : std::string();
      };
      auto it = by_name_.find(str("transport"));
      if (!o || it == by_name_.end())
        return true;  // a transport no longer configured: its raw webhooks stay in the log
      plugins::webhook_request req{str("method"), str("path"), str("query"), {},
                                   bytes_member(*o, "body").value_or("")};
      if (auto* h = o->if_contains("headers"); h && h->is_object())
        for (auto& [k, val] : h->get_object())
          if (val.is_string())
            req.headers.emplace_back(std::string(k), std::string(val.get_string()));
      std::vector<plugins::observation> obs;
      if (it->second->parse_webhook(req, obs).ok() && !obs.empty()) {
        ++startup_.webhooks_reapplied;
        pending.parts.push_back({it->first, storage::event_source::webhook, std::move(obs), e.seq});
        if (pending.parts.size() == batch)
          flush();
      }
      return true;
    });
    flush();
  }

  // Rejected webhooks, newest last, bounded: the log keeps them all.
  void remember_rejected(const storage::event& e) {
    json::error_code ec;
    auto v = json::parse(e.payload, ec);
    auto* o = ec ? nullptr : v.if_object();
    auto str = [&](const char* k) {
      auto* x = o ? o->if_contains(k) : nullptr;
      return x && x->is_string() ? std::string(x->get_string()) : std::string();
    };
    std::lock_guard<std::mutex> lock(rejected_mu_);
    rejected_.push_back({e.seq, str("transport"), e.time_ms, str("error"),
                         o ? bytes_member(*o, "body").value_or("") : std::string()});
    if (rejected_.size() > 10000)
      rejected_.pop_front();
  }

  void say(int level, const std::string& message) {
    if (opts_.log)
      opts_.log(level, message);
  }

  service_options opts_;
  std::unique_ptr<storage::event_log> log_;
  std::unique_ptr<storage::journal> journal_;
  std::unique_ptr<snapshotter> snapshots_;
  std::unique_ptr<worker_pool> audit_;  // one thread for long log reads
  caf::actor_system_config cfg_;
  std::unique_ptr<caf::actor_system> system_;
  runtime rt_;
  caf::actor manager_;
  std::map<std::string, std::shared_ptr<plugins::plugin_library>> libraries_;
  std::vector<std::shared_ptr<plugins::transport_instance>> instances_;
  std::vector<std::shared_ptr<worker_pool>> pools_;
  std::map<std::string, std::shared_ptr<plugins::transport_instance>> by_name_;
  std::mutex rejected_mu_;
  std::deque<rejected_webhook> rejected_;
  // Webhooks made durable in the journal's current round (syncer thread only).
  struct round_answer {
    callback<webhook_outcome> cb;
    uint64_t seq;
    size_t observations;
  };
  struct {
    std::vector<pushed_msg> parts;
    std::vector<round_answer> answers;
  } webhook_round_;
  std::atomic<uint64_t> next_blast_{1};
  std::atomic<uint64_t> active_recipients_{0};
  counters_map counters_;  // filled by start_transports(), then only read
  startup_stats startup_;
  std::vector<std::string> transports_;
};

} // namespace

std::unique_ptr<service> service::start(const service_options& opts, std::string& error) {
  storage::log_options lo;
  lo.sync = opts.sync;
  lo.log = opts.log;
  lo.defer_compactions = true;  // boot() resumes them once the log is replayed
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
