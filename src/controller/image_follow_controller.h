// ImageFollowController: auto-deploy on new images. A component with
// `autoDeploy: {tags: PATTERN, interval: D}` follows its image's repository: every interval, and
// at once when the registry's notification says something was pushed there (pushed()), the
// controller lists the repository's tags and, when the newest tag the pattern matches
// (image/tag_pattern.h) is newer than the one the component runs, sets the application's image
// to it with a change cause naming the tag and what found it. The new revision then rolls out
// with the component's own strategy, canary analysis included, like any change.
//
// Writes Application status.autoDeploy: per component the newest matching tag seen and, while
// the registry cannot be read, why. Thread-safe (the manager runs reconciles on workers; a
// webhook calls pushed() from the API's threads).
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "controller/controller.h"

namespace skiff {

class ImageFollowController final : public Controller {
 public:
  // The tags of `repository` in `registry`, read with `tenant`'s registry credentials.
  using TagLister = std::function<Result<std::vector<std::string>>(
      const std::string& tenant, const std::string& registry, const std::string& repository)>;

  ImageFollowController(Store& store, const Clock& clock, TagLister tags)
      : store_(store), clock_(clock), tags_(std::move(tags)) {}

  std::string name() const override { return "image-follow"; }
  std::vector<WatchedKind> watches() const override;
  Result<ReconcileResult> reconcile(const ObjectKey& key) override;
  void bindQueue(std::function<void(const ObjectKey&)> enqueue) override;
  void stop() override;

  // The registry's notification: `repository` in `registry` ("host:port" as clients reach it;
  // empty: any) got a push. The applications that follow it look at once. Returns how many.
  int pushed(const std::string& registry, const std::string& repository);

 private:
  Store& store_;
  const Clock& clock_;
  const TagLister tags_;

  std::mutex mu_;
  std::function<void(const ObjectKey&)> enqueue_;  // guarded by mu_; empty once stopped
  // "registry/repository" -> the applications with a component following it; guarded by mu_.
  std::map<std::string, std::set<ObjectKey>> followers_;
  // Application -> when each of its followed components was last checked; guarded by mu_.
  std::map<ObjectKey, std::map<std::string, std::chrono::system_clock::time_point>> checked_;
  std::set<ObjectKey> notified_;  // pushed() named them; guarded by mu_
};

}  // namespace skiff
