// blastctl replay: the engine's own fold (actors/replay.hpp) over a log opened
// for audit, rendered by the engine's own report view, so that what it prints
// is what blastd answered, not a second implementation of it.
#include "tools/blastctl/replay_command.hpp"

#include <algorithm>
#include <chrono>
#include <iostream>

#include "actors/replay.hpp"
#include "engine/http/views.hpp"
#include "engine/iso_time.hpp"

namespace blast::tools {

namespace {

void print_report(const actors::blast_state& b, int64_t at_ms) {
  actors::report r{b.def.id, b.size(), b.counts(), at_ms};
  std::cout << engine::http::render_report(r) << "\n";
}

} // namespace

int replay_log(const replay_query& q) {
  storage::status st;
  storage::log_options opts;
  opts.audit = true;  // read-only: the folder is left as found
  auto log = storage::event_log::open(q.data_dir, opts, st);
  if (!log) {
    std::cerr << "blastctl replay: " << st.message << "\n";
    return 1;
  }
  actors::replay_cut cut;
  if (q.until_seq)
    cut.until_seq = *q.until_seq;
  if (q.until_ms)
    cut.until_ms = *q.until_ms;

  auto t0 = std::chrono::steady_clock::now();
  std::string error;
  actors::replayed state;
  std::shared_ptr<actors::blast_state> one;
  if (q.blast)
    one = actors::replay_blast(*log, *q.blast, cut, error);
  else
    actors::replay(*log, cut, state, error);  // a failure is in `error`
  double seconds =
    std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!error.empty()) {
    std::cerr << "blastctl replay: " << error << "\n";
    return 1;
  }

  // calculatedAt: the moment asked for, else when the last event folded was logged.
  int64_t at_ms = 0;
  if (q.until_ms) {
    at_ms = *q.until_ms;
  } else {
    auto last = std::min(cut.until_seq, log->last_seq());
    if (auto e = last ? log->get(last) : std::nullopt)
      at_ms = e->logged_ms;
  }
  if (q.blast) {
    if (!one || one->def.id == 0) {
      std::cerr << "blastctl replay: blast " << *q.blast << " did not exist at that point\n";
      return 1;
    }
    print_report(*one, at_ms);
    std::cerr << "replayed blast " << *q.blast << " in " << seconds << " s\n";
    return 0;
  }
  for (auto& [id, b] : state.blasts)
    print_report(*b, at_ms);
  std::cerr << "replayed " << state.events << " events (to seq " << state.last_seq << ") in "
            << seconds << " s: " << static_cast<uint64_t>(state.events / std::max(seconds, 1e-9))
            << " events/s; " << state.blasts.size() << " blasts\n";
  return 0;
}

} // namespace blast::tools
