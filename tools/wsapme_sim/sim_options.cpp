// The command line of wsapme-sim (Boost.Program_options): knob names follow
// the brief in issue 4 so demo scripts and tests read the same.
#include "tools/wsapme_sim/sim_options.hpp"

#include "tools/wsapme_sim/webhook_sender.hpp"

#include <boost/program_options.hpp>
#include <sstream>
#include <stdexcept>
#include <vector>

namespace po = boost::program_options;

namespace blast::tools::wsapme_sim {

namespace {

std::set<std::string> split_numbers(const std::string& list) {
  std::set<std::string> out;
  std::stringstream ss(list);
  std::string item;
  while (std::getline(ss, item, ','))
    if (auto b = item.find_first_not_of(" +"); b != std::string::npos)
      out.insert(item.substr(b, item.find_last_not_of(' ') - b + 1));
  return out;
}

// "50..500" or "120" (a fixed delay).
void parse_delay(const std::string& s, unsigned& lo, unsigned& hi) {
  try {
    auto dots = s.find("..");
    size_t used = 0;
    if (dots == std::string::npos) {
      lo = hi = static_cast<unsigned>(std::stoul(s, &used));
      if (used != s.size())
        throw std::invalid_argument("trailing text");
      return;
    }
    lo = static_cast<unsigned>(std::stoul(s.substr(0, dots), &used));
    if (used != dots)
      throw std::invalid_argument("trailing text");
    auto tail = s.substr(dots + 2);
    hi = static_cast<unsigned>(std::stoul(tail, &used));
    if (used != tail.size())
      throw std::invalid_argument("trailing text");
  } catch (const std::exception&) {
    throw std::invalid_argument("--delay-ms wants MIN..MAX or MS, got '" + s + "'");
  }
}

// A rate option whose default prints as "0.95", not "0.94999999999999996".
po::typed_value<double>* rate(double& target) {
  std::ostringstream text;
  text << target;
  return po::value(&target)->default_value(target, text.str());
}

void check_rate(double v, const char* name) {
  if (!(v >= 0 && v <= 1))
    throw std::invalid_argument(std::string("--") + name + " must be within [0, 1]");
}

} // namespace

void validate(const sim_options& o) {
  if (o.token.empty())
    throw std::invalid_argument("--token is required");
  if (o.device.empty())
    throw std::invalid_argument("--device must not be empty");
  if (o.delay_min_ms > o.delay_max_ms)
    throw std::invalid_argument("--delay-ms: MIN is above MAX");
  check_rate(o.deliver_rate, "deliver-rate");
  check_rate(o.read_rate, "read-rate");
  check_rate(o.reply_rate, "reply-rate");
  check_rate(o.quote_rate, "quote-rate");
  check_rate(o.duplicate_rate, "duplicate-rate");
  check_rate(o.read_without_delivered_rate, "read-without-delivered-rate");
  check_rate(o.fail_5xx_rate, "fail-5xx-rate");
  if (o.webhook_tries == 0)
    throw std::invalid_argument("--webhook-tries must be at least 1");
  if (!o.webhook_url.empty() && !parse_webhook_url(o.webhook_url))
    throw std::invalid_argument("--webhook-url wants http://HOST:PORT/PATH, got '" + o.webhook_url +
                                "'");
}

std::optional<sim_options> parse_command_line(int argc, const char* const argv[],
                                              std::ostream& out) {
  sim_options o;
  std::string delay = "50..500", reject, errors;
  po::options_description general("wsapme-sim: a WSAPME-compatible gateway for tests and demos");
  auto add = general.add_options();
  add("help,h", "this help");
  add("port", po::value(&o.port)->default_value(o.port), "listen port on 127.0.0.1 (0 = any)");
  add("threads", po::value(&o.threads)->default_value(o.threads), "HTTP I/O threads");
  add("token", po::value(&o.token), "expected x-wsapme-token (required)");
  add("device", po::value(&o.device)->default_value(o.device), "sender device id");
  add("webhook-url", po::value(&o.webhook_url), "POST events here (http://HOST:PORT/PATH)");
  add("webhook-secret", po::value(&o.webhook_secret),
      "sign webhooks: X-Wsapme-Signature: sha256=<hex HMAC-SHA256 of the body>");
  add("seed", po::value(&o.seed)->default_value(o.seed), "seed of every random choice");

  po::options_description knobs("Behaviour knobs");
  auto k = knobs.add_options();
  k("deliver-rate", rate(o.deliver_rate),
    "accepted messages that reach DELIVERY_ACK (the others stay at SERVER_ACK)");
  k("read-rate", rate(o.read_rate), "delivered messages that are READ");
  k("reply-rate", rate(o.reply_rate), "read messages that get a reply");
  k("quote-rate", rate(o.quote_rate), "replies that carry quotedId");
  k("reply-text", po::value(&o.reply_text)->default_value(o.reply_text), "text of replies");
  k("delay-ms", po::value(&delay)->default_value(delay), "delay between stages: MIN..MAX or MS");
  k("duplicate-rate", rate(o.duplicate_rate), "webhooks sent twice with the same eventId");
  k("reorder", po::bool_switch(&o.reorder), "shuffle the order of each message's status webhooks");
  k("read-without-delivered-rate", rate(o.read_without_delivered_rate),
    "read messages that never report DELIVERY_ACK");
  k("reject-numbers", po::value(&reject), "comma list: sends answer 200 with success:false");
  k("error-numbers", po::value(&errors), "comma list: sends are accepted, then status ERROR");
  k("rate-limit", po::value(&o.rate_limit)->default_value(o.rate_limit),
    "sends per second before 429 with Retry-After: 1 (0 = unlimited)");
  k("fail-5xx-rate", rate(o.fail_5xx_rate), "gateway requests answered 503");
  k("latency-ms", po::value(&o.latency_ms)->default_value(o.latency_ms),
    "added to every gateway answer");
  k("messageinfo-empty", po::bool_switch(&o.messageinfo_empty),
    "/api/messageInfo answers empty data, as the real endpoint did");
  k("extra-fields", po::bool_switch(&o.extra_fields),
    "send answers carry fields the contract does not list (they must be kept)");
  k("webhook-tries", po::value(&o.webhook_tries)->default_value(o.webhook_tries),
    "attempts per webhook on non-2xx or connection errors");
  k("webhook-backoff-ms", po::value(&o.webhook_backoff_ms)->default_value(o.webhook_backoff_ms),
    "wait before the second attempt; doubles after");
  k("webhook-timeout-ms", po::value(&o.webhook_timeout_ms)->default_value(o.webhook_timeout_ms),
    "connect/write/read timeout of one webhook attempt");
  general.add(knobs);

  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(general).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    throw std::invalid_argument(e.what());
  }
  if (vm.count("help")) {
    out << general << '\n';
    return std::nullopt;
  }
  parse_delay(delay, o.delay_min_ms, o.delay_max_ms);
  o.reject_numbers = split_numbers(reject);
  o.error_numbers = split_numbers(errors);
  validate(o);
  return o;
}

} // namespace blast::tools::wsapme_sim
