// Controller: a level-triggered reconcile loop (Kubernetes' controller pattern). Watch events
// only enqueue keys; reconcile(key) reads the store's in-memory state, is idempotent, writes
// status with observedGeneration and conditions, and returns when to look again or an error
// (retried with backoff). ControllerManager runs controllers on their own threads.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "controller/work_queue.h"
#include "store/store.h"

namespace skiff {

// Which objects' events concern a controller, and the key each maps to.
struct WatchedKind {
  std::string kind;
  // The key to reconcile for an event on `object`; nullopt to ignore it.
  std::function<std::optional<ObjectKey>(const StoredObject& object)> key_of;
  // Skip MODIFIED events that changed only the object's status (StoredObject::spec_revision):
  // for a controller that reads no status of this kind, since most events on a busy kind are
  // other controllers' status writes. Its own status writes that fail are retried as errors.
  bool skip_status_writes = false;
};

// The Application an object belongs to (its skiff.dev/application label), for controllers that
// reconcile an application on events of the objects it owns; nullopt for unowned objects.
std::optional<ObjectKey> owningApplication(const StoredObject& object);
// The objects of `kind` that belong to `application` (the inverse of owningApplication).
// `name_prefix` narrows the scan to names that start with it, for kinds whose names Skiff
// derives from the application's (revisions: "shop-3"): the list then costs the application's
// objects instead of every object of the tenant.
ObjectList listOwnedBy(const Store& store, const std::string& kind, const ObjectKey& application,
                       const std::string& name_prefix = "");

struct ReconcileResult {
  // Look at the key again after this long even if nothing changes (e.g. a timed step).
  std::optional<std::chrono::milliseconds> requeue_after;
};

class Controller {
 public:
  virtual ~Controller() = default;
  virtual std::string name() const = 0;
  virtual std::vector<WatchedKind> watches() const = 0;
  virtual Result<ReconcileResult> reconcile(const ObjectKey& key) = 0;
  // Gives the controller a way to enqueue keys from sources other than store events (probe
  // results, timers). Called once, before start.
  virtual void bindQueue(std::function<void(const ObjectKey&)> enqueue) { (void)enqueue; }
  // Called by ControllerManager::stop() before the queue shuts down: sources bound with
  // bindQueue must not enqueue after this returns.
  virtual void stop() {}
};

// Owns controllers, their queues, watches and worker threads. start()/stop() from one thread.
class ControllerManager {
 public:
  explicit ControllerManager(Store& store);
  ~ControllerManager();

  void add(std::unique_ptr<Controller> controller, int workers = 1);
  Status start();
  // Stops watches, lets in-flight reconciles finish, joins workers.
  void stop();

 private:
  struct Running {
    std::unique_ptr<Controller> controller;
    int workers;
    std::unique_ptr<WorkQueue> queue;
    std::vector<std::unique_ptr<WatchHandle>> watches;
    std::vector<std::thread> threads;
  };
  void work(Running& r);

  Store& store_;
  std::vector<std::unique_ptr<Running>> running_;
};

}  // namespace skiff
