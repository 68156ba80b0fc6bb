// Container benchmark: what Skiff's runc driver adds over bare runc, and how fast images come
// from a registry. Run by bench/container_bench.sh, which starts the registry and the peers.
//
//   start   100 sequential short-lived containers (/bin/true in a busybox image, as crun's
//           README times them): `runc run` of one prepared bundle, and RuncDriver start →
//           exited → remove of an instance of the same image (overlay root, bundle, shim,
//           cgroup, runc state), alternating. Both p50 / p99 / mean; the ratio is Skiff's
//           overhead. The directories remove() leaves to a background deletion are deleted
//           before the next bare run; how long that took after remove() is printed apart.
//           A third arm, alternating with those, is `runc run` with a fresh writable layer
//           (overlay mount and unmount) per container, as any engine that isolates its
//           containers' writes pays: what of the overhead is that layer, and what is Skiff.
//   pull    a REF from the registry into a fresh store, then its layers unpacked (what an
//           instance's first start costs), MB/s of compressed and of unpacked bytes.
//
// Both sides keep writable layers in a directory under --work-dir, /var/tmp unless told: on
// the disk, as a data directory is (/tmp is tmpfs on some systems). runc's state (--root) and
// bundles are on tmpfs for both, as Skiff keeps them and as runc's default root /run usually is.
//
// Usage: skiff_container_bench --skiff build/bin/skiff [--runs 100] [--work-dir DIR]
//        skiff_container_bench --pull REF [--work-dir DIR]
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "common/command.h"
#include "common/files.h"
#include "image/image_store.h"
#include "runtime/local/oci_bundle.h"
#include "runtime/local/rootfs.h"
#include "runtime/local/runc_driver.h"

