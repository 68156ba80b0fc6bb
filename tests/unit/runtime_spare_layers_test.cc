// Spare root filesystems against real overlay mounts: made when wanted, taken by the next start
// (a fresh writable layer each time), released when not taken in time, at destruction, and
// after a crash; refused once their image's layers are gone or replaced.
#include "runtime/local/spare_layers.h"

#include <chrono>
#include <functional>
#include <thread>

#include "runtime/local/rootfs.h"
#include "runtime_runc_test_support.h"

namespace skiff::testing {
namespace {

using std::chrono::milliseconds;

class SpareLayersTest : public RuncTest {
 protected:
  std::string sparesDir() const { return dir_ + "/spares"; }

  // The spares in DIR that are mounted: made and not taken.
  std::vector<std::string> mounted() const { return mountsBelow(sparesDir()); }

  static bool eventually(const std::function<bool()>& done, milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(milliseconds(10));
    }
    return true;
  }
};

TEST_F(SpareLayersTest, TheNextTakeGetsAFreshLayerMadeAhead) {
  runtime::SpareLayers spares(sparesDir(), std::chrono::minutes(1));
  const std::vector<std::string> layers = {base_layer_};
  EXPECT_FALSE(spares.take(layers, dir_ + "/first"));
  EXPECT_FALSE(fs::exists(dir_ + "/first"));
  spares.want(layers);
  ASSERT_TRUE(eventually([&] { return mounted().size() == 1; }, milliseconds(5000)));
  const std::string made = mounted().front();
  spares.want(layers);  // one is ready: no second one

  ASSERT_TRUE(spares.take(layers, dir_ + "/second"));
  // The mount moved with its directory: the image's files, and a writable layer of its own.
  EXPECT_TRUE(runtime::isMountPoint(dir_ + "/second/rootfs"));
  EXPECT_TRUE(fs::exists(dir_ + "/second/rootfs/bin/busybox"));
  EXPECT_FALSE(fs::exists(made));
  writeFile(dir_ + "/second/rootfs/tmp/written", "x");
  EXPECT_TRUE(fs::exists(dir_ + "/second/upper/tmp/written"));
  EXPECT_TRUE(mounted().empty());
  // The one after it does not see the second's writes.
  spares.want(layers);
  ASSERT_TRUE(eventually([&] { return mounted().size() == 1; }, milliseconds(5000)));
  ASSERT_TRUE(spares.take(layers, dir_ + "/third"));
  EXPECT_FALSE(fs::exists(dir_ + "/third/rootfs/tmp/written"));

  // Another image has spares of its own.
  const std::string other = dir_ + "/layers/other";
  writeFile(other + "/etc/other", "other\n");
  spares.want({other});
  ASSERT_TRUE(eventually([&] { return mounted().size() == 1; }, milliseconds(5000)));
  EXPECT_FALSE(spares.take(layers, dir_ + "/fourth"));
  ASSERT_TRUE(spares.take({other}, dir_ + "/fourth"));
  EXPECT_TRUE(fs::exists(dir_ + "/fourth/rootfs/etc/other"));

  for (const char* taken : {"/second", "/third", "/fourth"}) {
    ASSERT_TRUE(runtime::releaseRootfs(dir_ + taken).isOk());
  }
}

TEST_F(SpareLayersTest, ASpareNotTakenInTimeIsReleased) {
  runtime::SpareLayers spares(sparesDir(), milliseconds(200));
  spares.want({base_layer_});
  ASSERT_TRUE(eventually([&] { return mounted().size() == 1; }, milliseconds(5000)));
  // Unmounted, then deleted.
  EXPECT_TRUE(eventually([&] { return mounted().empty() && fs::is_empty(sparesDir()); },
                         milliseconds(5000)));
  EXPECT_FALSE(spares.take({base_layer_}, dir_ + "/second"));
}

TEST_F(SpareLayersTest, DestructionAndReleaseAllLeaveNothing) {
  {
    runtime::SpareLayers spares(sparesDir(), std::chrono::minutes(1));
    spares.want({base_layer_});
    ASSERT_TRUE(eventually([&] { return mounted().size() == 1; }, milliseconds(5000)));
  }
  EXPECT_TRUE(mounted().empty());
  EXPECT_TRUE(fs::is_empty(sparesDir()));

  // What a crashed process left (a mounted layer, a half-made one) goes with releaseAll().
  ASSERT_TRUE(runtime::prepareRootfs({base_layer_}, sparesDir() + "/1-1").ok());
  fs::create_directories(sparesDir() + "/1-2/upper");
  runtime::SpareLayers spares(sparesDir(), std::chrono::minutes(1));
  spares.want({base_layer_});
  ASSERT_TRUE(eventually([&] { return mounted().size() == 2; }, milliseconds(5000)));
  ASSERT_TRUE(spares.releaseAll().isOk());
  EXPECT_TRUE(mounted().empty());
  EXPECT_TRUE(fs::is_empty(sparesDir()));
}

TEST_F(SpareLayersTest, ASpareWhoseLayersAreGoneOrReplacedIsRefused) {
  const std::string layer = dir_ + "/layers/copy";
  fs::copy(base_layer_, layer, fs::copy_options::recursive | fs::copy_options::copy_symlinks);
  runtime::SpareLayers spares(sparesDir(), std::chrono::minutes(1));
  spares.want({layer});
  ASSERT_TRUE(eventually([&] { return mounted().size() == 1; }, milliseconds(5000)));
  fs::remove_all(layer);
  EXPECT_FALSE(spares.take({layer}, dir_ + "/second"));
  EXPECT_FALSE(fs::exists(dir_ + "/second"));
  EXPECT_TRUE(mounted().empty());

  // Deleted and pulled again: the same path, but the spare was made over the deleted one.
  fs::copy(base_layer_, layer, fs::copy_options::recursive | fs::copy_options::copy_symlinks);
  spares.want({layer});
  ASSERT_TRUE(eventually([&] { return mounted().size() == 1; }, milliseconds(5000)));
  const std::string renamed = dir_ + "/layers/renamed";
  fs::rename(layer, renamed);
  fs::copy(base_layer_, layer, fs::copy_options::recursive | fs::copy_options::copy_symlinks);
  EXPECT_FALSE(spares.take({layer}, dir_ + "/fourth"));
  EXPECT_FALSE(fs::exists(dir_ + "/fourth"));
}

}  // namespace
}  // namespace skiff::testing
