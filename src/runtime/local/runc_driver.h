// RuncDriver: runs each instance with a ContainerSpec as an OCI container under runc, each
// under its own shim (shim.h) whose workload is `runc run` in the foreground, so logs, exit
// codes and adoption after a control-plane restart work as with the ProcessDriver.
//
// On disk, under the root directory (e.g. DATA/runtime), only what must be there:
//   instances/<id>/          the instance's
//     rootfs/, upper/, work/ root filesystem (rootfs.h)
//     logs/                  and the workload's output (the shim's LogFileWriter)
//   logs/<id>/               logs of removed instances, kept for retention
//   spares/                  root filesystems made ahead of starts (spare_layers.h)
//   trash/                   directories being deleted (trash.h)
// The rest is on tmpfs, in the instance's state directory /dev/shm/skiff-<root tag>/<id>/:
// the shim's files (shim.h), runc's bundle (config.json), runc's state (runc/, its --root)
// and messages (runc.log), the /etc files and the volume files bind-mounted into the
// container. None of it outlives a reboot, which no container does either; secrets never
// reach the disk; and the files each start makes and replaces cost no disk I/O. (On ext4
// without a journal, each inode allocated scans past those freed in the last minutes: with
// them on disk, a run of starts slowed every following start; docs/benchmarks.md.)
// Container cgroups are skiff-<id>-<root tag> right below this process's cgroups, created and
// deleted by runc; the container is kept after it exits (`runc run --keep`) so the shim can
// read its OOM counter, and deleted by remove().
//
// All state lives in those files, so a RuncDriver on the same root in a later process adopts
// the instances of an earlier one. The root must not also be a ProcessDriver's: both would list
// (and clean up after) each other's instances. Thread-safe (the spares keep a lock of their
// own); the caller serialises operations on one id.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "runtime/local/cgroups.h"
#include "runtime/local/driver.h"
#include "runtime/local/shim.h"
#include "runtime/local/shim_launcher.h"

namespace skiff::runtime {

class SpareLayers;
class Trash;

struct RuncDriverOptions {
  std::string root_dir;
  // The binary that provides `shim --dir DIR`; empty: this process's own executable.
  std::string shim_binary;
  std::string runc_binary = "/usr/sbin/runc";
  // How long start() waits for runc to report the container created, or failed.
  std::chrono::milliseconds start_timeout{15000};
  // Copy the image layers into each instance instead of mounting overlayfs (the fallback
  // where overlayfs cannot be mounted, forced; for tests and odd filesystems).
  bool force_copy_rootfs = false;
  // How long a root filesystem made ahead of the next start of an image waits to be taken
  // (spare_layers.h); zero: none is made.
  std::chrono::milliseconds keep_spares{30000};
};

// Whether runc can run containers here, and if not, why not.
struct RuncProbe {
  bool usable = false;
  std::string version;  // "1.1.5"
  std::string reason;   // why not, for operators; empty when usable
};

class RuncDriver final : public Driver {
 public:
  explicit RuncDriver(RuncDriverOptions options);
  ~RuncDriver() override;

  // Checks that `runc_binary` exists, that this process is root, and that runc can create
  // (and delete) a container here. Takes up to a second; run it once at server start.
  static RuncProbe probe(const std::string& runc_binary = "/usr/sbin/runc");

  std::string name() const override { return "runc"; }
  std::string describe() const override;

  // The spec must carry a container part. Errors (bad user, missing layer, runc refusing the
  // config) leave nothing behind: no mount, no runc state, no cgroup, no state directory.
  Result<InstanceState> start(const InstanceSpec& spec) override;
  Result<InstanceState> inspect(const std::string& id) override;
  // `runc kill <id> TERM`, `runc kill <id> KILL` after `grace`; returns once exited.
  Status stop(const std::string& id, std::chrono::milliseconds grace) override;
  // Deletes the container (with `runc delete --force` if its init still runs), unmounts the
  // root filesystem, deletes the state; keeps the logs.
  Status remove(const std::string& id) override;
  Result<std::vector<std::string>> list() override;
  Result<std::string> logPath(const std::string& id) override;
  // `runc exec` as the container's user, in its working directory and environment; with a
  // terminal, runc's stdio is a pty whose master the session holds (runc relays it to a pty
  // of the container's own).
  // `runc exec` of the instance's container.
  std::vector<std::string> hostCommand(const std::string& id,
                                       const std::vector<std::string>& argv) const override;
  Result<std::unique_ptr<ExecSession>> exec(const std::string& id,
                                            const std::vector<std::string>& argv,
                                            bool tty) override;

