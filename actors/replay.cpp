// The fold of the log and its byte form for snapshots.
#include "actors/replay.hpp"

#include <optional>
#include <string_view>

#include <boost/json.hpp>

#include "actors/clock.hpp"
#include "storage/fingerprint_table.hpp"

namespace json = boost::json;

namespace blast::actors {

namespace {
constexpr std::string_view state_magic = "blastd-state";
// 2: event ids as fingerprints (1 kept them as strings; such a snapshot is
// ignored and the log replayed instead).
constexpr uint8_t replayed_format = 2;

// The eventId member of a status payload read in place, walking the top-level
// members of make_status_event's serialisation: string members, in the order
// it writes them, with eventId (when there is one) before the last member,
// webhook (a number) or raw. Walking stops there, so the provider's fragment
// (most of the bytes) is never searched; replay spent a seventh of its fold
// looking through it with memmem. Empty: there is none. nullopt: the payload is
// not of that shape, or the id holds escapes; the caller parses it whole.
std::optional<std::string> walk_for_event_id(std::string_view p) {
  if (p.empty() || p.front() != '{')
    return std::nullopt;
  for (size_t i = 1;;) {
    if (i >= p.size() || p[i] != '"')
      return std::nullopt;
    auto key_end = p.find('"', i + 1);  // our keys hold no escapes
    if (key_end == std::string_view::npos || key_end + 2 >= p.size() || p[key_end + 1] != ':')
      return std::nullopt;
    auto key = p.substr(i + 1, key_end - i - 1);
    if (key == "raw" || key == "webhook")
      return std::string();
    if (p[key_end + 2] != '"')
      return std::nullopt;
    const size_t value = key_end + 3;
    size_t close = value;
    bool escaped = false;
    for (;;) {
      close = p.find_first_of("\"\\", close);
      if (close == std::string_view::npos)
        return std::nullopt;
      if (p[close] == '"')
        break;
      escaped = true;
      close += 2;
    }
    if (key == "eventId") {
      if (escaped)
        return std::nullopt;
      return std::string(p.substr(value, close - value));
    }
    i = close + 1;
    if (i < p.size() && p[i] == '}')
      return std::string();
    if (i >= p.size() || p[i] != ',')
      return std::nullopt;
    ++i;
  }
}

} // namespace

std::string event_id_of(const storage::event& e) {
  // Most statuses carry none (manual updates, sends): skip them at once.
  if (e.type != storage::event_type::recipient_status)
    return {};
  if (auto id = walk_for_event_id(e.payload))
    return std::move(*id);
  json::error_code ec;
  auto v = json::parse(e.payload, ec);
  auto* o = ec ? nullptr : v.if_object();
  auto* id = o ? o->if_contains("eventId") : nullptr;
  return id && id->is_string() ? std::string(id->get_string()) : std::string();
}

bool replayed::apply(const storage::event& e, std::string& error) {
  ++events;
  last_seq = e.seq;
  last_logged_ms = e.logged_ms;
  switch (e.type) {
    case storage::event_type::webhook_received:
      webhooks.emplace_back(e.seq, e.time_ms);
      // Checked for empty: a damaged snapshot's negative window puts the horizon past the
      // newest webhook too.
      for (auto horizon = ms_before(e.time_ms, webhook_window_ms);
           !webhooks.empty() && webhooks.front().second < horizon;)
        webhooks.pop_front();
      break;
    case storage::event_type::webhook_rejected:
      rejected.push_back(e.seq);
      if (rejected.size() > remembered_rejected)
        rejected.pop_front();
      break;
    case storage::event_type::recipient_status:
      if (auto id = event_id_of(e); !id.empty()) {
        event_ids.push_back(storage::fingerprint(id));
        if (event_ids.size() > remembered_event_ids)
          event_ids.pop_front();
      }
      break;
    default:
      break;
  }
  if (e.blast == 0)
    return true;
  auto it = blasts.find(e.blast);
  if (it == blasts.end()) {
    // A blast begins with its blast_created; anything else first (a damaged
    // or tampered log) would leave a blast without an id, whose snapshot
    // cannot load (found by fuzz_log).
    auto b = std::make_shared<blast_state>();
    if (e.type != storage::event_type::blast_created || !b->apply(e)) {
      error = "event " + std::to_string(e.seq) + " (" + storage::to_string(e.type) +
              ") cannot be applied: blast " + std::to_string(e.blast) + " was not created";
      return false;
    }
    blasts.emplace(e.blast, std::move(b));
    return true;
  }
  if (!it->second->apply(e)) {
    error = "event " + std::to_string(e.seq) + " (" + storage::to_string(e.type) +
            ") cannot be applied";
    return false;
  }
  return true;
}

std::string replayed::save() const {
  using storage::put_le;
  std::string out;
  size_t estimate = 0;
  for (auto& [id, b] : blasts)
    estimate += 96 * size_t(b->size());
  out.reserve(estimate + 8 * event_ids.size() + 1024);
  out.append(state_magic);
  put_le(out, replayed_format);
  put_le(out, last_seq);
  put_le(out, static_cast<uint64_t>(last_logged_ms));
  put_le(out, events);
  put_le(out, static_cast<uint64_t>(webhook_window_ms));
  put_le(out, static_cast<uint64_t>(blasts.size()));
  for (auto& [id, b] : blasts) {
    put_le(out, id);
    b->save(out);
  }
  storage::put_column(out, std::vector<uint64_t>(event_ids.begin(), event_ids.end()));
  storage::put_column(out, std::vector<uint64_t>(rejected.begin(), rejected.end()));
  put_le(out, static_cast<uint64_t>(webhooks.size()));
  for (auto& [seq, time] : webhooks) {
    put_le(out, seq);
    put_le(out, static_cast<uint64_t>(time));
  }
  return out;
}

bool replayed::load(std::string_view bytes) {
  *this = replayed{};
  if (bytes.substr(0, state_magic.size()) != state_magic)
    return false;
  storage::reader in{bytes.substr(state_magic.size())};
  if (in.le<uint8_t>() != replayed_format)
    return false;
  last_seq = in.le<uint64_t>();
  last_logged_ms = static_cast<int64_t>(in.le<uint64_t>());
  events = in.le<uint64_t>();
  webhook_window_ms = static_cast<int64_t>(in.le<uint64_t>());
  auto n = in.le<uint64_t>();
  for (uint64_t i = 0; i < n && in.ok(); ++i) {
    auto id = in.le<uint64_t>();
    auto b = std::make_shared<blast_state>();
    if (!b->load(in) || b->def.id != id)
      return false;
    blasts.emplace(id, std::move(b));
  }
  std::vector<uint64_t> ids;
  in.column(ids, remembered_event_ids);
  event_ids.assign(ids.begin(), ids.end());
  std::vector<uint64_t> rej;
  in.column(rej, remembered_rejected);
  rejected.assign(rej.begin(), rej.end());
  n = in.le<uint64_t>();
  for (uint64_t i = 0; i < n && in.ok(); ++i) {
    auto seq = in.le<uint64_t>();
    webhooks.emplace_back(seq, static_cast<int64_t>(in.le<uint64_t>()));
  }
  return in.ok() && in.at_end();
}

bool replay(const storage::event_log& log, const replay_cut& cut, replayed& into,
            std::string& error) {
  // Read ahead on a second thread: decoding is about half of a replay's work.
  auto st = log.scan_ahead(into.last_seq + 1, [&](const storage::event& e) {
    return cut.admits(e) && into.apply(e, error);
  });
  if (!st) {
    error = "reading the log failed: " + st.message;
    return false;
  }
  return error.empty();
}

std::shared_ptr<blast_state> replay_blast(const storage::event_log& log, uint64_t blast,
                                          const replay_cut& cut, std::string& error) {
  auto b = std::make_shared<blast_state>();
  auto st = log.scan_stream(blast, 0, [&](const storage::event& e) {
    if (!cut.admits(e))
      return false;
    if (!b->apply(e)) {
      error = "event " + std::to_string(e.seq) + " (" + storage::to_string(e.type) +
              ") cannot be applied";
      return false;
    }
    return true;
  });
  if (!st) {
    error = "reading the log failed: " + st.message;
    return nullptr;
  }
  if (!error.empty())
    return nullptr;
  return b;
}

} // namespace blast::actors
