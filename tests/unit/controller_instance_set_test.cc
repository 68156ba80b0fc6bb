#include "controller/instance_set_controller.h"

#include <gtest/gtest.h>

#include "controller/revision_controller.h"
#include "temp_store.h"

namespace skiff {
namespace {

class InstanceSetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    revisions_ = std::make_unique<RevisionController>(*store_, SystemClock::instance());
    instances_ = std::make_unique<InstanceSetController>(*store_, SystemClock::instance());
  }
  void TearDown() override {
    instances_.reset();
    revisions_.reset();
  }
  void apply(json components) {
    auto current = store_->get(key_);
    Object o = current.ok() ? (*current)->object() : Object{};
    o.kind = "Application";
    o.metadata.name = "shop";
    o.metadata.tenant = "default";
    o.spec = {{"components", std::move(components)}};
    ASSERT_TRUE((current.ok() ? store_->update(o) : store_->create(o)).ok());
  }
  void reconcile() {
    ASSERT_TRUE(revisions_->reconcile(key_).ok());
    auto r = instances_->reconcile(key_);
    ASSERT_TRUE(r.ok()) << r.status().toString();
  }
  std::vector<Object> instances(bool include_terminating = false) {
    std::vector<Object> out;
    for (const auto& s : store_->list("Instance", {}).items) {
      Object o = s->object();
      if (include_terminating || !o.spec.value("terminating", false)) out.push_back(std::move(o));
    }
    return out;
  }
  // What the node agent does: new instances become ready, retired ones are stopped and deleted.
  void agentStep() {
    for (Object& o : instances(true)) {
      if (o.spec.value("terminating", false)) {
        ASSERT_TRUE(store_->remove(o.key()).ok());
      } else if (!o.status.value("ready", false)) {
        o.status["ready"] = true;
        ASSERT_TRUE(store_->update(o, {.status_only = true}).ok());
      }
    }
  }
  Object app() { return store_->get(key_).value()->object(); }

  const ObjectKey key_{"Application", "default", "shop"};
  testing::TempStore store_{"iset"};
  std::unique_ptr<RevisionController> revisions_;
  std::unique_ptr<InstanceSetController> instances_;
};

json web(int replicas, const std::string& command = "/bin/web") {
  return {{"name", "web"},
          {"replicas", replicas},
          {"run", {{"command", command}}},
          {"rollout", {{"maxSurge", 1}, {"maxUnavailable", 0}}}};
}

TEST_F(InstanceSetTest, CreatesReplicasAndReportsReadiness) {
  apply({web(3)});
  reconcile();
  ASSERT_EQ(instances().size(), 3u);
  for (const auto& i : instances()) {
    EXPECT_EQ(i.spec["revision"], 1);
    EXPECT_EQ(i.metadata.labels.at(kApplicationLabel), "shop");
    EXPECT_EQ(i.metadata.labels.at(kComponentLabel), "web");
  }
  EXPECT_EQ((*findCondition(app().status, "Ready"))["status"], "False");
  agentStep();
  reconcile();
  EXPECT_EQ((*findCondition(app().status, "Ready"))["status"], "True");
  EXPECT_EQ(app().status["components"]["web"]["ready"], 3);
}

TEST_F(InstanceSetTest, RollingUpdateReplacesEveryInstanceWithinTheBudget) {
  apply({web(2)});
  reconcile();
  agentStep();
  reconcile();
  apply({web(2, "/bin/web2")});
  for (int step = 0; step < 10; ++step) {
    reconcile();
    int ready = 0;
    for (const auto& i : instances()) ready += i.status.value("ready", false);
    EXPECT_GE(ready, 2) << "step " << step;
    EXPECT_LE(instances().size(), 3u) << "step " << step;
    agentStep();
  }
  reconcile();
  ASSERT_EQ(instances().size(), 2u);
  for (const auto& i : instances()) EXPECT_EQ(i.spec["revision"], 2);
  EXPECT_EQ((*findCondition(app().status, "Progressing"))["reason"], "RolloutComplete");
}

TEST_F(InstanceSetTest, AFailingNewInstanceHoldsTheRolloutAndSaysWhy) {
  apply({web(2)});
  reconcile();
  agentStep();
  reconcile();
  apply({web(2, "/bin/broken")});
  reconcile();
  // What the node agent reports for a new instance that keeps crashing.
  for (Object& i : instances()) {
    if (i.spec["revision"] != 2) continue;
    setCondition(i.status,
                 {"Ready", "False", "CrashLoopBackOff", "exited (Error, code 1): no config", ""},
                 "2026-12-01T00:00:00Z");
    ASSERT_TRUE(store_->update(i, {.status_only = true}).ok());
  }
  reconcile();
  const Object held = app();
  const json* progressing = findCondition(held.status, "Progressing");
  ASSERT_NE(progressing, nullptr);
  EXPECT_EQ((*progressing)["status"], "False");
  EXPECT_EQ((*progressing)["reason"], "InstancesFailing");
  const std::string message = (*progressing)["message"];
  EXPECT_NE(message.find("component web: instance shop-web-2-"), std::string::npos) << message;
  EXPECT_NE(message.find("CrashLoopBackOff: exited (Error, code 1): no config"), std::string::npos)
      << message;
  EXPECT_NE(held.status["components"]["web"].value("failing", ""), "");
  // The old revision keeps serving: nothing of it was retired.
  int old_ready = 0;
  for (const auto& i : instances()) old_ready += i.spec["revision"] == 1;
  EXPECT_EQ(old_ready, 2);
}

TEST_F(InstanceSetTest, ScaleDownAndDeleteRetireInstances) {
  apply({web(3)});
  reconcile();
  agentStep();
  apply({web(1)});
  reconcile();
  EXPECT_EQ(instances().size(), 1u);
  EXPECT_EQ(instances(true).size(), 3u) << "retired instances wait for the agent";
  agentStep();
  ASSERT_TRUE(store_->remove(key_).ok());
  ASSERT_TRUE(instances_->reconcile(key_).ok());
  EXPECT_TRUE(instances().empty());
}

TEST_F(InstanceSetTest, StatefulComponentsStartInOrderWithStableNames) {
  apply(
      {{{"name", "db"}, {"type", "stateful"}, {"replicas", 3}, {"run", {{"command", "/bin/db"}}}}});
  reconcile();
  ASSERT_EQ(instances().size(), 1u);
  EXPECT_EQ(instances()[0].metadata.name, "shop-db-0");
  reconcile();
  EXPECT_EQ(instances().size(), 1u) << "db-1 waits until db-0 is ready";
  agentStep();
  reconcile();
  agentStep();
  reconcile();
  std::set<std::string> names;
  for (const auto& i : instances()) names.insert(i.metadata.name);
  EXPECT_EQ(names, (std::set<std::string>{"shop-db-0", "shop-db-1", "shop-db-2"}));
}

TEST_F(InstanceSetTest, PausedRolloutsHoldStill) {
  apply({web(2)});
  reconcile();
  agentStep();
  Object o = app();
  o.metadata.annotations[kPausedAnnotation] = "true";
  o.spec["components"][0]["run"]["command"] = "/bin/other";
  ASSERT_TRUE(store_->update(o).ok());
  reconcile();
  for (const auto& i : instances()) EXPECT_EQ(i.spec["revision"], 1);
  EXPECT_EQ((*findCondition(app().status, "Progressing"))["reason"], "RolloutPaused");
}

}  // namespace
}  // namespace skiff
