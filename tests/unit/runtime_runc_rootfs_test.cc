// Container root filesystems: layers merged with overlay-format whiteouts and opaque
// directories, the same view from the copy fallback, and a read-only root.
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#include <fstream>

#include "runtime/local/rootfs.h"
#include "runtime_runc_test_support.h"

namespace skiff::testing {
namespace {

class RuncRootfsTest : public RuncTest {
 protected:
  // A second layer over the base: deletes /data/gone (whiteout), adds /data/new, replaces
  // /opq (opaque) and shadows /data/changed.
  void makeLayers() {
    writeFile(base_layer_ + "/data/kept", "kept\n");
    writeFile(base_layer_ + "/data/gone", "gone\n");
    writeFile(base_layer_ + "/data/changed", "old\n");
    writeFile(base_layer_ + "/opq/old", "old\n");
    top_ = dir_ + "/layers/top";
    writeFile(top_ + "/data/new", "new\n");
    writeFile(top_ + "/data/changed", "new\n");
    ASSERT_EQ(::mknod((top_ + "/data/gone").c_str(), S_IFCHR | 0, makedev(0, 0)), 0);
    writeFile(top_ + "/opq/fresh", "fresh\n");
    ASSERT_EQ(::setxattr((top_ + "/opq").c_str(), "trusted.overlay.opaque", "y", 1, 0), 0);
  }

  std::string view(runtime::Driver& driver, const std::string& id) {
    auto s = spec(
        id, {"sh", "-c", "ls /data; ls /opq; cat /data/changed; echo w > /data/x && cat /data/x"});
    s.container->rootfs_layers = {base_layer_, top_};
    return runScript(driver, s);
  }

  std::string top_;
};

constexpr const char* kExpectedView = "changed\nkept\nnew\nfresh\nnew\nw\n";

TEST_F(RuncRootfsTest, OverlayAppliesWhiteoutsAndOpaqueDirs) {
  makeLayers();
  EXPECT_EQ(view(*driver_, "layers-1"), kExpectedView);
  // The container's writes went to its own layer, not to the image's.
  EXPECT_FALSE(fs::exists(base_layer_ + "/data/x"));
  EXPECT_FALSE(fs::exists(top_ + "/data/x"));
  EXPECT_TRUE(fs::exists(driver_->instanceDir("layers-1") + "/upper/data/x"));
  // The writable layer is volatile: nothing of it is synced, not even at its unmount.
  std::string options;
  std::ifstream mountinfo("/proc/self/mountinfo");
  for (std::string line; std::getline(mountinfo, line);)
    if (line.find(" " + driver_->instanceDir("layers-1") + "/rootfs ") != std::string::npos)
      options = line.substr(line.rfind(' ') + 1);
  EXPECT_NE(options.find("volatile"), std::string::npos) << options;
  ASSERT_TRUE(driver_->remove("layers-1").isOk());
  EXPECT_FALSE(fs::exists(driver_->instanceDir("layers-1")));
}

TEST_F(RuncRootfsTest, CopyFallbackGivesTheSameView) {
  makeLayers();
  auto copying = makeDriver(/*force_copy=*/true);
  EXPECT_NE(copying->describe().find("copied rootfs"), std::string::npos);
  EXPECT_EQ(view(*copying, "layers-2"), kExpectedView);
  EXPECT_TRUE(mountsBelow(copying->instanceDir("layers-2")).empty());
  EXPECT_FALSE(fs::exists(base_layer_ + "/data/x"));
  ASSERT_TRUE(copying->remove("layers-2").isOk());
  EXPECT_FALSE(fs::exists(copying->instanceDir("layers-2")));
}

TEST_F(RuncRootfsTest, ReadOnlyRootRefusesWrites) {
  auto s = spec(
      "ro-1",
      {"sh", "-c",
       "if echo x > /x 2>/dev/null; then echo wrote; else echo refused; fi; cat /etc/hostname"});
  s.container->read_only_root = true;
  EXPECT_EQ(runScript(*driver_, s), "refused\nro-1\n");
}

}  // namespace
}  // namespace skiff::testing
