// The instance shim (`skiff shim --dir DIR`) and the files through which it and the
// ProcessDriver talk.
//
// One shim process runs per instance, detached from whoever started it. It starts the
// workload, owns its stdio (copied into rotated, timestamped log files), forwards SIGTERM
// (then SIGKILL after the spec's termination grace), and records the workload's exit in
// DIR/state.json, so an instance keeps running and its exit code survives while the control plane
// is killed or restarted.
//
// Files in DIR, the instance's state directory:
//   spec.json   the InstanceSpec, written by the driver before the shim starts
//   shim.pid    the shim's pid, written by the shim first thing
//   state.json  the InstanceState (plus the cgroups created), replaced atomically by the shim
//               when the workload runs, failed to start, or exited
//   shim.log    the shim's own diagnostics
//   logs/       the workload's output (LogFileWriter), unless spec.json names another directory
//
// For a container (RuncDriver) the shim's workload is `runc run` in the foreground: runc passes
// the shim's pipes to the container, forwards signals to its init and exits with its status;
// the shim then creates no cgroup (runc does) and reads the OOM verdict from the container's.
//
// The functions here are thread-safe; runShim() takes over the calling process.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/files.h"
#include "common/status.h"
#include "runtime/local/driver.h"

namespace skiff::runtime {

class Trash;

inline constexpr const char* kSpecFile = "spec.json";
inline constexpr const char* kStateFile = "state.json";
inline constexpr const char* kShimPidFile = "shim.pid";
inline constexpr const char* kShimLogFile = "shim.log";
inline constexpr const char* kLogsDir = "logs";
inline constexpr const char* kStartFailedPrefix = "StartFailed: ";

// What state.json holds: the state users see plus the host resources to clean up.
struct ShimRecord {
  InstanceState state;
  std::vector<std::string> cgroup_dirs;
  bool operator==(const ShimRecord&) const = default;
};

// Set in spec.json when the workload (argv) is `runc run` of an OCI container.
struct ShimRuncTarget {
  std::string runc;          // the runc binary
  std::string root;          // runc --root
  std::string container_id;  // for `runc kill` once the termination grace is over
  // The container's memory cgroup (kept after exit by `runc run --keep`), whose OOM counter
  // tells an OOM kill from another SIGKILL; empty: not known.
  std::string memory_cgroup_dir;
  bool memory_cgroup_v2 = false;
  bool operator==(const ShimRuncTarget&) const = default;
};

// spec.json: the spec without secret_env, files and container (the driver writes those
// elsewhere), plus where the shim finds the secret variables (empty: none), for a container how
// to reach it through runc, and where the workload's output goes (empty: DIR/logs).
std::string encodeSpec(const InstanceSpec& spec, const std::string& secret_env_file = "",
                       const ShimRuncTarget* runc = nullptr, const std::string& log_dir = "");
Result<InstanceSpec> decodeSpec(std::string_view json, std::string* secret_env_file = nullptr,
                                ShimRuncTarget* runc = nullptr, std::string* log_dir = nullptr);
std::string encodeRecord(const ShimRecord& record);
Result<ShimRecord> decodeRecord(std::string_view json);

// The executable the spec's command names: argv[0] looked up in the PATH of spec.env (or a
// default PATH), or argv[0] itself when it contains '/'. Errors say which command is missing
// or not executable, and which PATH was searched.
Result<std::string> resolveCommand(const InstanceSpec& spec);
// Everything start() can check before anything is created: id, argv, command, working dir.
Status validateSpec(const InstanceSpec& spec);
// The id rule of InstanceSpec::id, with an error that says it.
Status validateInstanceId(const std::string& id);

// What the drivers that run instances under shims (ProcessDriver, RuncDriver) share, for an
// instance's state directory DIR (ROOT/instances/<id>, or on tmpfs for the RuncDriver) and its
// kept logs in ROOT/logs/<id>.
//
// The shim's pid from DIR/shim.pid; -1 when there is none.
pid_t readShimPid(const std::string& dir);
// Whether `shim_pid` is the live shim of DIR: the pid alone could have been reused after a
// reboot or a crash, so its command line must name DIR. A zombie counts as gone.
bool shimAlive(const std::string& dir, pid_t shim_pid);
// Starts `shim_binary shim --dir DIR` detached: in a session of its own, nobody's child,
// without our files, signal dispositions or mask.
Status spawnShim(const std::string& shim_binary, const std::string& dir);
// For a forked child that becomes a shim (spawnShim, ShimLauncher): stdio on /dev/null, and
// default signal dispositions with an empty mask, as an exec would leave a fresh process
// (ignored signals and the mask survive exec).
void stdioToDevNull();
void resetSignals();
// DIR/state.json with the shim's liveness folded in: a Running record whose shim is gone is
// reported as exited ("ShimLost: ..."), `workload` naming what the shim runs ("the workload",
// "runc"). notFound without DIR; unavailable while the shim has not written its first record.
Result<ShimRecord> readShimRecord(const std::string& id, const std::string& dir,
                                  const std::string& workload);
// Removes the directory that holds `secret_dir` (the driver's root on tmpfs) once it is empty,
// so that a driver leaves nothing in /dev/shm when its last instance goes.
void removeEmptySecretRoot(const std::string& secret_dir);
// The last step of removing an instance: its logs move from ROOT/instances/<id>/logs to
// ROOT/logs/<id> (replacing those of an earlier instance of that id), `secret_dir` (on tmpfs)
// is deleted and ROOT/instances/<id> goes to `trash`.
Status keepLogsAndDelete(const std::string& root, const std::string& id,
                         const std::string& secret_dir, Trash& trash);
// Why `argv` cannot be run in instance `id` (exec): no command, or the instance is not running.
// OK when it can.
Status checkExecTarget(const std::string& id, const std::string& dir,
                       const std::vector<std::string>& argv);
// The instance ids that have a directory in DIR (ROOT/instances, or a driver's state root),
// sorted; names that are no instance id are skipped.
Result<std::vector<std::string>> listInstances(const std::string& dir);
// The current log file of instance `id`: its live run's, else its kept logs'.
Result<std::string> instanceLogPath(const std::string& root, const std::string& id);

// Runs the shim for the instance in `dir` until its workload exits; returns the process's
// exit code (0 once the workload's end is recorded, whatever its exit code).
int runShim(const std::string& dir);

}  // namespace skiff::runtime
