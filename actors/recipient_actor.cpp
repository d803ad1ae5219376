// recipient_actor: the one writer of its recipient's events while active. It
// turns observations into recipient_status events and commits the send events
// its blast hands it, one commit at a time, so every decision is taken on the
// fold of all committed events.
#include "actors/recipient_actor.hpp"

#include <deque>
#include <variant>

#include "actors/messages.hpp"
#include "storage/journal.hpp"

namespace blast::actors {

namespace {

using work = std::variant<observe_msg, owned_event_msg>;

// What a commit in flight will do once durable.
struct in_flight {
  funnel next;
  outcome out = outcome::duplicate;
  stage from = stage::pending;
  callback<status_result> reply;  // empty for owned events
  bool owned = false;
};

struct recipient_state {
  recipient_identity who;
  funnel state;
  std::deque<work> waiting;  // work behind the commit in flight
  bool committing = false;
  uint64_t received = 0;     // messages received, for the passivation handshake
  uint64_t idle_generation = 0;
  static inline const char* name = "recipient_actor";
};

using self_ptr = caf::stateful_actor<recipient_state>*;

struct commit_msg {
  storage::status st;
  storage::event event;  // as committed (seq set) or as submitted on error
  std::shared_ptr<in_flight> pending;
};

} // namespace
} // namespace blast::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(blast::actors::commit_msg)

namespace blast::actors {
namespace {

recipient_view view_of(const recipient_state& st) {
  return {st.who.id, st.who.phone, st.who.name, {}, st.state, send_state::none, 0};
}

void submit(self_ptr self, const runtime& rt, storage::event e, std::shared_ptr<in_flight> p) {
  self->state.committing = true;
  auto me = caf::actor_cast<caf::actor>(self);
  std::vector<storage::event> events{std::move(e)};
  rt.journal->submit(std::move(events), [me, p](const storage::status& s,
                                                std::vector<storage::event>&& committed) {
    caf::anon_send(me, commit_msg{s, std::move(committed.front()), p});
  });
}

void begin(self_ptr self, const runtime& rt, work w) {
  auto& st = self->state;
  auto p = std::make_shared<in_flight>();
  p->next = st.state;
  p->from = st.state.current;
  if (auto* m = std::get_if<observe_msg>(&w)) {
    p->out = p->next.apply(m->evidence.observed, m->evidence.time_ms);
    p->reply = std::move(m->reply);
    submit(self, rt,
           make_status_event(st.who.blast, st.who.id, m->evidence, p->from, p->next.current,
                             p->out),
           p);
  } else {
    auto& e = std::get<owned_event_msg>(w).event;
    if (auto s = funnel_evidence(e))
      p->out = p->next.apply(*s, e.time_ms);
    p->owned = true;
    submit(self, rt, std::move(e), p);
  }
}

void start_next(self_ptr self, const runtime& rt) {
  auto& st = self->state;
  if (!st.waiting.empty()) {
    auto w = std::move(st.waiting.front());
    st.waiting.pop_front();
    begin(self, rt, std::move(w));
    return;
  }
  self->delayed_send(self, std::chrono::milliseconds(rt.passivate_after_ms), idle_atom_v,
                     ++st.idle_generation);
}

void enqueue(self_ptr self, const runtime& rt, work w) {
  auto& st = self->state;
  ++st.received;
  ++st.idle_generation;  // any pending idle timer is now stale
  if (st.committing)
    st.waiting.push_back(std::move(w));
  else
    begin(self, rt, std::move(w));
}

caf::behavior recipient_actor(self_ptr self, runtime rt, caf::actor parent,
                              recipient_identity who, funnel state) {
  self->state.who = std::move(who);
  self->state.state = state;
  return {
    [=](observe_msg& m) { enqueue(self, rt, std::move(m)); },
    [=](owned_event_msg& m) { enqueue(self, rt, std::move(m)); },
    [=](commit_msg& c) {
      auto& st = self->state;
      auto& p = *c.pending;
      st.committing = false;
      if (c.st) {
        bool moved = p.next.current != st.state.current;
        stage before = st.state.current;
        st.state = p.next;
        // Parent first, so that a client reading after this reply sees the change.
        self->send(parent, synced_msg{st.who.id, st.state});
        if (moved)
          self->send(rt.reporting, transition_msg{st.who.blast, before, st.state.current});
      }
      if (p.owned) {
        self->send(parent, owned_committed_msg{c.st, std::move(c.event)});
      } else if (p.reply && !c.st) {  // observations from transports have no reply
        auto code = c.st.code == storage::errc::busy ? errc::busy : errc::unavailable;
        p.reply(result<status_result>::fail(code, "event not stored: " + c.st.message));
      } else if (p.reply) {
        p.reply(result<status_result>::ok({view_of(st), p.out, p.from}));
      }
      start_next(self, rt);
    },
    [=](idle_atom, uint64_t generation) {
      auto& st = self->state;
      if (generation == st.idle_generation && !st.committing && st.waiting.empty())
        self->send(parent, idle_msg{st.who.id, st.received});
    },
  };
}

} // namespace

caf::actor spawn_recipient(caf::actor_system& sys, const runtime& rt, caf::actor parent,
                           recipient_identity who, funnel state) {
  return sys.spawn<caf::lazy_init>(recipient_actor, rt, std::move(parent), std::move(who), state);
}

} // namespace blast::actors
