// The actor layer as the engine sees it: a CAF-free facade whose calls are
// asynchronous messages to the actors, answered through callbacks. Keeping CAF
// out of this header keeps it out of the HTTP layer's translation units.
//
// Threading: every method may be called from any thread and returns at once.
// Each callback is called exactly once, on an actor or journal thread; it must
// not block.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "actors/blast_state.hpp"
#include "actors/counters.hpp"
#include "actors/funnel.hpp"
#include "storage/event.hpp"
#include "storage/histogram.hpp"

namespace blast::actors {

enum class errc : uint8_t {
  not_found = 1,    // no such blast or recipient
  invalid = 2,      // the request contradicts the state (e.g. an unknown transport)
  unavailable = 3,  // storage failed; nothing was acknowledged
  busy = 4,         // the journal queue is full; try again later
  conflict = 5,     // not possible in the blast's current status (e.g. resume a completed blast)
  unauthorized = 6, // a webhook's signature did not verify; nothing was logged
  rejected = 7,     // a signed webhook whose body did not parse; kept in the rejected list
};

enum class lifecycle : uint8_t { pause = 1, resume = 2, cancel = 3 };

struct error {
  errc code = errc::not_found;
  std::string message;
};

template <class T>
struct result {
  std::optional<T> value;
  error err;
  static result ok(T v) { return {std::move(v), {}}; }
  static result fail(errc c, std::string msg) { return {std::nullopt, {c, std::move(msg)}}; }
};
template <class T>
using callback = std::function<void(result<T>)>;

struct blast_summary {
  blast_definition def;
  blast_status status = blast_status::pending;
  std::array<uint64_t, stage_count> counts{};  // recipients per current stage
  std::array<uint64_t, send_state_count> sending{};  // recipients per send state
};

struct blast_filter {
  std::string tag;                     // empty = any
  std::optional<blast_status> status;  // nullopt = any
};

struct report {
  uint64_t blast = 0;
  uint64_t total = 0;
  std::array<uint64_t, stage_count> counts{};
  int64_t calculated_ms = 0;
};

struct recipient_view {
  uint32_t id = 0;
  uint64_t phone = 0;
  std::string name;
  std::string vars_json;  // serialised JSON object, or empty
  funnel state;
  send_state sending = send_state::none;
  uint8_t attempts = 0;
};

struct recipient_query {
  std::optional<stage> only;  // nullopt = every stage
  std::optional<send_state> only_sending;  // nullopt = every send state
  // With `only`: just those at that stage for longer than this (time in
  // stage, measured at `now_ms`; a pending recipient is in its stage since the
  // blast was created). 0 = any time.
  int64_t in_stage_longer_than_ms = 0;
  int64_t now_ms = 0;
  uint32_t limit = 100;
  uint32_t cursor = 1;        // first recipient id to consider
};

struct recipient_page {
  std::vector<recipient_view> items;
  uint32_t next_cursor = 0;  // 0 = no more
};

// A recipient as exported (CSV): its view and what its events say besides.
struct export_row {
  recipient_view view;
  std::string message_id;  // of the last accepted send, if any
  std::string failure;     // why it failed, when its stage is failed
};

struct export_page {
  std::vector<export_row> rows;
  uint32_t next_cursor = 0;  // 0 = no more
};

// A report as recorded by POST /api/blasts/{id}/reports.
struct stored_report {
  uint64_t seq = 0;     // its event in the log
  int64_t time_ms = 0;  // when it was recorded
  std::string body;     // the report JSON, as it was served
};

struct history_entry {
  uint64_t seq = 0;
  storage::event_type type = storage::event_type::recipient_status;
  storage::event_source source = storage::event_source::manual;
  int64_t time_ms = 0;
  std::string message_id;
  std::string payload;  // the event's JSON payload, verbatim
};

struct recipient_detail {
  recipient_view view;
  std::string message_data;  // the provider's exact send document (JSON), empty if none
  std::vector<history_entry> history;
};

struct status_update {
  stage observed = stage::pending;
  std::string note;
};

struct status_result {
  recipient_view view;
  outcome out = outcome::duplicate;
  stage from = stage::pending;
};

// A transport instance from the configuration: its name, its plugin, the
// host's own settings, and the rest of its JSON object for the plugin.
struct transport_options {
  std::string name;
  std::string plugin;             // file blast_<plugin>.so in the plugin folder
  std::string plugin_config = "{}";
  double rate_per_second = 0;     // 0 = unlimited
  uint32_t max_in_flight = 256;   // sends handed to the plugin at once
  uint32_t workers = 4;           // threads that run the plugin's blocking calls
  uint32_t max_attempts = 5;      // per recipient, for retryable errors
  int64_t retry_base_ms = 500;    // first backoff; doubles per attempt, with jitter
  int64_t poll_interval_ms = 0;   // status polling of sent, unread messages; 0 = off
  int64_t poll_max_age_ms = 7 * 86'400'000LL;  // stop polling a message this old
  // POST /webhooks/{name} rate limit (a token bucket), enforced by the HTTP
  // router before the service sees the request; 0 = unlimited.
  double webhook_rate_per_second = 0;
  double webhook_burst = 0;  // 0 = one second's worth
};

// A webhook as received: handed verbatim to the transport's plugin.
struct webhook_input {
  std::string method;
  std::string path;
  std::string query;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

// The HTTP reply a plugin chose for a request it answers itself (ABI 1.1 answer_webhook,
// e.g. a verification handshake): sent as is, nothing logged.
struct webhook_reply {
  int status = 200;
  std::string content_type;  // empty: text/plain
  std::string body;
};

struct webhook_outcome {
  uint64_t seq = 0;           // the log entry holding the raw webhook
  uint64_t observations = 0;  // what the plugin read from it
  std::optional<webhook_reply> reply;  // set: the plugin answered the request itself
};

// An observation that could not be applied yet (its message id is unknown) or
// at all (a reply from a number no blast messaged): listed, never dropped.
struct unmatched_item {
  std::string transport;
  std::string reason;
  std::string message_id;
  std::string sender;
  stage observed = stage::pending;
  std::string provider_status;
  std::string event_id;
  int64_t since_ms = 0;
  std::string raw;
  uint64_t webhook_seq = 0;  // the logged webhook it came from; 0 = a push or a look-up
};

// A webhook as the log holds it: what status events from it name by seq.
struct logged_webhook {
  uint64_t seq = 0;
  int64_t time_ms = 0;    // when it was received
  bool accepted = true;   // false: its body did not parse (webhook_rejected)
  std::string payload;    // the logged JSON: transport, method, path, query, headers, body, …
};

struct rejected_webhook {
  uint64_t seq = 0;
  std::string transport;
  int64_t time_ms = 0;
  std::string error;
  std::string body;
};

struct service_options {
  std::string data_dir = "./data";
  std::string plugin_dir = "./build/plugins";
  std::vector<transport_options> transports;  // besides the built-in `manual`
  std::string default_transport = "manual";
  size_t threads = 2;                  // CAF scheduler threads
  int64_t passivate_after_ms = 10000;  // an idle recipient actor exits after this
  bool sync = true;                    // WAL fsync per group commit (tests may turn it off)
  int64_t reapply_webhooks_ms = 3'600'000;  // webhooks this recent are re-applied at start-up
  // A state snapshot is written once the log has grown this much past the
  // last one, so that start-up replays at most about this many events; 0 = no
  // snapshots (start-up replays the whole log).
  uint64_t snapshot_every_events = 1'000'000;
  // The journal's queue bound (storage::journal_options::max_queued_events):
  // past it writes fail at once with errc::busy instead of queueing memory.
  size_t journal_max_queued_events = 1 << 20;
  // Where plugins' log lines go (level: 0 error .. 3 debug); default stderr.
  std::function<void(int level, const std::string& message)> log;
};

struct startup_stats {
  uint64_t snapshot_seq = 0;     // the snapshot start-up began from; 0 = none
  uint64_t events_replayed = 0;  // events folded after it
  uint64_t blasts = 0;
  uint64_t recipients = 0;
  double replay_seconds = 0;
  uint64_t webhooks_reapplied = 0;
};

// One transport instance's figures, read from its counters.
struct transport_stats {
  std::string name;
  std::array<uint64_t, webhook_tally_count> webhook_events{};  // by webhook_tally
  std::array<uint64_t, send_tally_count> sends{};              // by send_tally
  uint64_t queued = 0;     // sends waiting for the rate limit or the in-flight cap
  uint64_t in_flight = 0;  // sends in the plugin's hands
};

// Whether the log takes appends; when not, every write answers 503.
struct storage_health {
  bool ok = true;
  std::string error;  // when not ok: why, as the writes are told
};

struct service_stats {
  uint64_t blasts = 0;
  uint64_t recipients = 0;  // in every blast: each one a recipient actor, active or passivated
  uint64_t active_recipient_actors = 0;
  uint64_t journal_commits = 0;
  uint64_t journal_events = 0;
  uint64_t journal_failed_commits = 0;  // appends that failed (disk full, I/O error)
  uint64_t journal_refused = 0;         // submissions refused at once while storage was down
  uint64_t journal_recoveries = 0;      // times storage came back after a failure
  uint64_t journal_queued_events = 0;
  storage::histogram::snapshot journal_batch_events;  // events per group commit
  storage::histogram::snapshot journal_sync_seconds;  // per append (WriteBatch + WAL sync)
  storage_health storage;
  uint64_t last_seq = 0;
  uint64_t log_level0_files = 0;  // compaction debt: see event_log::level0_files
  uint64_t log_index_lag = 0;     // events not indexed yet: see event_log::index_lag
  uint64_t snapshot_seq = 0;  // of the latest state snapshot; 0 = none yet
  std::vector<transport_stats> transports;  // every transport instance, `manual` included
};

class service {
public:
  // Opens the log, rebuilds every blast from it, then starts the actors.
  // Returns nullptr and sets `error` when start-up fails.
  static std::unique_ptr<service> start(const service_options& opts, std::string& error);
  virtual ~service() = default;

