#include "controller/image_follow_controller.h"

#include <gtest/gtest.h>

#include "manual_clock.h"
#include "temp_store.h"

namespace skiff {
namespace {

class ImageFollowControllerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Object app;
    app.kind = "Application";
    app.metadata.name = "shop";
    app.metadata.tenant = "acme";
    app.spec = {{"components",
                 {{{"name", "web"},
                   {"image", "registry.test/shop:1.4.2"},
                   {"autoDeploy", {{"tags", "1.4.*"}, {"interval", "1m"}}}}}}};
    ASSERT_TRUE(store_->create(app).ok());
  }
  Object app() { return store_->get(key_).value()->object(); }

  const ObjectKey key_{"Application", "acme", "shop"};
  testing::ManualClock clock_;
  testing::TempStore store_{"image-follow"};
};

TEST_F(ImageFollowControllerTest, AStatusWriteThatLosesARaceIsRetriedWithTheTagsReadAgain) {
  // While the registry is being read, another controller writes the application's status, as
  // the revision controller does after every spec change: the follower's own status write then
  // conflicts.
  int listings = 0;
  ImageFollowController controller(*store_, clock_,
                                   [&](const std::string&, const std::string&,
                                       const std::string&) -> Result<std::vector<std::string>> {
                                     if (++listings == 1) {
                                       Object other = app();
                                       other.status["latestRevision"] = 1;
                                       UpdateOptions status_only;
                                       status_only.status_only = true;
                                       EXPECT_TRUE(store_->update(other, status_only).ok());
                                     }
                                     return std::vector<std::string>{"1.3.9", "1.4.2", "2.0.0"};
                                   });

  auto lost = controller.reconcile(key_);
  ASSERT_FALSE(lost.ok());
  EXPECT_EQ(lost.status().code(), StatusCode::kConflict);

  // The retry comes well within the interval, and still writes what the first pass found.
  ASSERT_TRUE(controller.reconcile(key_).ok());
  EXPECT_EQ(listings, 2);
  const Object after = app();
  EXPECT_EQ(after.status["autoDeploy"]["web"].value("newestTag", ""), "1.4.2");
  EXPECT_EQ(after.status.value("latestRevision", 0), 1);
  EXPECT_EQ(after.spec["components"][0]["image"], "registry.test/shop:1.4.2");
}

}  // namespace
}  // namespace skiff
