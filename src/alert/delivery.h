// Delivery: sending notifications off the evaluation thread, and trying again when a receiver
// fails for a reason that may pass.
//
// deliverWithRetry() makes up to `attempts` attempts, sleeping first_backoff, then twice that,
// and so on between them (1s, 2s, 4s, 8s by default), while an attempt fails retryably:
// connection errors, timeouts and 5xx, 408 and 429 answers. Time passes through a Sleeper, so
// tests need not wait.
//
// DeliveryQueue runs jobs on its own worker threads, so a slow or dead receiver never holds up
// evaluation. Jobs on one lane (a receiver) run one at a time in the order pushed, so a
// receiver hears of a group's firing before its resolution; lanes run in parallel. stop()
// refuses new jobs, drops queued ones, cuts sleeps short and waits for running jobs. Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/status.h"
#include "net/http_client.h"

namespace skiff::alert {

struct RetryPolicy {
  int attempts = 5;
  std::chrono::milliseconds first_backoff{1000};
};

// Waits `d`; false when cut short (shutdown): the caller gives up.
using Sleeper = std::function<bool(std::chrono::milliseconds d)>;

struct AttemptResult {
  bool ok = false;
  bool retryable = false;
  int code = 0;       // the HTTP status (or SMTP reply) when there was an answer
  std::string error;  // why it failed
};

struct DeliveryOutcome {
  bool ok = false;
  int code = 0;
  std::string error;
  int attempts = 0;
};

DeliveryOutcome deliverWithRetry(const std::function<AttemptResult()>& attempt,
                                 const RetryPolicy& policy, const Sleeper& sleep);

// Sends one HTTP request (net::fetch in the server; a fake in tests).
using HttpSend = std::function<Result<net::ClientResponse>(const net::ClientRequest&)>;
// One HTTP attempt: 2xx succeeds; transport errors, 5xx, 408 and 429 may be retried; other
// answers are final.
AttemptResult httpAttempt(const HttpSend& send, const net::ClientRequest& request);

class DeliveryQueue {
 public:
  explicit DeliveryQueue(int workers = 4);
  ~DeliveryQueue();
  DeliveryQueue(const DeliveryQueue&) = delete;
  DeliveryQueue& operator=(const DeliveryQueue&) = delete;

  void start();
  void stop();
  // False once stopping. The job gets a Sleeper that stop() interrupts.
  bool push(const std::string& lane, std::function<void(const Sleeper&)> job);
  // Jobs queued or running, for tests and shutdown.
  size_t pending() const;

 private:
  void work();
  bool sleepFor(std::chrono::milliseconds d);

  const int workers_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;                                                         // guarded by mu_
  std::map<std::string, std::deque<std::function<void(const Sleeper&)>>> lanes_;  // guarded
  std::set<std::string> busy_;     // lanes a worker runs a job of; guarded by mu_
  std::deque<std::string> ready_;  // lanes with jobs and no worker; guarded by mu_
  size_t running_ = 0;             // guarded by mu_
  std::vector<std::thread> threads_;
};

}  // namespace skiff::alert