  virtual const startup_stats& startup() const = 0;
  virtual const std::vector<std::string>& transports() const = 0;

  virtual void create_blast(blast_spec spec, callback<blast_summary> cb) = 0;
  virtual void list_blasts(blast_filter filter, callback<std::vector<blast_summary>> cb) = 0;
  virtual void get_blast(uint64_t blast, callback<blast_summary> cb) = 0;
  virtual void get_report(uint64_t blast, callback<report> cb) = 0;
  // The report as it stood at `at_ms`: a fold of the blast's events logged by
  // then (the live report stays O(1); this one reads the log, off the actors).
  virtual void report_at(uint64_t blast, int64_t at_ms, callback<report> cb) = 0;
  // Records a rendered report of the blast as an event; the caller rendered
  // it from get_report(), which also established that the blast exists.
  virtual void record_report(uint64_t blast, std::string body, callback<stored_report> cb) = 0;
  // The recorded reports, newest first; not_found when the blast does not exist.
  virtual void list_reports(uint64_t blast, callback<std::vector<stored_report>> cb) = 0;
  virtual void list_recipients(uint64_t blast, recipient_query q,
                               callback<recipient_page> cb) = 0;
  // A page of list_recipients() with each recipient's message id and failure
  // reason read from the log (one range scan per page, off the actors).
  virtual void export_recipients(uint64_t blast, recipient_query q, callback<export_page> cb) = 0;
  // `ref` is a recipient id or a phone number (a phone number wins; see README).
  virtual void get_recipient(uint64_t blast, std::string ref, callback<recipient_detail> cb) = 0;
  virtual void update_status(uint64_t blast, std::string ref, status_update u,
                             callback<status_result> cb) = 0;
  virtual void get_stats(callback<service_stats> cb) = 0;
  // At once, on the caller's thread (no actor involved): for /healthz.
  virtual storage_health health() const = 0;
  virtual void change_lifecycle(uint64_t blast, lifecycle action, callback<blast_summary> cb) = 0;
  // Sends again to recipients in `states` (unknown, failed) that have no
  // evidence of having received the message; answers how many.
  virtual void resend(uint64_t blast, std::vector<send_state> states, callback<uint64_t> cb) = 0;

  // Verifies and parses a webhook with its transport's plugin; logs the raw
  // webhook durably, answers, then applies its observations. Errors:
  // not_found (no such transport, or it takes no webhooks), unauthorized
  // (signature; nothing logged), rejected (malformed; logged as rejected).
  // A request other than POST is first offered to the plugin's answer_webhook:
  // if it answers, the outcome carries its reply and nothing is logged.
  virtual void ingest_webhook(std::string transport, webhook_input in,
                              callback<webhook_outcome> cb) = 0;
  virtual void list_unmatched(int64_t older_than_ms, callback<std::vector<unmatched_item>> cb) = 0;
  virtual void list_rejected(callback<std::vector<rejected_webhook>> cb) = 0;
  // The logged webhook at `seq`, accepted or rejected; not_found for any other seq.
  virtual void get_webhook(uint64_t seq, callback<logged_webhook> cb) = 0;

  // Stops accepting work, lets in-flight commits finish, flushes the journal.
  virtual void stop() = 0;
};

} // namespace blast::actors
