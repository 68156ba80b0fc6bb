#include "controller/work_queue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace skiff {
namespace {

ObjectKey key(const std::string& name) { return {"Application", "default", name}; }

TEST(WorkQueueTest, DeduplicatesQueuedKeys) {
  WorkQueue q;
  q.add(key("a"));
  q.add(key("a"));
  q.add(key("b"));
  EXPECT_EQ(q.length(), 2u);
  EXPECT_EQ(q.get()->name, "a");
  EXPECT_EQ(q.get()->name, "b");
}

TEST(WorkQueueTest, KeyAddedWhileProcessingComesBackAfterDoneNotBefore) {
  WorkQueue q;
  q.add(key("a"));
  auto k = q.get();
  q.add(key("a"));
  EXPECT_EQ(q.length(), 0u) << "a second worker must not get a key in flight";
  q.done(*k);
  EXPECT_EQ(q.length(), 1u);
  EXPECT_EQ(q.get()->name, "a");
}

TEST(WorkQueueTest, AddAfterDelays) {
  WorkQueue q;
  auto start = std::chrono::steady_clock::now();
  q.addAfter(key("a"), std::chrono::milliseconds(50));
  EXPECT_EQ(q.length(), 0u);
  auto k = q.get();
  ASSERT_TRUE(k);
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(50));
}

TEST(WorkQueueTest, RateLimitedBacksOffExponentiallyUntilForgotten) {
  WorkQueue q(std::chrono::milliseconds(20), std::chrono::seconds(1));
  auto timed = [&] {
    auto start = std::chrono::steady_clock::now();
    q.addRateLimited(key("a"));
    auto k = q.get();
    q.done(*k);
    return std::chrono::steady_clock::now() - start;
  };
  EXPECT_GE(timed(), std::chrono::milliseconds(20));
  EXPECT_GE(timed(), std::chrono::milliseconds(40));
  EXPECT_GE(timed(), std::chrono::milliseconds(80));
  q.forget(key("a"));
  EXPECT_LT(timed(), std::chrono::milliseconds(80));
}

TEST(WorkQueueTest, ShutDownReleasesWaiters) {
  WorkQueue q;
  std::atomic<bool> returned{false};
  std::thread t([&] {
    EXPECT_FALSE(q.get().has_value());
    returned = true;
  });
  q.shutDown();
  t.join();
  EXPECT_TRUE(returned);
}

}  // namespace
}  // namespace skiff
