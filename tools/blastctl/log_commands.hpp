// blastctl's offline commands on a data folder (blastd stopped, or a copy of
// its folder), opened read-only: verify the hash chain, print events.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace blast::tools {

// Checks sequence continuity, the SHA-256 chain and meta (last_seq,
// chain_head); prints the verdict on stdout: "ok: ..." with the number of
// events, the last seq, the chain head and the rate, or "FAIL: seq N: ..."
// naming the first bad seq. Progress goes to stderr when it is a terminal.
// Returns 0 when intact, 1 when the log is damaged or cannot be opened.
int verify_log(const std::string& data_dir);

struct events_query {
  std::string data_dir;
  std::optional<uint64_t> blast;
  std::optional<uint32_t> recipient;  // with blast
  bool json = false;                  // one JSON object per line
};
int print_events(const events_query& q);

} // namespace blast::tools
