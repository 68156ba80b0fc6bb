// EventController: the platform's event stream. It watches Instances and Applications and
// turns what changed in their status into Events — an instance scheduled, started, exited,
// OOM-killed, crash-looping, unready or ready again, stopped and removed; an application's
// rollout started, completed or aborted, a component scaled by its autoscaler. Deriving events
// from status, rather than from each controller, keeps the runtime and the controllers free of
// event code and gives every backend the same events.
//
// A repeat of the same reason on the same object is aggregated into one Event (count, lastAt),
// as Kubernetes does. Events carry the skiff.dev/application label, so `skiff events APP`
// selects them; they expire `retention` after their last occurrence. Objects that existed
// before the controller started are remembered without events, so a restart of the server
// reports nothing twice. Thread-safe: reconciles of different keys run concurrently.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>

#include "controller/controller.h"

namespace skiff {

class EventController final : public Controller {
 public:
  struct Options {
    std::chrono::seconds retention{std::chrono::hours(24)};
    // How often expired events are deleted.
    std::chrono::milliseconds sweep_every{std::chrono::minutes(1)};
  };

  EventController(Store& store, const Clock& clock, Options options);

  std::string name() const override { return "events"; }
  std::vector<WatchedKind> watches() const override;
  void bindQueue(std::function<void(const ObjectKey&)> enqueue) override;
  Result<ReconcileResult> reconcile(const ObjectKey& key) override;

  // What Skiff records about `about` (kind and name, in `tenant`), aggregated with earlier
  // events of the same reason. Public for the parts of Skiff that see what status does not say.
  Status record(const ObjectKey& about, const std::string& application,
                const std::string& component, const std::string& type, const std::string& reason,
                const std::string& message);

 private:
  // What was last seen of an object: the facts whose change is an event.
  struct Seen {
    std::map<std::string, std::string> facts;
  };

  Result<ReconcileResult> sweep();
  void observeInstance(const ObjectKey& key, const Object* instance);
  void observeApplication(const ObjectKey& key, const Object* app);
  // The previous facts of `key` (nullopt when it was never seen) replaced by `now`.
  std::optional<Seen> swap(const ObjectKey& key, std::optional<Seen> now);
  // Whether an object first seen now is new (created since the controller started).
  bool isNew(const Object& object) const;

  // --- constant after construction
  Store& store_;
  const Clock& clock_;
  const Options options_;
  const std::chrono::system_clock::time_point started_;
  std::function<void(const ObjectKey&)> enqueue_;

  std::mutex mu_;
  std::map<ObjectKey, Seen> seen_;  // guarded by mu_
};

}  // namespace skiff
