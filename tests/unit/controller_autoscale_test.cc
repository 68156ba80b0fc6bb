// The autoscaler controller over a real store, with the time and the measured load injected:
// its decisions reach the Application's status and, through it, the instance set; schedules
// open and close at their minute in their time zone.
#include "controller/autoscale_controller.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <mutex>

#include "controller/instance_set_controller.h"
#include "controller/revision_controller.h"
#include "manual_clock.h"
#include "temp_store.h"

namespace skiff {
namespace {

using testing::ManualClock;

class FixedLoad final : public observe::ComponentLoad {
 public:
  std::map<std::string, double> measure(const std::string& tenant, const std::string& application,
                                        const std::string& component) override {
    std::lock_guard lock(mu_);
    asked_ = tenant + "/" + application + "/" + component;
    return values_;
  }
  void set(std::map<std::string, double> values) {
    std::lock_guard lock(mu_);
    values_ = std::move(values);
  }
  std::string asked() {
    std::lock_guard lock(mu_);
    return asked_;
  }

 private:
  std::mutex mu_;
  std::map<std::string, double> values_;
  std::string asked_;
};

class AutoscaleControllerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    revisions_ = std::make_unique<RevisionController>(*store_, clock_);
    instances_ = std::make_unique<InstanceSetController>(*store_, clock_);
    autoscaler_ = std::make_unique<AutoscaleController>(*store_, clock_, load_,
                                                        AutoscaleController::Options{});
  }
  void TearDown() override {
    autoscaler_.reset();
    instances_.reset();
    revisions_.reset();
  }
  void apply(const json& autoscale, int replicas = 1) {
    Object o;
    o.kind = "Application";
    o.metadata.name = "shop";
    o.metadata.tenant = "default";
    o.spec = {{"components",
               {{{"name", "web"},
                 {"replicas", replicas},
                 {"run", {{"command", "/bin/web"}}},
                 {"autoscale", autoscale}}}}};
    ASSERT_TRUE(store_->create(o).ok());
  }
  // One pass of the controllers, with every instance made ready as a node agent would.
  void step() {
    auto scaled = autoscaler_->reconcile(key_);
    ASSERT_TRUE(scaled.ok()) << scaled.status().toString();
    ASSERT_TRUE(revisions_->reconcile(key_).ok());
    ASSERT_TRUE(instances_->reconcile(key_).ok());
    for (const auto& s : store_->list("Instance", {}).items) {
      Object i = s->object();
      if (i.spec.value("terminating", false)) {
        ASSERT_TRUE(store_->remove(i.key()).ok());
      } else if (!i.status.value("ready", false)) {
        i.status["ready"] = true;
        ASSERT_TRUE(store_->update(i, {.status_only = true}).ok());
      }
    }
    ASSERT_TRUE(instances_->reconcile(key_).ok());
  }
  json scaled() {
    return store_->get(key_).value()->object().status["autoscale"]["components"]["web"];
  }
  size_t running() {
    size_t n = 0;
    for (const auto& s : store_->list("Instance", {}).items)
      n += !s->object().spec.value("terminating", false);
    return n;
  }

  const ObjectKey key_{"Application", "default", "shop"};
  // A Monday, 08:29 in Berlin (CET, UTC+1).
  ManualClock clock_{"2026-03-02T07:29:00Z"};
  FixedLoad load_;
  testing::TempStore store_{"autoscale"};
  std::unique_ptr<RevisionController> revisions_;
  std::unique_ptr<InstanceSetController> instances_;
  std::unique_ptr<AutoscaleController> autoscaler_;
};

TEST_F(AutoscaleControllerTest, ScheduleRaisesTheMinimumAtItsMinuteInItsTimeZone) {
  apply({{"min", 1},
         {"max", 5},
         {"targetCPU", 70},
         {"scaleDownStabilizationSeconds", 0},
         {"schedules",
          {{{"cron", "30 8 * * 1-5"},
            {"timeZone", "Europe/Berlin"},
            {"duration", "1h"},
            {"min", 3}}}}});
  load_.set({{"cpu", 70}});  // exactly at target: only the schedule moves it
  step();
  EXPECT_EQ(load_.asked(), "default/shop/web");
  EXPECT_EQ(scaled()["replicas"], 1) << scaled().dump();
  EXPECT_EQ(running(), 1u);

  clock_.advance(std::chrono::seconds(59));  // 08:29:59: not yet
  step();
  EXPECT_EQ(scaled()["replicas"], 1) << scaled().dump();

  clock_.advance(std::chrono::seconds(1));  // 08:30:00 in Berlin
  step();
  EXPECT_EQ(scaled()["replicas"], 3) << scaled().dump();
  EXPECT_EQ(running(), 3u);
  const json last = scaled()["decisions"].back();
  EXPECT_EQ(last["from"], 1);
  EXPECT_EQ(last["to"], 3);
  EXPECT_NE(last["reason"].get<std::string>().find("Europe/Berlin"), std::string::npos) << last;
  EXPECT_EQ(last["metrics"]["cpu"], 70);

  // The load falls, but the window holds the minimum until it closes.
  load_.set({{"cpu", 20}});
  clock_.advance(std::chrono::minutes(59) + std::chrono::seconds(59));  // 09:29:59: still open
  step();
  EXPECT_EQ(scaled()["replicas"], 3);
  clock_.advance(std::chrono::seconds(1));  // 09:30: the window has closed
  step();
  EXPECT_EQ(scaled()["replicas"], 1) << scaled().dump();
  EXPECT_EQ(running(), 1u);
}

