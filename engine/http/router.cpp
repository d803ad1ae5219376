// The HTTP API: routing, validation and error mapping.
#include "engine/http/router.hpp"

#include <charconv>
#include <memory>

#include <boost/algorithm/string/predicate.hpp>
#include <boost/json.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

#include "actors/clock.hpp"
#include "actors/json_text.hpp"
#include "actors/phone_number.hpp"
#include "engine/http/static_files.hpp"
#include "engine/http/streams.hpp"
#include "engine/http/views.hpp"
#include "engine/iso_time.hpp"

namespace json = boost::json;
namespace urls = boost::urls;

namespace blast::engine::http {

namespace {

response json_response(unsigned status, const json::value& v) {
  response r;
  r.status = status;
  r.body = json::serialize(v);
  return r;
}

response error_with_details(unsigned status, const char* code, const std::string& message,
                            json::array details) {
  // Messages quote request input (the method, the decoded path, a plugin's words), which may
  // be any bytes; JSON text must be UTF-8.
  json::object err{{"code", code}, {"message", actors::to_utf8(message)}};
  if (!details.empty())
    err["details"] = std::move(details);
  return json_response(status, json::object{{"error", std::move(err)}});
}

// Maps the actors' error values to HTTP.
response from_error(const actors::error& e) {
  switch (e.code) {
    case actors::errc::not_found: return error_response(404, "not_found", e.message);
    case actors::errc::invalid: return error_response(422, "invalid", e.message);
    case actors::errc::conflict: return error_response(409, "conflict", e.message);
    case actors::errc::unauthorized: return error_response(401, "bad_signature", e.message);
    case actors::errc::rejected: return error_response(400, "malformed_webhook", e.message);
    case actors::errc::busy: {
      auto r = error_response(503, "busy", e.message);
      r.headers.emplace_back("Retry-After", "1");
      return r;
    }
    case actors::errc::unavailable: return error_response(503, "storage_unavailable", e.message);
  }
  return error_response(500, "internal", e.message);
}

// Adapts a router continuation to an actor callback rendering a T on success.
template <class T, class Render>
actors::callback<T> reply(router::done_fn done, Render render) {
  return [done = std::move(done), render = std::move(render)](actors::result<T> r) {
    done(r.value ? render(*r.value) : from_error(r.err));
  };
}

std::optional<uint64_t> parse_u64(std::string_view s) {
  uint64_t v = 0;
  if (s.empty() || s.size() > 19)
    return std::nullopt;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size())
    return std::nullopt;
  return v;
}

// "90", "90s", "15m", "24h", "2d" → milliseconds.
std::optional<int64_t> parse_duration_ms(std::string_view s) {
  if (s.empty())
    return std::nullopt;
  int64_t unit = 1000;
  switch (s.back()) {
    case 's': unit = 1000; s.remove_suffix(1); break;
    case 'm': unit = 60'000; s.remove_suffix(1); break;
    case 'h': unit = 3'600'000; s.remove_suffix(1); break;
    case 'd': unit = 86'400'000; s.remove_suffix(1); break;
    default: break;
  }
  auto n = parse_u64(s);
  if (!n || *n > 100'000'000)
    return std::nullopt;
  return static_cast<int64_t>(*n) * unit;
}

// {"seq", "recordedAt", "report"}: the report verbatim, as it was served.
std::string stored_report_json(const actors::stored_report& s) {
  return "{\"seq\":" + std::to_string(s.seq) + ",\"recordedAt\":\"" + format_iso(s.time_ms) +
         "\",\"report\":" + s.body + "}";
}

// Counts code points, so the limit matches what a user counts in a message.
size_t utf8_length(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s)
    n += (c & 0xC0) != 0x80;
  return n;
}

struct parsed_body {
  std::optional<json::value> value;
  std::optional<response> error;
};

// `sp` lets a large document live in one arena that is released at once.
parsed_body parse_json_object(const std::string& body, json::storage_ptr sp = {}) {
  json::error_code ec;
  json::parse_options po;
  po.max_depth = 64;
  auto v = json::parse(body, ec, std::move(sp), po);
  if (ec)
    return {std::nullopt, error_response(400, "malformed_json",
                                         "the body is not valid JSON: " + ec.message())};
  if (!v.is_object())
    return {std::nullopt, error_response(422, "invalid_body", "the body must be a JSON object")};
  return {std::move(v), std::nullopt};
}

