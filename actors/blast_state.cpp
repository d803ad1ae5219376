// The blast fold and the payload encodings of the blast's events. Payloads are
// JSON so that an auditor can read the log with nothing but a JSON parser.
#include "actors/blast_state.hpp"

#include <algorithm>

#include <boost/json.hpp>

#include "actors/json_text.hpp"
#include "actors/phone_number.hpp"

namespace json = boost::json;

namespace blast::actors {

namespace {
constexpr std::array<const char*, 7> status_names{"pending",   "scheduled", "sending", "completed",
                                                  "paused",    "cancelled", "failed"};

int64_t int_or(const json::object& o, std::string_view key, int64_t dflt) {
  auto* v = o.if_contains(key);
  if (!v)
    return dflt;
  if (auto* i = v->if_int64())
    return *i;
  if (auto* u = v->if_uint64())
    return static_cast<int64_t>(*u);
  return dflt;
}

std::string string_or(const json::object& o, std::string_view key) {
  auto* v = o.if_contains(key);
  if (!v || !v->is_string())
    return {};
  return std::string(v->get_string());
}
} // namespace

namespace {
constexpr std::array<const char*, send_state_count> send_state_names{
  "none", "requested", "sent", "retrying", "failed", "unknown"};
} // namespace

const char* to_string(send_state s) {
  auto i = static_cast<size_t>(s);
  return i < send_state_names.size() ? send_state_names[i] : "invalid";
}

std::optional<send_state> send_state_from_string(std::string_view s) {
  for (size_t i = 0; i < send_state_names.size(); ++i)
    if (s == send_state_names[i])
      return static_cast<send_state>(i);
  return std::nullopt;
}

const char* to_string(blast_status s) {
  auto i = static_cast<size_t>(s);
  return i < status_names.size() ? status_names[i] : "unknown";
}

std::optional<blast_status> blast_status_from_string(std::string_view s) {
  for (size_t i = 0; i < status_names.size(); ++i)
    if (s == status_names[i])
      return static_cast<blast_status>(i);
  return std::nullopt;
}

std::string_view blast_state::name(uint32_t id) const {
  uint64_t begin = id == 1 ? 0 : profile_end_[id - 2];
  std::string_view p(profiles_.data() + begin, profile_end_[id - 1] - begin);
  return p.substr(0, p.find('\0'));
}

std::string_view blast_state::vars_json(uint32_t id) const {
  uint64_t begin = id == 1 ? 0 : profile_end_[id - 2];
  std::string_view p(profiles_.data() + begin, profile_end_[id - 1] - begin);
  auto sep = p.find('\0');
  return sep == std::string_view::npos ? std::string_view{} : p.substr(sep + 1);
}

void blast_state::add_recipient(uint64_t phone, std::string_view name, std::string_view vars) {
  phones_.push_back(phone);
  funnels_.emplace_back();
  send_states_.push_back(static_cast<uint8_t>(send_state::none));
  attempts_.push_back(0);
  ++send_counts_[static_cast<size_t>(send_state::none)];
  if (!name.empty() || !vars.empty()) {
    profiles_.append(name);
    profiles_.push_back('\0');
    profiles_.append(vars);
  }
  profile_end_.push_back(profiles_.size());
  ++counts_[static_cast<size_t>(stage::pending)];
  index_dirty_ = true;
}

void blast_state::build_index() const {
  by_phone_.clear();
  by_phone_.reserve(phones_.size());
  for (uint32_t i = 0; i < phones_.size(); ++i)
    by_phone_.emplace_back(phones_[i], i + 1);
  std::sort(by_phone_.begin(), by_phone_.end());
  by_phone_.shrink_to_fit();
  index_dirty_ = false;
}

std::optional<uint32_t> blast_state::find_phone(uint64_t phone) const {
  if (index_dirty_)
    build_index();
  auto it = std::lower_bound(by_phone_.begin(), by_phone_.end(), std::make_pair(phone, 0u));
  if (it == by_phone_.end() || it->first != phone)
    return std::nullopt;
  return it->second;
}

outcome blast_state::apply_status(uint32_t id, stage observed, int64_t time_ms) {
  auto& f = funnels_[id - 1];
  auto before = f.current;
  auto out = f.apply(observed, time_ms);
  if (f.current != before) {
    --counts_[static_cast<size_t>(before)];
    ++counts_[static_cast<size_t>(f.current)];
  }
  return out;
}

void blast_state::set_send_state(uint32_t id, send_state s) {
  auto& cur = send_states_[id - 1];
  --send_counts_[cur];
  ++send_counts_[static_cast<size_t>(s)];
  cur = static_cast<uint8_t>(s);
}

namespace {

// The attempt number of a send_requested payload. make_send_requested writes
// it first: read in place, as status_event_stage reads a status's stage; a
// replay folds one of these per recipient and parsing each whole payload (with
// the message text) was a quarter of the fold in a replay. Anything else is
// parsed.
int64_t send_attempt(std::string_view payload) {
  static constexpr std::string_view head = "{\"attempt\":";
  if (payload.substr(0, head.size()) == head) {
    int64_t n = 0;
    size_t i = head.size(), digits = 0;
    for (; i < payload.size() && payload[i] >= '0' && payload[i] <= '9' && digits < 9; ++i, ++digits)
      n = n * 10 + (payload[i] - '0');
    if (digits > 0 && i < payload.size() && (payload[i] == ',' || payload[i] == '}'))
      return n;
  }
  json::error_code ec;
  auto v = json::parse(payload, ec);
  auto* o = ec ? nullptr : v.if_object();
  return o ? int_or(*o, "attempt", 1) : 1;
}

} // namespace

void blast_state::apply_send_state(const storage::event& e) {
  using storage::event_type;
  if (!valid(e.recipient))
    return;
  switch (e.type) {
    case event_type::send_requested: {
      set_send_state(e.recipient, send_state::requested);
      auto attempt = send_attempt(e.payload);
      attempts_[e.recipient - 1] = static_cast<uint8_t>(std::min<int64_t>(attempt, 255));
      break;
    }
    case event_type::send_succeeded:
      set_send_state(e.recipient, send_state::sent);
      break;
    case event_type::send_failed:
      set_send_state(e.recipient,
                     funnel_evidence(e) ? send_state::failed : send_state::retrying);
      break;
    default:
      break;
  }
}

uint32_t blast_state::finish_replay() {
  uint32_t n = 0;
  for (uint32_t id = 1; id <= size(); ++id)
    if (sending(id) == send_state::requested) {
      set_send_state(id, send_state::unknown);
      ++n;
    }
  return n;
}

namespace {
// Bumped whenever the layout below changes; an older snapshot is then ignored
// (and start-up replays the log instead).
constexpr uint8_t state_format = 1;
// A damaged count must not make load() allocate without bound.
constexpr uint64_t max_recipients_loaded = 1ull << 32;
} // namespace

void blast_state::save(std::string& out) const {
  using storage::put_le;
  put_le(out, state_format);
  put_le(out, def.id);
  storage::put_bytes(out, def.message);
  storage::put_bytes(out, def.tag);
  storage::put_bytes(out, def.transport);
  put_le(out, static_cast<uint64_t>(def.scheduled_ms));
  put_le(out, static_cast<uint64_t>(def.created_ms));
  put_le(out, def.total);
  put_le(out, def.duplicates_dropped);
  put_le(out, static_cast<uint8_t>(status));
  storage::put_column(out, phones_);
  std::vector<uint8_t> current(funnels_.size());
  std::vector<uint64_t> at(funnels_.size() * stage_count);
  for (size_t i = 0; i < funnels_.size(); ++i) {
    current[i] = static_cast<uint8_t>(funnels_[i].current);
    for (size_t s = 0; s < stage_count; ++s)
      at[i * stage_count + s] = static_cast<uint64_t>(funnels_[i].at[s]);
  }
  storage::put_column(out, current);
  storage::put_column(out, at);
  storage::put_column(out, send_states_);
  storage::put_column(out, attempts_);
  storage::put_column(out, profile_end_);
  storage::put_bytes(out, profiles_);
}

bool blast_state::load(storage::reader& in) {
  if (in.le<uint8_t>() != state_format)
    return false;
  def.id = in.le<uint64_t>();
  def.message = std::string(in.sized_bytes());
  def.tag = std::string(in.sized_bytes());
  def.transport = std::string(in.sized_bytes());
  def.scheduled_ms = static_cast<int64_t>(in.le<uint64_t>());
  def.created_ms = static_cast<int64_t>(in.le<uint64_t>());
  def.total = in.le<uint32_t>();
  def.duplicates_dropped = in.le<uint32_t>();
  auto st = in.le<uint8_t>();
  std::vector<uint8_t> current;
  std::vector<uint64_t> at;
  in.column(phones_, max_recipients_loaded);
  in.column(current, max_recipients_loaded);
  in.column(at, max_recipients_loaded * stage_count);
  in.column(send_states_, max_recipients_loaded);
  in.column(attempts_, max_recipients_loaded);
  in.column(profile_end_, max_recipients_loaded);
  profiles_ = std::string(in.sized_bytes());
  size_t n = phones_.size();
  if (!in.ok() || st >= status_names.size() || current.size() != n ||
      at.size() != n * stage_count || send_states_.size() != n || attempts_.size() != n ||
      profile_end_.size() != n || (n && profile_end_.back() != profiles_.size()))
    return false;
  status = static_cast<blast_status>(st);
  funnels_.assign(n, funnel{});
  counts_ = {};
  send_counts_ = {};
  uint64_t prev_end = 0;
  for (size_t i = 0; i < n; ++i) {
    if (current[i] >= stage_count || send_states_[i] >= send_state_count ||
        profile_end_[i] < prev_end)
      return false;
    prev_end = profile_end_[i];
    funnels_[i].current = static_cast<stage>(current[i]);
    for (size_t s = 0; s < stage_count; ++s)
      funnels_[i].at[s] = static_cast<int64_t>(at[i * stage_count + s]);
    ++counts_[current[i]];
    ++send_counts_[send_states_[i]];
  }
  by_phone_.clear();
  index_dirty_ = true;
  return true;
}

void blast_state::set_funnel(uint32_t id, const funnel& f) {
  auto& cur = funnels_[id - 1];
  --counts_[static_cast<size_t>(cur.current)];
  ++counts_[static_cast<size_t>(f.current)];
  cur = f;
}

bool blast_state::apply(const storage::event& e) {
  using storage::event_type;
  json::monotonic_resource mr;
  json::error_code ec;
  switch (e.type) {
    case event_type::blast_created: {
      auto v = json::parse(e.payload, ec, &mr);
      auto* o = ec ? nullptr : v.if_object();
      if (!o)
        return false;
      def.id = e.blast;
      def.message = string_or(*o, "message");
      def.tag = string_or(*o, "blastTag");
      def.transport = string_or(*o, "transport");
      def.scheduled_ms = int_or(*o, "scheduledAt", 0);
      def.created_ms = e.time_ms;
      def.total = static_cast<uint32_t>(int_or(*o, "totalRecipients", 0));
      def.duplicates_dropped = static_cast<uint32_t>(int_or(*o, "duplicatesDropped", 0));
      status = blast_status_from_string(string_or(*o, "status")).value_or(blast_status::pending);
      // totalRecipients is read from the log, which may be damaged or tampered with: reserve
      // for it only up to the default maxRecipients. Beyond that the vectors grow as the
      // recipients_added chunks arrive (a 4,294,967,295 here used to end start-up and
      // `blastctl replay` with std::bad_alloc).
      const size_t hint = std::min<size_t>(def.total, 5'000'000);
      phones_.reserve(hint);
      funnels_.reserve(hint);
      profile_end_.reserve(hint);
      return true;
    }
    case event_type::recipients_added: {
      auto v = json::parse(e.payload, ec, &mr);
      auto* o = ec ? nullptr : v.if_object();
      auto* list = o ? o->if_contains("recipients") : nullptr;
      if (!list || !list->is_array() || int_or(*o, "first", 0) != int64_t{size()} + 1)
        return false;
      for (auto& r : list->get_array()) {
        auto* a = r.if_array();
        if (!a || a->empty() || !(*a)[0].is_string())
          return false;
        auto phone = parse_phone((*a)[0].get_string());
        if (!phone)
          return false;
        std::string_view name;
        std::string vars;
        if (a->size() > 1 && (*a)[1].is_string())
          name = (*a)[1].get_string();
        if (a->size() > 2 && (*a)[2].is_object())
          vars = json::serialize((*a)[2]);
        add_recipient(*phone, name, vars);
      }
      return true;
    }
    case event_type::recipient_status:
    case event_type::send_requested:
    case event_type::send_succeeded:
    case event_type::send_failed: {
      if (!valid(e.recipient))
        return false;
      auto evidence = funnel_evidence(e);
      if (e.type == event_type::recipient_status && !evidence)
        return false;
      apply_send_state(e);
      if (evidence)
        apply_status(e.recipient, *evidence, e.time_ms);
      return true;
    }
    case event_type::blast_status: {
      auto v = json::parse(e.payload, ec, &mr);
      auto* o = ec ? nullptr : v.if_object();
      auto s = o ? blast_status_from_string(string_or(*o, "status")) : std::nullopt;
      if (!s)
        return false;
      status = *s;
      return true;
    }
    case event_type::report_snapshot:  // records, not changes of a blast's state
    case event_type::webhook_received:
    case event_type::webhook_rejected:
      return true;
  }
  return false;  // an event type this version does not know
}

std::vector<storage::event> make_blast_events(const blast_spec& spec, uint64_t id,
                                              int64_t now_ms, size_t chunk) {
  // De-duplicate by number, first occurrence wins, order kept: sort (phone,
  // position) pairs, which compares in place instead of through the spec.
  std::vector<std::pair<uint64_t, uint32_t>> by_phone(spec.recipients.size());
  for (uint32_t i = 0; i < by_phone.size(); ++i)
    by_phone[i] = {spec.recipients[i].phone, i};
  std::sort(by_phone.begin(), by_phone.end());
  std::vector<bool> keep(spec.recipients.size(), true);
  for (size_t i = 1; i < by_phone.size(); ++i)
    if (by_phone[i].first == by_phone[i - 1].first)
      keep[by_phone[i].second] = false;
  by_phone = {};
  uint32_t total = static_cast<uint32_t>(std::count(keep.begin(), keep.end(), true));

  std::vector<storage::event> out;
  storage::event created;
  created.type = storage::event_type::blast_created;
  created.source = storage::event_source::api;
  created.blast = id;
  created.time_ms = now_ms;
  json::object def{
    {"message", spec.message},
    {"blastTag", spec.tag},
    {"transport", spec.transport},
    {"totalRecipients", total},
    {"duplicatesDropped", spec.recipients.size() - total},
    {"status", to_string(spec.scheduled_ms > now_ms ? blast_status::scheduled
                                                    : blast_status::sending)}};
  if (spec.scheduled_ms)
    def["scheduledAt"] = spec.scheduled_ms;
  created.payload = json::serialize(def);
  out.push_back(std::move(created));

  uint32_t next_id = 1;
  std::string payload;
  size_t in_chunk = 0;
  auto flush = [&] {
    payload += "]}";
    storage::event e;
    e.type = storage::event_type::recipients_added;
    e.source = storage::event_source::api;
    e.blast = id;
    e.time_ms = now_ms;
    e.payload = std::move(payload);
    out.push_back(std::move(e));
    payload.clear();
    in_chunk = 0;
  };
  for (size_t i = 0; i < spec.recipients.size(); ++i) {
    if (!keep[i])
      continue;
    if (in_chunk == 0)
      payload = "{\"first\":" + std::to_string(next_id) + ",\"recipients\":[";
    else
      payload += ',';
    const auto& r = spec.recipients[i];
    payload += "[\"";
    payload += format_phone(r.phone);
    payload += '"';
    if (!r.name.empty() || !r.vars_json.empty()) {
      payload += ',';
      append_json_string(payload, r.name);
    }
    if (!r.vars_json.empty()) {
      payload += ',';
      payload += r.vars_json;
    }
    payload += ']';
    ++next_id;
    if (++in_chunk == chunk)
      flush();
  }
  if (in_chunk > 0)
    flush();
  return out;
}

storage::event make_status_event(uint64_t blast, uint32_t recipient, const status_evidence& ev,
                                 stage from, stage to, outcome out) {
  storage::event e;
  e.type = storage::event_type::recipient_status;
  e.source = ev.source;
  e.blast = blast;
  e.recipient = recipient;
  e.time_ms = ev.time_ms;
  // Written straight into the payload (json_text.hpp): building and serializing a json::object
  // of these members, the provider's raw JSON copied in, was ~4% of blastd's CPU under batched
  // webhooks. A webhook's status names its logged webhook instead of repeating the fragment:
  // the copy (escaped, ~1.25× the bytes) doubled what the journal hashed, wrote and flushed,
  // 10–15% of blastd's CPU per batched status.
  auto& p = e.payload;
  p.reserve(80 + ev.note.size() + ev.provider_status.size() + ev.event_id.size() +
            ev.raw.size() * 5 / 4);
  p += '{';
  auto member = [&p](std::string_view key, std::string_view value) {
    if (p.size() > 1)
      p += ',';
    append_json_string(p, key);
    p += ':';
    append_json_string(p, value);
  };
  member("stage", to_string(ev.observed));
  member("from", to_string(from));
  member("to", to_string(to));
  member("outcome", to_string(out));
  if (!ev.note.empty())
    member("note", ev.note);
  if (!ev.provider_status.empty())
    member("providerStatus", ev.provider_status);
  if (!ev.event_id.empty())
    member("eventId", ev.event_id);
  if (ev.webhook_seq != 0) {
    p += ",\"webhook\":";
    p += std::to_string(ev.webhook_seq);
  } else if (!ev.raw.empty()) {
    member("raw", ev.raw);
  }
  p += '}';
  return e;
}

std::optional<stage> funnel_evidence(const storage::event& e) {
  using storage::event_type;
  switch (e.type) {
    case event_type::recipient_status:
      return status_event_stage(e);
    case event_type::send_succeeded:
      return stage::sent;
    case event_type::send_failed: {
      json::error_code ec;
      auto v = json::parse(e.payload, ec);
      auto* o = ec ? nullptr : v.if_object();
      auto* fin = o ? o->if_contains("final") : nullptr;
      if (fin && fin->is_bool() && fin->get_bool())
        return stage::failed;
      return std::nullopt;
    }
    default:
      return std::nullopt;
  }
}

std::string failure_reason(const storage::event& e) {
  if (funnel_evidence(e) != stage::failed)
    return {};
  json::error_code ec;
  auto v = json::parse(e.payload, ec);
  auto* o = ec ? nullptr : v.if_object();
  if (!o)
    return {};
  std::string why;
  auto add = [&](const std::string& part) {
    if (!part.empty())
      why += why.empty() ? part : ": " + part;
  };
  if (e.type == storage::event_type::send_failed) {
    add(string_or(*o, "kind"));
    add(string_or(*o, "error"));
  } else {
    add(std::string(storage::to_string(e.source)) + " reported failed");
    add(string_or(*o, "providerStatus"));
    add(string_or(*o, "note"));
  }
  return why;
}

namespace {
storage::event recipient_event(storage::event_type t, storage::event_source src, uint64_t blast,
                               uint32_t recipient, int64_t time_ms) {
  storage::event e;
  e.type = t;
  e.source = src;
  e.blast = blast;
  e.recipient = recipient;
  e.time_ms = time_ms;
  return e;
}
} // namespace

storage::event make_send_requested(uint64_t blast, uint32_t recipient, uint32_t attempt,
                                   const std::string& text, int64_t time_ms) {
  auto e = recipient_event(storage::event_type::send_requested, storage::event_source::system,
                           blast, recipient, time_ms);
  e.payload = json::serialize(json::object{{"attempt", attempt}, {"text", text}});
  return e;
}

storage::event make_send_succeeded(uint64_t blast, uint32_t recipient,
                                   const std::string& message_id, const std::string& document,
                                   int64_t time_ms) {
  auto e = recipient_event(storage::event_type::send_succeeded, storage::event_source::transport,
                           blast, recipient, time_ms);
  e.message_id = message_id;
  e.payload = document;
  return e;
}

storage::event make_send_failed(uint64_t blast, uint32_t recipient, uint32_t attempt,
                                const std::string& kind, const std::string& error, bool final,
                                int64_t retry_after_ms, int64_t time_ms) {
  auto e = recipient_event(storage::event_type::send_failed, storage::event_source::transport,
                           blast, recipient, time_ms);
  json::object p{{"attempt", attempt}, {"kind", kind}, {"error", error}, {"final", final}};
  if (retry_after_ms > 0)
    p["retryAfterMs"] = retry_after_ms;
  e.payload = json::serialize(p);
  return e;
}

storage::event make_blast_status(uint64_t blast, blast_status s, const std::string& reason,
                                 storage::event_source source, int64_t time_ms) {
  storage::event e;
  e.type = storage::event_type::blast_status;
  e.source = source;
  e.blast = blast;
  e.time_ms = time_ms;
  json::object p{{"status", to_string(s)}};
  if (!reason.empty())
    p["reason"] = reason;
  e.payload = json::serialize(p);
  return e;
}

std::optional<stage> status_event_stage(const storage::event& e) {
  // make_status_event writes the observed stage first: read it in place. A
  // replay folds millions of these, and parsing each whole payload (with its
  // raw fragment) for one field was a quarter of replay's time. The log's hash
  // chain, not this parse, guards the payloads' integrity.
  static constexpr std::string_view head = "{\"stage\":\"";
  std::string_view p = e.payload;
  if (p.substr(0, head.size()) == head) {
    auto end = p.find('"', head.size());
    if (end != std::string_view::npos)
      if (auto s = stage_from_string(p.substr(head.size(), end - head.size())))
        return s;
  }
  json::error_code ec;
  auto v = json::parse(e.payload, ec);
  auto* o = ec ? nullptr : v.if_object();
  auto* s = o ? o->if_contains("stage") : nullptr;
  if (!s || !s->is_string())
    return std::nullopt;
  return stage_from_string(s->get_string());
}

} // namespace blast::actors
