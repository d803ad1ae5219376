// blastctl replay: rebuild blasts from the log alone (offline, read-only) and
// print their reports as blastd served them at that point of the log.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace blast::tools {

struct replay_query {
  std::string data_dir;
  std::optional<uint64_t> until_seq;  // fold events up to this seq
  std::optional<int64_t> until_ms;    // ... logged at or before this time
  std::optional<uint64_t> blast;      // only this blast (read through its own index)
};

// Prints one report per line, in blast id order: the JSON of GET
// /api/blasts/{id}/report, with calculatedAt the cut's time (--until) or the
// logged time of the last event folded. A summary (events, rate) goes to
// stderr. 0 on success, 1 when the log cannot be read or folded or the blast
// did not exist at the cut.
int replay_log(const replay_query& q);

} // namespace blast::tools