class handler {
public:
  handler(actors::service& svc, const router_options& opts, webhook_limiter& limiter,
          const http_metrics& metrics, request& req, router::done_fn& done)
    : svc_(svc), opts_(opts), limiter_(limiter), metrics_(metrics), req_(req), done_(done) {}

  void run() {
    auto parsed = urls::parse_origin_form(req_.target);
    if (!parsed) {
      done_(error_response(400, "bad_target", "the request target is not a valid path"));
      return;
    }
    url_ = *parsed;
    for (auto seg : url_.segments())
      segs_.push_back(std::string(seg));
    if (!segs_.empty() && segs_.back().empty())
      segs_.pop_back();  // tolerate a trailing slash

    if (is({"healthz"}))
      return only("GET", [&] { healthz(); });
    if (is({"metrics"}))
      return only("GET", [&] { metrics(); });
    if (segs_.size() >= 2 && segs_[0] == "api" && segs_[1] == "blasts")
      return blasts();
    if (segs_.size() == 2 && segs_[0] == "webhooks")
      return webhook(segs_[1]);
    if (is({"api", "unmatched"}))
      return only("GET", [&] { unmatched(); });
    if (is({"api", "webhooks", "rejected"}))
      return only("GET", [&] {
        svc_.list_rejected(reply<std::vector<actors::rejected_webhook>>(
          std::move(done_), [](auto& list) {
            json::array items;
            for (auto& r : list) {
              json::object item{{"seq", r.seq},
                                {"transport", r.transport},
                                {"receivedAt", format_iso(r.time_ms)},
                                {"error", r.error}};
              actors::put_bytes_member(item, "body", r.body);
              items.push_back(std::move(item));
            }
            return json_response(200, json::object{{"items", std::move(items)}});
          }));
      });
    if (segs_.size() == 3 && segs_[0] == "api" && segs_[1] == "webhooks")
      return only("GET", [&] { webhook_at(segs_[2]); });
    if (find_embedded(url_.path()))
      return static_file();
    done_(error_response(404, "not_found", "no route for " + req_.method + " " +
                                             std::string(url_.path())));
  }

private:
  bool is(std::initializer_list<const char*> path) const {
    if (path.size() != segs_.size())
      return false;
    size_t i = 0;
    for (auto p : path)
      if (segs_[i++] != p)
        return false;
    return true;
  }

  // The dashboard (engine/web/, embedded): GET and HEAD; the session sends
  // no body for HEAD.
  void static_file() {
    if (req_.method != "GET" && req_.method != "HEAD") {
      auto r = error_response(405, "method_not_allowed",
                              req_.method + " is not allowed here; use GET or HEAD");
      r.headers.emplace_back("Allow", "GET, HEAD");
      return done_(std::move(r));
    }
    std::string if_none_match;
    for (auto& [k, v] : req_.headers)
      if (boost::algorithm::iequals(k, "If-None-Match"))
        if_none_match = v;
    done_(std::move(*serve_static(url_.path(), if_none_match)));
  }

  template <class F>
  void only(const char* method, F&& f) {
    if (req_.method != method) {
      auto r = error_response(405, "method_not_allowed",
                              req_.method + " is not allowed here; use " + method);
      r.headers.emplace_back("Allow", method);
      done_(std::move(r));
      return;
    }
    f();
  }

  std::optional<std::string> param(std::string_view key) const {
    auto params = url_.params();
    auto it = params.find(key);
    if (it == params.end())
      return std::nullopt;
    return std::string((*it).value);
  }

