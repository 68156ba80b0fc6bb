#include "controller/tenant_usage_controller.h"

#include <gtest/gtest.h>

#include "manual_clock.h"
#include "temp_store.h"

namespace skiff {
namespace {

using namespace std::chrono_literals;

class TenantUsageControllerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Object tenant;
    tenant.kind = "Tenant";
    tenant.metadata.name = "acme";
    ASSERT_TRUE(store_->create(tenant).ok());
    controller_ = std::make_unique<TenantUsageController>(*store_, clock_);
  }
  void TearDown() override { controller_.reset(); }
  ObjectKey createApp(const std::string& name, int replicas = 1) {
    Object o;
    o.kind = "Application";
    o.metadata.name = name;
    o.metadata.tenant = "acme";
    o.spec = {{"components",
               {{{"name", "web"}, {"replicas", replicas}, {"run", {{"command", "/bin/web"}}}}}}};
    EXPECT_TRUE(store_->create(o).ok());
    return o.key();
  }
  ReconcileResult reconcile(const ObjectKey& key) {
    auto r = controller_->reconcile(key);
    EXPECT_TRUE(r.ok()) << r.status().message();
    return r.ok() ? *r : ReconcileResult{};
  }
  StoredObjectPtr tenant() { return store_->get({"Tenant", "", "acme"}).value(); }
  nlohmann::json usage() {
    return tenant()->object().status.value("usage", nlohmann::json::object());
  }
  int applications() { return usage()["applications"]; }

  testing::ManualClock clock_;
  testing::TempStore store_{"usage"};
  std::unique_ptr<TenantUsageController> controller_;
};

TEST_F(TenantUsageControllerTest, ABurstOfApplicationsIsOneLaterWriteWithEveryOneCounted) {
  EXPECT_FALSE(reconcile(createApp("a")).requeue_after);
  ASSERT_EQ(applications(), 1);
  const int64_t first_write = tenant()->resourceVersion();

  // Within the interval: counted, not written; the first key of the burst comes back for it.
  const ObjectKey b = createApp("b");
  ReconcileResult later = reconcile(b);
  ASSERT_TRUE(later.requeue_after);
  EXPECT_GT(*later.requeue_after, 0ms);
  EXPECT_LE(*later.requeue_after, TenantUsageController::kMinWriteInterval + 1ms);
  EXPECT_FALSE(reconcile(createApp("c")).requeue_after);  // b is already coming back
  EXPECT_EQ(tenant()->resourceVersion(), first_write);

  clock_.advance(TenantUsageController::kMinWriteInterval);
  EXPECT_FALSE(reconcile(b).requeue_after);
  EXPECT_EQ(applications(), 3);
  const int64_t second_write = tenant()->resourceVersion();
  EXPECT_GT(second_write, first_write);

  // Nothing changed: nothing to write, however often a key comes back.
  clock_.advance(TenantUsageController::kMinWriteInterval);
  EXPECT_FALSE(reconcile(b).requeue_after);
  EXPECT_EQ(tenant()->resourceVersion(), second_write);
}

TEST_F(TenantUsageControllerTest, ADeletionIsSubtractedOnceTheIntervalHasPassed) {
  const ObjectKey a = createApp("a", 2);
  reconcile(a);
  ASSERT_EQ(usage(), footprintOf(store_->get(a).value()->object().spec).toJson());
  const int64_t first_write = tenant()->resourceVersion();
  const ObjectKey b = createApp("b", 1);
  ASSERT_TRUE(reconcile(b).requeue_after);
  ASSERT_TRUE(store_->remove(a, std::nullopt).ok());
  EXPECT_FALSE(reconcile(a).requeue_after);  // b comes back for both changes
  EXPECT_EQ(tenant()->resourceVersion(), first_write);

  clock_.advance(TenantUsageController::kMinWriteInterval);
  reconcile(b);
  EXPECT_EQ(usage(), footprintOf(store_->get(b).value()->object().spec).toJson());  // a gone
  clock_.advance(TenantUsageController::kMinWriteInterval);
  ASSERT_TRUE(store_->remove(b, std::nullopt).ok());
  reconcile(b);
  EXPECT_EQ(applications(), 0);
}

}  // namespace
}  // namespace skiff
