// The Cloud API simulator: sends are answered at once with a wamid and planned (sent,
// delivered, read, reply, or failed) on a deterministic per-number RNG; a batcher thread turns
// the due events into Meta-shaped notifications of up to batch_size entries and hands them to
// the shared webhook sender, which signs them (X-Hub-Signature-256) and posts them in order.
#include "tools/wacloud_sim/cloud_api.hpp"

#include "tools/wsapme_sim/listener.hpp"
#include "tools/wsapme_sim/webhook_sender.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <random>
#include <stdexcept>
#include <thread>
#include <vector>

namespace json = boost::json;
using steady = std::chrono::steady_clock;

namespace blast::tools::wacloud_sim {

namespace {

bool all_digits(const std::string& s) {
  return !s.empty() && s.find_first_not_of("0123456789") == std::string::npos;
}

response graph_error(unsigned status, int code, const std::string& message) {
  response r;
  r.status = status;
  r.body = json::serialize(json::object{
      {"error", json::object{{"message", message},
                             {"type", code == 190 ? "OAuthException" : "GraphMethodException"},
                             {"code", code},
                             {"error_data", json::object{{"messaging_product", "whatsapp"},
                                                         {"details", message}}},
                             {"fbtrace_id", "SimTrace" + std::to_string(code)}}}});
  return r;
}

// Meta answers most Graph errors with 400; its own failures with 500.
unsigned http_status_of(int code) {
  return code == 131000 || code == 131016 || code == 2 ? 500 : 400;
}

struct event {
  steady::time_point due;
  bool is_status = true;
  json::object body; // one statuses[] or messages[] element
};

void validate(const cloud_options& o) {
  if (o.access_token.empty())
    throw std::invalid_argument("an access token is required");
  for (double r : {o.deliver_rate, o.read_rate, o.reply_rate, o.quote_rate, o.duplicate_rate,
                   o.read_without_delivered_rate})
    if (r < 0 || r > 1)
      throw std::invalid_argument("rates must be in [0, 1]");
  if (o.batch_size == 0 || o.batch_size > 1000)
    throw std::invalid_argument("batch size must be in [1, 1000]");
}

std::unique_ptr<wsapme_sim::webhook_sender> make_sender(const cloud_options& o) {
  validate(o);
  if (o.webhook_url.empty())
    return nullptr;
  wsapme_sim::webhook_sender_options w;
  w.url = o.webhook_url;
  w.secret = o.app_secret;
  w.signature_header = "X-Hub-Signature-256";
  w.tries = o.webhook_tries;
  return std::make_unique<wsapme_sim::webhook_sender>(std::move(w));
}

} // namespace

// Member order matters: the listener and the batcher stop before what they use goes away.
struct cloud_api::impl {
  explicit impl(cloud_options o)
      : opts(std::move(o)), sender(make_sender(opts)),
        server(opts.address, opts.port, opts.threads,
               [this](const request& r) { return handle(r); }, 0) {
    if (sender)
      batcher = std::thread([this] { run_batcher(); });
  }

  cloud_options opts;
  std::unique_ptr<wsapme_sim::webhook_sender> sender;
  mutable std::mutex mu;
  std::condition_variable wake;
  std::vector<event> queue;         // not yet batched
  std::map<std::string, uint64_t> sends_per_number;
  std::map<std::string, unsigned> transient_seen; // number -> transient errors answered
  std::map<std::string, std::string> bodies;      // number -> last send body (keep_bodies)
  std::map<std::string, std::string> finals; // wamid -> planned final stage
  cloud_stats counts;
  std::mt19937_64 shuffle_rng{42};
  bool stopping = false;
  bool flush_now = false;
  std::thread batcher;
  wsapme_sim::listener server;

  response handle(const request& req);

  std::string unix_seconds() const {
    return std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count());
  }