  void blasts() {
    if (segs_.size() == 2) {
      if (req_.method == "POST")
        return create_blast();
      return only("GET", [&] { list_blasts(); });
    }
    auto id = parse_u64(segs_[2]);
    if (!id) {
      done_(error_response(404, "not_found", "no blast with id '" + segs_[2] + "'"));
      return;
    }
    if (segs_.size() == 3)
      return only("GET", [&] {
        svc_.get_blast(*id, reply<actors::blast_summary>(std::move(done_), [](auto& b) {
                         return json_response(200, render_blast(b, true));
                       }));
      });
    if (segs_.size() == 4 && segs_[3] == "report")
      return only("GET", [&] { report(*id); });
    if (segs_.size() == 5 && segs_[3] == "report" && segs_[4] == "stream")
      return only("GET", [&] { report_stream(*id); });
    if (segs_.size() == 4 && segs_[3] == "reports") {
      if (req_.method == "POST")
        return record_report(*id);
      return only("GET", [&] { list_reports(*id); });
    }
    if (segs_.size() == 4 && segs_[3] == "recipients")
      return only("GET", [&] { list_recipients(*id); });
    if (segs_.size() == 4 && segs_[3] == "recipients.csv")
      return only("GET", [&] { export_csv(*id); });
    if (segs_.size() == 4 && (segs_[3] == "pause" || segs_[3] == "resume" || segs_[3] == "cancel"))
      return only("POST", [&] {
        auto action = segs_[3] == "pause"    ? actors::lifecycle::pause
                      : segs_[3] == "resume" ? actors::lifecycle::resume
                                             : actors::lifecycle::cancel;
        svc_.change_lifecycle(*id, action,
                              reply<actors::blast_summary>(std::move(done_), [](auto& b) {
                                return json_response(200, render_blast(b, true));
                              }));
      });
    if (segs_.size() == 4 && segs_[3] == "resend")
      return only("POST", [&] { resend(*id); });
    if (segs_.size() == 5 && segs_[3] == "recipients")
      return only("GET", [&] {
        svc_.get_recipient(*id, segs_[4],
                           reply<actors::recipient_detail>(std::move(done_), [](auto& d) {
                             response r;
                             r.body = render_detail(d);
                             return r;
                           }));
      });
    if (segs_.size() == 6 && segs_[3] == "recipients" && segs_[5] == "status")
      return only("POST", [&] { update_status(*id, segs_[4]); });
    done_(error_response(404, "not_found", "no route for " + req_.method + " " +
                                             std::string(url_.path())));
  }

  // Prometheus text exposition format, version 0.0.4.
  void metrics() {
    svc_.get_stats(reply<actors::service_stats>(std::move(done_), [&m = metrics_](auto& s) {
      response r;
      r.content_type = "text/plain; version=0.0.4";
      r.body = render_metrics(s, m);
      return r;
    }));
  }

  // 503 while storage takes no writes: a load balancer then sends writes
  // elsewhere (reads would still work here, but a half-working instance is
  // not one to route to).
  void healthz() {
    auto h = svc_.health();
    if (h.ok)
      return done_(json_response(200, json::object{{"status", "ok"}}));
    done_(json_response(503, json::object{{"status", "degraded"},
                                          {"storage", "unavailable"},
                                          {"error", h.error}}));
  }

  // Raw provider payloads, handed to the transport's plugin: the signature is
  // over the exact body, so nothing here parses it first.
  void webhook(const std::string& transport) {
    // Refused before the plugin or the log sees it: the provider retries.
    if (auto wait = limiter_.admit(transport)) {
      auto r = error_response(429, "rate_limited",
                              "webhooks for '" + transport + "' are over their rate limit");
      r.headers.emplace_back("Retry-After", std::to_string(*wait));
      return done_(std::move(r));
    }
    actors::webhook_input in;
    in.method = req_.method;
    in.path = std::string(url_.path());
    in.query = std::string(url_.encoded_query());
    in.headers = std::move(req_.headers);  // nothing reads the request's after this
    in.body = std::move(req_.body);
    svc_.ingest_webhook(transport, std::move(in),
                        reply<actors::webhook_outcome>(std::move(done_), [](auto& o) {
                          if (o.reply) {  // the plugin's own answer (a handshake), as is
                            response r;
                            r.status = static_cast<unsigned>(o.reply->status);
                            r.content_type =
                              o.reply->content_type.empty() ? "text/plain" : o.reply->content_type;
                            r.body = std::move(o.reply->body);
                            return r;
                          }
                          return json_response(200, json::object{{"seq", o.seq},
                                                                 {"observations", o.observations}});
                        }));
  }

