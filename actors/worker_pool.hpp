// A fixed set of threads running blocking work (plugin calls that do network
// I/O) off the actor scheduler, so that no actor thread ever waits on I/O.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace blast::actors {

class worker_pool {
public:
  // `name`: its threads' name (storage/thread_name.hpp), e.g. the transport's.
  worker_pool(size_t threads, const std::string& name);
  ~worker_pool();  // finishes queued work, then joins
  worker_pool(const worker_pool&) = delete;
  worker_pool& operator=(const worker_pool&) = delete;

  void post(std::function<void()> job);  // thread-safe

private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

} // namespace blast::actors
