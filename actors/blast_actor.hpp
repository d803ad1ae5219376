// blast_actor: owns one blast — its definition, lifecycle status and the
// compact recipient table — and activates recipient actors on demand.
#pragma once

#include <memory>

#include <caf/fwd.hpp>

namespace blast::actors {

struct runtime;
class blast_state;

// Spawns the actor of a blast. `state` is either folded already (recovery:
// sending resumes at once) or empty, to be folded from the create_msg the
// manager forwards first. Status changes are reported to `manager`.
caf::actor spawn_blast(caf::actor_system& sys, const runtime& rt, caf::actor manager,
                       std::shared_ptr<blast_state> state);

} // namespace blast::actors
