// What an instance uses, read from cgroup files (v1 and v2 layouts, laid out in a temporary
// directory with the kernel's formats) and from /proc/PID/net/dev.
#include "runtime/local/instance_usage.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace skiff::runtime {
namespace {

namespace fs = std::filesystem;

class CgroupUsageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("skiff-usage-" + std::to_string(::getpid()));
    fs::remove_all(root_);
  }
  void TearDown() override { fs::remove_all(root_); }
  std::string write(const std::string& dir, const std::string& file, const std::string& text) {
    fs::create_directories(root_ / dir);
    std::ofstream(root_ / dir / file) << text;
    return (root_ / dir).string();
  }
  fs::path root_;
};

TEST_F(CgroupUsageTest, V1SpreadsUsageOverItsHierarchies) {
  CgroupLayout layout;
  layout.cpu = {
      write("cpu", "cpu.stat", "nr_periods 40\nnr_throttled 7\nthrottled_time 350000000\n"), false};
  layout.cpuacct = {write("cpuacct", "cpuacct.usage", "2500000000\n"), false};
  write("memory", "memory.usage_in_bytes", "104857600\n");
  write("memory", "memory.limit_in_bytes", "9223372036854771712\n");  // no limit
  layout.memory = {write("memory", "memory.stat", "cache 10\ntotal_inactive_file 4194304\n"),
                   false};
  const CgroupUsage usage = readCgroupUsage(layout);
  EXPECT_DOUBLE_EQ(usage.cpu_seconds.value_or(-1), 2.5);
  EXPECT_DOUBLE_EQ(usage.throttled_seconds.value_or(-1), 0.35);
  EXPECT_EQ(usage.throttled_periods.value_or(0), 7u);
  EXPECT_EQ(usage.memory_working_set.value_or(-1), 96 << 20);  // 100Mi less 4Mi of inactive cache
  EXPECT_FALSE(usage.memory_limit.has_value());

  write("memory", "memory.limit_in_bytes", "67108864\n");
  EXPECT_EQ(readCgroupUsage(layout).memory_limit.value_or(-1), 64 << 20);
}

TEST_F(CgroupUsageTest, V2KeepsItAllInTheUnifiedDirectory) {
  CgroupLayout layout;
  write("unified", "cpu.stat", "usage_usec 1500000\nnr_throttled 3\nthrottled_usec 20000\n");
  write("unified", "memory.current", "8388608\n");
  write("unified", "memory.stat", "anon 100\ninactive_file 1048576\n");
  layout.unified_dir = write("unified", "memory.max", "max\n");
  CgroupUsage usage = readCgroupUsage(layout);
  EXPECT_DOUBLE_EQ(usage.cpu_seconds.value_or(-1), 1.5);
  EXPECT_DOUBLE_EQ(usage.throttled_seconds.value_or(-1), 0.02);
  EXPECT_EQ(usage.throttled_periods.value_or(0), 3u);
  EXPECT_EQ(usage.memory_working_set.value_or(-1), 7 << 20);
  EXPECT_FALSE(usage.memory_limit.has_value());
  write("unified", "memory.max", "33554432\n");
  EXPECT_EQ(readCgroupUsage(layout).memory_limit.value_or(-1), 32 << 20);
  // Nothing readable: nothing claimed.
  EXPECT_FALSE(readCgroupUsage(CgroupLayout{}).cpu_seconds.has_value());
}

TEST(InstanceUsageTest, NetDevSumsEveryInterfaceButLoopback) {
  const char* text =
      "Inter-|   Receive                                                |  Transmit\n"
      " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs "
      "drop fifo colls carrier compressed\n"
      "    lo:  900000     100    0    0    0     0          0         0   900000     100    0 "
      "   0    0     0       0          0\n"
      "  eth0:    1200      10    0    0    0     0          0         0      3400      20    0 "
      "   0    0     0       0          0\n"
      "  eth1:      34       1    0    0    0     0          0         0        6       1    0 "
      "   0    0     0       0          0\n";
  const NetworkBytes bytes = parseNetDev(text);
  EXPECT_EQ(bytes.received, 1234u);
  EXPECT_EQ(bytes.transmitted, 3406u);
}

TEST(InstanceUsageTest, AProcessInTheHostNetworkHasNoNetworkFiguresAndAGoneOneIsNotFound) {
  auto own = readInstanceUsage(::getpid(), readMountinfo());
  ASSERT_TRUE(own.ok()) << own.status().toString();
  EXPECT_FALSE(own->network.has_value());
  auto gone = readInstanceUsage(999999999, readMountinfo());
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace skiff::runtime
