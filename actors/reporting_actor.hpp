// reporting_actor: per-blast stage counters kept from committed transitions,
// so a report costs the same at 250 and at 1,000,000 recipients.
#pragma once

#include <caf/fwd.hpp>

namespace blast::actors {

caf::actor spawn_reporting(caf::actor_system& sys);

} // namespace blast::actors