  // A logged webhook, as status events name it ("webhook": seq): the request as
  // received, body byte for byte, with what became of it.
  void webhook_at(const std::string& seg) {
    auto seq = parse_u64(seg);
    if (!seq) {
      done_(error_response(404, "not_found", "no webhook at seq '" + seg + "'"));
      return;
    }
    svc_.get_webhook(*seq, reply<actors::logged_webhook>(std::move(done_), [](auto& w) {
      json::error_code ec;
      auto v = json::parse(w.payload, ec);
      json::object o{{"seq", w.seq},
                     {"receivedAt", format_iso(w.time_ms)},
                     {"status", w.accepted ? "accepted" : "rejected"}};
      if (auto* logged = ec ? nullptr : v.if_object())
        for (auto& [k, val] : *logged)
          o[k] = std::move(val);
      else  // a log written before bodies were kept as base64 may hold bytes JSON cannot
        actors::put_bytes_member(o, "payload", w.payload);
      return json_response(200, o);
    }));
  }

  void unmatched() {
    int64_t older_than_ms = opts_.unmatched_after_ms;
    if (auto p = param("olderThan")) {
      auto ms = parse_duration_ms(*p);
      if (!ms)
        return done_(error_response(422, "invalid_older_than",
                                    "olderThan is a duration like 90s, 15m or 24h"));
      older_than_ms = *ms;
    }
    svc_.list_unmatched(older_than_ms, reply<std::vector<actors::unmatched_item>>(
                                         std::move(done_), [](auto& list) {
                                           json::array items;
                                           for (auto& u : list) {
                                             json::object o{
                                               {"transport", u.transport},
                                               {"reason", u.reason},
                                               {"stage", actors::to_string(u.observed)},
                                               {"since", format_iso(u.since_ms)}};
                                             auto opt = [&](const char* k, const std::string& v) {
                                               if (!v.empty())
                                                 o[k] = v;
                                             };
                                             opt("messageId", u.message_id);
                                             opt("sender", u.sender);
                                             opt("providerStatus", u.provider_status);
                                             opt("eventId", u.event_id);
                                             opt("raw", u.raw);
                                             if (u.webhook_seq != 0)
                                               o["webhook"] = u.webhook_seq;
                                             items.push_back(std::move(o));
                                           }
                                           return json_response(
                                             200, json::object{{"items", std::move(items)}});
                                         }));
  }

  void list_blasts() {
    actors::blast_filter f;
    if (auto tag = param("blastTag"))
      f.tag = *tag;
    if (auto st = param("status")) {
      f.status = actors::blast_status_from_string(*st);
      if (!f.status) {
        done_(error_response(422, "invalid_status", "unknown blast status '" + *st + "'"));
        return;
      }
    }
    svc_.list_blasts(std::move(f),
                     reply<std::vector<actors::blast_summary>>(std::move(done_), [](auto& list) {
                       json::array items;
                       for (auto& b : list)
                         items.push_back(render_blast(b, false));
                       return json_response(200, json::object{{"items", std::move(items)}});
                     }));
  }

  void resend(uint64_t blast) {
    auto body = parse_json_object(req_.body.empty() ? std::string("{}") : req_.body);
    if (body.error)
      return done_(std::move(*body.error));
    std::vector<actors::send_state> states;
    auto* list = body.value->get_object().if_contains("stages");
    if (!list) {
      states = {actors::send_state::unknown, actors::send_state::failed};
    } else if (list->is_array()) {
      for (auto& v : list->get_array()) {
        auto s = v.is_string() ? actors::send_state_from_string(v.get_string()) : std::nullopt;
        if (!s || (*s != actors::send_state::unknown && *s != actors::send_state::failed))
          return done_(error_response(422, "invalid_stages",
                                      "stages may name \"unknown\" and \"failed\""));
        states.push_back(*s);
      }
    }
    if (states.empty())
      return done_(error_response(422, "invalid_stages",
                                  "stages must be a non-empty array of \"unknown\", \"failed\""));
    svc_.resend(blast, std::move(states), reply<uint64_t>(std::move(done_), [](auto& n) {
                  return json_response(200, json::object{{"resent", n}});
                }));
  }

