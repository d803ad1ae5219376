// blast_manager: the directory of blasts.
#include "actors/blast_manager.hpp"

#include "actors/blast_actor.hpp"
#include "actors/messages.hpp"

namespace blast::actors {

namespace {

struct entry {
  caf::actor handle;
  blast_definition def;
  blast_status status = blast_status::pending;
};

struct manager_state {
  std::map<uint64_t, entry> blasts;
  static inline const char* name = "blast_manager";
};

using self_ptr = caf::stateful_actor<manager_state>*;

template <class Msg, class T>
void route(self_ptr self, Msg& m, uint64_t blast, callback<T>& reply) {
  auto it = self->state.blasts.find(blast);
  if (it == self->state.blasts.end()) {
    reply(result<T>::fail(errc::not_found, "no blast with id " + std::to_string(blast)));
    return;
  }
  self->send(it->second.handle, std::move(m));
}

caf::behavior blast_manager(self_ptr self, runtime rt,
                            std::map<uint64_t, std::shared_ptr<blast_state>> recovered) {
  // Linked, so that a shutdown of the manager takes every blast actor with it.
  auto spawn_linked = [=](std::shared_ptr<blast_state> b) {
    auto h = spawn_blast(self->system(), rt, caf::actor_cast<caf::actor>(self), std::move(b));
    self->link_to(h);
    return h;
  };
  for (auto& [id, b] : recovered)
    self->state.blasts.emplace(id, entry{spawn_linked(b), b->def, b->status});
  return {
    [=](create_msg& m) {
      // The definition comes from the first event; the recipients are folded
      // by the new blast actor itself, off this actor's thread.
      blast_state head;
      if (m.events->empty() || !head.apply(m.events->front())) {
        m.reply(result<blast_summary>::fail(errc::unavailable, "blast events undecodable"));
        return;
      }
      auto handle = spawn_linked(std::make_shared<blast_state>());
      self->state.blasts[head.def.id] = entry{handle, head.def, head.status};
      self->send(handle, std::move(m));
    },
    [=](list_msg& m) {
      std::vector<blast_summary> out;
      for (auto& [id, e] : self->state.blasts) {
        if (!m.filter.tag.empty() && e.def.tag != m.filter.tag)
          continue;
        if (m.filter.status && e.status != *m.filter.status)
          continue;
        out.push_back({e.def, e.status, {}});
      }
      m.reply(result<std::vector<blast_summary>>::ok(std::move(out)));
    },
    [=](get_msg& m) { route(self, m, m.blast, m.reply); },
    [=](recipients_msg& m) { route(self, m, m.blast, m.reply); },
    [=](recipient_msg& m) { route(self, m, m.blast, m.reply); },
    [=](update_msg& m) { route(self, m, m.blast, m.reply); },
    [=](lifecycle_msg& m) { route(self, m, m.blast, m.reply); },
    [=](resend_msg& m) { route(self, m, m.blast, m.reply); },
    [=](routes_msg& m) {
      auto it = self->state.blasts.find(m.blast);
      if (it != self->state.blasts.end())
        self->send(it->second.handle, std::move(m));
    },
    [=](status_changed_msg& m) {
      auto it = self->state.blasts.find(m.blast);
      if (it != self->state.blasts.end())
        it->second.status = m.status;
    },
    [=](stats_msg& m) {
      service_stats s;
      s.blasts = self->state.blasts.size();
      for (auto& [id, e] : self->state.blasts)
        s.recipients += e.def.total;
      m.reply(result<service_stats>::ok(s));
    },
  };
}

} // namespace

caf::actor spawn_blast_manager(caf::actor_system& sys, const runtime& rt,
                               std::map<uint64_t, std::shared_ptr<blast_state>> recovered) {
  return sys.spawn(blast_manager, rt, std::move(recovered));
}

} // namespace blast::actors
