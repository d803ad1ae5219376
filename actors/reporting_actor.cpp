// reporting_actor: O(1) funnel reports from counters.
#include "actors/reporting_actor.hpp"

#include <unordered_map>

#include "actors/clock.hpp"
#include "actors/messages.hpp"

namespace blast::actors {

namespace {

struct counters {
  uint64_t total = 0;
  std::array<uint64_t, stage_count> by_stage{};
};

struct reporting_state {
  std::unordered_map<uint64_t, counters> blasts;
  static inline const char* name = "reporting_actor";
};

caf::behavior reporting_actor(caf::stateful_actor<reporting_state>* self, size_t blasts) {
  self->state.blasts.reserve(blasts);
  return {
    [=](register_msg& r) { self->state.blasts[r.blast] = counters{r.total, r.counts}; },
    [=](transition_msg& t) {
      auto it = self->state.blasts.find(t.blast);
      if (it == self->state.blasts.end())
        return;
      --it->second.by_stage[static_cast<size_t>(t.from)];
      ++it->second.by_stage[static_cast<size_t>(t.to)];
    },
    [=](delta_msg& d) {
      auto it = self->state.blasts.find(d.blast);
      if (it == self->state.blasts.end())
        return;
      for (size_t i = 0; i < stage_count; ++i)
        it->second.by_stage[i] += static_cast<uint64_t>(d.delta[i]);
    },
    [=](report_msg& m) {
      auto it = self->state.blasts.find(m.blast);
      if (it == self->state.blasts.end()) {
        m.reply(result<report>::fail(errc::not_found,
                                     "no blast with id " + std::to_string(m.blast)));
        return;
      }
      m.reply(result<report>::ok({m.blast, it->second.total, it->second.by_stage, now_ms()}));
    },
  };
}

} // namespace

// Spawned with an argument, which also keeps CAF 0.17 off a path that is undefined behaviour:
// for a stateful actor spawned with none, init_fun_factory_helper binds a reference to a null
// shared_ptr<std::tuple<>>, which UBSan (tools/sanitize.sh, tools/fuzz.sh) stops at.
caf::actor spawn_reporting(caf::actor_system& sys, size_t blasts) {
  return sys.spawn(reporting_actor, blasts);
}

} // namespace blast::actors
