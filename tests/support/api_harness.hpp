// The HTTP API without a socket: the real actor service on a temporary log
// behind the router, with helpers to call it and read JSON answers.
#pragma once

#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <thread>

#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include "actors/service.hpp"
#include "engine/http/router.hpp"
#include "tests/support/temp_dir.hpp"

namespace blast::test {

class api_harness {
public:
  explicit api_harness(actors::service_options o = {}, engine::http::router_options ro = {}) {
    o.data_dir = dir_.path();
    start(o, ro);
  }

  // Stops the service and starts it again on the same log (a restart).
  void restart() {
    svc_->stop();
    router_.reset();
    svc_.reset();
    start(opts_, ropts_);
  }

  // Stops the service (its log closes): offline tools may open the folder.
  void stop() {
    svc_->stop();
    router_.reset();
    svc_.reset();
  }
  void start() { start(opts_, ropts_); }

  engine::http::response call(const std::string& method, const std::string& target,
                              const std::string& body = {}) {
    std::promise<engine::http::response> p;
    auto f = p.get_future();
    router_->handle(engine::http::request{method, target, {}, body},
                    [&](engine::http::response r) { p.set_value(std::move(r)); });
    BOOST_TEST_REQUIRE((f.wait_for(std::chrono::seconds(10)) == std::future_status::ready),
                       method << " " << target << " got no answer");
    return f.get();
  }

  boost::json::value call_json(const std::string& method, const std::string& target,
                               const std::string& body, unsigned expected_status) {
    auto r = call(method, target, body);
    BOOST_TEST(r.status == expected_status, method << " " << target << " -> " << r.body);
    BOOST_TEST(r.content_type == "application/json");
    return boost::json::parse(r.body);
  }

  boost::json::value get(const std::string& target) { return call_json("GET", target, "", 200); }

  actors::service_stats stats() {
    std::promise<actors::service_stats> p;
    svc_->get_stats([&](actors::result<actors::service_stats> r) { p.set_value(*r.value); });
    return p.get_future().get();
  }

  // Polls `pred` every 20 ms until it holds or `timeout` passes.
  template <class Pred>
  bool eventually(Pred pred, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    auto end = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < end) {
      if (pred())
        return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return pred();
  }

  actors::service& service() { return *svc_; }
  engine::http::router& router() { return *router_; }
  const std::string& data_dir() const { return dir_.path(); }

private:
  void start(const actors::service_options& o, const engine::http::router_options& ro) {
    opts_ = o;
    ropts_ = ro;
    std::string err;
    svc_ = actors::service::start(o, err);
    BOOST_TEST_REQUIRE(svc_.get() != nullptr, err);
    router_ = std::make_unique<engine::http::router>(*svc_, ro);
  }

  temp_dir dir_;
  actors::service_options opts_;
  engine::http::router_options ropts_;
  std::unique_ptr<actors::service> svc_;
  std::unique_ptr<engine::http::router> router_;
};

} // namespace blast::test
