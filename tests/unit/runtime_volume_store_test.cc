#include "runtime/local/volume_store.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "common/files.h"
#include "temp_dir_test.h"

namespace skiff::runtime {
namespace {

bool fileExists(const std::string& path) { return std::filesystem::exists(path); }

class VolumeStoreTest : public testing::TempDirTest {
 protected:
  void TearDown() override {
    // Never leave a loop mount behind, whatever the test did.
    (void)VolumeStore({dir_ + "/volumes"}).unmountAll();
    testing::TempDirTest::TearDown();
  }
};

// Writes `bytes` zero bytes to `path`; false once the filesystem refuses.
bool writeBytes(const std::string& path, int64_t bytes) {
  std::ofstream out(path, std::ios::binary);
  std::string chunk(1 << 20, '\0');
  for (int64_t written = 0; written < bytes; written += static_cast<int64_t>(chunk.size())) {
    out.write(chunk.data(), static_cast<std::streamsize>(chunk.size()));
    out.flush();
    if (!out) return false;
  }
  out.close();
  return !out.fail();
}

TEST_F(VolumeStoreTest, KeepsDataAcrossRemountsAndDeletesOnRemove) {
  VolumeStore store({dir_ + "/volumes"});
  auto made = store.ensure("acme", "db-data-0", 0);
  ASSERT_TRUE(made.ok()) << made.status().toString();
  EXPECT_FALSE(made->size_enforced);
  ASSERT_TRUE(writeFileAtomically(made->path + "/kept", "data").isOk());
  auto again = store.ensure("acme", "db-data-0", 0);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(readWholeFile(again->path + "/kept").value(), "data");
  EXPECT_EQ(store.list(),
            (std::vector<std::pair<std::string, std::string>>{{"acme", "db-data-0"}}));
  ASSERT_TRUE(store.remove("acme", "db-data-0").isOk());
  EXPECT_FALSE(store.info("acme", "db-data-0").ok());
  EXPECT_TRUE(store.list().empty());
  EXPECT_TRUE(store.remove("acme", "db-data-0").isOk()) << "removing twice is fine";
}

TEST_F(VolumeStoreTest, SizedVolumeIsAHardLimitThatSurvivesUnmount) {
  if (!VolumeStore::probeLoopMounts().empty())
    GTEST_SKIP() << "loop mounts unavailable: " << VolumeStore::probeLoopMounts();
  VolumeStore store({dir_ + "/volumes"});
  auto made = store.ensure("acme", "cache-0", 16 << 20);
  ASSERT_TRUE(made.ok()) << made.status().toString();
  EXPECT_TRUE(made->size_enforced);
  EXPECT_LE(made->capacity_bytes, 16 << 20);
  EXPECT_GT(made->capacity_bytes, 8 << 20);
  EXPECT_FALSE(writeBytes(made->path + "/big", 32 << 20)) << "a 32 MiB file fit in 16 MiB";
  std::remove((made->path + "/big").c_str());
  ASSERT_TRUE(writeFileAtomically(made->path + "/small", "kept").isOk());

  // As after a reboot: the mount is gone, the data is in the backing file.
  ASSERT_TRUE(store.unmountAll().isOk());
  EXPECT_FALSE(fileExists(made->path + "/small"));
  auto remounted = store.ensure("acme", "cache-0", 16 << 20);
  ASSERT_TRUE(remounted.ok()) << remounted.status().toString();
  EXPECT_TRUE(remounted->size_enforced);
  EXPECT_EQ(readWholeFile(remounted->path + "/small").value(), "kept");
  EXPECT_GT(store.info("acme", "cache-0")->used_bytes, 0);

  ASSERT_TRUE(store.remove("acme", "cache-0").isOk());
  EXPECT_FALSE(fileExists(made->path));
  EXPECT_FALSE(fileExists(made->path + ".ext4"));
}

}  // namespace
}  // namespace skiff::runtime
