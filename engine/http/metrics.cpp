// Prometheus text rendering of blastd's figures, and the server's own.
#include "engine/http/metrics.hpp"

#include <algorithm>
#include <cstdio>
#include <vector>

#include "engine/http/static_files.hpp"

namespace blast::engine::http {

namespace {

// Index = the route's number in the counters; the names are the labels.
constexpr std::array<const char*, http_metrics::route_count> route_names = {
  "other",
  "/healthz",
  "/metrics",
  "/api/blasts",
  "/api/blasts/{id}",
  "/api/blasts/{id}/report",
  "/api/blasts/{id}/report/stream",
  "/api/blasts/{id}/reports",
  "/api/blasts/{id}/recipients",
  "/api/blasts/{id}/recipients.csv",
  "/api/blasts/{id}/pause",
  "/api/blasts/{id}/resume",
  "/api/blasts/{id}/cancel",
  "/api/blasts/{id}/resend",
  "/api/blasts/{id}/recipients/{recipient}",
  "/api/blasts/{id}/recipients/{recipient}/status",
  "/webhooks/{transport}",
  "/api/unmatched",
  "/api/webhooks/rejected",
  "/api/webhooks/{seq}",
  "/{asset}",  // the dashboard's files
};

constexpr std::array<const char*, http_metrics::method_count> method_names = {
  "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "other"};

// The statuses blastd (or a plugin answering a webhook) is likely to send;
// any other counts under its class.
constexpr std::array<unsigned, http_metrics::status_count - 5> known_statuses = {
  200, 201, 202, 204, 206, 301, 302, 304, 400, 401, 403, 404, 405, 408, 409,
  410, 411, 413, 414, 415, 416, 422, 429, 431, 500, 501, 502, 503, 504};

size_t route_index(std::string_view route) {
  for (size_t i = 0; i < route_names.size(); ++i)
    if (route == route_names[i])
      return i;
  return 0;
}

size_t method_index(std::string_view m) {
  for (size_t i = 0; i + 1 < method_names.size(); ++i)
    if (m == method_names[i])
      return i;
  return method_names.size() - 1;
}

size_t status_index(unsigned status) {
  for (size_t i = 0; i < known_statuses.size(); ++i)
    if (status == known_statuses[i])
      return i;
  unsigned cls = std::clamp(status / 100, 1u, 5u);
  return known_statuses.size() + cls - 1;
}

std::string status_label(size_t index) {
  if (index < known_statuses.size())
    return std::to_string(known_statuses[index]);
  return std::to_string(index - known_statuses.size() + 1) + "xx";
}

std::string number(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.10g", v);
  return buf;
}

// A label value: backslash, double quote and line feed escaped.
std::string quoted(std::string_view v) {
  std::string out = "\"";
  for (char c : v) {
    if (c == '\\' || c == '"')
      out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  out += '"';
  return out;
}

void family(std::string& out, const char* name, const char* type, const char* help) {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += help;
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

void sample(std::string& out, const char* name, const std::string& labels, const std::string& v) {
  out += name;
  if (!labels.empty())
    out += "{" + labels + "}";
  out += ' ';
  out += v;
  out += '\n';
}

void single(std::string& out, const char* name, const char* type, const char* help, uint64_t v) {
  family(out, name, type, help);
  sample(out, name, {}, std::to_string(v));
}

// A per-transport counter by outcome: one sample per transport and outcome,
// the outcome named by its enum's to_string.
template <class Tally, size_t N>
void outcome_samples(std::string& out, const char* name,
                     const std::vector<actors::transport_stats>& transports,
                     std::array<uint64_t, N> actors::transport_stats::*counts) {
  for (auto& t : transports)
    for (size_t i = 0; i < N; ++i)
      sample(out, name,
             "transport=" + quoted(t.name) +
               ",outcome=" + quoted(actors::to_string(static_cast<Tally>(i))),
             std::to_string((t.*counts)[i]));
}

// The samples of one histogram: cumulative buckets, +Inf equal to _count.
void histogram_samples(std::string& out, const std::string& name, const std::string& labels,
                       const storage::histogram::snapshot& h) {
  std::string sep = labels.empty() ? "" : ",";
  uint64_t cumulative = 0;
  for (size_t i = 0; i < h.buckets.size(); ++i) {
    cumulative += h.buckets[i];
    auto le = i < h.bounds.size() ? number(h.bounds[i]) : std::string("+Inf");
    sample(out, (name + "_bucket").c_str(), labels + sep + "le=" + quoted(le),
           std::to_string(cumulative));
  }
  sample(out, (name + "_sum").c_str(), labels, number(h.sum));
  sample(out, (name + "_count").c_str(), labels, std::to_string(cumulative));
}

} // namespace

std::string_view route_of(std::string_view target) {
  auto path = target.substr(0, target.find('?'));
  std::vector<std::string_view> segs;
  size_t pos = 1;
  if (path.empty() || path[0] != '/')
    return route_names[0];
  while (pos <= path.size()) {
    auto next = path.find('/', pos);
    if (next == std::string_view::npos)
      next = path.size();
    segs.push_back(path.substr(pos, next - pos));
    pos = next + 1;
  }
  if (!segs.empty() && segs.back().empty())
    segs.pop_back();  // a trailing slash, as the router tolerates it
  // "*" matches any one segment.
  auto is = [&](std::initializer_list<std::string_view> p) {
    if (p.size() != segs.size())
      return false;
    size_t i = 0;
    for (auto s : p) {
      if (s != "*" && segs[i] != s)
        return false;
      ++i;
    }
    return true;
  };
  if (is({"healthz"}))
    return route_names[1];
  if (is({"metrics"}))
    return route_names[2];
  if (is({"api", "blasts"}))
    return route_names[3];
  if (segs.size() >= 3 && segs[0] == "api" && segs[1] == "blasts") {
    if (segs.size() == 3)
      return route_names[4];
    if (segs.size() == 4) {
      // /api/blasts/{id}/report … /resend: the template's last segment is the path's.
      for (size_t i = 5; i <= 13; ++i) {
        std::string_view name = route_names[i];
        if (i != 6 && name.substr(name.rfind('/') + 1) == segs[3])
          return route_names[i];
      }
      return route_names[0];
    }
    if (is({"api", "blasts", "*", "report", "stream"}))
      return route_names[6];
    if (is({"api", "blasts", "*", "recipients", "*"}))
      return route_names[14];
    if (is({"api", "blasts", "*", "recipients", "*", "status"}))
      return route_names[15];
    return route_names[0];
  }
  if (is({"webhooks", "*"}))
    return route_names[16];
  if (is({"api", "unmatched"}))
    return route_names[17];
  if (is({"api", "webhooks", "rejected"}))
    return route_names[18];
  if (is({"api", "webhooks", "*"}))
    return route_names[19];
  if (find_embedded(path))
    return route_names[20];
  return route_names[0];
}

http_metrics::http_metrics()
  : requests_(new std::atomic<uint64_t>[route_count * method_count * status_count]) {
  for (size_t i = 0; i < route_count * method_count * status_count; ++i)
    requests_[i].store(0, std::memory_order_relaxed);
  for (auto& h : durations_)
    h = std::make_unique<storage::histogram>(storage::latency_buckets());
}

void http_metrics::record(std::string_view method, std::string_view target, unsigned status,
                          double seconds) {
  auto route = route_index(route_of(target));
  auto i = (route * method_count + method_index(method)) * status_count + status_index(status);
  requests_[i].fetch_add(1, std::memory_order_relaxed);
  durations_[route]->observe(seconds);
}

void http_metrics::render(std::string& out) const {
  if (connections_)
    single(out, "blastd_http_connections", "gauge",
           "Open HTTP connections (against maxConnections).", connections_->load());
  family(out, "blastd_http_requests_total", "counter",
         "HTTP requests answered, by route template, method and status.");
  for (size_t r = 0; r < route_count; ++r)
    for (size_t m = 0; m < method_count; ++m)
      for (size_t s = 0; s < status_count; ++s)
        // Only what happened: the full cross product would be thousands of zeros.
        if (auto v = requests_[(r * method_count + m) * status_count + s].load(
              std::memory_order_relaxed))
          sample(out, "blastd_http_requests_total",
                 "route=" + quoted(route_names[r]) + ",method=" + quoted(method_names[m]) +
                   ",status=" + quoted(status_label(s)),
                 std::to_string(v));
  family(out, "blastd_http_request_duration_seconds", "histogram",
         "Time from a request read to its answer handed to the socket (a stream: to its "
         "head), by route template.");
  for (size_t r = 0; r < route_count; ++r) {
    auto h = durations_[r]->read();
    if (h.count() > 0)
      histogram_samples(out, "blastd_http_request_duration_seconds",
                        "route=" + quoted(route_names[r]), h);
  }
}

std::string render_metrics(const actors::service_stats& s, const http_metrics& http) {
  std::string out;
  single(out, "blastd_blasts", "gauge", "Blasts known to the engine.", s.blasts);
  single(out, "blastd_recipient_actors_active", "gauge",
         "Recipient actors activated and not yet passivated.", s.active_recipient_actors);
  family(out, "blastd_recipient_actors", "gauge",
         "Recipients (virtual actors) by state: active (an actor in memory) or passivated "
         "(a row in its blast's table).");
  sample(out, "blastd_recipient_actors", "state=\"active\"",
         std::to_string(s.active_recipient_actors));
  sample(out, "blastd_recipient_actors", "state=\"passivated\"",
         std::to_string(s.recipients > s.active_recipient_actors
                          ? s.recipients - s.active_recipient_actors
                          : 0));

  single(out, "blastd_journal_commits_total", "counter",
         "Group commits (one WAL sync each, for one or more WriteBatches).", s.journal_commits);
  single(out, "blastd_journal_events_total", "counter", "Events committed by the journal.",
         s.journal_events);
  single(out, "blastd_journal_queued_events", "gauge",
         "Events submitted to the journal and not yet answered.", s.journal_queued_events);
  single(out, "blastd_journal_failed_commits_total", "counter",
         "Writes and syncs that failed (disk full, I/O error); their submitters got 503.",
         s.journal_failed_commits);
  single(out, "blastd_journal_refused_total", "counter",
         "Submissions refused at once while storage was unavailable.", s.journal_refused);
  family(out, "blastd_journal_batch_events", "histogram", "Events per group commit.");
  histogram_samples(out, "blastd_journal_batch_events", {}, s.journal_batch_events);
  family(out, "blastd_journal_sync_seconds", "histogram",
         "Time of each group commit's WAL sync (its batches were written meanwhile).");
  histogram_samples(out, "blastd_journal_sync_seconds", {}, s.journal_sync_seconds);
  single(out, "blastd_storage_available", "gauge",
         "1 while the log takes appends; 0 after a write failed, until it recovers.",
         s.storage.ok ? 1 : 0);
  single(out, "blastd_storage_recoveries_total", "counter",
         "Times the log took appends again after a failure, without a restart.",
         s.journal_recoveries);
  single(out, "blastd_log_last_seq", "gauge", "Sequence number of the last event in the log.",
         s.last_seq);
  single(out, "blastd_log_level0_files", "gauge",
         "Table files in level 0 across the log's column families: each memtable flush adds "
         "one until a compaction merges them (RocksDB slows a column family's writes at 20 of "
         "its own); compactions wait while start-up replays the log.",
         s.log_level0_files);
  single(out, "blastd_log_index_lag_events", "gauge",
         "Events committed to the log whose stream and message-id index entries are not "
         "written yet (the indexer's queue): a few hundred under load; growing while the "
         "index cannot be written, when reads of streams fall back to the log.",
         s.log_index_lag);
  single(out, "blastd_snapshot_seq", "gauge",
         "Sequence number the latest state snapshot covers (start-up replays the rest).",
         s.snapshot_seq);

  family(out, "blastd_webhook_events_total", "counter",
         "Observations from webhooks by what became of them (applied, duplicate, parked, "
         "unmatched, ignored); rejected counts whole webhooks (bad signature or body).");
  outcome_samples<actors::webhook_tally>(out, "blastd_webhook_events_total", s.transports,
                                         &actors::transport_stats::webhook_events);
  family(out, "blastd_sends_total", "counter",
         "Send attempts by outcome: succeeded, failed (for good), retried, rate_limited, "
         "unknown (requested without an answer before a crash, found at start-up).");
  outcome_samples<actors::send_tally>(out, "blastd_sends_total", s.transports,
                                      &actors::transport_stats::sends);
  family(out, "blastd_transport_queued_sends", "gauge",
         "Sends waiting at a transport for its rate limit or in-flight cap.");
  for (auto& t : s.transports)
    sample(out, "blastd_transport_queued_sends", "transport=" + quoted(t.name),
           std::to_string(t.queued));
  family(out, "blastd_transport_in_flight_sends", "gauge",
         "Sends handed to a transport's plugin and not answered yet.");
  for (auto& t : s.transports)
    sample(out, "blastd_transport_in_flight_sends", "transport=" + quoted(t.name),
           std::to_string(t.in_flight));

  http.render(out);
  return out;
}

} // namespace blast::engine::http
