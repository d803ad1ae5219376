// The CSV export and the report's event stream as body sources.
#include "engine/http/streams.hpp"

#include "actors/phone_number.hpp"
#include "engine/http/views.hpp"
#include "engine/iso_time.hpp"

namespace blast::engine::http {

using actors::stage;

const char* const recipients_csv_header =
  "id,phoneNumber,name,stage,stageSince,sentAt,deliveredAt,readAt,repliedAt,closedAt,failedAt,"
  "sendStatus,attempts,messageId,failureReason\r\n";

namespace {

// A free-text cell: quoted when it must be, and defused when it starts like a
// formula a spreadsheet would run (CSV injection).
void append_cell(std::string& out, std::string_view v) {
  bool formula = !v.empty() &&
                 (v[0] == '=' || v[0] == '+' || v[0] == '-' || v[0] == '@' || v[0] == '\t' ||
                  v[0] == '\r');
  bool quote = formula || v.find_first_of(",\"\r\n") != std::string_view::npos;
  if (!quote) {
    out += v;
    return;
  }
  out += '"';
  if (formula)
    out += '\'';
  for (char c : v) {
    if (c == '"')
      out += '"';
    out += c;
  }
  out += '"';
}

void append_time(std::string& out, int64_t ms) {
  if (ms)
    out += format_iso(ms);
}

class csv_export final : public body_source {
public:
  csv_export(actors::service& svc, uint64_t blast, actors::recipient_query q,
             actors::export_page first)
    : svc_(svc), blast_(blast), q_(q), first_(std::move(first)) {}

  void next(std::function<void(piece)> done) override {
    if (!started_) {
      started_ = true;
      std::string out = recipients_csv_header;
      return emit(std::move(out), std::move(first_), std::move(done));
    }
    svc_.export_recipients(blast_, q_, [this, done = std::move(done)](
                                         actors::result<actors::export_page> r) mutable {
      // The headers are out: an error can only end the body early. The client
      // sees a short file (no final chunk's worth of rows); the log has the cause.
      if (!r.value)
        return done(piece{"", true, {}});
      emit({}, std::move(*r.value), std::move(done));
    });
  }

private:
  void emit(std::string out, actors::export_page page, std::function<void(piece)> done) {
    // One allocation per piece, not a doubling string's half dozen: a row is
    // ~100-150 bytes. (Under ASan the doublings alone took engine.streams'
    // export to the edge of its memory bound.)
    out.reserve(out.size() + page.rows.size() * 128);
    for (auto& row : page.rows)
      append_csv_row(out, row);
    q_.cursor = page.next_cursor;
    done(piece{std::move(out), page.next_cursor == 0, {}});
  }

  actors::service& svc_;
  uint64_t blast_;
  actors::recipient_query q_;
  actors::export_page first_;
  bool started_ = false;
};

// Strips "calculatedAt" (the one field that changes on every render) so that
// two renders compare equal when the funnel did not move.
std::string_view without_time(std::string_view report) {
  auto at = report.rfind(",\"calculatedAt\"");
  return at == std::string_view::npos ? report : report.substr(0, at);
}

class report_stream final : public body_source,
                            public std::enable_shared_from_this<report_stream> {
public:
  report_stream(actors::service& svc, uint64_t blast, std::string first,
                report_stream_options opts)
    : svc_(svc), blast_(blast), first_(std::move(first)), opts_(opts) {}

  void next(std::function<void(piece)> done) override {
    auto now = std::chrono::steady_clock::now();
    if (!first_.empty()) {
      // retry: how long a disconnected EventSource waits before reconnecting.
      auto out = "retry: 2000\n" + event(first_);
      last_ = std::string(without_time(first_));
      first_.clear();
      last_write_ = now;
      return done(piece{std::move(out), false, opts_.interval});
    }
    auto self = shared_from_this();
    svc_.get_report(blast_, [self, now, done = std::move(done)](actors::result<actors::report> r) {
      if (!r.value)  // the blast is gone (cannot happen today): end the stream, saying why
        return done(piece{"event: error\ndata: " + r.err.message + "\n\n", true, {}});
      auto body = render_report(*r.value);
      if (without_time(body) != self->last_) {
        self->last_ = std::string(without_time(body));
        self->last_write_ = now;
        return done(piece{self->event(body), false, self->opts_.interval});
      }
      if (now - self->last_write_ >= self->opts_.heartbeat) {
        self->last_write_ = now;
        return done(piece{": heartbeat\n\n", false, self->opts_.interval});
      }
      done(piece{"", false, self->opts_.interval});
    });
  }

private:
  static std::string event(const std::string& report) {
    return "event: report\ndata: " + report + "\n\n";
  }

  actors::service& svc_;
  uint64_t blast_;
  std::string first_;
  report_stream_options opts_;
  std::string last_;
  std::chrono::steady_clock::time_point last_write_;
};

} // namespace

void append_csv_row(std::string& out, const actors::export_row& row) {
  auto& v = row.view;
  out += std::to_string(v.id);
  out += ',';
  out += actors::format_phone(v.phone);
  out += ',';
  append_cell(out, v.name);
  out += ',';
  out += actors::to_string(v.state.current);
  out += ',';
  append_time(out, v.state.stage_time());
  for (size_t s = static_cast<size_t>(stage::sent); s < actors::stage_count; ++s) {
    out += ',';
    append_time(out, v.state.at[s]);
  }
  out += ',';
  out += actors::to_string(v.sending);
  out += ',';
  out += std::to_string(v.attempts);
  out += ',';
  append_cell(out, row.message_id);
  out += ',';
  append_cell(out, row.failure);
  out += "\r\n";
}

std::shared_ptr<body_source> make_csv_export(actors::service& svc, uint64_t blast,
                                             actors::recipient_query q,
                                             actors::export_page first) {
  return std::make_shared<csv_export>(svc, blast, q, std::move(first));
}

std::shared_ptr<body_source> make_report_stream(actors::service& svc, uint64_t blast,
                                                std::string first, report_stream_options opts) {
  return std::make_shared<report_stream>(svc, blast, std::move(first), opts);
}

} // namespace blast::engine::http