  // Plans one accepted message's events; called under `mu`.
  void plan(const std::string& to, const std::string& wamid, uint64_t nth) {
    std::mt19937_64 rng(opts.seed * 1000003u ^ std::hash<std::string>{}(to) ^ (nth << 32));
    std::uniform_real_distribution<double> p(0, 1);
    auto at = steady::now();
    auto step = std::chrono::milliseconds(opts.delay_ms);
    auto status = [&](const char* word, json::array errors = {}) {
      at += step;
      json::object s{{"id", wamid},
                     {"status", word},
                     {"timestamp", unix_seconds()},
                     {"recipient_id", to}};
      if (!errors.empty())
        s["errors"] = std::move(errors);
      push(at, true, std::move(s), p(rng) < opts.duplicate_rate);
    };
    status("sent");
    auto& final_stage = finals[wamid] = "sent";
    if (opts.fail_numbers.count(to)) {
      final_stage = "failed";
      status("failed", json::array{json::object{{"code", 131026},
                                                {"title", "Message undeliverable"}}});
      return;
    }
    if (p(rng) >= opts.deliver_rate)
      return;
    bool read = p(rng) < opts.read_rate;
    bool skip_delivered = read && p(rng) < opts.read_without_delivered_rate;
    if (!skip_delivered)
      status("delivered");
    final_stage = "delivered";
    if (!read)
      return;
    status("read");
    final_stage = "read";
    if (p(rng) >= opts.reply_rate)
      return;
    final_stage = "replied";
    at += step;
    json::object m{{"from", to},
                   {"id", "wamid.IN" + wamid.substr(6)},
                   {"timestamp", unix_seconds()},
                   {"type", "text"},
                   {"text", json::object{{"body", "Yes, interested"}}}};
    if (p(rng) < opts.quote_rate)
      m["context"] = json::object{{"from", opts.phone_number_id}, {"id", wamid}};
    push(at, false, std::move(m), p(rng) < opts.duplicate_rate);
  }

  void push(steady::time_point due, bool is_status, json::object body, bool twice) {
    if (twice)
      queue.push_back(event{due, is_status, body});
    queue.push_back(event{due, is_status, std::move(body)});
  }

  std::string notification(std::vector<event>::iterator b, std::vector<event>::iterator e) {
    json::array statuses, messages;
    for (auto it = b; it != e; ++it)
      (it->is_status ? statuses : messages).push_back(std::move(it->body));
    json::object value{{"messaging_product", "whatsapp"},
                       {"metadata", json::object{{"display_phone_number", "15550000000"},
                                                 {"phone_number_id", opts.phone_number_id}}}};
    if (!statuses.empty())
      value["statuses"] = std::move(statuses);
    if (!messages.empty()) {
      value["contacts"] = json::array{};
      value["messages"] = std::move(messages);
    }
    return json::serialize(json::object{
        {"object", "whatsapp_business_account"},
        {"entry", json::array{json::object{
                      {"id", "WABA" + opts.phone_number_id},
                      {"changes", json::array{json::object{{"value", std::move(value)},
                                                           {"field", "messages"}}}}}}}});
  }

  void run_batcher() {
    std::unique_lock lock(mu);
    while (!stopping) {
      wake.wait_for(lock, std::chrono::milliseconds(std::max(1u, opts.batch_interval_ms)),
                    [&] { return stopping || flush_now; });
      if (stopping)
        break;
      flush_now = false;
      auto now = steady::now();
      auto split = std::partition(queue.begin(), queue.end(),
                                  [&](const event& e) { return e.due <= now; });
      std::vector<event> due(std::make_move_iterator(queue.begin()),
                             std::make_move_iterator(split));
      queue.erase(queue.begin(), split);
      if (due.empty())
        continue;
      if (opts.reorder)
        std::shuffle(due.begin(), due.end(), shuffle_rng);
      else
        std::stable_sort(due.begin(), due.end(),
                         [](const event& a, const event& b) { return a.due < b.due; });
      for (size_t i = 0; i < due.size(); i += opts.batch_size) {
        auto end = due.begin() + std::min(due.size(), i + opts.batch_size);
        counts.events += static_cast<uint64_t>(end - (due.begin() + i));
        ++counts.requests;
        sender->schedule(steady::now(), notification(due.begin() + i, end));
      }
    }
  }
};

cloud_api::cloud_api(cloud_options opts) : impl_(std::make_unique<impl>(std::move(opts))) {}

cloud_api::~cloud_api() {
  stop();
}

uint16_t cloud_api::port() const {
  return impl_->server.port();
}

cloud_stats cloud_api::stats() const {
  std::lock_guard lock(impl_->mu);
  return impl_->counts;
}

