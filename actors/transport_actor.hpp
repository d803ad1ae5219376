// transport_actor: one per configured transport instance. Queues the sends of
// every blast using the transport, paces them (a token bucket for the rate
// limit, a cap on sends in flight, a pause when the provider says "slow down"),
// and runs the plugin's blocking calls on worker threads, never on actors'.
#pragma once

#include <memory>

#include <caf/fwd.hpp>

namespace blast::plugins {
class transport_instance;
}

namespace blast::actors {

struct transport_options;
struct transport_counters;
class worker_pool;

// Status look-ups (poll_msg) run on the same workers; their observations go
// to `ingest` as coming from the `poll` source. `counters` (owned by the
// service, outliving the actor) gets the queue depth and sends in flight.
caf::actor spawn_transport(caf::actor_system& sys, const transport_options& opts,
                           std::shared_ptr<plugins::transport_instance> instance,
                           std::shared_ptr<worker_pool> workers, caf::actor ingest,
                           transport_counters* counters);

} // namespace blast::actors
