#include "controller/controller.h"

#include <spdlog/spdlog.h>

#include "model/well_known.h"

namespace skiff {

std::optional<ObjectKey> owningApplication(const StoredObject& object) {
  auto it = object.metadata.labels.find(kApplicationLabel);
  if (it == object.metadata.labels.end()) return std::nullopt;
  return ObjectKey{"Application", object.metadata.tenant, it->second};
}

ObjectList listOwnedBy(const Store& store, const std::string& kind, const ObjectKey& application,
                       const std::string& name_prefix) {
  ListOptions options;
  options.tenant = application.tenant;
  options.name_prefix = name_prefix;
  // Application names are DNS labels (admission checked), so the selector always parses.
  options.selector =
      LabelSelector::parse(std::string(kApplicationLabel) + "=" + application.name).value();
  return store.list(kind, options);
}

ControllerManager::ControllerManager(Store& store) : store_(store) {}

ControllerManager::~ControllerManager() { stop(); }

void ControllerManager::add(std::unique_ptr<Controller> controller, int workers) {
  auto r = std::make_unique<Running>();
  r->controller = std::move(controller);
  r->workers = workers;
  r->queue = std::make_unique<WorkQueue>();
  r->controller->bindQueue([queue = r->queue.get()](const ObjectKey& key) { queue->add(key); });
  running_.push_back(std::move(r));
}

Status ControllerManager::start() {
  for (auto& r : running_) {
    for (WatchedKind& w : r->controller->watches()) {
      WatchOptions options;
      options.kind = w.kind;
      // No from_revision: the watch starts with every existing object, a full resync.
      WorkQueue* queue = r->queue.get();
      auto handle = store_.watch(
          options, [queue, key_of = w.key_of, skip = w.skip_status_writes](const WatchEvent& e) {
            if (skip && e.type == EventType::kModified && e.object->spec_revision != e.revision)
              return;
            if (auto key = key_of(*e.object)) queue->add(*key);
          });
      if (!handle.ok()) return handle.status();
      r->watches.push_back(std::move(handle).value());
    }
    for (int i = 0; i < r->workers; ++i)
      r->threads.emplace_back([this, raw = r.get()] { work(*raw); });
  }
  return Status::ok();
}

void ControllerManager::stop() {
  for (auto& r : running_) {
    r->controller->stop();
    r->watches.clear();
    r->queue->shutDown();
  }
  for (auto& r : running_)
    for (auto& t : r->threads) t.join();
  for (auto& r : running_) r->threads.clear();
}

void ControllerManager::work(Running& r) {
  while (auto key = r.queue->get()) {
    Result<ReconcileResult> result = r.controller->reconcile(*key);
    if (!result.ok()) {
      // Conflicts are the normal outcome of racing writers; the retry sees fresh state.
      if (result.status().code() != StatusCode::kConflict)
        spdlog::warn("{}: reconciling {} failed: {}", r.controller->name(), key->toString(),
                     result.status().toString());
      r.queue->addRateLimited(*key);
    } else {
      r.queue->forget(*key);
      if (result->requeue_after) r.queue->addAfter(*key, *result->requeue_after);
    }
    r.queue->done(*key);
  }
}

}  // namespace skiff
