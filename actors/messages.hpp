// Messages between blastd's actors, and what every actor shares. Included only
// by actor implementation files: this is where CAF enters the actor layer.
//
// Messages carry their reply callback (the engine's continuation) instead of
// using request/response: CAF 0.17 keeps pending responses in a linear map
// (quadratic with many in flight), and a callback lets the journal's writer
// thread complete a request without a round trip through the requester.
#pragma once

#include <atomic>
#include <map>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <caf/all.hpp>

#include "actors/service.hpp"
#include "plugins/host/transport_plugin.hpp"
#include "storage/event.hpp"
#include "storage/status.hpp"

namespace blast::storage {
class event_log;
class journal;
} // namespace blast::storage

namespace blast::actors {

// A configured transport instance as the actors see it.
struct transport_entry {
  caf::actor handle;        // the transport actor; null for the built-in `manual`
  transport_counters* counters = nullptr;  // its /metrics figures; owned by the service
  uint32_t max_attempts = 5;
  int64_t retry_base_ms = 500;
  int64_t poll_interval_ms = 0;  // 0: no polling (or the plugin cannot look statuses up)
  int64_t poll_max_age_ms = 0;
};
using transport_map = std::map<std::string, transport_entry>;

// What every actor needs from the outside; owned by the service, outlives the
// actors. Copied into every actor: keep it small (pointers and handles).
struct runtime {
  storage::event_log* log = nullptr;
  storage::journal* journal = nullptr;
  caf::actor reporting;
  caf::actor ingest;
  std::shared_ptr<const transport_map> transports;
  int64_t passivate_after_ms = 10000;
  std::atomic<uint64_t>* active_recipients = nullptr;  // recipient actors alive now
  const counters_map* counters = nullptr;  // per transport, for /metrics; owned by the service
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
struct lifecycle_msg { uint64_t blast; lifecycle action; callback<blast_summary> reply; };
struct resend_msg { uint64_t blast; std::vector<send_state> states; callback<uint64_t> reply; };
// blast actor → manager: keeps the directory's status current for listings.
struct status_changed_msg { uint64_t blast; blast_status status; };

// The sending pipeline: blast actor → transport actor → blast actor.
// `vars` travels with the text so that a plugin can fill per-recipient fields (ABI 1.2).
struct send_item { uint32_t recipient; uint64_t phone; std::string text; uint32_t attempt;
                   std::string vars; };
struct send_batch_msg { caf::actor reply_to; uint64_t blast; std::vector<send_item> items; };
struct send_outcome { uint32_t recipient; uint32_t attempt; plugins::send_result result;
                      int64_t time_ms; };
struct send_results_msg { std::vector<send_outcome> outcomes; };
// Blast actor → transport actor on pause/cancel: drop its queued sends; the
// transport answers with the ones it had not handed to the plugin yet.
struct withdraw_msg { caf::actor blast_actor; };
struct withdrawn_msg { std::vector<send_item> items; };
// Blast actor → transport actor: look these messages' statuses up; the
// observations go to the ingest actor as a push from the `poll` source.
struct poll_item { std::string message_id; std::string document; };
struct poll_msg { std::vector<poll_item> items; };
// Worker thread → transport actor.
struct sends_done_msg { caf::actor reply_to; std::vector<send_outcome> outcomes; };

// Observations: transport (push) → ingest → manager → blast actor → recipient actor.
// webhook_seq: the webhook_received event they were read from (0: a push or a
// look-up), which their status events name instead of repeating the raw fragment.
struct pushed_msg { std::string transport; storage::event_source source;
                    std::vector<plugins::observation> observations; uint64_t webhook_seq = 0; };
// The webhooks one journal round made durable, in the order they were logged:
// one message (one wake-up of the ingest actor) per WAL sync, not per webhook.
struct pushed_batch_msg { std::vector<pushed_msg> parts; };
// A message the provider accepted: for matching unquoted replies by number.
struct sent_ref { uint64_t phone; uint64_t blast; uint32_t recipient; int64_t sent_ms; };
// These ids are now resolvable, and these numbers were messaged.
struct bound_msg { std::vector<std::string> message_ids; std::vector<sent_ref> sent; };
// Service → ingest at start-up: what the log says was applied and sent.
// applied_event_ids: fingerprints (storage::fingerprint) of the provider event ids applied.
struct ingest_seed_msg { std::vector<uint64_t> applied_event_ids; std::vector<sent_ref> sent; };
struct unmatched_msg { int64_t older_than_ms; callback<std::vector<unmatched_item>> reply; };
struct route_msg { uint64_t blast; uint32_t recipient; status_evidence evidence; };
// What one message of the ingest actor (a webhook, a push, a bound id) routed
// to one blast, in arrival order: one message per blast rather than one per
// status through the manager and again to the blast.
struct routes_msg { uint64_t blast; std::vector<route_msg> routes; };

// Events a blast actor writes for a recipient whose actor is active go
// through that actor, so each recipient has one writer at a time.
struct owned_event_msg { storage::event event; };
struct owned_committed_msg { storage::status st; storage::event event; };
// A batch the blast actor committed itself (its recipients were passivated).
struct blast_committed_msg { storage::status st; std::vector<storage::event> events;
                             std::function<void(const storage::status&)> then; };

// Blast actor ↔ recipient actor.
struct observe_msg { status_evidence evidence; callback<status_result> reply; };
struct synced_msg { uint32_t recipient; funnel state; };
struct idle_msg { uint32_t recipient; uint64_t processed; };

// → reporting actor.
struct register_msg { uint64_t blast; uint64_t total; std::array<uint64_t, stage_count> counts; };
struct transition_msg { uint64_t blast; stage from; stage to; };
struct delta_msg { uint64_t blast; std::array<int64_t, stage_count> delta; };
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
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(blast::actors::synced_msg)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(blast::actors::idle_msg)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(blast::actors::register_msg)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(blast::actors::transition_msg)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(blast::actors::report_msg)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(blast::actors::lifecycle_msg)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(blast::actors::resend_msg)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(blast::actors::status_changed_msg)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(blast::actors::send_batch_msg)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(blast::actors::send_results_msg)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(blast::actors::sends_done_msg)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(blast::actors::withdraw_msg)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(blast::actors::poll_msg)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(blast::actors::withdrawn_msg)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(blast::actors::pushed_msg)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(blast::actors::pushed_batch_msg)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(blast::actors::bound_msg)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(blast::actors::ingest_seed_msg)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(blast::actors::unmatched_msg)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(blast::actors::routes_msg)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(blast::actors::owned_event_msg)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(blast::actors::owned_committed_msg)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(blast::actors::blast_committed_msg)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(blast::actors::delta_msg)

CAF_BEGIN_TYPE_ID_BLOCK(blast, caf::first_custom_type_id)
  CAF_ADD_ATOM(blast, blast::actors, idle_atom, "idle")
  CAF_ADD_ATOM(blast, blast::actors, tick_atom, "tick")
  CAF_ADD_ATOM(blast, blast::actors, flush_atom, "flush")
  CAF_ADD_ATOM(blast, blast::actors, start_atom, "start")
  CAF_ADD_ATOM(blast, blast::actors, retry_atom, "retry")
  CAF_ADD_ATOM(blast, blast::actors, poll_atom, "poll")
  CAF_ADD_ATOM(blast, blast::actors, submit_atom, "submit")
CAF_END_TYPE_ID_BLOCK(blast)