  // After a crash of the server (or of shims) or a reboot: for every instance that has exited
  // or lost its shim, deletes its runc container (killing what is left of it) and unmounts its
  // root filesystem, keeping state and logs for remove(); ends the containers a build that kept
  // runc's state on disk left in ROOT/runc; deletes the directories on disk that have no state
  // directory (keeping their logs), the cgroups of this root that have no instance and the
  // spare root filesystems. Returns the first error, after trying everything.
  Status cleanupOrphans();
  // Waits until the directories removals left to the background are deleted.
  void waitForDeletions();

  // The instance's directory on disk: its root filesystem and logs.
  std::string instanceDir(const std::string& id) const { return root_ + "/instances/" + id; }
  std::string retainedLogDir(const std::string& id) const { return root_ + "/logs/" + id; }
  // The instance's state directory, on tmpfs: the shim's, and runc's bundle.
  std::string stateDir(const std::string& id) const { return state_root_ + "/" + id; }
  // runc's --root for the instance's container: one per container, so that deleting the
  // state directory deletes runc's state with it.
  std::string runcRoot(const std::string& id) const { return stateDir(id) + "/runc"; }
  // linux.cgroupsPath of the instance's container: relative to runc's (= this process's) cgroup.
  std::string cgroupsPath(const std::string& id) const;

 private:
  Result<ShimRecord> readRecord(const std::string& id) const;
  // Everything start() creates, in order, but the root filesystem when `has_rootfs` (a spare
  // was taken); on error the caller discards.
  Result<std::string> prepare(const InstanceSpec& spec, bool has_rootfs) const;
  // Removes everything of a failed start (or a crashed instance): kills the container, deletes
  // runc's state, unmounts, deletes the state directory.
  void discard(const std::string& id) const;
  // Removes the directory on disk of an instance that has no state directory, keeping its logs
  // as remove() does.
  Status removeOrphan(const std::string& id) const;
  // Whether runc has state for the container (created, running or stopped).
  bool runcKnows(const std::string& id) const;
  // The name of the container's init process (runc's state names it) while it runs.
  std::optional<std::string> initName(const std::string& id) const;
  // Whether the container's init process still runs.
  bool initRunning(const std::string& id) const;
  // How far the container's init has got: still setting up (or gone), past runc's last step
  // but not yet exec'd, or running the command.
  enum class Launch { kWaiting, kExecing, kExecuted };
  Launch launchState(const std::string& id) const;
  // The last error runc logged for the container ("runc run failed: ..."); empty: none.
  std::string runcError(const std::string& id) const;
  std::string runcLogPath(const std::string& id) const { return stateDir(id) + "/runc.log"; }
  // Runs runc with the container's --root and `args`; its exit code, with its stderr in
  // `*output`.
  int runc(const std::string& id, const std::vector<std::string>& args,
           std::string* output = nullptr) const;
  // The instance's cgroup directories in every hierarchy, existing or not.
  std::vector<std::string> cgroupDirs(const std::string& id) const;

  // Constant after construction.
  const std::string root_;
  const std::string shim_binary_;
  ShimLauncher launcher_{shim_binary_};  // forks the shims
  const std::string runc_binary_;
  const std::chrono::milliseconds start_timeout_;
  const bool force_copy_rootfs_;
  const CgroupLayout cgroups_;
  // This process's cgroup in every hierarchy: runc puts containers below the cgroups of the
  // shims, which are this process's.
  const std::vector<std::string> own_cgroups_;
  const std::string state_root_;  // /dev/shm/skiff-<root tag>
  // Deletes what removals leave (ROOT/trash), in the background.
  std::unique_ptr<Trash> trash_;
  // Root filesystems for the next starts (ROOT/spares); nullptr when none are made.
  std::unique_ptr<SpareLayers> spares_;
};

}  // namespace skiff::runtime
