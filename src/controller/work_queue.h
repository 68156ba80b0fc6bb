// WorkQueue: the de-duplicating queue behind every controller (Kubernetes' workqueue). A key
// waits in the queue at most once; a key being reconciled is never handed to a second worker,
// and is queued again after done() if it was added meanwhile. Failed keys come back with
// per-key exponential backoff. Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "model/object.h"

namespace skiff {

class WorkQueue {
 public:
  using Duration = std::chrono::steady_clock::duration;

  WorkQueue(Duration base_backoff = std::chrono::milliseconds(5),
            Duration max_backoff = std::chrono::seconds(30));
  ~WorkQueue();

  void add(const ObjectKey& key);
  void addAfter(const ObjectKey& key, Duration delay);
  // Adds after this key's next backoff step (base * 2^failures, capped).
  void addRateLimited(const ObjectKey& key);
  // Resets the key's backoff after a success.
  void forget(const ObjectKey& key);

  // Blocks until a key is ready; nullopt once shut down.
  std::optional<ObjectKey> get();
  // Marks the key's processing finished.
  void done(const ObjectKey& key);

  void shutDown();
  size_t length() const;

 private:
  void delayLoop();

  const Duration base_backoff_;
  const Duration max_backoff_;

  mutable std::mutex mu_;
  std::condition_variable ready_cv_;
  std::condition_variable delay_cv_;
  std::deque<ObjectKey> queue_;     // guarded by mu_
  std::set<ObjectKey> dirty_;       // queued or to be re-queued; guarded by mu_
  std::set<ObjectKey> processing_;  // guarded by mu_
  std::multimap<std::chrono::steady_clock::time_point, ObjectKey> delayed_;  // guarded by mu_
  std::map<ObjectKey, int> failures_;                                        // guarded by mu_
  bool shut_down_ = false;                                                   // guarded by mu_
  std::thread delay_thread_;
};

}  // namespace skiff