  // The live report, or with ?at= the report as it stood then (from the log).
  void report(uint64_t blast) {
    auto render = [](auto& r) {
      response res;
      res.body = render_report(r);
      return res;
    };
    if (auto at = param("at")) {
      auto ms = parse_iso(*at);
      if (!ms)
        return done_(error_response(422, "invalid_at",
                                    "at must be an ISO 8601 time with a time zone, "
                                    "e.g. 2026-12-01T09:00:00Z"));
      return svc_.report_at(blast, *ms, reply<actors::report>(std::move(done_), render));
    }
    svc_.get_report(blast, reply<actors::report>(std::move(done_), render));
  }

  void report_stream(uint64_t blast) {
    auto& svc = svc_;
    auto opts = opts_.report_stream;
    svc_.get_report(blast, reply<actors::report>(std::move(done_), [&svc, blast, opts](auto& r) {
                      response res;
                      res.content_type = "text/event-stream";
                      res.headers.emplace_back("Cache-Control", "no-cache");
                      res.headers.emplace_back("X-Accel-Buffering", "no");  // proxies: do not buffer
                      res.stream = make_report_stream(svc, blast, render_report(r), opts);
                      return res;
                    }));
  }

  // The live report, rendered, then recorded as an event: what is stored is
  // exactly what was served.
  void record_report(uint64_t blast) {
    auto& svc = svc_;
    svc_.get_report(blast, [&svc, blast, done = std::move(done_)](actors::result<actors::report> r) {
      if (!r.value)
        return done(from_error(r.err));
      svc.record_report(blast, render_report(*r.value),
                        reply<actors::stored_report>(std::move(done), [blast](auto& s) {
                          response res;
                          res.status = 201;
                          res.body = stored_report_json(s);
                          res.headers.emplace_back("Location", "/api/blasts/" +
                                                                 std::to_string(blast) + "/reports");
                          return res;
                        }));
    });
  }

  void list_reports(uint64_t blast) {
    svc_.list_reports(blast, reply<std::vector<actors::stored_report>>(
                               std::move(done_), [](auto& list) {
                                 std::string body = "{\"items\":[";
                                 for (auto& s : list) {
                                   if (&s != &list.front())
                                     body += ',';
                                   body += stored_report_json(s);
                                 }
                                 body += "]}";
                                 response res;
                                 res.body = std::move(body);
                                 return res;
                               }));
  }

  // The filters shared by the recipients list and its CSV export. False after
  // answering a bad parameter.
  bool recipient_filters(actors::recipient_query& q) {
    if (auto s = param("sendStatus")) {
      q.only_sending = actors::send_state_from_string(*s);
      if (!q.only_sending) {
        done_(error_response(422, "invalid_send_status", "unknown send status '" + *s + "'"));
        return false;
      }
    }
    if (auto s = param("stage")) {
      q.only = actors::stage_from_string(*s);
      if (!q.only) {
        done_(error_response(422, "invalid_stage", "unknown stage '" + *s + "'"));
        return false;
      }
    }
    // Stuck at X = at stage X and not closed (ARCHITECTURE.md); olderThan
    // keeps those at X for longer than that.
    auto stuck = param("stuck");
    if (stuck && *stuck != "true" && *stuck != "false") {
      done_(error_response(422, "invalid_stuck", "stuck is true or false"));
      return false;
    }
    auto older = param("olderThan");
    if ((stuck == std::optional<std::string>("true") || older) && !q.only) {
      done_(error_response(422, "stage_required",
                           "stuck and olderThan list the recipients of one stage: add stage="));
      return false;
    }
    if (stuck == std::optional<std::string>("true") && q.only == actors::stage::closed) {
      done_(error_response(422, "invalid_stage", "closed is the end of the funnel: nobody is "
                                                 "stuck there"));
      return false;
    }
    if (older) {
      auto ms = parse_duration_ms(*older);
      if (!ms || *ms <= 0) {
        done_(error_response(422, "invalid_older_than",
                             "olderThan is a duration like 90s, 15m, 24h or 7d"));
        return false;
      }
      q.in_stage_longer_than_ms = *ms;
      q.now_ms = actors::now_ms();
    }
    if (auto c = param("cursor")) {
      auto v = parse_u64(*c);
      if (!v || *v == 0 || *v > UINT32_MAX) {
        done_(error_response(422, "invalid_cursor", "cursor '" + *c + "' is not one we issued"));
        return false;
      }
      q.cursor = static_cast<uint32_t>(*v);
    }
    return true;
  }

