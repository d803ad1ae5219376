// Messages between blastd's actors, and what every actor shares. Included only
// by actor implementation files: this is where CAF enters the actor layer.
//
// Messages carry their reply callback (the engine's continuation) instead of
// using request/response: CAF 0.17 keeps pending responses in a linear map
// (quadratic with many in flight), and a callback lets the journal's writer
// thread complete a request without a round trip through the requester.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <caf/all.hpp>

#include "actors/service.hpp"
#include "storage/event.hpp"
#include "storage/status.hpp"

namespace blast::storage {
class event_log;
class journal;
} // namespace blast::storage

namespace blast::actors {

// What every actor needs from the outside; owned by the service, outlives the actors.
struct runtime {
  storage::event_log* log = nullptr;
  storage::journal* journal = nullptr;
  caf::actor reporting;
  int64_t passivate_after_ms = 30000;
  std::atomic<uint64_t>* active_recipients = nullptr;  // recipient actors alive now
};

using events_ptr = std::shared_ptr<std::vector<storage::event>>;

// Engine → manager → blast actor.
struct create_msg { events_ptr events; callback<blast_summary> reply; };
struct list_msg { blast_filter filter; callback<std::vector<blast_summary>> reply; };
struct get_msg { uint64_t blast; callback<blast_summary> reply; };
struct recipients_msg { uint64_t blast; recipient_query query; callback<recipient_page> reply; };
struct recipient_msg { uint64_t blast; std::string ref; callback<recipient_detail> reply; };
struct update_msg { uint64_t blast; std::string ref; status_update update;
                    callback<status_result> reply; };
struct stats_msg { callback<service_stats> reply; };

// Blast actor ↔ recipient actor.
struct observe_msg { status_evidence evidence; callback<status_result> reply; };
struct committed_msg { storage::status st; funnel next; outcome out; stage from;
                       callback<status_result> reply; };
struct synced_msg { uint32_t recipient; funnel state; };
struct idle_msg { uint32_t recipient; uint64_t processed; };

// → reporting actor.
struct register_msg { uint64_t blast; uint64_t total; std::array<uint64_t, stage_count> counts; };
struct transition_msg { uint64_t blast; stage from; stage to; };
struct report_msg { uint64_t blast; callback<report> reply; };

} // namespace blast::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(blast::actors::create_msg)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(blast::actors::list_msg)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(blast::actors::get_msg)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(blast::actors::recipients_msg)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(blast::actors::recipient_msg)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(blast::actors::update_msg)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(blast::actors::stats_msg)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(blast::actors::observe_msg)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(blast::actors::committed_msg)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(blast::actors::synced_msg)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(blast::actors::idle_msg)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(blast::actors::register_msg)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(blast::actors::transition_msg)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(blast::actors::report_msg)

CAF_BEGIN_TYPE_ID_BLOCK(blast, caf::first_custom_type_id)
  CAF_ADD_ATOM(blast, blast::actors, idle_atom, "idle")
CAF_END_TYPE_ID_BLOCK(blast)
