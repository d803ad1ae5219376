// The blast fold and the payload encodings of the blast's events. Payloads are
// JSON so that an auditor can read the log with nothing but a JSON parser.
#include "actors/blast_state.hpp"

#include <algorithm>

#include <boost/json.hpp>

#include "actors/phone_number.hpp"

namespace json = boost::json;

namespace blast::actors {

namespace {
constexpr std::array<const char*, 7> status_names{"pending",   "scheduled", "sending", "completed",
                                                  "paused",    "cancelled", "failed"};

void append_json_string(std::string& out, std::string_view s) {
  out += json::serialize(json::string_view(s.data(), s.size()));
}

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
      phones_.reserve(def.total);
      funnels_.reserve(def.total);
      profile_end_.reserve(def.total);
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
    case event_type::recipient_status: {
      auto observed = status_event_stage(e);
      if (!observed || !valid(e.recipient))
        return false;
      apply_status(e.recipient, *observed, e.time_ms);
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
  json::object p{{"stage", to_string(ev.observed)},
                 {"from", to_string(from)},
                 {"to", to_string(to)},
                 {"outcome", to_string(out)}};
  if (!ev.note.empty())
    p["note"] = ev.note;
  if (!ev.provider_status.empty())
    p["providerStatus"] = ev.provider_status;
  e.payload = json::serialize(p);
  return e;
}

std::optional<stage> status_event_stage(const storage::event& e) {
  json::error_code ec;
  auto v = json::parse(e.payload, ec);
  auto* o = ec ? nullptr : v.if_object();
  auto* s = o ? o->if_contains("stage") : nullptr;
  if (!s || !s->is_string())
    return std::nullopt;
  return stage_from_string(s->get_string());
}

} // namespace blast::actors