  void list_recipients(uint64_t blast) {
    actors::recipient_query q;
    q.limit = 100;
    if (!recipient_filters(q))
      return;
    if (auto l = param("limit")) {
      auto v = parse_u64(*l);
      if (!v || *v == 0 || *v > opts_.max_page) {
        done_(error_response(422, "invalid_limit",
                             "limit must be 1.." + std::to_string(opts_.max_page)));
        return;
      }
      q.limit = static_cast<uint32_t>(*v);
    }
    svc_.list_recipients(blast, q, reply<actors::recipient_page>(std::move(done_), [](auto& p) {
                           json::array items;
                           for (auto& r : p.items)
                             items.push_back(render_recipient(r));
                           json::value next = p.next_cursor ? json::value(std::to_string(
                                                                p.next_cursor))
                                                            : json::value();
                           return json_response(
                             200, json::object{{"items", std::move(items)}, {"nextCursor", next}});
                         }));
  }

  // Every recipient (or those the filters keep) as CSV, streamed page by page.
  void export_csv(uint64_t blast) {
    actors::recipient_query q;
    q.limit = 1000;
    if (!recipient_filters(q))
      return;
    auto& svc = svc_;
    svc_.export_recipients(blast, q, reply<actors::export_page>(std::move(done_),
                                                                [&svc, blast, q](auto& first) {
      response res;
      res.content_type = "text/csv; charset=utf-8";
      res.headers.emplace_back("Content-Disposition",
                               "attachment; filename=\"blast-" + std::to_string(blast) +
                                 "-recipients.csv\"");
      res.stream = make_csv_export(svc, blast, q, std::move(first));
      return res;
    }));
  }

  void update_status(uint64_t blast, const std::string& ref) {
    auto body = parse_json_object(req_.body);
    if (body.error)
      return done_(std::move(*body.error));
    auto& o = body.value->get_object();
    auto* st = o.if_contains("stage");
    auto stage = st && st->is_string() ? actors::stage_from_string(st->get_string())
                                       : std::nullopt;
    if (!stage || *stage == actors::stage::pending) {
      done_(error_response(422, "invalid_stage",
                           "stage must be one of sent, delivered, read, replied, closed, failed"));
      return;
    }
    actors::status_update u;
    u.observed = *stage;
    if (auto* note = o.if_contains("note")) {
      if (!note->is_string() && !note->is_null()) {
        done_(error_response(422, "invalid_note", "note must be a string"));
        return;
      }
      if (note->is_string())
        u.note = std::string(note->get_string());
    }
    svc_.update_status(blast, ref, std::move(u),
                       reply<actors::status_result>(std::move(done_), [](auto& r) {
                         return json_response(
                           200, json::object{{"recipient", render_recipient(r.view)},
                                             {"outcome", actors::to_string(r.out)},
                                             {"previousStage", actors::to_string(r.from)}});
                       }));
  }

