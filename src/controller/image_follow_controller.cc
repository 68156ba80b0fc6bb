#include "controller/image_follow_controller.h"

#include "image/reference.h"
#include "image/tag_pattern.h"
#include "model/formats.h"
#include "model/well_known.h"

namespace skiff {

std::vector<WatchedKind> ImageFollowController::watches() const {
  // Following reads the spec; the status it writes is its own, and it looks again on its
  // timer, not on other controllers' status writes.
  return {{"Application",
           [](const StoredObject& o) {
             // Only applications that follow an image (or did: their bookkeeping goes).
             return o.jsonText().find("\"autoDeploy\"") == std::string::npos
                        ? std::nullopt
                        : std::optional<ObjectKey>(o.key());
           },
           /*skip_status_writes=*/true}};
}

void ImageFollowController::bindQueue(std::function<void(const ObjectKey&)> enqueue) {
  std::lock_guard lock(mu_);
  enqueue_ = std::move(enqueue);
}

void ImageFollowController::stop() {
  std::lock_guard lock(mu_);
  enqueue_ = nullptr;
}

int ImageFollowController::pushed(const std::string& registry, const std::string& repository) {
  std::lock_guard lock(mu_);
  int n = 0;
  for (const auto& [name, apps] : followers_) {
    const size_t slash = name.find('/');
    if (name.substr(slash + 1) != repository) continue;
    if (!registry.empty() && name.substr(0, slash) != registry) continue;
    for (const ObjectKey& app : apps) {
      notified_.insert(app);
      if (enqueue_) enqueue_(app);
      ++n;
    }
  }
  return n;
}

Result<ReconcileResult> ImageFollowController::reconcile(const ObjectKey& key) {
  auto forget = [&] {
    std::lock_guard lock(mu_);
    for (auto& [name, apps] : followers_) apps.erase(key);
    checked_.erase(key);
    notified_.erase(key);
  };
  auto stored = store_.get(key);
  if (!stored.ok()) {
    if (stored.status().code() != StatusCode::kNotFound) return stored.status();
    forget();
    return ReconcileResult{};
  }
  const Object app = (*stored)->object();
  const auto now = clock_.now();
  bool notified = false;
  std::map<std::string, std::chrono::system_clock::time_point> last;
  {
    std::lock_guard lock(mu_);
    for (auto& [name, apps] : followers_) apps.erase(key);
    notified = notified_.erase(key) > 0;
    last = checked_[key];
  }

  Object updated = app;
  json follow_status = json::object();
  std::vector<std::string> causes;
  std::optional<std::chrono::milliseconds> next_check;
  for (auto& c : updated.spec["components"]) {
    if (!c.contains("autoDeploy") || !c.contains("image")) continue;
    const std::string component = c.value("name", "");
    const json follow = c["autoDeploy"];
    auto ref = image::parseReference(c.value("image", ""));
    auto pattern = image::TagPattern::parse(follow.value("tags", ""));
    if (!ref.ok() || !pattern.ok()) continue;  // admission refuses both
    {
      std::lock_guard lock(mu_);
      followers_[ref->registry + "/" + ref->repository].insert(key);
    }
    const auto interval = std::chrono::milliseconds(
        std::llround(parseDurationSeconds(follow.value("interval", "1m")).value_or(60) * 1000));
    auto at = last.find(component);
    const bool due = notified || at == last.end() || now - at->second >= interval;
    if (!due) {
      const auto wait = std::chrono::ceil<std::chrono::milliseconds>(interval - (now - at->second));
      next_check = std::min(next_check.value_or(wait), wait);
      continue;
    }
    last[component] = now;
    next_check = std::min(next_check.value_or(interval), interval);
    json entry = app.status.value("autoDeploy", json::object()).value(component, json::object());
    auto tags = tags_(key.tenant, ref->registry, ref->repository);
    if (!tags.ok()) {
      entry["error"] = tags.status().message();
      follow_status[component] = entry;
      continue;
    }
    entry.erase("error");
    const auto newest = pattern->newest(*tags);
    if (newest) entry["newestTag"] = *newest;
    follow_status[component] = entry;
    if (!newest || !image::TagPattern::newer(*newest, ref->tag)) continue;
    image::Reference next = *ref;
    next.tag = *newest;
    next.digest.reset();
    c["image"] = next.str();
    causes.push_back("auto-deploy: " + component + " follows tags \"" + follow.value("tags", "") +
                     "\" and " + next.str() + " was pushed (found by " +
                     (notified ? "the registry's notification" : "polling the registry") + ")");
  }
  {
    std::lock_guard lock(mu_);
    checked_[key] = last;
  }
  // A failed write (a conflict: someone else wrote first) is retried, and the retry must check
  // the tags again even before the interval is over, or what this pass found would be lost.
  auto retry = [&](const Status& why) {
    std::lock_guard lock(mu_);
    checked_[key].clear();
    return why;
  };
  Object current = app;
  if (!causes.empty()) {
    std::string cause;
    for (const auto& c : causes) cause += (cause.empty() ? "" : "; ") + c;
    updated.metadata.annotations[kChangeCauseAnnotation] = cause;
    updated.metadata.annotations[kChangedByAnnotation] = "skiff (auto-deploy)";
    updated.status = app.status;
    auto written = store_.update(updated);
    if (!written.ok()) return retry(written.status());
    current = (*written)->object();
  }
  const json previous_status = current.status.value("autoDeploy", json::object());
  json merged = previous_status;
  for (const auto& [component, entry] : follow_status.items()) merged[component] = entry;
  if (merged != previous_status) {
    Object with_status = current;
    with_status.status["autoDeploy"] = merged;
    UpdateOptions options;
    options.status_only = true;
    auto written = store_.update(std::move(with_status), options);
    if (!written.ok()) return retry(written.status());
  }
  if (next_check) return ReconcileResult{*next_check};
  return ReconcileResult{};
}

}  // namespace skiff
