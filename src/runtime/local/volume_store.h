// VolumeStore: the host side of persistent volumes (Volume objects) on this machine.
//
// Layout under the root directory (DATA/volumes):
//   <tenant>/<name>/       the volume's data: what instances mount
//   <tenant>/<name>.ext4   for a sized volume where loop devices work, a sparse file holding an
//                          ext4 filesystem of that size, loop-mounted on the directory above, so
//                          the size is a hard limit (ENOSPC) rather than a number in a report
// Elsewhere the directory is plain and the size is not enforced (info() says so).
//
// The data belongs to the Volume object, not to instances: it survives instance restarts,
// updates and server restarts (a mount lost to a reboot is made again by ensure()) and goes only
// through remove(). Thread-safe: the node agent and the volume controller both ensure volumes;
// one mutex serialises every change (mkfs and mount take a moment, and are rare).
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"

namespace skiff::runtime {

struct VolumeInfo {
  std::string path;  // the directory to mount into instances
  bool size_enforced = false;
  int64_t capacity_bytes = 0;  // the filesystem's size when enforced, else the requested size
  int64_t used_bytes = 0;
};

class VolumeStore {
 public:
  struct Options {
    std::string root;
    // Sized volumes are loop-mounted ext4 files when the machine allows (root, mkfs.ext4,
    // loop devices); false keeps them plain directories.
    bool loop_mounts = true;
  };
  explicit VolumeStore(Options options);

  // Creates the volume on first use and mounts it when needed. Idempotent; size_bytes is what
  // a new volume gets (an existing one keeps its size).
  Result<VolumeInfo> ensure(const std::string& tenant, const std::string& name, int64_t size_bytes);
  // The volume as it is now; notFound if it was never created.
  Result<VolumeInfo> info(const std::string& tenant, const std::string& name) const;
  // Unmounts and deletes the volume's data. Removing a missing volume is fine.
  Status remove(const std::string& tenant, const std::string& name);
  // Every volume on disk, as (tenant, name).
  std::vector<std::pair<std::string, std::string>> list() const;
  // Unmounts every volume (data stays), for tests and an orderly host cleanup.
  Status unmountAll();

  // Empty when sized volumes can be loop-mounted here, else why not.
  static std::string probeLoopMounts();

 private:
  std::string dataDir(const std::string& tenant, const std::string& name) const;
  std::string backingFile(const std::string& tenant, const std::string& name) const;
  static Status mountBacking(const std::string& file, const std::string& dir);
  Result<VolumeInfo> infoLocked(const std::string& tenant, const std::string& name) const;
  std::vector<std::pair<std::string, std::string>> listLocked() const;

  // Constant after construction.
  const std::string root_;
  const bool loop_mounts_;

  mutable std::mutex mu_;  // held by every public method
};

}  // namespace skiff::runtime
