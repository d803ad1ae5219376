// `blastctl plugin check`: the conformance check of a transport plugin against the ABI contract
// (plugins/sdk/blast_transport.h), run through blastd's own loader (plugins/host).
#pragma once

#include <chrono>
#include <string>

namespace blast::tools {

struct plugin_check_options {
  std::string path;                         // the plugin's .so
  std::string config = "{}";                // the instance config, passed verbatim to create
  std::chrono::milliseconds timeout{10000}; // how long to wait for a first push
  bool verbose = false;                     // show every plugin log line (else errors only)
};

// Loads the plugin and exercises every capability it declares with good and bad input,
// printing to stdout one line per check ("PASS name", "FAIL name: reason", and "INFO name: …"
// lines that count for nothing) and a summary "N passed, M failed".
// Returns 0 iff no check failed, else 1. A plugin that crashes or hangs ends the run with a
// FAIL line naming the check it was in (signal handler, watchdog) and exit code 1.
// Not reentrant: it installs process-wide signal handlers.
int run_plugin_check(const plugin_check_options& options);

} // namespace blast::tools
