#include "controller/revision_controller.h"

#include <gtest/gtest.h>

#include "temp_store.h"

namespace skiff {
namespace {

class RevisionControllerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    controller_ = std::make_unique<RevisionController>(*store_, SystemClock::instance());
  }
  void TearDown() override { controller_.reset(); }
  StoredObjectPtr createApp(json spec) {
    Object o;
    o.kind = "Application";
    o.metadata.name = "shop";
    o.metadata.tenant = "default";
    o.metadata.annotations[kChangeCauseAnnotation] = "first";
    o.spec = std::move(spec);
    return store_->create(o).value();
  }
  std::vector<StoredObjectPtr> revisions() {
    ListOptions l;
    l.tenant = "default";
    return store_->list("Revision", l).items;
  }
  void reconcile() { ASSERT_TRUE(controller_->reconcile(app_key_).ok()); }

  const ObjectKey app_key_{"Application", "default", "shop"};
  testing::TempStore store_{"rev"};
  std::unique_ptr<RevisionController> controller_;
};

TEST_F(RevisionControllerTest, SpecChangesMakeNumberedRevisionsAndNoOpsMakeNone) {
  createApp({{"components", {{{"name", "web"}}}}});
  reconcile();
  reconcile();  // idempotent
  ASSERT_EQ(revisions().size(), 1u);
  const Object& r1 = revisions()[0]->object();
  EXPECT_EQ(r1.metadata.name, "shop-1");
  EXPECT_EQ(r1.spec["revision"], 1);
  EXPECT_EQ(r1.spec["template"]["components"][0]["name"], "web");
  EXPECT_EQ(r1.metadata.labels.at(kApplicationLabel), "shop");
  EXPECT_EQ(r1.metadata.annotations.at(kChangeCauseAnnotation), "first");

  const Object app = store_->get(app_key_).value()->object();
  EXPECT_EQ(app.status["latestRevision"], 1);
  EXPECT_EQ(app.status["observedGeneration"], 1);
  const json* accepted = findCondition(app.status, "Accepted");
  ASSERT_NE(accepted, nullptr);
  EXPECT_EQ((*accepted)["status"], "True");

  Object changed = app;
  changed.spec["components"][0]["replicas"] = 3;
  ASSERT_TRUE(store_->update(changed).ok());
  reconcile();
  ASSERT_EQ(revisions().size(), 2u);
  EXPECT_EQ(store_->get(app_key_).value()->object().status["latestRevision"], 2);

  // Back to the first spec (a rollback) is a new revision, not a reuse of revision 1.
  Object back = store_->get(app_key_).value()->object();
  back.spec = r1.spec["template"];
  ASSERT_TRUE(store_->update(back).ok());
  reconcile();
  ASSERT_EQ(revisions().size(), 3u);
  EXPECT_EQ(store_->get({"Revision", "default", "shop-3"}).value()->object().spec["template"],
            r1.spec["template"]);
}

TEST_F(RevisionControllerTest, DeletedApplicationsLoseTheirRevisions) {
  createApp({{"components", json::array()}});
  reconcile();
  ASSERT_EQ(revisions().size(), 1u);
  ASSERT_TRUE(store_->remove(app_key_).ok());
  reconcile();
  EXPECT_TRUE(revisions().empty());
}

TEST_F(RevisionControllerTest, ReconcilingAnUnchangedApplicationWritesNothing) {
  createApp({{"components", json::array()}});
  reconcile();
  const int64_t after_first = store_->revision();
  reconcile();
  reconcile();
  EXPECT_EQ(store_->revision(), after_first) << "no revision and no status write for no change";
}

TEST_F(RevisionControllerTest, ApplicationsWhoseNamesSharePrefixesKeepTheirOwnRevisions) {
  createApp({{"components", json::array()}});
  Object canary;
  canary.kind = "Application";
  canary.metadata.name = "shop-canary";
  canary.metadata.tenant = "default";
  canary.spec = {{"components", {{{"name", "web"}}}}};
  ASSERT_TRUE(store_->create(canary).ok());
  const ObjectKey canary_key{"Application", "default", "shop-canary"};
  ASSERT_TRUE(controller_->reconcile(canary_key).ok());
  reconcile();
  // "shop-canary-1" starts with "shop-" but belongs to shop-canary.
  EXPECT_EQ(store_->get(app_key_).value()->object().status["latestRevision"], 1);
  EXPECT_TRUE(store_->get({"Revision", "default", "shop-1"}).ok());
  ASSERT_TRUE(store_->remove(app_key_).ok());
  reconcile();
  ASSERT_EQ(revisions().size(), 1u);
  EXPECT_EQ(revisions()[0]->metadata.name, "shop-canary-1");
}

}  // namespace
}  // namespace skiff
