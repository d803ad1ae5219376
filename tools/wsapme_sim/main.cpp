// wsapme-sim: a WSAPME-compatible gateway on 127.0.0.1 for tests, demos and
// benchmarks. Prints its address first on stdout, runs until SIGINT/SIGTERM.
#include "tools/wsapme_sim/simulator.hpp"

#include <csignal>
#include <exception>
#include <iostream>
#include <pthread.h>

using namespace blast::tools::wsapme_sim;

int main(int argc, char** argv) {
  sim_options opts;
  try {
    auto parsed = parse_command_line(argc, argv, std::cout);
    if (!parsed)
      return 0;
    opts = std::move(*parsed);
  } catch (const std::exception& e) {
    std::cerr << "wsapme-sim: " << e.what() << " (see wsapme-sim --help)\n";
    return 2;
  }
  // Blocked before any thread starts, so every thread inherits the mask and
  // sigwait below is the one place the signals land.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  try {
    simulator sim(opts);
    // The first stdout line is the contract with scripts and test harnesses.
    std::cout << "wsapme-sim listening on http://" << opts.address << ":" << sim.port()
              << std::endl;
    std::cerr << "wsapme-sim: device " << opts.device << ", seed " << opts.seed << ", webhooks "
              << (opts.webhook_url.empty() ? std::string("off") : opts.webhook_url) << std::endl;
    int sig = 0;
    sigwait(&signals, &sig);
    sim.stop();
  } catch (const std::exception& e) {
    std::cerr << "wsapme-sim: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
