// wacloud-sim: a WhatsApp Cloud API simulator on 127.0.0.1 for tests, demos and benchmarks.
// Prints its address first on stdout, runs until SIGINT/SIGTERM.
#include "tools/wacloud_sim/cloud_api.hpp"

#include <boost/program_options.hpp>
#include <csignal>
#include <exception>
#include <iostream>
#include <pthread.h>
#include <vector>

namespace po = boost::program_options;
using namespace blast::tools::wacloud_sim;

int main(int argc, char** argv) {
  cloud_options o;
  std::vector<std::string> fail, errors;
  po::options_description d("wacloud-sim options");
  d.add_options()("help", "this help")
      ("port", po::value(&o.port)->default_value(o.port), "listen port on 127.0.0.1 (0 = any)")
      ("threads", po::value(&o.threads)->default_value(o.threads), "I/O threads")
      ("token", po::value(&o.access_token)->required(), "the expected bearer access token")
      ("phone-number-id", po::value(&o.phone_number_id)->default_value(o.phone_number_id),
       "the sender's phone number id (the send path's middle segment)")
      ("webhook-url", po::value(&o.webhook_url), "where notifications go: http://host:port/path")
      ("app-secret", po::value(&o.app_secret), "signs notifications (X-Hub-Signature-256)")
      ("seed", po::value(&o.seed)->default_value(o.seed), "every plan derives from it")
      ("deliver-rate", po::value(&o.deliver_rate)->default_value(o.deliver_rate), "P(delivered)")
      ("read-rate", po::value(&o.read_rate)->default_value(o.read_rate), "P(read | delivered)")
      ("reply-rate", po::value(&o.reply_rate)->default_value(o.reply_rate), "P(reply | read)")
      ("quote-rate", po::value(&o.quote_rate)->default_value(o.quote_rate),
       "P(a reply carries context.id)")
      ("delay-ms", po::value(&o.delay_ms)->default_value(o.delay_ms), "between two stages")
      ("batch-size", po::value(&o.batch_size)->default_value(o.batch_size),
       "events per notification, at most (Meta: up to 100)")
      ("batch-interval-ms", po::value(&o.batch_interval_ms)->default_value(o.batch_interval_ms),
       "how long events gather before going out")
      ("duplicate-rate", po::value(&o.duplicate_rate)->default_value(o.duplicate_rate),
       "P(an event is sent twice)")
      ("reorder", po::bool_switch(&o.reorder), "shuffle the events of each batch")
      ("read-without-delivered-rate",
       po::value(&o.read_without_delivered_rate)->default_value(o.read_without_delivered_rate),
       "P(a read message never gets its delivered)")
      ("fail", po::value(&fail)->composing(), "a number whose messages fail (131026)")
      ("error", po::value(&errors)->composing(),
       "NUMBER=CODE: sends to NUMBER answer Graph error CODE (e.g. 60111=131049)");
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  try {
    po::variables_map vm;
    po::store(po::parse_command_line(argc, argv, d), vm);
    if (vm.count("help")) {
      std::cout << d;
      return 0;
    }
    po::notify(vm);
    o.fail_numbers.insert(fail.begin(), fail.end());
    for (const auto& e : errors) {
      auto eq = e.find('=');
      if (eq == std::string::npos)
        throw std::invalid_argument("--error wants NUMBER=CODE, got " + e);
      o.error_numbers[e.substr(0, eq)] = std::stoi(e.substr(eq + 1));
    }
  } catch (const std::exception& e) {
    std::cerr << "wacloud-sim: " << e.what() << " (see wacloud-sim --help)\n";
    return 2;
  }
  // Blocked before any thread starts, so sigwait below is the one place they land.
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  try {
    cloud_api api(o);
    std::cout << "wacloud-sim listening on http://" << o.address << ":" << api.port()
              << std::endl;
    int sig = 0;
    sigwait(&signals, &sig);
    api.stop();
  } catch (const std::exception& e) {
    std::cerr << "wacloud-sim: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
