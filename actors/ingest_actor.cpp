// ingest_actor: resolves observations to recipients — message ids through the
// log's index, unquoted replies through the numbers each blast messaged —
// drops duplicates by the provider's event id, and parks what cannot be
// matched yet until its id is bound; nothing is dropped silently.
#include "actors/ingest_actor.hpp"

#include <algorithm>
#include <deque>
#include <unordered_map>
#include <unordered_set>

#include "actors/clock.hpp"
#include "actors/messages.hpp"
#include "actors/phone_number.hpp"
#include "storage/event_log.hpp"
#include "storage/fingerprint_table.hpp"

namespace blast::actors {

namespace {

struct parked_observation {
  std::string transport;
  storage::event_source source;
  uint64_t webhook_seq;  // the logged webhook it came from; 0 = a push or a look-up
  plugins::observation obs;
  int64_t since_ms;
  std::string reason;
};

constexpr size_t seen_generation = 2'000'000;

struct ingest_state {
  caf::actor manager;
  // Waiting for their message id to be bound, by that id.
  std::unordered_map<std::string, std::vector<parked_observation>> parked;
  uint64_t parked_count = 0;
  // Replies from numbers no blast messaged: kept for the unmatched list, and
  // matched after all if a send to their number is bound later (a reply can
  // overtake the news of the send it answers: the webhook and the send's
  // commit race). orphan_phones counts them by number, so that a bound send
  // looks through the list only when it can match.
  std::deque<parked_observation> orphans;
  std::unordered_map<uint64_t, uint32_t> orphan_phones;
  // Event ids already applied, by fingerprint: a provider retries until it
  // gets a 2xx. Remembers the last 2M–4M ids in at most 128 MiB (as strings in
  // a set and an eviction list they took ~150 bytes each). A new id whose
  // fingerprint collides with a remembered one (2^-64 per pair) would be
  // taken for a duplicate; its raw webhook is in the log either way.
  storage::fingerprint_table<bool> seen{seen_generation};
  // Every message a provider accepted, by number, for unquoted replies.
  std::unordered_map<uint64_t, std::vector<sent_ref>> sent_to;
  static inline const char* name = "ingest_actor";
};

using self_ptr = caf::stateful_actor<ingest_state>*;

// Bounds: past these the oldest entries go (with the count in the listing's
// reason), so that a flood cannot grow memory without limit.
constexpr uint64_t max_parked = 1'000'000;
constexpr size_t max_orphans = 100'000;
// Providers stamp inbound messages in whole seconds with their own clock: a
// reply may carry a time a little before our record of the send it answers.
constexpr int64_t reply_clock_slack_ms = 60'000;

std::optional<stage> stage_of(int s) {
  switch (s) {
    case 1: return stage::sent;
    case 2: return stage::delivered;
    case 3: return stage::read;
    case 4: return stage::replied;
    case 6: return stage::failed;
    default: return std::nullopt;  // "no status yet" and unknown numbers
  }
}

void remember(ingest_state& st, const std::string& event_id) {
  if (!event_id.empty())
    st.seen.put(storage::fingerprint(event_id), true);
}

void add_sent(ingest_state& st, const sent_ref& r) {
  auto& v = st.sent_to[r.phone];
  v.push_back(r);
  // Kept in time order: most blasts append the newest anyway.
  for (size_t i = v.size() - 1; i > 0 && v[i - 1].sent_ms > v[i].sent_ms; --i)
    std::swap(v[i - 1], v[i]);
}

enum class routed { applied, duplicate, ignored, unbound, unknown_sender };

// What one message's observations route, gathered by blast and sent once the
// message is handled: a webhook of 100 statuses is one message to its blast.
struct outbox {
  std::vector<routes_msg> by_blast;  // few: a webhook's statuses are mostly one blast's

