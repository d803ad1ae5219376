// blast_actor: routes observations to recipient actors (activating and
// passivating them), answers queries from its table and the log.
#include "actors/blast_actor.hpp"

#include <unordered_map>

#include "actors/clock.hpp"
#include "actors/messages.hpp"
#include "actors/phone_number.hpp"
#include "actors/recipient_actor.hpp"
#include "storage/event_log.hpp"

namespace blast::actors {

namespace {

struct active_recipient {
  caf::actor handle;
  uint64_t sent = 0;  // observations sent to it, for the passivation handshake
};

struct blast_actor_state {
  std::shared_ptr<blast_state> blast;
  std::unordered_map<uint32_t, active_recipient> active;
  static inline const char* name = "blast_actor";
};

using self_ptr = caf::stateful_actor<blast_actor_state>*;

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
  return {id, b.phone(id), std::string(b.name(id)), std::string(b.vars_json(id)),
          b.funnel_of(id)};
}

blast_summary summary_of(const blast_state& b) { return {b.def, b.status, b.counts()}; }

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
    self->link_to(slot.handle);  // dies with its blast on shutdown
  }
  return slot;
}

caf::behavior blast_actor(self_ptr self, runtime rt, std::shared_ptr<blast_state> state) {
  self->state.blast = std::move(state);
  return {
    [=](create_msg& m) {
      auto& b = *self->state.blast;
      for (auto& e : *m.events)
        if (!b.apply(e)) {
          // Our own encoding failed to decode: a bug, reported as such.
          m.reply(result<blast_summary>::fail(errc::unavailable, "blast events undecodable"));
          return;
        }
      self->send(rt.reporting, register_msg{b.def.id, b.size(), b.counts()});
      m.reply(result<blast_summary>::ok(summary_of(b)));
    },
    [=](get_msg& m) { m.reply(result<blast_summary>::ok(summary_of(*self->state.blast))); },
    [=](recipients_msg& m) {
      auto& b = *self->state.blast;
      recipient_page page;
      uint32_t id = std::max<uint32_t>(m.query.cursor, 1);
      for (; id <= b.size() && page.items.size() < m.query.limit; ++id)
        if (!m.query.only || b.funnel_of(id).current == *m.query.only)
          page.items.push_back(view_of(b, id));
      // Skip ahead so the cursor says whether another page exists.
      if (m.query.only)
        while (id <= b.size() && b.funnel_of(id).current != *m.query.only)
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
      if (!id)
        return;
      auto& slot = activate(self, rt, *id);
      ++slot.sent;
      status_evidence ev{m.update.observed, now_ms(), storage::event_source::manual,
                         std::move(m.update.note), {}};
      self->send(slot.handle, observe_msg{std::move(ev), std::move(m.reply)});
    },
    [=](synced_msg& s) { self->state.blast->set_funnel(s.recipient, s.state); },
    [=](idle_msg& i) {
      auto it = self->state.active.find(i.recipient);
      // Only when it has handled everything we sent: nothing is lost in its mailbox.
      if (it == self->state.active.end() || it->second.sent != i.processed)
        return;
      self->send_exit(it->second.handle, caf::exit_reason::normal);
      self->state.active.erase(it);
      --*rt.active_recipients;
    },
  };
}

} // namespace

caf::actor spawn_blast(caf::actor_system& sys, const runtime& rt,
                       std::shared_ptr<blast_state> state) {
  return sys.spawn(blast_actor, rt, std::move(state));
}

} // namespace blast::actors