  void create_blast() {
    // A million recipients make millions of small nodes: an arena sized like
    // the body allocates them without malloc and frees them in one go.
    auto body = parse_json_object(
      req_.body, json::make_shared_resource<json::monotonic_resource>(req_.body.size() + 1024));
    if (body.error)
      return done_(std::move(*body.error));
    auto& o = body.value->get_object();
    actors::blast_spec spec;

    auto* msg = o.if_contains("message");
    if (!msg || !msg->is_string() || msg->get_string().empty())
      return done_(error_response(422, "invalid_message", "message must be a non-empty string"));
    if (utf8_length(msg->get_string()) > opts_.max_message_bytes)
      return done_(error_response(422, "message_too_long",
                                  "message is longer than " +
                                    std::to_string(opts_.max_message_bytes) + " characters"));
    spec.message = std::string(msg->get_string());

    if (auto* tag = o.if_contains("blastTag"); tag && !tag->is_null()) {
      if (!tag->is_string())
        return done_(error_response(422, "invalid_blast_tag", "blastTag must be a string"));
      spec.tag = std::string(tag->get_string());
    }
    if (auto* tr = o.if_contains("transport"); tr && !tr->is_null()) {
      if (!tr->is_string() || tr->get_string().empty())
        return done_(error_response(422, "invalid_transport", "transport must be a name"));
      spec.transport = std::string(tr->get_string());
    }
    if (auto* at = o.if_contains("scheduledAt"); at && !at->is_null()) {
      auto ms = at->is_string() ? parse_iso(at->get_string()) : std::nullopt;
      if (!ms)
        return done_(error_response(422, "invalid_scheduled_at",
                                    "scheduledAt must be an ISO 8601 time with a time zone, "
                                    "e.g. 2026-12-01T09:00:00Z"));
      spec.scheduled_ms = *ms;
    }

    auto* rs = o.if_contains("recipients");
    if (!rs || !rs->is_array() || rs->get_array().empty())
      return done_(error_response(422, "invalid_recipients",
                                  "recipients must be a non-empty array of phone numbers or "
                                  "{\"phoneNumber\", \"name\", \"vars\"} objects"));
    auto& list = rs->get_array();
    if (list.size() > opts_.max_recipients)
      return done_(error_response(413, "too_many_recipients",
                                  "a blast has at most " + std::to_string(opts_.max_recipients) +
                                    " recipients"));
    spec.recipients.reserve(list.size());
    json::array bad;
    size_t bad_count = 0;
    auto reject = [&](size_t i, const json::value& v, const char* why) {
      if (bad.size() < 100)  // name the first hundred; the count says the rest
        bad.push_back(json::object{{"index", i}, {"value", v}, {"reason", why}});
      ++bad_count;
    };
    for (size_t i = 0; i < list.size(); ++i) {
      auto& item = list[i];
      actors::recipient_input in;
      const json::value* phone = &item;
      if (auto* obj = item.if_object()) {
        phone = obj->if_contains("phoneNumber");
        if (!phone) {
          reject(i, item, "missing phoneNumber");
          continue;
        }
        if (auto* n = obj->if_contains("name"); n && !n->is_null()) {
          if (!n->is_string()) {
            reject(i, item, "name must be a string");
            continue;
          }
          in.name = std::string(n->get_string());
        }
        if (auto* v = obj->if_contains("vars"); v && !v->is_null()) {
          if (!v->is_object()) {
            reject(i, item, "vars must be an object");
            continue;
          }
          if (!v->get_object().empty())
            in.vars_json = json::serialize(*v);
        }
      }
      auto p = phone->is_string() ? actors::parse_phone(phone->get_string()) : std::nullopt;
      if (!p) {
        reject(i, item, "not a phone number (7 to 15 digits, E.164, optional '+')");
        continue;
      }
      in.phone = *p;
      spec.recipients.push_back(std::move(in));
    }
    if (bad_count)
      return done_(error_with_details(422, "invalid_recipients",
                                      std::to_string(bad_count) + " of " +
                                        std::to_string(list.size()) +
                                        " recipients are invalid; nothing was created",
                                      std::move(bad)));
    body.value.reset();  // free the parsed document before the blast is built
    svc_.create_blast(std::move(spec),
                      reply<actors::blast_summary>(std::move(done_), [](auto& b) {
                        auto r = json_response(201, render_blast(b, false));
                        r.headers.emplace_back("Location",
                                               "/api/blasts/" + std::to_string(b.def.id));
                        return r;
                      }));
  }

  actors::service& svc_;
  const router_options& opts_;
  webhook_limiter& limiter_;
  const http_metrics& metrics_;
  request& req_;
  router::done_fn& done_;
  urls::url_view url_;
  std::vector<std::string> segs_;
};

} // namespace

response error_response(unsigned status, const char* code, const std::string& message) {
  return error_with_details(status, code, message, {});
}

router::router(actors::service& svc, router_options opts)
  : svc_(svc), opts_(std::move(opts)),
    webhook_limiter_(std::make_unique<webhook_limiter>(opts_.webhook_limits)) {
  metrics_.track_connections(opts_.http_connections);
}

void router::handle(request req, done_fn done) {
  handler(svc_, opts_, *webhook_limiter_, metrics_, req, done).run();
}

} // namespace blast::engine::http
