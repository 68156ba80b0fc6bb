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
//   logs/       the workload's output (LogFileWriter)
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

// spec.json: the spec without secret_env and files (the driver writes those to tmpfs), plus
// where the shim finds the secret variables (empty: none).
std::string encodeSpec(const InstanceSpec& spec, const std::string& secret_env_file = "");
Result<InstanceSpec> decodeSpec(std::string_view json, std::string* secret_env_file = nullptr);
std::string encodeRecord(const ShimRecord& record);
Result<ShimRecord> decodeRecord(std::string_view json);

// The executable the spec's command names: argv[0] looked up in the PATH of spec.env (or a
// default PATH), or argv[0] itself when it contains '/'. Errors say which command is missing
// or not executable, and which PATH was searched.
Result<std::string> resolveCommand(const InstanceSpec& spec);
// Everything start() can check before anything is created: id, argv, command, working dir.
Status validateSpec(const InstanceSpec& spec);

// Runs the shim for the instance in `dir` until its workload exits; returns the process's
// exit code (0 once the workload's end is recorded, whatever its exit code).
int runShim(const std::string& dir);

}  // namespace skiff::runtime
