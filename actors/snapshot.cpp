// Snapshot storage: a JSON manifest under "state" names the generation (its
// seq), the chain hash of the event at that seq (so a snapshot copied beside
// another log is refused) and a checksum; the bytes are split into parts,
// since RocksDB keeps big values poorly.
#include "actors/snapshot.hpp"

#include <chrono>
#include <cstdio>

#include <boost/json.hpp>

#include "storage/thread_name.hpp"

namespace json = boost::json;

namespace blast::actors {

namespace {
constexpr const char* manifest_key = "state";
constexpr size_t part_bytes = 8u << 20;
constexpr int64_t manifest_format = 1;

std::string part_key(uint64_t seq, uint64_t part) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "state/%016llx/%06llu", static_cast<unsigned long long>(seq),
                static_cast<unsigned long long>(part));
  return buf;
}

struct manifest {
  uint64_t seq = 0;
  uint64_t parts = 0;
  uint64_t bytes = 0;
  std::string checksum;  // chain_hash(seq, bytes), hex
  std::string head;      // chain hash of the log's event at seq, hex
};

std::optional<manifest> read_manifest(const storage::event_log& log, std::string& why) {
  auto text = log.get_snapshot(manifest_key);
  if (!text)
    return std::nullopt;
  json::error_code ec;
  auto v = json::parse(*text, ec);
  auto* o = ec ? nullptr : v.if_object();
  auto u64 = [&](const char* k) -> uint64_t {
    auto* x = o ? o->if_contains(k) : nullptr;
    return x && x->is_uint64() ? x->get_uint64() : x && x->is_int64() ? uint64_t(x->get_int64()) : 0;
  };
  auto str = [&](const char* k) {
    auto* x = o ? o->if_contains(k) : nullptr;
    return x && x->is_string() ? std::string(x->get_string()) : std::string();
  };
  if (!o || u64("format") != manifest_format) {
    why = "the snapshot manifest is unreadable or of another format";
    return std::nullopt;
  }
  return manifest{u64("seq"), u64("parts"), u64("bytes"), str("checksum"), str("head")};
}
} // namespace

storage::status save_snapshot(storage::event_log& log, std::string_view bytes, uint64_t seq) {
  auto head = log.hash_of(seq);
  if (!head)
    return {storage::errc::invalid_argument,
            "no event " + std::to_string(seq) + " in the log to snapshot at"};
  std::vector<std::pair<std::string, std::string>> puts;
  uint64_t parts = 0;
  for (size_t at = 0; at < bytes.size() || parts == 0; at += part_bytes)
    puts.emplace_back(part_key(seq, parts++), std::string(bytes.substr(at, part_bytes)));
  json::object m{{"format", manifest_format},
                 {"seq", seq},
                 {"parts", parts},
                 {"bytes", bytes.size()},
                 {"checksum", storage::to_hex(storage::chain_hash(seq, bytes))},
                 {"head", storage::to_hex(*head)}};
  puts.emplace_back(manifest_key, json::serialize(m));
  std::vector<std::string> erases;
  std::string ignored;
  if (auto old = read_manifest(log, ignored); old && old->seq != seq)
    for (uint64_t p = 0; p < old->parts; ++p)
      erases.push_back(part_key(old->seq, p));
  return log.write_snapshots(puts, erases);
}

bool load_snapshot(const storage::event_log& log, replayed& into, std::string& why) {
  auto m = read_manifest(log, why);
  if (!m)
    return false;
  auto head = log.hash_of(m->seq);
  if (!head || storage::to_hex(*head) != m->head) {
    why = "the snapshot at seq " + std::to_string(m->seq) + " does not belong to this log";
    return false;
  }
  std::string bytes;
  bytes.reserve(m->bytes);
  for (uint64_t p = 0; p < m->parts; ++p) {
    auto part = log.get_snapshot(part_key(m->seq, p));
    if (!part) {
      why = "the snapshot at seq " + std::to_string(m->seq) + " misses part " + std::to_string(p);
      return false;
    }
    bytes += *part;
  }
  if (bytes.size() != m->bytes ||
      storage::to_hex(storage::chain_hash(m->seq, bytes)) != m->checksum) {
    why = "the snapshot at seq " + std::to_string(m->seq) + " fails its checksum";
    return false;
  }
  if (!into.load(bytes) || into.last_seq != m->seq) {
    into = replayed{};
    why = "the snapshot at seq " + std::to_string(m->seq) + " is of a format this build does not read";
    return false;
  }
  return true;
}

snapshotter::snapshotter(storage::event_log& log, uint64_t every_events, uint64_t snapshot_seq,
                         log_fn say)
  : log_(log), every_(every_events), say_(std::move(say)), seq_(snapshot_seq) {
  thread_ = std::thread([this] {
    storage::name_this_thread("snapshot");
    run();
  });
}

snapshotter::~snapshotter() {
  {
    std::lock_guard lock{mu_};
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void snapshotter::save(std::string bytes, uint64_t seq) {
  {
    std::lock_guard lock{mu_};
    pending_ = std::move(bytes);
    pending_seq_ = seq;
  }
  cv_.notify_all();
}

uint64_t snapshotter::snapshot_seq() const {
  std::lock_guard lock{mu_};
  return seq_;
}

void snapshotter::run() {
  std::unique_lock lock{mu_};
  for (;;) {
    // The log's growth is checked every few seconds: cheaper than a signal
    // per commit, and a snapshot a few seconds late costs nothing.
    cv_.wait_for(lock, std::chrono::seconds(2), [&] { return stopping_ || pending_seq_ != 0; });
    if (pending_seq_ != 0) {
      auto bytes = std::move(pending_);
      auto seq = pending_seq_;
      pending_ = {};
      pending_seq_ = 0;
      lock.unlock();
      auto st = save_snapshot(log_, bytes, seq);
      lock.lock();
      if (st)
        seq_ = seq;
      else
        say_("snapshot at seq " + std::to_string(seq) + " not saved: " + st.message);
      continue;
    }
    if (stopping_)
      return;
    if (every_ == 0 || log_.last_seq() < seq_ + every_)
      continue;
    lock.unlock();
    refresh();
    lock.lock();
  }
}

void snapshotter::refresh() {
  auto t0 = std::chrono::steady_clock::now();
  replayed state;
  std::string why, error;
  load_snapshot(log_, state, why);  // none or unusable: fold from the start
  if (!replay(log_, replay_cut{}, state, error)) {
    say_("snapshot refresh failed: " + error);
    std::lock_guard lock{mu_};
    seq_ = log_.last_seq();  // do not retry a broken fold in a loop
    return;
  }
  auto bytes = state.save();
  auto st = save_snapshot(log_, bytes, state.last_seq);
  std::lock_guard lock{mu_};
  if (!st) {
    say_("snapshot at seq " + std::to_string(state.last_seq) + " not saved: " + st.message);
    seq_ = state.last_seq;
    return;
  }
  seq_ = state.last_seq;
  say_("snapshot at seq " + std::to_string(seq_) + " saved (" + std::to_string(bytes.size() >> 20) +
       " MiB, " +
       std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - t0)
                        .count()) +
       " ms)");
}

} // namespace blast::actors
