// AlertingService: Skiff's alerting engine (docs/alerting.md). Every `interval` it reads the
// AlertRules, Receivers and Silences of every tenant from the store, evaluates each rule — and
// the built-in rules of every tenant with applications — against the metrics, logs and events
// (alert/conditions.h), moves each rule's alerts through pending, firing and resolved
// (alert/alert_state.h), and lets the Notifier (alert/notifier.h) decide what to send. Sending
// happens on a DeliveryQueue (alert/delivery.h), so a slow receiver never delays evaluation.
//
// What it shows: each AlertRule's status (firing and pending counts, the last evaluation, an
// error with its condition), each Receiver's status (its last deliveries: when, which group,
// the answer or error, how many attempts), and alerts(tenant) for the API.
//
// Alert state lives in memory: after a restart a condition that still holds is pending again
// and fires after its `for` once more (Prometheus does the same unless told to restore it).
//
// Lifecycle: start() runs the loop on a thread of its own; stop() (also on destruction) ends
// it and the delivery workers, cutting retries short. evaluateOnce() is the loop's body, also
// called by tests; rounds run one at a time. Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "alert/alert_state.h"
#include "alert/conditions.h"
#include "alert/delivery.h"
#include "alert/notifier.h"
#include "alert/receiver.h"
#include "common/clock.h"
#include "model/object.h"
#include "store/store.h"

namespace skiff::alert {

class AlertingService {
 public:
  struct Options {
    std::chrono::milliseconds interval{std::chrono::seconds(5)};
    // How old a metric's latest sample may be for a rule's query to see it (a few collection
    // periods: instances gone since stop counting).
    std::chrono::milliseconds metric_lookback{std::chrono::seconds(30)};
    RetryPolicy retry;
    int delivery_workers = 4;
    size_t deliveries_kept = 20;  // in each Receiver's status
    // A rule's status is written when its alerts change, else at most this often.
    std::chrono::milliseconds status_every{std::chrono::seconds(30)};
    std::chrono::milliseconds request_timeout{std::chrono::seconds(10)};
    // Sends webhook and Alertmanager requests; empty: net::fetch with the system's trust store.
    HttpSend send;
  };

  AlertingService(Store& store, const observe::TimeSeriesStore& series, runtime::LogSource& logs,
                  const Clock& clock, Options options);
  ~AlertingService();
  AlertingService(const AlertingService&) = delete;
  AlertingService& operator=(const AlertingService&) = delete;

  void start();
  void stop();
  void evaluateOnce();

  // The tenant's alerts now: {"items": [{rule, labels, annotations, state, value, activeAt,
  // firingAt, resolvedAt, fingerprint, silenced, inhibited, builtin}]}, by rule then labels.
  json alerts(const std::string& tenant) const;
  // Deliveries queued or running (tests wait for them).
  size_t pendingDeliveries() const { return queue_.pending(); }

 private:
  struct RuleStatus {
    std::string error;
    size_t firing = 0, pending = 0;
    int64_t generation = 0;
    std::chrono::steady_clock::time_point written{};
  };
  void run();
  std::vector<Rule> loadRules(std::map<std::string, std::string>* errors);
  void dispatch(const Notification& n, const ReceiverConfig& receiver);
  void recordDelivery(const ReceiverConfig& receiver, const Notification& n,
                      const DeliveryOutcome& outcome);
  void writeRuleStatus(const StoredObjectPtr& stored, const Rule* rule, const std::string& error,
                       TimePoint now);
  Result<std::string> secretValue(const std::string& tenant, const SecretKeyRef& ref) const;

  // --- constant after construction
  Store& store_;
  const Clock& clock_;
  const Options options_;
  HttpSend send_;

  // --- guarded by round_mu_: one round at a time
  std::mutex round_mu_;
  MetricConditions metrics_;
  LogConditions logs_;
  EventConditions events_;
  Notifier notifier_;
  std::map<std::string, RuleAlerts> rule_alerts_;  // by "tenant/rule"
  std::map<std::string, RuleStatus> rule_status_;  // by "tenant/rule", user rules only
  uint64_t rounds_ = 0;

  DeliveryQueue queue_;

  mutable std::mutex view_mu_;
  std::map<std::string, json> view_;  // tenant -> alerts(); guarded by view_mu_

  std::mutex failed_mu_;
  std::vector<std::string> failed_groups_;  // delivered in vain; guarded by failed_mu_

  std::mutex deliveries_mu_;
  std::map<std::string, json> deliveries_;  // "tenant/receiver" -> log; guarded

  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;  // guarded by mu_
  std::thread thread_;
};

}  // namespace skiff::alert
