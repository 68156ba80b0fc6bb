// ProcessDriver: runs each instance as a plain process (fork/exec) under its own shim, for
// machines where containers cannot run. Limits come from cgroups where the machine allows.
//
// Layout under the root directory (e.g. DATA/runtime):
//   instances/<id>/   the instance's state directory (see shim.h for its files)
//   logs/<id>/        logs of removed instances, kept for retention
// and, on tmpfs so that no secret reaches the disk, /dev/shm/skiff-<root tag>/<id>/ with the
// instance's secret files and, until its shim has read them, its secret variables.
//
// All state lives in those files, so any number of ProcessDriver objects, in this or a later
// process, see the same instances; that is how a restarted control plane adopts instances.
// Thread-safe: no mutable members; the caller serialises operations on one id.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "runtime/local/cgroups.h"
#include "runtime/local/driver.h"
#include "runtime/local/shim.h"
#include "runtime/local/shim_launcher.h"

namespace skiff::runtime {

class Trash;

struct ProcessDriverOptions {
  std::string root_dir;
  // The binary that provides `shim --dir DIR`; empty: this process's own executable.
  std::string shim_binary;
  // How long start() waits for the shim to report that the workload runs.
  std::chrono::milliseconds start_timeout{5000};
};

class ProcessDriver final : public Driver {
 public:
  explicit ProcessDriver(ProcessDriverOptions options);
  ~ProcessDriver() override;

  std::string name() const override { return "process"; }
  std::string describe() const override;

  Result<InstanceState> start(const InstanceSpec& spec) override;
  Result<InstanceState> inspect(const std::string& id) override;
  Status stop(const std::string& id, std::chrono::milliseconds grace) override;
  Status remove(const std::string& id) override;
  Result<std::vector<std::string>> list() override;
  Result<std::string> logPath(const std::string& id) override;
  // Runs `argv` on the host as the instance's process runs: in its working directory with its
  // environment (without its secret variables, which only its shim ever held).
  Result<std::unique_ptr<ExecSession>> exec(const std::string& id,
                                            const std::vector<std::string>& argv,
                                            bool tty) override;

  std::string instanceDir(const std::string& id) const { return root_ + "/instances/" + id; }
  std::string retainedLogDir(const std::string& id) const { return root_ + "/logs/" + id; }
  // Where the instance's secret files and variables are kept: tmpfs, outside the root.
  std::string secretDir(const std::string& id) const { return secret_root_ + "/" + id; }
  // The directory that holds secretDir()s of the driver rooted at `root_dir`.
  static std::string secretRoot(const std::string& root_dir);

 private:
  // state.json with the shim's liveness folded in: a Running record whose shim is gone is
  // reported as exited ("ShimLost"). notFound if there is no such instance; unavailable while
  // the shim has not yet written its first record.
  Result<ShimRecord> readRecord(const std::string& id) const;
  // Removes a failed start: kills what may run, deletes cgroups and the state directory.
  void discard(const std::string& id) const;
  // Writes the spec's files and secret variables; returns spec.json for the shim (with the
  // SKIFF_VOLUME_* variables and the secret variables' file).
  Result<std::string> writeWorkloadFiles(const InstanceSpec& spec) const;

  // Constant after construction.
  const std::string root_;
  const std::string shim_binary_;
  ShimLauncher launcher_{shim_binary_};  // forks the shims
  const std::chrono::milliseconds start_timeout_;
  const CgroupLayout cgroups_;
  const std::string secret_root_;  // /dev/shm/skiff-<root tag>
  // Deletes what removals leave (ROOT/trash), in the background.
  std::unique_ptr<Trash> trash_;
};

}  // namespace skiff::runtime
