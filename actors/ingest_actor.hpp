// ingest_actor: turns observations from transports (pushes now; webhooks and
// polls later) into evidence for the right recipient. It resolves provider
// message ids through the log's message-id index, and parks observations whose
// id is not bound yet (the status raced the send's response) until it is.
#pragma once

#include <caf/fwd.hpp>

namespace blast::actors {

struct runtime;

// The manager arrives as the first message (a caf::actor): the manager's own
// runtime names this actor, so it is spawned first.
caf::actor spawn_ingest(caf::actor_system& sys, const runtime& rt);

} // namespace blast::actors
