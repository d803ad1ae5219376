// transport_actor: pacing and dispatch of sends to a plugin instance.
#include "actors/transport_actor.hpp"

#include <algorithm>
#include <chrono>
#include <deque>
#include <map>
#include <optional>

#include "actors/clock.hpp"
#include "actors/messages.hpp"
#include "actors/phone_number.hpp"
#include "actors/token_bucket.hpp"
#include "actors/worker_pool.hpp"

namespace blast::actors {

namespace {

using steady = std::chrono::steady_clock;

struct job {
  caf::actor reply_to;
  uint64_t blast;
  send_item item;
};

struct transport_state {
  std::shared_ptr<plugins::transport_instance> instance;
  std::shared_ptr<worker_pool> workers;
  transport_counters* counters = nullptr;
  std::optional<token_bucket> pace;  // the rate limit; none = unlimited
  uint32_t max_in_flight = 256;
  uint32_t in_flight = 0;
  steady::time_point paused_until;  // a provider's retry-after
  bool tick_pending = false;
  std::deque<job> queue;
  // Outcomes on their way back, per blast actor: forwarded in batches (at most
  // `flush_every` of them, or whatever came in the last millisecond) so that a
  // blast commits its outcomes in groups, not one journal submission each.
  std::map<caf::actor, std::vector<send_outcome>> outbox;
  bool flush_pending = false;
  static inline const char* name = "transport_actor";
};

using self_ptr = caf::stateful_actor<transport_state>*;

// Sends per worker task: amortises the hop to a worker thread.
constexpr size_t chunk = 64;
constexpr size_t flush_every = 256;

void flush_outbox(self_ptr self) {
  auto& st = self->state;
  for (auto& [dest, outcomes] : st.outbox)
    if (!outcomes.empty())
      self->send(dest, send_results_msg{std::move(outcomes)});
  st.outbox.clear();
}

void arm_tick(self_ptr self, steady::duration wait) {
  if (self->state.tick_pending)
    return;
  self->state.tick_pending = true;
  self->delayed_send(self, std::max(wait, steady::duration(std::chrono::milliseconds(1))),
                     tick_atom_v);
}

// Publishes the depths for /metrics; called whenever they may have changed.
void publish(transport_state& st) {
  if (!st.counters)
    return;
  st.counters->queued.store(st.queue.size(), std::memory_order_relaxed);
  st.counters->in_flight.store(st.in_flight, std::memory_order_relaxed);
}

void dispatch_now(self_ptr self);

void dispatch(self_ptr self) {
  dispatch_now(self);
  publish(self->state);
}

void dispatch_now(self_ptr self) {
  auto& st = self->state;
  auto now = steady::now();
  if (now < st.paused_until) {
    arm_tick(self, st.paused_until - now);
    return;
  }
  while (!st.queue.empty() && st.in_flight < st.max_in_flight) {
    size_t n = std::min({chunk, st.queue.size(), size_t{st.max_in_flight - st.in_flight}});
    if (st.pace) {
      n = st.pace->take(n, now);
      if (n == 0) {
        arm_tick(self, st.pace->until_next());
        return;
      }
    }
    // One task per destination blast actor, so each gets one results message.
    std::vector<job> batch;
    batch.reserve(n);
    caf::actor dest = st.queue.front().reply_to;
    while (batch.size() < n && !st.queue.empty() && st.queue.front().reply_to == dest) {
      batch.push_back(std::move(st.queue.front()));
      st.queue.pop_front();
    }
    st.in_flight += static_cast<uint32_t>(batch.size());
    auto me = caf::actor_cast<caf::actor>(self);
    st.workers->post([me, inst = st.instance, batch = std::move(batch), dest]() mutable {
      for (auto& j : batch) {
        auto key = "b" + std::to_string(j.blast) + "-r" + std::to_string(j.item.recipient);
        auto r = inst->send(format_phone(j.item.phone), j.item.text, key, j.item.vars);
        // Each outcome goes out as soon as it is known: held back behind a
        // slower send, a crash would turn a known success into `unknown`.
        std::vector<send_outcome> one{{j.item.recipient, j.item.attempt, std::move(r), now_ms()}};
        caf::anon_send(me, sends_done_msg{dest, std::move(one)});
      }
    });
  }
}

caf::behavior transport_actor(self_ptr self, transport_options opts,
                              std::shared_ptr<plugins::transport_instance> instance,
                              std::shared_ptr<worker_pool> workers, caf::actor ingest,
                              transport_counters* counters) {
  auto& st = self->state;
  st.counters = counters;
  st.instance = std::move(instance);
  st.workers = std::move(workers);
  if (opts.rate_per_second > 0)  // at most 100 ms worth at once
    st.pace.emplace(opts.rate_per_second, opts.rate_per_second / 10, steady::now());
  st.max_in_flight = std::max<uint32_t>(1, opts.max_in_flight);
  return {
    [=](send_batch_msg& m) {
      for (auto& item : m.items)
        self->state.queue.push_back({m.reply_to, m.blast, std::move(item)});
      dispatch(self);
    },
    [=](sends_done_msg& d) {
      auto& st = self->state;
      st.in_flight -= static_cast<uint32_t>(d.outcomes.size());
      // "Slow down" applies to the whole transport, not to one recipient.
      for (auto& o : d.outcomes)
        if (o.result.error == plugins::send_error::rate_limited) {
          auto wait = std::chrono::milliseconds(
            o.result.retry_after_ms > 0 ? o.result.retry_after_ms : 1000);
          st.paused_until = std::max(st.paused_until, steady::now() + wait);
        }
      auto& box = st.outbox[d.reply_to];
      box.insert(box.end(), std::make_move_iterator(d.outcomes.begin()),
                 std::make_move_iterator(d.outcomes.end()));
      if (box.size() >= flush_every) {
        self->send(d.reply_to, send_results_msg{std::move(box)});
        st.outbox.erase(d.reply_to);
      } else if (!st.flush_pending) {
        st.flush_pending = true;
        self->delayed_send(self, std::chrono::milliseconds(1), flush_atom_v);
      }
      dispatch(self);
    },
    [=](poll_msg& m) {
      auto name = opts.name;
      self->state.workers->post([inst = self->state.instance, items = std::move(m.items), ingest,
                                 name]() mutable {
        std::vector<plugins::observation> found;
        for (auto& it : items) {
          std::vector<plugins::observation> obs;
          if (!inst->query_status(it.message_id, it.document, obs).ok())
            continue;  // the gateway is down or confused: the next round asks again
          for (auto& o : obs) {
            if (o.message_id.empty())
              o.message_id = it.message_id;
            found.push_back(std::move(o));
          }
        }
        if (!found.empty())
          caf::anon_send(ingest, pushed_msg{name, storage::event_source::poll, std::move(found)});
      });
    },
    [=](withdraw_msg& w) {
      auto& q = self->state.queue;
      withdrawn_msg out;
      std::deque<job> keep;
      for (auto& j : q) {
        if (j.reply_to == w.blast_actor)
          out.items.push_back(std::move(j.item));
        else
          keep.push_back(std::move(j));
      }
      q.swap(keep);
      publish(self->state);
      self->send(w.blast_actor, std::move(out));
    },
    [=](flush_atom) {
      self->state.flush_pending = false;
      flush_outbox(self);
    },
    [=](tick_atom) {
      self->state.tick_pending = false;
      dispatch(self);
    },
  };
}

} // namespace

caf::actor spawn_transport(caf::actor_system& sys, const transport_options& opts,
                           std::shared_ptr<plugins::transport_instance> instance,
                           std::shared_ptr<worker_pool> workers, caf::actor ingest,
                           transport_counters* counters) {
  return sys.spawn(transport_actor, opts, std::move(instance), std::move(workers),
                   std::move(ingest), counters);
}

} // namespace blast::actors
