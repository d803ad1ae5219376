// recipient_actor: one recipient's funnel state machine while it is active.
// Activated by its blast actor on the first observation, passivated when idle
// (its state lives on in the blast's table and the log): the virtual-actor pattern.
#pragma once

#include <cstdint>
#include <string>

#include <caf/fwd.hpp>

#include "actors/funnel.hpp"

namespace blast::actors {

struct runtime;

struct recipient_identity {
  uint64_t blast = 0;
  uint32_t id = 0;
  uint64_t phone = 0;
  std::string name;
};

// Spawns (lazily scheduled) an actor holding `state`. It reports every
// committed change to `parent` (synced_msg) and asks to be passivated with an
// idle_msg once it has been idle for the runtime's passivation delay.
caf::actor spawn_recipient(caf::actor_system& sys, const runtime& rt, caf::actor parent,
                           recipient_identity who, funnel state);

} // namespace blast::actors
