// JSON renderings of blasts, recipients and reports.
#include "engine/http/views.hpp"

#include <cstdio>

#include <boost/json.hpp>

#include "actors/phone_number.hpp"
#include "engine/iso_time.hpp"

namespace json = boost::json;

namespace blast::engine::http {

using actors::stage;

namespace {
json::value time_or_null(int64_t ms) { return ms ? json::value(format_iso(ms)) : json::value(); }

json::value parse_or_null(const std::string& text) {
  if (text.empty())
    return nullptr;
  json::error_code ec;
  auto v = json::parse(text, ec);
  return ec ? json::value(text) : v;
}

constexpr const char* stage_time_keys[] = {nullptr,      "sentAt",   "deliveredAt", "readAt",
                                           "repliedAt", "closedAt", "failedAt"};
} // namespace

json::object render_blast(const actors::blast_summary& b, bool with_counts) {
  json::object o{{"id", b.def.id},
                 {"status", actors::to_string(b.status)},
                 {"message", b.def.message},
                 {"blastTag", b.def.tag.empty() ? json::value() : json::value(b.def.tag)},
                 {"transport", b.def.transport},
                 {"scheduledAt", time_or_null(b.def.scheduled_ms)},
                 {"createdAt", format_iso(b.def.created_ms)},
                 {"totalRecipients", b.def.total},
                 {"duplicatesDropped", b.def.duplicates_dropped}};
  if (with_counts) {
    json::object counts;
    for (size_t i = 0; i < actors::stage_count; ++i)
      counts[actors::to_string(static_cast<stage>(i))] = b.counts[i];
    o["stages"] = std::move(counts);
    json::object sending;
    for (size_t i = 0; i < actors::send_state_count; ++i)
      sending[actors::to_string(static_cast<actors::send_state>(i))] = b.sending[i];
    o["sending"] = std::move(sending);
  }
  return o;
}

json::object render_recipient(const actors::recipient_view& r) {
  json::object o{{"id", r.id},
                 {"phoneNumber", actors::format_phone(r.phone)},
                 {"name", r.name.empty() ? json::value() : json::value(r.name)},
                 {"stage", actors::to_string(r.state.current)}};
  if (!r.vars_json.empty())
    o["vars"] = parse_or_null(r.vars_json);
  for (size_t i = 1; i < actors::stage_count; ++i)
    o[stage_time_keys[i]] = time_or_null(r.state.at[i]);
  o["stageSince"] = time_or_null(r.state.stage_time());
  o["sendStatus"] = actors::to_string(r.sending);
  o["attempts"] = r.attempts;
  return o;
}

std::string render_detail(const actors::recipient_detail& d) {
  auto o = render_recipient(d.view);
  json::array events;
  for (auto& h : d.history) {
    json::object e{{"seq", h.seq},
                   {"type", storage::to_string(h.type)},
                   {"source", storage::to_string(h.source)},
                   {"time", format_iso(h.time_ms)},
                   {"payload", parse_or_null(h.payload)}};
    if (!h.message_id.empty())
      e["messageId"] = h.message_id;
    events.push_back(std::move(e));
  }
  o["events"] = std::move(events);
  // Append messageData verbatim when it is JSON (it always is from a
  // conforming plugin); anything else is shown as a string, never lost.
  auto out = json::serialize(o);
  out.pop_back();  // the closing brace
  out += ",\"messageData\":";
  json::error_code ec;
  if (d.message_data.empty())
    out += "null";
  else if (json::parse(d.message_data, ec), !ec)
    out += d.message_data;
  else
    out += json::serialize(json::string(d.message_data));
  out += '}';
  return out;
}

std::string render_report(const actors::report& r) {
  auto count = [&](stage s) { return r.counts[static_cast<size_t>(s)]; };
  // reached(X) = recipients whose stage is X or later (failed is outside the order).
  uint64_t reached[actors::stage_count] = {};
  uint64_t running = 0;
  for (int i = static_cast<int>(stage::closed); i >= static_cast<int>(stage::sent); --i) {
    running += r.counts[static_cast<size_t>(i)];
    reached[i] = running;
  }
  std::string out;
  out.reserve(512);
  char buf[160];
  std::snprintf(buf, sizeof buf,
                "{\"blastId\":%llu,\"totalRecipients\":%llu,\"pending\":%llu,\"failed\":%llu,"
                "\"funnel\":[",
                static_cast<unsigned long long>(r.blast), static_cast<unsigned long long>(r.total),
                static_cast<unsigned long long>(count(stage::pending)),
                static_cast<unsigned long long>(count(stage::failed)));
  out += buf;
  for (auto s : actors::funnel_stages) {
    auto i = static_cast<size_t>(s);
    // Percent of the total in tenths, rounded half up, in integers: no float noise.
    uint64_t tenths = r.total ? (reached[i] * 2000 + r.total) / (2 * r.total) : 0;
    char stuck[24];
    if (s == stage::closed)
      std::snprintf(stuck, sizeof stuck, "null");
    else
      std::snprintf(stuck, sizeof stuck, "%llu", static_cast<unsigned long long>(r.counts[i]));
    std::snprintf(buf, sizeof buf,
                  "%s{\"stage\":\"%s\",\"reached\":%llu,\"percent\":%llu.%llu,\"stuck\":%s}",
                  s == stage::sent ? "" : ",", actors::to_string(s),
                  static_cast<unsigned long long>(reached[i]),
                  static_cast<unsigned long long>(tenths / 10),
                  static_cast<unsigned long long>(tenths % 10), stuck);
    out += buf;
  }
  std::snprintf(buf, sizeof buf,
                "],\"stuck\":{\"sent\":%llu,\"delivered\":%llu,\"read\":%llu,\"replied\":%llu},"
                "\"calculatedAt\":\"%s\"}",
                static_cast<unsigned long long>(count(stage::sent)),
                static_cast<unsigned long long>(count(stage::delivered)),
                static_cast<unsigned long long>(count(stage::read)),
                static_cast<unsigned long long>(count(stage::replied)),
                format_iso(r.calculated_ms).c_str());
  out += buf;
  return out;
}

} // namespace blast::engine::http
