// Fuzz target: the log as an audit input. A tampered or damaged log must be
// refused with a reason, never crash the replay that start-up, point-in-time
// reports and `blastctl replay` share. Two kinds of input:
//
//   'E' then records, each u32 little-endian length + a stored event value:
//       storage::decode each (seq = its position); what decodes must encode
//       back to an event that decodes equal; the events are folded in order
//       through actors::replayed::apply until one is refused; the fold's
//       state must survive save() -> load() -> save() byte for byte.
//   'S' then bytes: actors::replayed::load, a state snapshot as read from
//       disk; what loads must save again to the same bytes.
//
// Another first byte: the whole input is one event value.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "actors/replay.hpp"
#include "storage/event.hpp"

using namespace blast;

namespace {

[[noreturn]] void fail(const char* what, uint64_t seq) {
  std::fprintf(stderr, "log_fuzz: %s (event %llu)\n", what, static_cast<unsigned long long>(seq));
  std::abort();
}

bool same(const storage::event& a, const storage::event& b) {
  return a.seq == b.seq && a.type == b.type && a.source == b.source && a.blast == b.blast &&
         a.recipient == b.recipient && a.time_ms == b.time_ms && a.logged_ms == b.logged_ms &&
         a.message_id == b.message_id && a.payload == b.payload && a.prev_hash == b.prev_hash;
}

// Decodes one value; what decodes must round-trip through encode.
std::optional<storage::event> decode_checked(uint64_t seq, std::string_view value) {
  auto e = storage::decode(seq, value);
  if (!e)
    return e;
  auto again = storage::decode(seq, storage::encode(*e));
  if (!again || !same(*e, *again))
    fail("a decoded event does not survive encode -> decode", seq);
  return e;
}

void check_save_load(const actors::replayed& state) {
  std::string bytes = state.save();
  actors::replayed back;
  if (!back.load(bytes))
    fail("the fold's own snapshot does not load", state.last_seq);
  if (back.save() != bytes)
    fail("a loaded snapshot saves to other bytes", state.last_seq);
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) { return 0; }

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  if (in.empty())
    return 0;
  char kind = in.front();
  if (kind == 'S') {
    actors::replayed state;
    if (state.load(in.substr(1))) {
      std::string bytes = state.save();
      actors::replayed again;
      if (!again.load(bytes) || again.save() != bytes)
        fail("a loaded snapshot does not save and load back to itself", state.last_seq);
    }
    return 0;
  }
  if (kind != 'E') {
    decode_checked(1, in);
    return 0;
  }
  in.remove_prefix(1);
  actors::replayed state;
  uint64_t seq = 0;
  while (in.size() >= 4) {
    uint32_t len;
    std::memcpy(&len, in.data(), 4);  // little-endian, as the machines we run on
    in.remove_prefix(4);
    if (len > in.size())
      break;
    auto e = decode_checked(++seq, in.substr(0, len));
    in.remove_prefix(len);
    if (!e)
      break;  // replay stops at an event it cannot read
    std::string error;
    if (!state.apply(*e, error)) {
      if (error.empty())
        fail("an event was refused without a reason", seq);
      break;
    }
  }
  check_save_load(state);
  return 0;
}