TEST_F(AutoscaleControllerTest, LoadScalesOutAtOnceAndInOnlyAfterTheStabilisationWindow) {
  apply({{"min", 1}, {"max", 10}, {"targetCPU", 50}, {"scaleDownStabilizationSeconds", 60}}, 2);
  load_.set({{"cpu", 50}});
  step();
  EXPECT_EQ(scaled()["replicas"], 2);
  ASSERT_EQ(running(), 2u);

  load_.set({{"cpu", 100}});  // twice the target: twice the instances
  clock_.advance(std::chrono::seconds(10));
  step();
  EXPECT_EQ(scaled()["replicas"], 4) << scaled().dump();
  EXPECT_EQ(running(), 4u);

  load_.set({{"cpu", 10}});  // wants 1, held by the window's highest recommendation
  for (int i = 0; i < 5; ++i) {
    clock_.advance(std::chrono::seconds(10));
    step();
    EXPECT_EQ(scaled()["replicas"], 4) << i << scaled().dump();
  }
  clock_.advance(std::chrono::seconds(15));  // the 4 recommended 65s ago has left the window
  step();
  EXPECT_EQ(scaled()["replicas"], 1) << scaled().dump();
  EXPECT_EQ(running(), 1u);
  // Every change is recorded with the values behind it; a restarted controller keeps the history.
  const json decisions = scaled()["decisions"];
  ASSERT_GE(decisions.size(), 3u);
  EXPECT_EQ(decisions.back()["metrics"]["cpu"], 10);
  autoscaler_ =
      std::make_unique<AutoscaleController>(*store_, clock_, load_, AutoscaleController::Options{});
  load_.set({{"cpu", 100}});
  clock_.advance(std::chrono::seconds(1));
  step();
  EXPECT_EQ(scaled()["replicas"], 2) << scaled().dump();
}

// A new measurement that changes nothing decided writes nothing: the controller watches the
// application it writes, and would otherwise feed itself.
TEST_F(AutoscaleControllerTest, MeasurementsThatChangeNoDecisionAreNotWritten) {
  apply({{"min", 1}, {"max", 10}, {"targetCPU", 50}}, 2);
  load_.set({{"cpu", 50}});
  step();
  const int64_t written = store_->get(key_).value()->resourceVersion();
  for (double cpu : {51.0, 53.5, 48.2}) {  // within the tolerance: still 2
    load_.set({{"cpu", cpu}});
    clock_.advance(std::chrono::seconds(1));
    ASSERT_TRUE(autoscaler_->reconcile(key_).ok());
    EXPECT_EQ(store_->get(key_).value()->resourceVersion(), written) << cpu;
  }
  // The status still catches up with the measurements, once a resync has passed.
  clock_.advance(std::chrono::seconds(15));
  ASSERT_TRUE(autoscaler_->reconcile(key_).ok());
  EXPECT_GT(store_->get(key_).value()->resourceVersion(), written);
  EXPECT_EQ(scaled()["metrics"]["cpu"], 48.2);
}

TEST_F(AutoscaleControllerTest, ReplicasFollowSpecUntilTheAutoscalerDecidesAndStayInBounds) {
  EXPECT_EQ(autoscaledReplicas({{"name", "web"}, {"replicas", 7}}, json::object()), 7);
  const json c = {{"name", "web"}, {"replicas", 7}, {"autoscale", {{"min", 2}, {"max", 5}}}};
  EXPECT_EQ(autoscaledReplicas(c, json::object()), 5);
  EXPECT_EQ(autoscaledReplicas(c, {{"autoscale", {{"components", {{"web", {{"replicas", 3}}}}}}}}),
            3);
}

}  // namespace
}  // namespace skiff
