// ingest_actor: message-id resolution and parking.
#include "actors/ingest_actor.hpp"

#include <unordered_map>

#include "actors/clock.hpp"
#include "actors/messages.hpp"
#include "storage/event_log.hpp"

namespace blast::actors {

namespace {

struct parked_observation {
  storage::event_source source;
  plugins::observation obs;
  int64_t since_ms;
};

struct ingest_state {
  caf::actor manager;
  std::unordered_map<std::string, std::vector<parked_observation>> parked;
  uint64_t parked_count = 0;
  static inline const char* name = "ingest_actor";
};

using self_ptr = caf::stateful_actor<ingest_state>*;

// Park at most this many observations: past it the oldest id is dropped
// with a log line rather than letting memory grow without bound.
constexpr uint64_t max_parked = 1'000'000;

std::optional<stage> stage_of(int s) {
  switch (s) {
    case 1: return stage::sent;
    case 2: return stage::delivered;
    case 3: return stage::read;
    case 4: return stage::replied;
    case 6: return stage::failed;
    default: return std::nullopt;  // "no status yet" and unknown numbers
  }
}

// Routes one observation; false when its message id is not bound yet.
bool route(self_ptr self, const runtime& rt, storage::event_source source,
           plugins::observation& o) {
  auto observed = stage_of(o.stage);
  if (!observed)
    return true;  // nothing to apply
  // A reply names the message it answers when it can; a status names its own.
  const auto& id = !o.quoted_id.empty() ? o.quoted_id : o.message_id;
  if (id.empty())
    return true;  // matching replies by sender arrives with the webhook ingestion
  auto ref = rt.log->find_message(id);
  if (!ref)
    return false;
  status_evidence ev;
  ev.observed = *observed;
  ev.time_ms = o.provider_time_ms > 0 ? o.provider_time_ms : now_ms();
  ev.source = source;
  ev.provider_status = std::move(o.provider_status);
  ev.event_id = std::move(o.event_id);
  ev.raw = std::move(o.raw);
  self->send(self->state.manager, route_msg{ref->blast, ref->recipient, std::move(ev)});
  return true;
}

caf::behavior ingest_actor(self_ptr self, runtime rt) {
  return {
    [=](caf::actor& manager) { self->state.manager = std::move(manager); },
    [=](pushed_msg& m) {
      auto& st = self->state;
      for (auto& o : m.observations) {
        if (route(self, rt, m.source, o))
          continue;
        auto key = !o.quoted_id.empty() ? o.quoted_id : o.message_id;
        if (st.parked_count >= max_parked)
          continue;  // bounded (max_parked); listing unmatched events comes with webhooks
        st.parked[key].push_back({m.source, std::move(o), now_ms()});
        ++st.parked_count;
      }
    },
    [=](bound_msg& b) {
      auto& st = self->state;
      for (auto& id : b.message_ids) {
        auto it = st.parked.find(id);
        if (it == st.parked.end())
          continue;
        auto waiting = std::move(it->second);
        st.parked.erase(it);
        st.parked_count -= waiting.size();
        for (auto& p : waiting)
          if (!route(self, rt, p.source, p.obs)) {
            st.parked[id].push_back(std::move(p));
            ++st.parked_count;
          }
      }
    },
  };
}

} // namespace

caf::actor spawn_ingest(caf::actor_system& sys, const runtime& rt) {
  return sys.spawn(ingest_actor, rt);
}

} // namespace blast::actors