std::string cloud_api::planned_stage(const std::string& wamid) const {
  std::lock_guard lock(impl_->mu);
  auto it = impl_->finals.find(wamid);
  return it == impl_->finals.end() ? std::string() : it->second;
}

std::string cloud_api::last_send_body(const std::string& number) const {
  std::lock_guard lock(impl_->mu);
  auto it = impl_->bodies.find(number);
  return it == impl_->bodies.end() ? std::string() : it->second;
}

void cloud_api::flush() {
  std::lock_guard lock(impl_->mu);
  impl_->flush_now = true;
  impl_->wake.notify_all();
}

void cloud_api::stop() {
  impl_->server.stop();
  {
    std::lock_guard lock(impl_->mu);
    impl_->stopping = true;
    impl_->wake.notify_all();
  }
  if (impl_->batcher.joinable())
    impl_->batcher.join();
  if (impl_->sender)
    impl_->sender->stop();
}

response cloud_api::impl::handle(const request& req) {
  auto& o = opts;
  if (req.method == "GET" && req.target == "/sim/stats") {
    std::unique_lock stats_lock(mu);
    cloud_stats s = counts;
    stats_lock.unlock();
    response r;
    r.body = json::serialize(json::object{{"accepted", s.accepted},
                                          {"refused", s.refused},
                                          {"events", s.events},
                                          {"requests", s.requests}});
    return r;
  }
  // POST /{version}/{phone-number-id}/messages
  std::string suffix = "/" + o.phone_number_id + "/messages";
  bool path_ok = req.target.size() > suffix.size() + 2 && req.target[0] == '/' &&
                 req.target.compare(req.target.size() - suffix.size(), suffix.size(), suffix) == 0 &&
                 req.target.find('/', 1) == req.target.size() - suffix.size();
  if (req.method != "POST" || !path_ok)
    return graph_error(400, 100, "Unsupported request: " + req.method + " " + req.target);
  if (req.header("Authorization") != "Bearer " + o.access_token)
    return graph_error(401, 190, "Invalid OAuth access token - Cannot parse access token");
  json::error_code ec;
  json::value v = json::parse(req.body, ec);
  const json::object* body = ec ? nullptr : v.if_object();
  const json::value* to_v = body ? body->if_contains("to") : nullptr;
  std::string to = to_v && to_v->is_string() ? std::string(to_v->get_string()) : std::string();
  const json::value* type = body ? body->if_contains("type") : nullptr;
  if (!body || !all_digits(to) || !type || !type->is_string())
    return graph_error(400, 131009, "Parameter value is not valid");
  std::lock_guard lock(mu);
  if (auto it = o.error_numbers.find(to); it != o.error_numbers.end()) {
    ++counts.refused;
    return graph_error(http_status_of(it->second), it->second,
                       "Simulated error " + std::to_string(it->second));
  }
  if (auto it = o.transient_errors.find(to);
      it != o.transient_errors.end() && transient_seen[to] < it->second.second) {
    ++transient_seen[to];
    ++counts.refused;
    int code = it->second.first;
    response r = graph_error(http_status_of(code), code,
                             "Simulated passing error " + std::to_string(code));
    if (code == 4 || code == 80007 || code == 131048)
      r.headers.emplace_back("Retry-After", "1");
    return r;
  }
  if (o.keep_bodies)
    bodies[to] = req.body;
  uint64_t nth = sends_per_number[to]++;
  char id[64];
  std::snprintf(id, sizeof id, "wamid.SIM%016llX%04llX",
                static_cast<unsigned long long>(std::hash<std::string>{}(to) ^ o.seed),
                static_cast<unsigned long long>(nth & 0xffff));
  std::string wamid = id;
  ++counts.accepted;
  if (sender)
    plan(to, wamid, nth);
  json::object msg{{"id", wamid}};
  if (type->get_string() == "template")
    msg["message_status"] = "accepted";
  response r;
  r.body = json::serialize(json::object{
      {"messaging_product", "whatsapp"},
      {"contacts", json::array{json::object{{"input", to}, {"wa_id", to}}}},
      {"messages", json::array{std::move(msg)}}});
  return r;
}

response cloud_api::handle(const request& req) {
  return impl_->handle(req);
}

} // namespace blast::tools::wacloud_sim
