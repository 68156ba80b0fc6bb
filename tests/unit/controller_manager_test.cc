#include <gtest/gtest.h>

#include <condition_variable>
#include <map>
#include <mutex>

#include "controller/controller.h"
#include "temp_store.h"

namespace skiff {
namespace {

using namespace std::chrono_literals;

// Counts its reconciles per key.
class CountingController final : public Controller {
 public:
  CountingController(std::string name, bool skip_status_writes)
      : name_(std::move(name)), skip_(skip_status_writes) {}
  std::string name() const override { return name_; }
  std::vector<WatchedKind> watches() const override {
    return {{"Application", [](const StoredObject& o) { return std::optional<ObjectKey>(o.key()); },
             skip_}};
  }
  Result<ReconcileResult> reconcile(const ObjectKey& key) override {
    std::lock_guard lock(mu_);
    ++counts_[key.name];
    cv_.notify_all();
    return ReconcileResult{};
  }
  int count(const std::string& name) {
    std::lock_guard lock(mu_);
    return counts_[name];
  }
  // Waits until `name` was reconciled `n` times in all.
  bool waitFor(const std::string& name, int n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, 10s, [&] { return counts_[name] >= n; });
  }

 private:
  const std::string name_;
  const bool skip_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, int> counts_;
};

Object application(const std::string& name) {
  Object o;
  o.kind = "Application";
  o.metadata.name = name;
  o.metadata.tenant = "default";
  o.spec = {{"components", {{{"name", "web"}, {"run", {{"command", "/bin/web"}}}}}}};
  return o;
}

TEST(StoreSpecRevisionTest, StatusWritesKeepTheRevisionOfTheLastOtherChange) {
  testing::TempStore store("spec-revision");
  StoredObjectPtr created = store->create(application("shop")).value();
  EXPECT_EQ(created->spec_revision, created->resourceVersion());

  Object with_status = created->object();
  with_status.status = {{"phase", "Running"}};
  UpdateOptions status_only;
  status_only.status_only = true;
  StoredObjectPtr status_written = store->update(with_status, status_only).value();
  EXPECT_GT(status_written->resourceVersion(), created->resourceVersion());
  EXPECT_EQ(status_written->spec_revision, created->resourceVersion());

  Object labelled = status_written->object();
  labelled.metadata.labels["team"] = "web";
  StoredObjectPtr relabelled = store->update(labelled).value();
  EXPECT_EQ(relabelled->spec_revision, relabelled->resourceVersion());
}

TEST(ControllerManagerTest, AControllerThatSkipsStatusWritesSeesEveryOtherChange) {
  testing::TempStore store("manager");
  auto owned_all = std::make_unique<CountingController>("all", false);
  auto owned_specs = std::make_unique<CountingController>("specs", true);
  CountingController& all = *owned_all;
  CountingController& specs = *owned_specs;
  ControllerManager manager(*store);
  manager.add(std::move(owned_all));
  manager.add(std::move(owned_specs));
  ASSERT_TRUE(manager.start().isOk());

  StoredObjectPtr shop = store->create(application("shop")).value();
  ASSERT_TRUE(all.waitFor("shop", 1));
  ASSERT_TRUE(specs.waitFor("shop", 1));

  // A status write: only the controller that reads status hears of it. A later change to
  // another application, which both hear of, shows that the first was skipped, not late (a
  // controller's queue hands out keys in the order they came).
  Object with_status = shop->object();
  with_status.status = {{"phase", "Running"}};
  UpdateOptions status_only;
  status_only.status_only = true;
  shop = store->update(with_status, status_only).value();
  ASSERT_TRUE(all.waitFor("shop", 2));
  ASSERT_TRUE(store->create(application("marker")).ok());
  ASSERT_TRUE(specs.waitFor("marker", 1));
  EXPECT_EQ(specs.count("shop"), 1);

  // Labels, the spec and deletion all reach both.
  Object labelled = shop->object();
  labelled.metadata.labels["team"] = "web";
  shop = store->update(labelled).value();
  ASSERT_TRUE(specs.waitFor("shop", 2));
  Object respecced = shop->object();
  respecced.spec["components"][0]["replicas"] = 3;
  ASSERT_TRUE(store->update(respecced).ok());
  ASSERT_TRUE(specs.waitFor("shop", 3));
  ASSERT_TRUE(store->remove(shop->key()).ok());
  EXPECT_TRUE(specs.waitFor("shop", 4));
  manager.stop();
}

}  // namespace
}  // namespace skiff
