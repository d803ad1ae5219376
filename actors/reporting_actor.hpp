// reporting_actor: per-blast stage counters kept from committed transitions,
// so a report costs the same at 250 and at 1,000,000 recipients.
#pragma once

#include <cstddef>

#include <caf/fwd.hpp>

namespace blast::actors {

// `blasts`: how many blasts start-up recovered (their counters are registered next).
caf::actor spawn_reporting(caf::actor_system& sys, size_t blasts);

} // namespace blast::actors