namespace skiff {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

struct Summary {
  double p50 = 0, p99 = 0, mean = 0;
};

Summary summarize(std::vector<double> ms) {
  std::sort(ms.begin(), ms.end());
  Summary s;
  s.p50 = ms[ms.size() / 2];
  s.p99 = ms[std::min(ms.size() - 1, ms.size() * 99 / 100)];
  for (double v : ms) s.mean += v;
  s.mean /= static_cast<double>(ms.size());
  return s;
}

double since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

int die(const std::string& what) {
  std::fprintf(stderr, "container_bench: %s\n", what.c_str());
  return 1;
}

// A one-layer busybox image directory laid out as base images are: the mount points runc
// needs (/proc, /sys, /dev and the /etc files it binds) are in the image, so that a fresh
// writable layer is not charged for creating them.
Status makeLayer(const std::string& dir) {
  for (const char* sub : {"/bin", "/dev", "/etc", "/proc", "/sys", "/tmp"})
    fs::create_directories(dir + sub);
  std::error_code ec;
  fs::copy_file("/usr/bin/busybox", dir + "/bin/busybox", ec);
  if (ec) return unavailable("cannot copy /usr/bin/busybox: " + ec.message());
  for (const char* applet : {"sh", "true", "sleep"})
    fs::create_symlink("busybox", dir + "/bin/" + applet, ec);
  for (const auto& [name, contents] : std::vector<std::pair<std::string, std::string>>{
           {"passwd", "root:x:0:0:root:/root:/bin/sh\n"},
           {"group", "root:x:0:\n"},
           {"hosts", ""},
           {"hostname", ""},
           {"resolv.conf", ""}})
    if (Status s = writeFileAtomically(dir + "/etc/" + name, contents); !s.isOk()) return s;
  return Status::ok();
}

int benchStart(const std::string& skiff, const std::string& work, const std::string& state,
               int runs) {
  const std::string layer = work + "/layer";
  if (Status s = makeLayer(layer); !s.isOk()) return die(s.message());

  // Bare runc: one bundle (the same overlay root and config the driver writes, with its
  // /etc/hosts, /etc/resolv.conf and /etc/hostname), run N times.
  const std::string bundle = work + "/bundle";
  auto kind = runtime::prepareRootfs({layer}, bundle);
  if (!kind.ok()) return die(kind.status().message());
  runtime::OciBundleConfig config;
  config.argv = {"/bin/true"};
  config.env = {"PATH=/bin"};
  config.rootfs = bundle + "/rootfs";
  config.hostname = "bench";
  config.cgroups_path = "skiff-bench-runc";
  auto host_resolv = readWholeFile("/etc/resolv.conf");
  for (const auto& [name, contents] : std::vector<std::pair<std::string, std::string>>{
           {"hosts", runtime::hostsFileContents(config.hostname, {})},
           {"resolv.conf", runtime::resolvConfContents({}, host_resolv.ok() ? *host_resolv : "")},
           {"hostname", config.hostname + "\n"}}) {
    if (Status s = writeFileAtomically(work + "/" + name, contents); !s.isOk())
      return die(s.message());
    config.mounts.push_back({work + "/" + name, "/etc/" + name, true});
  }
  if (Status s = writeFileAtomically(bundle + "/config.json", runtime::ociConfigJson(config));
      !s.isOk())
    return die(s.message());

  // Skiff: the runc driver, under its shim, from the same layer.
  runtime::RuncDriverOptions options;
  options.root_dir = work + "/driver";
  options.shim_binary = skiff;
  runtime::RuncDriver driver(options);

  // The arms alternate, so that all see the same machine: a run of one after the other
  // compared one quiet minute with another.
  std::vector<double> bare, layered, skiff_ms, start_ms, exit_ms, remove_ms, deletion_ms;
  for (int i = 0; i < runs; ++i) {
    auto start = Clock::now();
    auto ran = runChecked({"runc", "--root", state + "/runc-root", "run", "--bundle", bundle,
                           "bench-" + std::to_string(i)});
    if (!ran.ok()) return die(ran.status().message());
    bare.push_back(since(start));

    // The same config over a root of its own (its bundle, config.json, on tmpfs). Its
    // directories are deleted untimed, as the driver's background deletion is.
    const std::string own = work + "/layered-" + std::to_string(i);
    const std::string own_bundle = state + "/layered-" + std::to_string(i);
    start = Clock::now();
    if (auto made = runtime::prepareRootfs({layer}, own); !made.ok())
      return die(made.status().message());
    runtime::OciBundleConfig own_config = config;
    own_config.rootfs = own + "/rootfs";
    std::error_code ec;
    fs::create_directory(own_bundle, ec);
    Status own_run =
        ec ? internalError("cannot create " + own_bundle + ": " + ec.message())
           : writeFileAtomically(own_bundle + "/config.json", runtime::ociConfigJson(own_config),
                                 0644, Durability::kVolatile);
    if (own_run.isOk()) {
      ran = runChecked({"runc", "--root", state + "/runc-root", "run", "--bundle", own_bundle,
                        "layered-" + std::to_string(i)});
      own_run = ran.ok() ? runtime::unmountRootfs(own) : ran.status();
    }
    layered.push_back(since(start));
    // A failed run leaves no mount behind either.
    (void)runtime::releaseRootfs(own);
    fs::remove_all(own, ec);
    fs::remove_all(own_bundle, ec);
    if (!own_run.isOk()) return die(own_run.message());

    runtime::InstanceSpec spec;
    spec.id = "bench." + std::to_string(i);
    spec.argv = {"/bin/true"};
    spec.env = {{"PATH", "/bin"}};
    spec.container = runtime::ContainerSpec{};
    spec.container->rootfs_layers = {layer};
    start = Clock::now();
    auto started = driver.start(spec);
    if (!started.ok()) return die(started.status().message());
    start_ms.push_back(since(start));
    while (true) {
      auto state = driver.inspect(spec.id);
      if (state.ok() && state->phase == runtime::InstancePhase::kExited) break;
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    exit_ms.push_back(since(start));
    if (Status s = driver.remove(spec.id); !s.isOk()) return die(s.message());
    skiff_ms.push_back(since(start));
    remove_ms.push_back(skiff_ms.back() - exit_ms.back());
    exit_ms.back() -= start_ms.back();
    // remove() leaves the instance's directories to a background deletion. It finishes before
    // the bare run, so that it never runs on bare runc's time; what of it the caller would
    // have waited for is reported apart.
    const auto deletion_start = Clock::now();
    driver.waitForDeletions();
    deletion_ms.push_back(since(deletion_start));
  }
  (void)runtime::releaseRootfs(bundle);
  const Summary b = summarize(bare), l = summarize(layered), k = summarize(skiff_ms);
  std::printf("start: %d sequential /bin/true containers\n", runs);
  std::printf("  bare runc run       p50 %6.1f ms  p99 %6.1f ms  mean %6.1f ms  total %.2f s\n",
              b.p50, b.p99, b.mean, b.mean * runs / 1000);
  std::printf("  skiff runc driver   p50 %6.1f ms  p99 %6.1f ms  mean %6.1f ms  total %.2f s\n",
              k.p50, k.p99, k.mean, k.mean * runs / 1000);
  std::printf("  overhead (mean)     %+.1f%%\n", (k.mean / b.mean - 1) * 100);
  std::printf(
      "  bare runc, own layer p50 %5.1f ms  p99 %6.1f ms  mean %6.1f ms: Skiff %+.1f%% over it\n",
      l.p50, l.p99, l.mean, (k.mean / l.mean - 1) * 100);
  std::printf("  skiff, by phase     start %.1f ms, to exit %.1f ms, remove %.1f ms (means)\n",
              summarize(start_ms).mean, summarize(exit_ms).mean, summarize(remove_ms).mean);
  const double deletion = summarize(deletion_ms).mean;
  std::printf(
      "  background deletion %.1f ms more after remove() (mean); with it the overhead "
      "is %+.1f%%\n",
      deletion, ((k.mean + deletion) / b.mean - 1) * 100);
  return 0;
}

int benchPull(const std::string& reference, const std::string& work) {
  auto store = image::ImageStore::open(work + "/store");
  if (!store.ok()) return die(store.status().message());
  const auto start = Clock::now();
  auto pulled = (*store)->pull(reference, {});
  if (!pulled.ok()) return die(pulled.status().message());
  const double pull_ms = since(start);
  const auto unpack_start = Clock::now();
  auto dirs = (*store)->layerDirs(*pulled);
  if (!dirs.ok()) return die(dirs.status().message());
  const double unpack_ms = since(unpack_start);
  uint64_t unpacked = 0;
  for (const auto& d : *dirs)
    for (const auto& e : fs::recursive_directory_iterator(d))
      if (e.is_regular_file()) unpacked += e.file_size();
  const double mb = static_cast<double>(pulled->size) / 1e6;
  std::printf("pull: %s, %.1f MB compressed, %.1f MB unpacked\n", reference.c_str(), mb,
              static_cast<double>(unpacked) / 1e6);
  std::printf("  pull (verified)     %7.0f ms  %6.1f MB/s\n", pull_ms, mb / (pull_ms / 1000));
  std::printf("  unpack              %7.0f ms  %6.1f MB/s of unpacked bytes\n", unpack_ms,
              static_cast<double>(unpacked) / 1e6 / (unpack_ms / 1000));
  std::printf("  pull + unpack       %7.0f ms\n", pull_ms + unpack_ms);
  return 0;
}

int run(int argc, char** argv) {
  std::string skiff, pull, work_parent = "/var/tmp";
  int runs = 100;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--skiff") skiff = fs::absolute(argv[i + 1]).string();
    if (flag == "--runs") runs = std::atoi(argv[i + 1]);
    if (flag == "--pull") pull = argv[i + 1];
    if (flag == "--work-dir") work_parent = argv[i + 1];
  }
  if (::geteuid() != 0) return die("needs root (runc, overlay mounts)");
  std::string tmpl = work_parent + "/skiff-container-bench-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr)
    return die("cannot create a work directory in " + work_parent);
  const std::string work = tmpl;
  int rc = 0;
  if (!pull.empty()) {
    rc = benchPull(pull, work);
  } else if (skiff.empty() || runs < 1) {
    rc = die("usage: skiff_container_bench --skiff PATH [--runs N] [--work-dir DIR] | --pull REF");
  } else {
    std::string state = "/dev/shm/skiff-container-bench-XXXXXX";
    if (::mkdtemp(state.data()) == nullptr) {
      rc = die("cannot create a state directory in /dev/shm");
    } else {
      rc = benchStart(skiff, work, state, runs);
      std::error_code ec;
      fs::remove_all(state, ec);
    }
  }
  std::error_code ec;
  fs::remove_all(work, ec);
  return rc;
}

}  // namespace
}  // namespace skiff

int main(int argc, char** argv) { return skiff::run(argc, argv); }
