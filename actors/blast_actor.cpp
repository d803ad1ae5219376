// blast_actor: owns a blast's table and its sending. Each recipient has one
// writer at a time: its actor while active, else this actor — events for a
// recipient with an active actor go through that actor, and work for a
// recipient with one of this actor's commits in flight waits for it.
#include "actors/blast_actor.hpp"

#include <algorithm>
#include <random>
#include <unordered_map>
#include <unordered_set>
#include <variant>

#include <boost/json.hpp>

#include "actors/clock.hpp"
#include "actors/message_template.hpp"
#include "actors/messages.hpp"
#include "actors/phone_number.hpp"
#include "actors/recipient_actor.hpp"
#include "storage/event_log.hpp"
#include "storage/journal.hpp"

namespace json = boost::json;

namespace blast::actors {

namespace {

struct active_recipient {
  caf::actor handle;
  uint64_t sent = 0;  // messages sent to it, for the passivation handshake
};

// Work for a recipient that waits while one of this actor's commits for it is in flight.
using deferred = std::variant<update_msg, route_msg, storage::event>;

// Sends requested but not answered, at most; the transport paces them.
constexpr uint32_t send_window = 4096;
// Requests written per commit while pumping.
constexpr size_t pump_batch = 1024;

struct blast_actor_state {
  std::shared_ptr<blast_state> blast;
  std::unordered_map<uint32_t, active_recipient> active;
  transport_entry transport;             // handle null: nothing to send (manual)
  uint32_t cursor = 1;                   // next recipient to consider for a first send
  uint32_t in_flight = 0;                // send requests written and not answered
  std::unordered_set<uint32_t> busy;     // recipients with a commit of ours in flight
  std::unordered_map<uint32_t, std::vector<deferred>> stashed;
  std::vector<uint32_t> held_retries;    // retries that came due while paused
  // What write() took in since the last submission, submitted as one by
  // submit_atom once the messages already in the mailbox are handled: a
  // webhook of 100 statuses becomes one journal submission, not 100.
  std::vector<storage::event> unsubmitted;
  std::vector<std::function<void(const storage::status&)>> unsubmitted_then;
  bool submit_due = false;  // a submit_atom is on its way
  bool completing = false;
  uint64_t poll_round = 0;
  uint32_t poll_cursor = 1;              // polling resumes here next round
  std::mt19937_64 jitter{std::random_device{}()};
  static inline const char* name = "blast_actor";
};

using self_ptr = caf::stateful_actor<blast_actor_state>*;

// Events whose commit failed, to be written again.
struct rewrite_msg {
  std::vector<storage::event> events;
};

// A recipient actor's answer to a manual update, to be completed from the row.
struct view_msg {
  result<status_result> r;
  callback<status_result> reply;
};

} // namespace
} // namespace blast::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(blast::actors::rewrite_msg)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(blast::actors::view_msg)