  void add(route_msg&& r) {
    auto it = std::find_if(by_blast.begin(), by_blast.end(),
                           [&](const routes_msg& m) { return m.blast == r.blast; });
    if (it == by_blast.end())
      it = by_blast.insert(by_blast.end(), routes_msg{r.blast, {}});
    it->routes.push_back(std::move(r));
  }
  void send(self_ptr self) {
    for (auto& m : by_blast)
      self->send(self->state.manager, std::move(m));
    by_blast.clear();
  }
};

// `again`: an orphaned reply looked at anew, whose event id was remembered
// when it was orphaned (so that its retries were not listed twice).
routed route(self_ptr self, const runtime& rt, storage::event_source source,
             uint64_t webhook_seq, plugins::observation& o, outbox& out, bool again = false) {
  auto& st = self->state;
  auto observed = stage_of(o.stage);
  if (!observed)
    return routed::ignored;
  if (!again && !o.event_id.empty() && st.seen.contains(storage::fingerprint(o.event_id)))
    return routed::duplicate;
  int64_t when = o.provider_time_ms > 0 ? o.provider_time_ms : now_ms();
  std::optional<storage::recipient_ref> ref;
  // A reply names the message it answers when it can; a status names its own.
  const auto& id = !o.quoted_id.empty() ? o.quoted_id : o.message_id;
  if (!id.empty()) {
    ref = rt.log->find_message(id);
    if (!ref)
      return routed::unbound;
  } else if (*observed == stage::replied && !o.sender.empty()) {
    // The most recent blast that messaged this number before the reply.
    auto phone = parse_phone(o.sender);
    auto it = phone ? st.sent_to.find(*phone) : st.sent_to.end();
    if (it == st.sent_to.end())
      return routed::unknown_sender;
    const sent_ref* best = nullptr;
    for (auto& r : it->second)
      if (r.sent_ms <= when + reply_clock_slack_ms)
        best = &r;
    if (!best)
      return routed::unknown_sender;
    ref = storage::recipient_ref{best->blast, best->recipient};
  } else {
    return routed::ignored;
  }
  remember(st, o.event_id);
  status_evidence ev;
  ev.observed = *observed;
  ev.time_ms = when;
  ev.source = source;
  ev.provider_status = std::move(o.provider_status);
  ev.event_id = std::move(o.event_id);
  ev.webhook_seq = webhook_seq;
  if (webhook_seq == 0)
    ev.raw = std::move(o.raw);
  out.add(route_msg{ref->blast, ref->recipient, std::move(ev)});
  return routed::applied;
}

// Counts what became of an observation from a webhook (pushes and polls are
// not webhooks); a parked one counts again when its id is bound.
void tally(const runtime& rt, const std::string& transport, storage::event_source source,
           routed r) {
  if (source != storage::event_source::webhook || !rt.counters)
    return;
  auto it = rt.counters->find(transport);
  if (it == rt.counters->end())
    return;
  switch (r) {
    case routed::applied: return it->second->count(webhook_tally::applied);
    case routed::duplicate: return it->second->count(webhook_tally::duplicate);
    case routed::ignored: return it->second->count(webhook_tally::ignored);
    case routed::unbound: return it->second->count(webhook_tally::parked);
    case routed::unknown_sender: return it->second->count(webhook_tally::unmatched);
  }
}

void forget_orphan(ingest_state& st, const parked_observation& p) {
  auto phone = parse_phone(p.obs.sender);
  auto it = phone ? st.orphan_phones.find(*phone) : st.orphan_phones.end();
  if (it != st.orphan_phones.end() && --it->second == 0)
    st.orphan_phones.erase(it);
}

void ingest(self_ptr self, const runtime& rt, const std::string& transport,
            storage::event_source source, uint64_t webhook_seq, plugins::observation o,
            int64_t since, outbox& out) {
  auto& st = self->state;
  auto r = route(self, rt, source, webhook_seq, o, out);
  tally(rt, transport, source, r);
  switch (r) {
    case routed::unbound: {
      if (st.parked_count >= max_parked)
        break;  // bounded; the raw webhook stays in the log either way
      auto key = !o.quoted_id.empty() ? o.quoted_id : o.message_id;
      st.parked[key].push_back(
        {transport, source, webhook_seq, std::move(o), since, "message id not known yet"});
      ++st.parked_count;
      break;
    }
    case routed::unknown_sender:
      remember(st, o.event_id);  // its retries are the same orphan, listed once
      if (auto phone = parse_phone(o.sender))
        ++st.orphan_phones[*phone];
      st.orphans.push_back(
        {transport, source, webhook_seq, std::move(o), since, "no blast messaged this number"});
      if (st.orphans.size() > max_orphans) {
        forget_orphan(st, st.orphans.front());
        st.orphans.pop_front();
      }
      break;
    default:
      break;
  }
}

unmatched_item item_of(const parked_observation& p) {
  return {p.transport,
          p.reason,
          p.obs.message_id.empty() ? p.obs.quoted_id : p.obs.message_id,
          p.obs.sender,
          stage_of(p.obs.stage).value_or(stage::pending),
          p.obs.provider_status,
          p.obs.event_id,
          p.since_ms,
          p.obs.raw,
          p.webhook_seq};
}

void ingest_all(self_ptr self, const runtime& rt, pushed_msg& m, int64_t now, outbox& out) {
  for (auto& o : m.observations)
    ingest(self, rt, m.transport, m.source, m.webhook_seq, std::move(o), now, out);
}

caf::behavior ingest_actor(self_ptr self, runtime rt) {
  return {
    [=](caf::actor& manager) { self->state.manager = std::move(manager); },
    [=](ingest_seed_msg& m) {
      auto& st = self->state;
      for (auto fp : m.applied_event_ids)
        st.seen.put(fp, true);
      for (auto& r : m.sent)
        add_sent(st, r);
    },
    [=](pushed_msg& m) {
      outbox out;
      ingest_all(self, rt, m, now_ms(), out);
      out.send(self);
    },
    [=](pushed_batch_msg& m) {
      // One outbox for the whole round: one routes message per blast, so the
      // blast actors commit the round's statuses together too.
      auto now = now_ms();
      outbox out;
      for (auto& part : m.parts)
        ingest_all(self, rt, part, now, out);
      out.send(self);
    },
    [=](bound_msg& b) {
      auto& st = self->state;
      outbox out;
      std::unordered_set<uint64_t> messaged;  // numbers just messaged that have orphans
      for (auto& r : b.sent) {
        add_sent(st, r);
        if (st.orphan_phones.count(r.phone))
          messaged.insert(r.phone);
      }
      if (!messaged.empty()) {
        // Orphans whose number was just messaged are routed again; the rest
        // keep their place. A reply older than the send stays an orphan (route
        // finds no send before it), without being counted twice.
        std::deque<parked_observation> kept;
        for (auto& p : st.orphans) {
          auto phone = parse_phone(p.obs.sender);
          if (!phone || !messaged.count(*phone)) {
            kept.push_back(std::move(p));
            continue;
          }
          if (route(self, rt, p.source, p.webhook_seq, p.obs, out, true) == routed::applied) {
            tally(rt, p.transport, p.source, routed::applied);
            forget_orphan(st, p);
          } else {
            kept.push_back(std::move(p));
          }
        }
        st.orphans = std::move(kept);
      }
      for (auto& id : b.message_ids) {
        auto it = st.parked.find(id);
        if (it == st.parked.end())
          continue;
        auto waiting = std::move(it->second);
        st.parked.erase(it);
        st.parked_count -= waiting.size();
        for (auto& p : waiting)
          ingest(self, rt, p.transport, p.source, p.webhook_seq, std::move(p.obs), p.since_ms,
                 out);
      }
      out.send(self);
    },
    [=](unmatched_msg& m) {
      auto& st = self->state;
      auto cutoff = now_ms() - m.older_than_ms;
      std::vector<unmatched_item> out;
      for (auto& [id, list] : st.parked)
        for (auto& p : list)
          if (p.since_ms <= cutoff)
            out.push_back(item_of(p));
      for (auto& p : st.orphans)
        if (p.since_ms <= cutoff)
          out.push_back(item_of(p));
      std::sort(out.begin(), out.end(),
                [](auto& a, auto& b) { return a.since_ms < b.since_ms; });
      m.reply(result<std::vector<unmatched_item>>::ok(std::move(out)));
    },
  };
}

} // namespace

caf::actor spawn_ingest(caf::actor_system& sys, const runtime& rt) {
  return sys.spawn(ingest_actor, rt);
}

} // namespace blast::actors
