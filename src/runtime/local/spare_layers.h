// SpareLayers: root filesystems (rootfs.h) made ahead of the container starts that take them.
//
// A start spends on its writable layer three directories and an overlay mount: 1.5–2 ms where
// the disk is busy with other containers' files (docs/benchmarks.md), while the container
// cannot run yet. So once a start of an image has its container running, one more layer of
// that image is made in the background for its next start (a scale-out, a rolling update, a
// restart); not earlier, where it would take the CPU from runc. A spare that no start takes
// within `keep` is released; at destruction all are, and releaseAll() also releases what a
// crashed process left.
//
// A spare is an overlay mount over the image's unpacked layers, so it uses them: `keep` must
// stay far below the time an image goes unused before its layers are deleted (image_gc.h: ten
// minutes), and take() refuses a spare whose layers are gone or were replaced since.
//
// Spares are DIR/<pid>-<n>/{rootfs,upper,work}; take() renames one to the instance's
// directory, and its mount moves with it. Thread-safe.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common/status.h"

namespace skiff::runtime {

class SpareLayers {
 public:
  // At most this many spares exist at once, one per image: a burst of starts of many images
  // does not leave a mount for each.
  static constexpr size_t kMaxSpares = 8;

  SpareLayers(std::string dir, std::chrono::milliseconds keep);
  // Stops making spares and releases every one.
  ~SpareLayers();
  SpareLayers(const SpareLayers&) = delete;
  SpareLayers& operator=(const SpareLayers&) = delete;

  // Moves a spare root filesystem of `layers` (bottom first) to `target`, a directory that
  // must not exist yet, and returns true; false when none is ready (the caller makes its own).
  bool take(const std::vector<std::string>& layers, const std::string& target);
  // Makes a spare of `layers` in the background, unless one is ready.
  void want(const std::vector<std::string>& layers);
  // Releases every spare, also those a crashed process left in DIR.
  Status releaseAll();

 private:
  struct Spare {
    std::string dir;
    std::chrono::steady_clock::time_point made;
    std::vector<std::pair<dev_t, ino_t>> layers;  // the layer directories it was made over
  };
  void run();
  void startLocked();

  const std::string dir_;
  const std::chrono::milliseconds keep_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::vector<std::string>, Spare> ready_;  // by layers; guarded by mu_
  std::deque<std::vector<std::string>> wanted_;      // guarded by mu_
  std::string making_;  // the directory being made, if any; guarded by mu_
  uint64_t made_ = 0;   // guarded by mu_: names spares
  // Overlayfs could not be mounted here: a spare would be a copy of the layers, which costs
  // more than it saves. Guarded by mu_.
  bool no_overlay_ = false;
  bool stopping_ = false;  // guarded by mu_
  std::thread thread_;
};

}  // namespace skiff::runtime