namespace blast::actors {
namespace {

void route_work(self_ptr self, const runtime& rt, uint32_t id, deferred w);
void after_commit(self_ptr self, const runtime& rt, const storage::event& e,
                  std::vector<send_item>& dispatch, bound_msg& bound);
void pump(self_ptr self, const runtime& rt);

// A phone number wins over an id: numbers are what users type.
std::optional<uint32_t> resolve(const blast_state& b, const std::string& ref) {
  if (auto phone = parse_phone(ref))
    if (auto id = b.find_phone(*phone))
      return id;
  if (ref.empty() || ref.size() > 10 || ref.find_first_not_of("0123456789") != std::string::npos)
    return std::nullopt;
  auto id = std::stoull(ref);
  if (id > UINT32_MAX || !b.valid(static_cast<uint32_t>(id)))
    return std::nullopt;
  return static_cast<uint32_t>(id);
}

recipient_view view_of(const blast_state& b, uint32_t id) {
  return {id,
          b.phone(id),
          std::string(b.name(id)),
          std::string(b.vars_json(id)),
          b.funnel_of(id),
          b.sending(id),
          b.attempts(id)};
}

blast_summary summary_of(const blast_state& b) {
  return {b.def, b.status, b.counts(), b.send_counts()};
}

// The recipient `ref` names, or nullopt after answering not_found.
template <class T>
std::optional<uint32_t> resolve_or_reply(const blast_state& b, const std::string& ref,
                                         callback<T>& reply) {
  auto id = resolve(b, ref);
  if (!id)
    reply(result<T>::fail(errc::not_found,
                          "blast " + std::to_string(b.def.id) + " has no recipient '" + ref + "'"));
  return id;
}

// The recipient's actor, activated from the table if it is passivated.
active_recipient& activate(self_ptr self, const runtime& rt, uint32_t id) {
  auto& b = *self->state.blast;
  auto& slot = self->state.active[id];
  if (!slot.handle) {
    ++*rt.active_recipients;
    slot.handle = spawn_recipient(self->system(), rt, caf::actor_cast<caf::actor>(self),
                                  {b.def.id, id, b.phone(id), std::string(b.name(id))},
                                  b.funnel_of(id));
    // A monitor, not a link: CAF 0.17 keeps an actor's links in a list that
    // every link and unlink walks, so linking thousands of recipient actors to
    // their blast made passivation quadratic (97% of CPU at 100k recipients).
    // The monitor lives on the recipient's side; shutdown is our exit handler.
    self->monitor(slot.handle);
  }
  return slot;
}

// Hands what write() took in to the journal as one submission.
void submit(self_ptr self, const runtime& rt) {
  auto& st = self->state;
  st.submit_due = false;
  if (st.unsubmitted.empty())
    return;
  std::function<void(const storage::status&)> then;
  if (st.unsubmitted_then.size() == 1) {
    then = std::move(st.unsubmitted_then.front());
  } else if (!st.unsubmitted_then.empty()) {
    then = [all = std::move(st.unsubmitted_then)](const storage::status& s) {
      for (auto& f : all)
        f(s);
    };
  }
  st.unsubmitted_then.clear();
  auto me = caf::actor_cast<caf::actor>(self);
  rt.journal->submit(std::move(st.unsubmitted), [me, then = std::move(then)](
                                                  const storage::status& s,
                                                  std::vector<storage::event>&& committed) {
    caf::anon_send(me, blast_committed_msg{s, std::move(committed), then});
  });
  st.unsubmitted.clear();
}

// Commits `events` (recipient events and blast events) keeping one writer per
// recipient; `then` runs once this actor's own batch is durable. The events go
// to the journal with whatever else this actor writes before it reads its next
// message that is not yet in its mailbox (see submit_atom).
void write(self_ptr self, const runtime& rt, std::vector<storage::event> events,
           std::function<void(const storage::status&)> then = {}) {
  auto& st = self->state;
  const size_t before = st.unsubmitted.size();
  for (auto& e : events) {
    if (e.recipient == 0) {
      st.unsubmitted.push_back(std::move(e));
    } else if (st.busy.count(e.recipient) || st.active.count(e.recipient)) {
      route_work(self, rt, e.recipient, std::move(e));
    } else {
      st.busy.insert(e.recipient);
      st.unsubmitted.push_back(std::move(e));
    }
  }
  if (st.unsubmitted.size() == before) {
    if (then)
      then(storage::status::ok());
    return;
  }
  if (then)
    st.unsubmitted_then.push_back(std::move(then));
  if (!st.submit_due) {
    st.submit_due = true;
    self->send(self, submit_atom_v);
  }
}

// Delivers work for one recipient: waits behind our commit for it, or goes to
// its actor. Evidence from transports for a passivated recipient is decided
// here, on the table, and committed by this actor: activating an actor per
// delivery receipt would hold one actor per recipient of a big blast at once.
void route_work(self_ptr self, const runtime& rt, uint32_t id, deferred w) {
  auto& st = self->state;
  if (st.busy.count(id)) {
    st.stashed[id].push_back(std::move(w));
    return;
  }
  if (auto* r = std::get_if<route_msg>(&w); r && !st.active.count(id)) {
    auto& b = *st.blast;
    funnel next = b.funnel_of(id);
    auto from = next.current;
    auto out = next.apply(r->evidence.observed, r->evidence.time_ms);
    write(self, rt, {make_status_event(b.def.id, id, r->evidence, from, next.current, out)});
    return;
  }
  auto& slot = activate(self, rt, id);
  ++slot.sent;
  if (auto* u = std::get_if<update_msg>(&w)) {
    status_evidence ev;
    ev.observed = u->update.observed;
    ev.time_ms = now_ms();
    ev.source = storage::event_source::manual;
    ev.note = std::move(u->update.note);
    // The recipient actor knows the funnel, this actor the whole row (send
    // status, profile): the answer passes back here to be completed. It
    // arrives after the actor's synced_msg, so the row is current.
    auto me = caf::actor_cast<caf::actor>(self);
    callback<status_result> complete = [me, reply = std::move(u->reply)](result<status_result> r) {
      caf::anon_send(me, view_msg{std::move(r), reply});
    };
    self->send(slot.handle, observe_msg{std::move(ev), std::move(complete)});
  } else if (auto* r = std::get_if<route_msg>(&w)) {
    self->send(slot.handle, observe_msg{std::move(r->evidence), {}});
  } else {
    self->send(slot.handle, owned_event_msg{std::move(std::get<storage::event>(w))});
  }
}

void flush(self_ptr self, const runtime& rt, std::vector<send_item>& dispatch,
           bound_msg& bound) {
  auto& st = self->state;
  if (!dispatch.empty() && st.transport.handle)
    self->send(st.transport.handle, send_batch_msg{caf::actor_cast<caf::actor>(self),
                                                   st.blast->def.id, std::move(dispatch)});
  if (!bound.message_ids.empty())
    self->send(rt.ingest, std::move(bound));
  dispatch.clear();
  bound = {};
}

void check_completion(self_ptr self, const runtime& rt) {
  auto& st = self->state;
  auto& b = *st.blast;
  const auto& sc = b.send_counts();
  if (b.status != blast_status::sending || !st.transport.handle || st.completing ||
      st.in_flight > 0 || sc[static_cast<size_t>(send_state::none)] > 0 ||
      sc[static_cast<size_t>(send_state::requested)] > 0 ||
      sc[static_cast<size_t>(send_state::retrying)] > 0)
    return;
  st.completing = true;
  write(self, rt,
        {make_blast_status(b.def.id, blast_status::completed, "every recipient has an outcome",
                           storage::event_source::system, now_ms())},
        [self](const storage::status&) { self->state.completing = false; });
}

// The request of recipient `id`'s next attempt, counted in flight from now on.
storage::event next_attempt(self_ptr self, uint32_t id, int64_t now) {
  auto& b = *self->state.blast;
  ++self->state.in_flight;
  return make_send_requested(
    b.def.id, id, b.attempts(id) + 1u,
    render_message(b.def.message, b.name(id), b.vars_json(id), b.phone(id)), now);
}

void pump(self_ptr self, const runtime& rt) {
  auto& st = self->state;
  auto& b = *st.blast;
  if (b.status != blast_status::sending || !st.transport.handle)
    return;
  std::vector<storage::event> requests;
  auto now = now_ms();
  while (st.in_flight < send_window && st.cursor <= b.size() && requests.size() < pump_batch) {
    uint32_t id = st.cursor++;
    if (b.sending(id) != send_state::none)
      continue;
    requests.push_back(next_attempt(self, id, now));
  }
  if (!requests.empty())
    write(self, rt, std::move(requests));
  check_completion(self, rt);
}

// Requests a new attempt for recipients whose last one failed temporarily.
void retry(self_ptr self, const runtime& rt, const std::vector<uint32_t>& ids) {
  auto& st = self->state;
  auto& b = *st.blast;
  if (b.status == blast_status::paused) {
    st.held_retries.insert(st.held_retries.end(), ids.begin(), ids.end());
    return;
  }
  if (b.status != blast_status::sending)
    return;
  std::vector<storage::event> requests;
  std::vector<uint32_t> later;
  auto now = now_ms();
  for (auto id : ids) {
    if (st.busy.count(id) || b.sending(id) == send_state::requested) {
      later.push_back(id);  // the failure itself is not committed yet
      continue;
    }
    if (b.sending(id) != send_state::retrying)
      continue;
    requests.push_back(next_attempt(self, id, now));
  }
  if (!requests.empty())
    write(self, rt, std::move(requests));
  if (!later.empty())
    self->delayed_send(self, std::chrono::milliseconds(50), retry_atom_v, later);
}

void after_commit(self_ptr self, const runtime& rt, const storage::event& e,
                  std::vector<send_item>& dispatch, bound_msg& bound) {
  auto& st = self->state;
  auto& b = *st.blast;
  using storage::event_type;
  switch (e.type) {
    case event_type::send_requested: {
      json::error_code ec;
      auto v = json::parse(e.payload, ec);
      auto* o = ec ? nullptr : v.if_object();
      auto* text = o ? o->if_contains("text") : nullptr;
      dispatch.push_back({e.recipient, b.phone(e.recipient),
                          text && text->is_string() ? std::string(text->get_string()) : "",
                          b.attempts(e.recipient), std::string(b.vars_json(e.recipient))});
      break;
    }
    case event_type::send_succeeded:
      --st.in_flight;
      bound.message_ids.push_back(e.message_id);
      bound.sent.push_back({b.phone(e.recipient), b.def.id, e.recipient, e.time_ms});
      break;
    case event_type::send_failed:
      --st.in_flight;
      break;
    default:
      break;
  }
}

// Outcome events for the transport's results; failures to retry are scheduled.
void on_results(self_ptr self, const runtime& rt, send_results_msg& m) {
  auto& st = self->state;
  auto& b = *st.blast;
  std::vector<storage::event> events;
  std::vector<uint32_t> retry_ids;
  int64_t retry_delay = 0;
  auto* counters = st.transport.counters;
  auto count = [counters](send_tally t) {
    if (counters)
      counters->count(t);
  };
  for (auto& o : m.outcomes) {
    auto& r = o.result;
    using plugins::send_error;
    if (r.error == send_error::none) {
      count(send_tally::succeeded);
      events.push_back(make_send_succeeded(b.def.id, o.recipient, r.message_id, r.document,
                                           o.time_ms));
      continue;
    }
    const char* kind = r.error == send_error::retryable      ? "retryable"
                       : r.error == send_error::rate_limited ? "rate_limited"
                       : r.error == send_error::permanent    ? "permanent"
                       : r.error == send_error::invalid      ? "invalid"
                                                             : "internal";
    // Rate limits slow the transport down; they do not use up a recipient's
    // attempts (within a generous cap, so that nothing loops forever).
    bool temporary = r.error == send_error::retryable || r.error == send_error::internal ||
                     r.error == send_error::rate_limited;
    uint32_t limit = r.error == send_error::rate_limited ? 50u : st.transport.max_attempts;
    bool final = !temporary || o.attempt >= limit;
    count(final                                     ? send_tally::failed
          : r.error == send_error::rate_limited     ? send_tally::rate_limited
                                                    : send_tally::retried);
    events.push_back(make_send_failed(b.def.id, o.recipient, o.attempt, kind, r.message, final,
                                      r.retry_after_ms, o.time_ms));
    if (!final) {
      // Exponential backoff with full jitter, capped at a minute.
      int64_t base = std::min<int64_t>(60000, st.transport.retry_base_ms << std::min(o.attempt, 16u));
      int64_t delay = std::uniform_int_distribution<int64_t>(base / 2, base)(st.jitter);
      delay = std::max(delay, r.retry_after_ms);
      retry_delay = std::max(retry_delay, delay);
      retry_ids.push_back(o.recipient);
    }
  }
  write(self, rt, std::move(events));
  if (!retry_ids.empty())
    self->delayed_send(self, std::chrono::milliseconds(retry_delay), retry_atom_v, retry_ids);
}

// Asks the transport for this blast's sends it has not handed over yet.
void withdraw(self_ptr self) {
  if (self->state.transport.handle)
    self->send(self->state.transport.handle, withdraw_msg{caf::actor_cast<caf::actor>(self)});
}

void set_status(self_ptr self, const runtime& rt, blast_status to, const char* reason,
                callback<blast_summary> reply) {
  auto& b = *self->state.blast;
  write(self, rt,
        {make_blast_status(b.def.id, to, reason, storage::event_source::api, now_ms())},
        [self, reply = std::move(reply)](const storage::status& s) {
          if (!reply)
            return;
          if (!s)
            reply(result<blast_summary>::fail(errc::unavailable, s.message));
          else
            reply(result<blast_summary>::ok(summary_of(*self->state.blast)));
        });
}

// Messages polled per round, at most: a round reads each one's document from the log.
constexpr size_t poll_batch = 2000;

// One polling round: sent messages not yet read (nor failed) and younger than
// the transport's limit. A message quiet for long is asked less often: every
// round while young, then every 2nd, 4th … up to every 64th round.
void poll_round(self_ptr self, const runtime& rt) {
  auto& st = self->state;
  auto& b = *st.blast;
  if (st.transport.poll_interval_ms <= 0 || !st.transport.handle ||
      b.status == blast_status::cancelled)
    return;
  auto now = now_ms();
  auto round = ++st.poll_round;
  std::vector<poll_item> items;
  uint32_t id = st.poll_cursor;
  bool any_left = false;
  for (uint32_t n = 0; n < b.size() && items.size() < poll_batch; ++n, ++id) {
    if (id > b.size())
      id = 1;
    auto& f = b.funnel_of(id);
    if (b.sending(id) != send_state::sent || f.reached(stage::read) ||
        f.current == stage::failed)
      continue;
    auto sent_at = f.at[static_cast<size_t>(stage::sent)];
    if (sent_at && now - sent_at > st.transport.poll_max_age_ms)
      continue;
    any_left = true;
    auto quiet = now - std::max(f.stage_time(), sent_at);
    uint64_t every = std::clamp<uint64_t>(
      static_cast<uint64_t>(quiet / (4 * st.transport.poll_interval_ms)), 1, 64);
    if (round % every != 0)
      continue;
    poll_item item;
    rt.log->scan_stream(b.def.id, id, [&](const storage::event& e) {
      if (e.type == storage::event_type::send_succeeded) {
        item.message_id = e.message_id;
        item.document = e.payload;
      }
      return true;
    });
    if (!item.message_id.empty())
      items.push_back(std::move(item));
  }
  st.poll_cursor = id;
  if (!items.empty())
    self->send(st.transport.handle, poll_msg{std::move(items)});
  // Rounds go on while something may still change or sending is not over.
  if (any_left || b.status == blast_status::sending || b.status == blast_status::paused ||
      b.status == blast_status::scheduled)
    self->delayed_send(self, std::chrono::milliseconds(st.transport.poll_interval_ms),
                       poll_atom_v);
}

void start(self_ptr self, const runtime& rt) {
  auto& b = *self->state.blast;
  if (b.status == blast_status::scheduled) {
    // At most a day per timer: CAF counts delays in int64 nanoseconds (292
    // years), and scheduledAt may be any ISO time up to 9999. The start_atom
    // handler checks the time again and re-arms until it is reached.
    constexpr int64_t max_wait_ms = 24 * 3600 * 1000;
    auto wait = std::clamp<int64_t>(b.def.scheduled_ms - now_ms(), 0, max_wait_ms);
    self->delayed_send(self, std::chrono::milliseconds(wait), start_atom_v);
    return;
  }
  if (b.status == blast_status::sending) {
    // After a restart: failures that were waiting for a retry get it now.
    std::vector<uint32_t> retrying;
    for (uint32_t id = 1; id <= b.size(); ++id)
      if (b.sending(id) == send_state::retrying)
        retrying.push_back(id);
    if (!retrying.empty())
      retry(self, rt, retrying);
    pump(self, rt);
  }
}

caf::behavior blast_actor(self_ptr self, runtime rt, caf::actor manager,
                          std::shared_ptr<blast_state> state) {
  self->state.blast = std::move(state);
  auto attach_transport = [=] {
    auto& b = *self->state.blast;
    if (auto it = rt.transports->find(b.def.transport); it != rt.transports->end())
      self->state.transport = it->second;
  };
  if (self->state.blast->def.id != 0) {  // recovered: folded already
    attach_transport();
    self->send(self, start_atom_v);
    if (self->state.transport.poll_interval_ms > 0)
      self->send(self, poll_atom_v);
  }
  // Shutdown: the manager's exit reaches us through our link to it; our
  // recipient actors are monitored, not linked, so we stop them ourselves.
  self->set_exit_handler([=](caf::exit_msg& m) {
    submit(self, rt);  // what this actor wrote still reaches the log
    for (auto& [id, a] : self->state.active)
      self->send_exit(a.handle, m.reason);
    self->quit(m.reason);
  });
  self->set_down_handler([=](caf::down_msg& m) {
    // A recipient actor ended without being passivated (a bug): forget it, so
    // that its next message activates a fresh one from the table.
    for (auto it = self->state.active.begin(); it != self->state.active.end(); ++it)
      if (it->second.handle.address() == m.source) {
        self->state.active.erase(it);
        --*rt.active_recipients;
        break;
      }
  });
  auto status_changed = [=] {
    self->send(manager, status_changed_msg{self->state.blast->def.id, self->state.blast->status});
  };
  return {
    [=](create_msg& m) {
      auto& b = *self->state.blast;
      for (auto& e : *m.events)
        if (!b.apply(e)) {
          // Our own encoding failed to decode: a bug, reported as such.
          m.reply(result<blast_summary>::fail(errc::unavailable, "blast events undecodable"));
          return;
        }
      attach_transport();
      self->send(rt.reporting, register_msg{b.def.id, b.size(), b.counts()});
      m.reply(result<blast_summary>::ok(summary_of(b)));
      start(self, rt);
      if (self->state.transport.poll_interval_ms > 0)
        self->delayed_send(self, std::chrono::milliseconds(self->state.transport.poll_interval_ms),
                           poll_atom_v);
    },
    [=](poll_atom) { poll_round(self, rt); },
    [=](start_atom) {
      auto& b = *self->state.blast;
      if (b.status == blast_status::scheduled && b.def.scheduled_ms <= now_ms())
        set_status(self, rt, blast_status::sending, "scheduled time reached", {});
      else
        start(self, rt);
    },
    [=](get_msg& m) { m.reply(result<blast_summary>::ok(summary_of(*self->state.blast))); },
    [=](recipients_msg& m) {
      auto& b = *self->state.blast;
      recipient_page page;
      auto& q = m.query;
      auto match = [&](uint32_t id) {
        auto& f = b.funnel_of(id);
        if (q.only && f.current != *q.only)
          return false;
        if (q.only_sending && b.sending(id) != *q.only_sending)
          return false;
        if (q.in_stage_longer_than_ms > 0) {
          auto since = f.current == stage::pending ? b.def.created_ms : f.stage_time();
          if (q.now_ms - since <= q.in_stage_longer_than_ms)
            return false;
        }
        return true;
      };
      uint32_t id = std::max<uint32_t>(m.query.cursor, 1);
      for (; id <= b.size() && page.items.size() < m.query.limit; ++id)
        if (match(id))
          page.items.push_back(view_of(b, id));
      // Skip ahead so the cursor says whether another page exists.
      while (id <= b.size() && !match(id))
        ++id;
      page.next_cursor = id <= b.size() ? id : 0;
      m.reply(result<recipient_page>::ok(std::move(page)));
    },
    [=](recipient_msg& m) {
      auto& b = *self->state.blast;
      auto id = resolve_or_reply(b, m.ref, m.reply);
      if (!id)
        return;
      recipient_detail d;
      d.view = view_of(b, *id);
      auto st = rt.log->scan_stream(b.def.id, *id, [&](const storage::event& e) {
        if (e.type == storage::event_type::send_succeeded)
          d.message_data = e.payload;  // the provider's exact document
        d.history.push_back({e.seq, e.type, e.source, e.time_ms, e.message_id, e.payload});
        return true;
      });
      if (!st) {
        m.reply(result<recipient_detail>::fail(errc::unavailable, st.message));
        return;
      }
      m.reply(result<recipient_detail>::ok(std::move(d)));
    },
    [=](update_msg& m) {
      auto id = resolve_or_reply(*self->state.blast, m.ref, m.reply);
      if (id)
        route_work(self, rt, *id, std::move(m));
    },
    [=](routes_msg& m) {
      for (auto& r : m.routes)
        if (self->state.blast->valid(r.recipient))
          route_work(self, rt, r.recipient, std::move(r));
    },
    [=](synced_msg& s) { self->state.blast->set_funnel(s.recipient, s.state); },
    [=](blast_committed_msg& c) {
      auto& st = self->state;
      if (!c.st) {
        // Nothing was written. Recipient events are facts we still hold (a send
        // happened, a request must precede one): write them again shortly. A
        // request's own status change was answered with the error instead.
        rewrite_msg again;
        for (auto& e : c.events) {
          st.busy.erase(e.recipient);
          if (e.recipient)
            again.events.push_back(std::move(e));
        }
        if (c.then)
          c.then(c.st);
        if (!again.events.empty())
          self->delayed_send(self, std::chrono::seconds(1), std::move(again));
        return;
      }
      auto& b = *st.blast;
      std::array<int64_t, stage_count> delta{};
      std::vector<send_item> dispatch;
      bound_msg bound;
      bool status_changed_here = false;
      for (auto& e : c.events) {
        stage before = e.recipient ? b.funnel_of(e.recipient).current : stage::pending;
        b.apply(e);  // the fold, exactly as replay applies it
        if (e.recipient) {
          stage after = b.funnel_of(e.recipient).current;
          if (after != before) {
            --delta[static_cast<size_t>(before)];
            ++delta[static_cast<size_t>(after)];
          }
          st.busy.erase(e.recipient);
        } else {
          status_changed_here = true;
        }
        after_commit(self, rt, e, dispatch, bound);
      }
      if (delta != std::array<int64_t, stage_count>{})
        self->send(rt.reporting, delta_msg{b.def.id, delta});
      if (status_changed_here)
        status_changed();
      flush(self, rt, dispatch, bound);
      if (c.then)
        c.then(c.st);
      // Release work that waited for these commits.
      for (auto& e : c.events) {
        auto it = st.stashed.find(e.recipient);
        if (it == st.stashed.end() || st.busy.count(e.recipient))
          continue;
        auto waiting = std::move(it->second);
        st.stashed.erase(it);
        for (auto& w : waiting)
          route_work(self, rt, e.recipient, std::move(w));
      }
      pump(self, rt);
    },
    [=](owned_committed_msg& c) {
      auto& b = *self->state.blast;
      if (!c.st) {
        self->delayed_send(self, std::chrono::seconds(1),
                           rewrite_msg{{std::move(c.event)}});
        return;
      }
      b.apply_send_state(c.event);  // its funnel arrived by synced_msg
      std::vector<send_item> dispatch;
      bound_msg bound;
      after_commit(self, rt, c.event, dispatch, bound);
      flush(self, rt, dispatch, bound);
      pump(self, rt);
    },
    [=](rewrite_msg& m) { write(self, rt, std::move(m.events)); },
    [=](submit_atom) { submit(self, rt); },
    [=](view_msg& m) {
      if (m.r.value)
        m.r.value->view = view_of(*self->state.blast, m.r.value->view.id);
      m.reply(std::move(m.r));
    },
    [=](send_results_msg& m) { on_results(self, rt, m); },
    [=](withdrawn_msg& m) {
      // Requested but never handed to the provider: recorded as a temporary
      // failure, so a resume retries exactly these (nobody twice, nobody skipped).
      auto& st = self->state;
      auto& b = *st.blast;
      std::vector<storage::event> events;
      std::vector<uint32_t> ids;
      auto now = now_ms();
      for (auto& item : m.items) {
        events.push_back(make_send_failed(b.def.id, item.recipient, item.attempt, "withdrawn",
                                          std::string("withdrawn: blast ") + to_string(b.status),
                                          false, 0, now));
        ids.push_back(item.recipient);
      }
      write(self, rt, std::move(events));
      if (b.status == blast_status::paused)
        st.held_retries.insert(st.held_retries.end(), ids.begin(), ids.end());
      else if (b.status == blast_status::sending)  // resumed meanwhile
        self->delayed_send(self, std::chrono::milliseconds(10), retry_atom_v, ids);
    },
    [=](retry_atom, std::vector<uint32_t>& ids) { retry(self, rt, ids); },
    [=](lifecycle_msg& m) {
      auto& b = *self->state.blast;
      auto s = b.status;
      auto conflict = [&](const std::string& why) {
        m.reply(result<blast_summary>::fail(errc::conflict, why));
      };
      switch (m.action) {
        case lifecycle::pause:
          if (s != blast_status::sending && s != blast_status::scheduled && s != blast_status::pending)
            return conflict(std::string("cannot pause a ") + to_string(s) + " blast");
          set_status(self, rt, blast_status::paused, "paused by request", std::move(m.reply));
          withdraw(self);
          return;
        case lifecycle::resume: {
          if (s != blast_status::paused)
            return conflict(std::string("cannot resume a ") + to_string(s) + " blast");
          auto held = std::move(self->state.held_retries);
          self->state.held_retries.clear();
          set_status(self, rt,
                     b.def.scheduled_ms > now_ms() ? blast_status::scheduled : blast_status::sending,
                     "resumed by request", std::move(m.reply));
          if (!held.empty())
            self->delayed_send(self, std::chrono::milliseconds(10), retry_atom_v, held);
          self->send(self, start_atom_v);
          return;
        }
        case lifecycle::cancel:
          if (s == blast_status::completed || s == blast_status::cancelled)
            return conflict(std::string("cannot cancel a ") + to_string(s) + " blast");
          set_status(self, rt, blast_status::cancelled, "cancelled by request",
                     std::move(m.reply));
          withdraw(self);
          return;
      }
    },
    [=](resend_msg& m) {
      auto& st = self->state;
      auto& b = *st.blast;
      if (!st.transport.handle)
        return m.reply(result<uint64_t>::fail(errc::conflict,
                                              "blast " + std::to_string(b.def.id) +
                                                " uses the manual transport: blastd sends nothing"));
      if (b.status == blast_status::cancelled || b.status == blast_status::paused)
        return m.reply(result<uint64_t>::fail(
          errc::conflict, std::string("cannot resend in a ") + to_string(b.status) + " blast"));
      std::vector<storage::event> events;
      auto now = now_ms();
      if (b.status == blast_status::completed)
        events.push_back(make_blast_status(b.def.id, blast_status::sending, "resend requested",
                                           storage::event_source::api, now));
      uint64_t n = 0;
      for (uint32_t id = 1; id <= b.size(); ++id) {
        auto ss = b.sending(id);
        auto stage_now = b.funnel_of(id).current;
        // Only recipients with no evidence of having the message.
        if (std::find(m.states.begin(), m.states.end(), ss) == m.states.end() ||
            (stage_now != stage::pending && stage_now != stage::failed) || st.busy.count(id))
          continue;
        events.push_back(next_attempt(self, id, now));
        ++n;
      }
      write(self, rt, std::move(events), [reply = std::move(m.reply), n](const storage::status& s) {
        if (!s)
          reply(result<uint64_t>::fail(errc::unavailable, s.message));
        else
          reply(result<uint64_t>::ok(n));
      });
    },
    [=](idle_msg& i) {
      auto it = self->state.active.find(i.recipient);
      // Only when it has handled everything we sent: nothing is lost in its mailbox.
      if (it == self->state.active.end() || it->second.sent != i.processed)
        return;
      self->demonitor(it->second.handle);
      self->send_exit(it->second.handle, caf::exit_reason::normal);
      self->state.active.erase(it);
      --*rt.active_recipients;
    },
  };
}

} // namespace

caf::actor spawn_blast(caf::actor_system& sys, const runtime& rt, caf::actor manager,
                       std::shared_ptr<blast_state> state) {
  return sys.spawn(blast_actor, rt, std::move(manager), std::move(state));
}

} // namespace blast::actors
