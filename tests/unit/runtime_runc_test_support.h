// Shared by the runc driver tests: a temporary driver root with image layers built from
// Debian's busybox-static, and a teardown that removes every trace the driver may have left
// on the host (mounts, runc containers, cgroups), also when a test failed halfway.
#pragma once

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "common/files.h"
#include "runtime/local/cgroups.h"
#include "runtime/local/runc_driver.h"
#include "runtime/local/shim.h"

namespace skiff::testing {

namespace fs = std::filesystem;

inline constexpr const char* kRunc = "/usr/sbin/runc";
inline constexpr const char* kBusybox = "/usr/bin/busybox";

// The unit test binary is its own shim: the driver starts it as `skiff shim --launcher PAD`
// (or `skiff shim --dir DIR`), and this runs the launcher (or the shim) before main() when it
// sees those arguments. So the tests need neither the skiff binary nor the libraries it links.
[[maybe_unused]] inline const bool kRanAsShim = [] {
  auto cmdline = readWholeFile("/proc/self/cmdline");
  if (!cmdline.ok()) return false;
  std::vector<std::string> args;
  size_t start = 0;
  for (size_t i = 0; i < cmdline->size(); ++i) {
    if ((*cmdline)[i] == '\0') {
      args.push_back(cmdline->substr(start, i - start));
      start = i + 1;
    }
  }
  if (args.size() != 4 || args[1] != "shim") return false;
  // argv[0] starts the argument area, which /proc/self/cmdline spans.
  if (args[2] == "--launcher")
    ::_exit(runtime::runShimLauncher(program_invocation_name, cmdline->size()));
  if (args[2] != "--dir") return false;
  ::_exit(runtime::runShim(args[3]));
}();

inline std::string shimBinary() {
  std::error_code ec;
  return fs::read_symlink("/proc/self/exe", ec).string();
}

inline std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void writeFile(const std::string& path, const std::string& contents, mode_t mode = 0644) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path) << contents;
  ::chmod(path.c_str(), mode);
}

// Mount points below `prefix` in this process's mount namespace.
inline std::vector<std::string> mountsBelow(const std::string& prefix) {
  std::vector<std::string> out;
  std::istringstream lines(slurp("/proc/self/mountinfo"));
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream f(line);
    std::string a, b, c, d, mount_point;
    f >> a >> b >> c >> d >> mount_point;
    if (mount_point.rfind(prefix, 0) == 0) out.push_back(mount_point);
  }
  return out;
}

// Directories of cgroups named for the driver rooted at `root`, in every hierarchy.
inline std::vector<std::string> cgroupsOfRoot(const std::string& root) {
  const std::string suffix = "-" + runtime::rootTag(root);
  std::vector<std::string> out;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator("/sys/fs/cgroup", ec);
       it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) break;
    if (!it->is_directory(ec)) {
      continue;
    }
    const std::string name = it->path().filename().string();
    if (name.size() > suffix.size() &&
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
      out.push_back(it->path().string());
      it.disable_recursion_pending();
    }
  }
  return out;
}

class RuncTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "runc needs root";
    if (::access(kRunc, X_OK) != 0) GTEST_SKIP() << "no runc at " << kRunc;
    if (::access(kBusybox, X_OK) != 0) GTEST_SKIP() << "no busybox at " << kBusybox;
    shim_ = shimBinary();
    ASSERT_FALSE(shim_.empty());
    std::string tmpl = (fs::temp_directory_path() / "skiff-runc-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    root_ = dir_ + "/root";
    base_layer_ = dir_ + "/layers/base";
    makeBusyboxLayer(base_layer_);
    driver_ = makeDriver();
  }

  void TearDown() override {
    if (dir_.empty()) return;
    driver_.reset();
    runtime::RuncDriver cleaner(options());
    if (auto ids = cleaner.list(); ids.ok())
      for (const std::string& id : *ids) {
        (void)cleaner.stop(id, std::chrono::milliseconds(0));
        (void)cleaner.remove(id);
      }
    (void)cleaner.cleanupOrphans();
    // The background deletion must be done before the directory under it goes.
    cleaner.waitForDeletions();
    // Whatever is still there failed the test; remove it anyway so the host stays clean.
    std::error_code ec;
    const std::string state_root = "/dev/shm/skiff-" + runtime::rootTag(root_);
    for (const auto& entry : fs::directory_iterator(state_root, ec)) {
      const std::string id = entry.path().filename().string();
      std::string cmd = std::string(kRunc) + " --root " + cleaner.runcRoot(id) +
                        " delete --force " + id + " >/dev/null 2>&1";
      (void)!std::system(cmd.c_str());
    }
    for (const std::string& m : mountsBelow(dir_)) ::umount2(m.c_str(), MNT_DETACH);
    for (const std::string& c : cgroupsOfRoot(root_)) ::rmdir(c.c_str());
    fs::remove_all(dir_, ec);
    fs::remove_all(state_root, ec);
  }

  runtime::RuncDriverOptions options() const {
    runtime::RuncDriverOptions o;
    o.root_dir = root_;
    o.shim_binary = shim_;
    o.runc_binary = kRunc;
    return o;
  }
  std::unique_ptr<runtime::RuncDriver> makeDriver(bool force_copy = false) const {
    auto o = options();
    o.force_copy_rootfs = force_copy;
    return std::make_unique<runtime::RuncDriver>(o);
  }

  // /bin/busybox with applet links, /etc/passwd and /etc/group with an "app" user, /tmp.
  static void makeBusyboxLayer(const std::string& layer) {
    fs::create_directories(layer + "/bin");
    fs::copy_file(kBusybox, layer + "/bin/busybox");
    ::chmod((layer + "/bin/busybox").c_str(), 0755);
    for (const char* applet : {"sh", "echo", "cat", "sleep", "id", "hostname", "ls", "pwd", "touch",
                               "tty", "stty", "seq", "true", "dd", "tail", "wget"})
      fs::create_symlink("busybox", layer + "/bin/" + applet);
    writeFile(layer + "/etc/passwd",
              "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:App:/home/app:/bin/sh\n");
    writeFile(layer + "/etc/group", "root:x:0:\napp:x:1000:\nextra:x:2000:app\n");
    fs::create_directories(layer + "/tmp");
    ::chmod((layer + "/tmp").c_str(), 01777);
    fs::create_directories(layer + "/home/app");
    fs::create_directories(layer + "/proc");
    fs::create_directories(layer + "/dev");
    fs::create_directories(layer + "/sys");
  }

  runtime::InstanceSpec spec(const std::string& id, std::vector<std::string> argv) const {
    runtime::InstanceSpec s;
    s.id = id;
    s.argv = std::move(argv);
    s.env = {{"PATH", "/bin"}};
    s.termination_grace = std::chrono::milliseconds(2000);
    s.container.emplace();
    s.container->rootfs_layers = {base_layer_};
    return s;
  }

  // Polls until the instance has exited (or `timeout`).
  runtime::InstanceState waitExited(runtime::Driver& driver, const std::string& id,
                                    std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
      auto state = driver.inspect(id);
      if (state.ok() && state->phase == runtime::InstancePhase::kExited) return *state;
      if (std::chrono::steady_clock::now() > deadline) {
        ADD_FAILURE() << id << " did not exit within " << timeout.count() << " ms";
        return state.ok() ? *state : runtime::InstanceState{};
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  // The workload's log lines' text ("stdout hello"), without timestamps.
  std::string logText(runtime::Driver& driver, const std::string& id) {
    auto path = driver.logPath(id);
    if (!path.ok()) return "";
    std::istringstream lines(slurp(*path));
    std::string line, out;
    while (std::getline(lines, line)) {
      size_t space = line.find(' ');
      out += (space == std::string::npos ? line : line.substr(space + 1)) + "\n";
    }
    return out;
  }

  // Runs `script` in a new container and returns its stdout lines (after it exited 0).
  std::string runScript(runtime::Driver& driver, runtime::InstanceSpec s) {
    auto started = driver.start(s);
    if (!started.ok()) {
      ADD_FAILURE() << started.status().toString();
      return "";
    }
    auto state = waitExited(driver, s.id);
    EXPECT_EQ(state.exit_code, 0) << state.reason << "\n" << logText(driver, s.id);
    std::string out;
    std::istringstream lines(logText(driver, s.id));
    std::string line;
    while (std::getline(lines, line))
      if (line.rfind("stdout ", 0) == 0) out += line.substr(7) + "\n";
    return out;
  }

  std::string dir_;
  std::string root_;
  std::string shim_;
  std::string base_layer_;
  std::unique_ptr<runtime::RuncDriver> driver_;
};

}  // namespace skiff::testing
