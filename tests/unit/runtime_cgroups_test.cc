// Cgroup layout detection from /proc/self/mountinfo and /proc/self/cgroup text.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>

#include "runtime/local/cgroups.h"

namespace skiff::runtime {
namespace {

// A hybrid host: v1 hierarchies plus an empty v2 mount, the process in a nested memory cgroup.
constexpr const char* kHybridMountinfo =
    "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:9 - cgroup cgroup rw,cpu,cpuacct\n"
    "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
    "39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids\n"
    "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd\n"
    "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";
constexpr const char* kHybridCgroup =
    "9:name=systemd:/\n"
    "8:pids:/\n"
    "4:memory:/process_api/7fa9\n"
    "2:cpu,cpuacct:/svc\n"
    "0::/\n";

TEST(CgroupLayoutTest, V1HierarchiesWinInAHybridLayout) {
  CgroupLayout layout = parseCgroupLayout(kHybridMountinfo, kHybridCgroup);
  EXPECT_EQ(layout.cpu, (CgroupPlace{"/sys/fs/cgroup/cpu,cpuacct/svc", false}));
  EXPECT_EQ(layout.memory, (CgroupPlace{"/sys/fs/cgroup/memory/process_api/7fa9", false}));
  EXPECT_EQ(layout.pids, (CgroupPlace{"/sys/fs/cgroup/pids", false}));
  EXPECT_EQ(layout.unified_dir, "/sys/fs/cgroup/unified");
}

TEST(CgroupLayoutTest, UnifiedOnlyLeavesControllersToCgroupControllers) {
  CgroupLayout layout =
      parseCgroupLayout("30 23 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n",
                        "0::/user.slice/session-1.scope\n");
  EXPECT_FALSE(layout.anyAvailable());
  EXPECT_EQ(layout.unified_dir, "/sys/fs/cgroup/user.slice/session-1.scope");
}

TEST(CgroupLayoutTest, MountRootIsStrippedFromTheProcessPath) {
  // A container sees its own cgroup mounted as the root of the hierarchy.
  CgroupLayout layout = parseCgroupLayout(
      "35 31 0:32 /docker/abc /sys/fs/cgroup/memory ro - cgroup cgroup rw,memory\n",
      "4:memory:/docker/abc\n");
  EXPECT_EQ(layout.memory.dir, "/sys/fs/cgroup/memory");
}

TEST(CgroupLayoutTest, NoCgroupsMeansNoLimitsAndSaysSo) {
  CgroupLayout layout = parseCgroupLayout("", "");
  EXPECT_FALSE(layout.anyAvailable());
  EXPECT_EQ(layout.unified_dir, "");
  EXPECT_NE(layout.describe().find("without cpu, memory and pids limits"), std::string::npos);
}

TEST(CgroupLayoutTest, DescribeNamesVersionsAndGaps) {
  CgroupLayout layout;
  layout.memory = {"/sys/fs/cgroup/memory", false};
  layout.pids = {"/sys/fs/cgroup", true};
  EXPECT_EQ(layout.describe(), "cgroups: cpu (unavailable: not limited), memory (v1), pids (v2)");
}

TEST(InstanceCgroupNameTest, TagsTheIdWithItsDriverRootAndFindsLeftoversByIt) {
  const std::string a = instanceCgroupName("/data/a/runtime", "default.web-0");
  EXPECT_EQ(a.rfind("default.web-0-", 0), 0u) << a;
  EXPECT_EQ(a, instanceCgroupName("/data/a/runtime", "default.web-0"));
  EXPECT_NE(a, instanceCgroupName("/data/b/runtime", "default.web-0"));

  std::string root = (std::filesystem::temp_directory_path() / "skiff-cg-XXXXXX").string();
  ASSERT_NE(mkdtemp(root.data()), nullptr);
  std::filesystem::create_directories(root + "/skiff/" + a);
  std::filesystem::create_directories(root + "/skiff/" +
                                      instanceCgroupName("/data/b/runtime", "default.web-0"));
  CgroupLayout layout;
  layout.cpu = {root, false};
  layout.memory = {root, false};  // co-mounted: listed once
  EXPECT_EQ(instanceCgroupDirs(layout, "/data/a/runtime"),
            std::vector<std::string>{root + "/skiff/" + a});
  EXPECT_TRUE(instanceCgroupDirs(layout, "/data/c/runtime").empty());
  std::filesystem::remove_all(root);
}

}  // namespace
}  // namespace skiff::runtime
