// A blast as a plain value: its definition, lifecycle status and the compact
// table of its recipients' funnels. It is the fold of the blast's events:
// replaying the log through apply() gives the state the running system has.
//
// Memory (the 1M-recipient design): per recipient 8 B phone + 56 B funnel +
// 8 B profile offset + the name/vars bytes + 12 B in the phone index.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "actors/funnel.hpp"
#include "storage/codec.hpp"
#include "storage/event.hpp"

namespace blast::actors {

enum class blast_status : uint8_t { pending = 0, scheduled = 1, sending = 2, completed = 3,
                                    paused = 4, cancelled = 5, failed = 6 };
const char* to_string(blast_status s);
std::optional<blast_status> blast_status_from_string(std::string_view s);

// Where a recipient's message is in the sending pipeline (not a funnel stage).
enum class send_state : uint8_t {
  none = 0,       // not requested yet
  requested = 1,  // handed to the transport, no outcome yet
  sent = 2,       // the provider accepted it (a message id exists)
  retrying = 3,   // the last attempt failed temporarily; another one will follow
  failed = 4,     // failed for good
  unknown = 5,    // requested before a crash with no outcome: maybe sent; never resent silently
};
constexpr size_t send_state_count = 6;
const char* to_string(send_state s);
std::optional<send_state> send_state_from_string(std::string_view s);

struct recipient_input {
  uint64_t phone = 0;     // normalised, see phone_number.hpp
  std::string name;       // may be empty
  std::string vars_json;  // a serialised JSON object, or empty
};

// What a client asked for, validated and normalised (numbers parsed).
struct blast_spec {
  std::string message;
  std::string tag;
  std::string transport;
  int64_t scheduled_ms = 0;  // 0 = send now
  std::vector<recipient_input> recipients;
};

struct blast_definition {
  uint64_t id = 0;
  std::string message;
  std::string tag;
  std::string transport;
  int64_t scheduled_ms = 0;
  int64_t created_ms = 0;
  uint32_t total = 0;               // recipients after de-duplication
  uint32_t duplicates_dropped = 0;  // entries dropped because their number repeated
};

class blast_state {
public:
  blast_definition def;
  blast_status status = blast_status::pending;

  uint32_t size() const { return static_cast<uint32_t>(phones_.size()); }
  // Recipient ids are 1-based positions in the blast's recipient list.
  bool valid(uint32_t id) const { return id >= 1 && id <= size(); }
  uint64_t phone(uint32_t id) const { return phones_[id - 1]; }
  const funnel& funnel_of(uint32_t id) const { return funnels_[id - 1]; }
  send_state sending(uint32_t id) const { return static_cast<send_state>(send_states_[id - 1]); }
  uint8_t attempts(uint32_t id) const { return attempts_[id - 1]; }
  std::string_view name(uint32_t id) const;
  std::string_view vars_json(uint32_t id) const;
  std::optional<uint32_t> find_phone(uint64_t phone) const;

  // Recipients per current stage (indexed by stage).
  const std::array<uint64_t, stage_count>& counts() const { return counts_; }
  // Recipients per send state (indexed by send_state).
  const std::array<uint64_t, send_state_count>& send_counts() const { return send_counts_; }

  // The fold. Returns false when the event's payload cannot be decoded (the
  // state is unchanged then). Events of other blasts must not be passed.
  bool apply(const storage::event& e);
  // The transition rule shared by replay and the live recipient actors.
  outcome apply_status(uint32_t id, stage observed, int64_t time_ms);
  // Adopts a funnel a recipient actor computed with the same rule, keeping
  // the per-stage counts right.
  void set_funnel(uint32_t id, const funnel& f);
  // The send-pipeline part of a recipient event's fold (apply() = this plus
  // the funnel evidence): for events a recipient actor committed.
  void apply_send_state(const storage::event& e);
  // After replaying the whole log: what was requested and never answered may
  // have been sent, so it becomes `unknown` (at most once: never resent silently).
  // Returns how many did.
  uint32_t finish_replay();

  // The state as bytes, for snapshots: load(save()) gives an equal state, and
  // equal states save to equal bytes, which is how a snapshot is checked
  // against a replay of the whole log.
  void save(std::string& out) const;
  // Replaces this state with what save() wrote at the front of `in`, and
  // consumes it; false (this state unspecified) when the bytes are damaged.
  bool load(storage::reader& in);

private:
  void add_recipient(uint64_t phone, std::string_view name, std::string_view vars);
  void build_index() const;

  void set_send_state(uint32_t id, send_state s);

  std::vector<uint64_t> phones_;
  std::vector<funnel> funnels_;
  std::vector<uint8_t> send_states_;
  std::vector<uint8_t> attempts_;
  std::vector<uint64_t> profile_end_;  // end offset of recipient i's profile in profiles_
  std::string profiles_;               // name '\0' vars_json, back to back
  std::array<uint64_t, stage_count> counts_{};
  std::array<uint64_t, send_state_count> send_counts_{};
  mutable std::vector<std::pair<uint64_t, uint32_t>> by_phone_;  // sorted lazily
  mutable bool index_dirty_ = false;
};

// Events that create a blast: blast_created, then recipients_added chunks of
// `chunk` recipients. Recipients repeating an earlier number are dropped here
// (first occurrence wins) and counted in the definition. They are committed
// together (one journal submission), so a blast exists whole or not at all.
std::vector<storage::event> make_blast_events(const blast_spec& spec, uint64_t id,
                                              int64_t now_ms, size_t chunk = 10000);

// The recipient_status event recording evidence and the funnel's decision.
struct status_evidence {
  stage observed = stage::pending;
  int64_t time_ms = 0;
  storage::event_source source = storage::event_source::manual;
  std::string note;             // free text from a manual update
  std::string provider_status;  // the provider's own status text, if any
  std::string event_id;         // the provider's event id, if any
  // Where the evidence was read from: a webhook's is in the log already (its
  // webhook_received event, by seq), so the status event names that event
  // instead of copying the fragment; a push's or a look-up's raw fragment is
  // logged nowhere else and goes into the status event.
  uint64_t webhook_seq = 0;     // the webhook_received event; 0 = none
  std::string raw;              // the raw fragment, when there is no webhook_seq
};
storage::event make_status_event(uint64_t blast, uint32_t recipient, const status_evidence& ev,
                                 stage from, stage to, outcome out);

// Decodes a recipient_status payload's observed stage; nullopt when malformed.
std::optional<stage> status_event_stage(const storage::event& e);

// The funnel evidence a recipient event carries: recipient_status → its
// stage, send_succeeded → sent, a final send_failed → failed; else nullopt.
std::optional<stage> funnel_evidence(const storage::event& e);

// Why a recipient failed, as its failure evidence says ("permanent: invalid
// number", "webhook reported failed: undeliverable"); empty for other events.
std::string failure_reason(const storage::event& e);

// The send pipeline's events. Text is the rendered message.
storage::event make_send_requested(uint64_t blast, uint32_t recipient, uint32_t attempt,
                                   const std::string& text, int64_t time_ms);
// `document` is the provider's exact response: it becomes the payload byte for byte.
storage::event make_send_succeeded(uint64_t blast, uint32_t recipient,
                                   const std::string& message_id, const std::string& document,
                                   int64_t time_ms);
storage::event make_send_failed(uint64_t blast, uint32_t recipient, uint32_t attempt,
                                const std::string& kind, const std::string& error, bool final,
                                int64_t retry_after_ms, int64_t time_ms);
storage::event make_blast_status(uint64_t blast, blast_status s, const std::string& reason,
                                 storage::event_source source, int64_t time_ms);

} // namespace blast::actors
