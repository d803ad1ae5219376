// recipient_actor: turns observations into recipient_status events, one commit
// at a time, so every decision is taken on the fold of all committed events.
#include "actors/recipient_actor.hpp"

#include <deque>

#include "actors/messages.hpp"
#include "storage/journal.hpp"

namespace blast::actors {

namespace {

struct recipient_state {
  recipient_identity who;
  funnel state;
  std::deque<observe_msg> waiting;  // observations behind the one being committed
  bool committing = false;
  uint64_t received = 0;            // observations received, for the passivation handshake
  uint64_t idle_generation = 0;
  static inline const char* name = "recipient_actor";
};

using self_ptr = caf::stateful_actor<recipient_state>*;

recipient_view view_of(const recipient_state& st) {
  return {st.who.id, st.who.phone, st.who.name, {}, st.state};
}

void start_next(self_ptr self, const runtime& rt, const caf::actor& parent);

void begin(self_ptr self, const runtime& rt, observe_msg m) {
  auto& st = self->state;
  funnel next = st.state;
  stage from = next.current;
  outcome out = next.apply(m.evidence.observed, m.evidence.time_ms);
  std::vector<storage::event> events{
    make_status_event(st.who.blast, st.who.id, m.evidence, from, next.current, out)};
  st.committing = true;
  auto me = caf::actor_cast<caf::actor>(self);
  rt.journal->submit(std::move(events), [me, next, out, from, reply = std::move(m.reply)](
                                          const storage::status& s, std::vector<storage::event>&&) {
    caf::anon_send(me, committed_msg{s, next, out, from, reply});
  });
}

void start_next(self_ptr self, const runtime& rt, const caf::actor& parent) {
  auto& st = self->state;
  if (!st.waiting.empty()) {
    auto m = std::move(st.waiting.front());
    st.waiting.pop_front();
    begin(self, rt, std::move(m));
    return;
  }
  self->delayed_send(self, std::chrono::milliseconds(rt.passivate_after_ms), idle_atom_v,
                     ++st.idle_generation);
}

caf::behavior recipient_actor(self_ptr self, runtime rt, caf::actor parent,
                              recipient_identity who, funnel state) {
  self->state.who = std::move(who);
  self->state.state = state;
  return {
    [=](observe_msg& m) {
      auto& st = self->state;
      ++st.received;
      ++st.idle_generation;  // any pending idle timer is now stale
      if (st.committing)
        st.waiting.push_back(std::move(m));
      else
        begin(self, rt, std::move(m));
    },
    [=](committed_msg& c) {
      auto& st = self->state;
      st.committing = false;
      if (!c.st) {
        auto code = c.st.code == storage::errc::busy ? errc::busy : errc::unavailable;
        c.reply(result<status_result>::fail(code, "event not stored: " + c.st.message));
      } else {
        bool moved = c.next.current != st.state.current;
        stage before = st.state.current;
        st.state = c.next;
        // Parent first, so that a client reading after this reply sees the change.
        self->send(parent, synced_msg{st.who.id, st.state});
        if (moved)
          self->send(rt.reporting, transition_msg{st.who.blast, before, st.state.current});
        c.reply(result<status_result>::ok({view_of(st), c.out, c.from}));
      }
      start_next(self, rt, parent);
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
