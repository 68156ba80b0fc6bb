// Driver: the interface through which the node agent runs instances on this machine.
//
// A driver starts one workload per InstanceSpec and reports its InstanceState. Drivers keep
// their state on disk so that a restarted control plane, constructing a new driver over the
// same root directory, adopts instances started by its predecessor (list() + inspect()).
// Implementations: ProcessDriver (fork/exec under a per-instance shim) and RuncDriver (OCI
// containers under runc, with the same shim).
//
// Implementations are thread-safe for calls on different instance ids; calls for the same id
// are serialised by the caller (the node agent reconciles one key at a time).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "runtime/local/exec_session.h"

namespace skiff::runtime {

// Resource limits; 0 means "no limit".
struct InstanceLimits {
  int64_t cpu_millis = 0;  // 1000 = one core
  int64_t memory_bytes = 0;
  int64_t pids = 0;
  bool operator==(const InstanceLimits&) const = default;
};

// How much log output is kept on disk per instance: `files` files of at most `max_bytes`.
struct LogLimits {
  int64_t max_bytes = 10 << 20;
  int files = 3;  // current.log plus files-1 rotated ones
  bool operator==(const LogLimits&) const = default;
};

// A file the workload reads, written by the driver before the workload starts: one key of a
// Config or Secret volume. With the process driver each volume is a directory named by the
// variable SKIFF_VOLUME_<NAME> (NAME upper-cased, '-' as '_'); a container driver mounts it at
// the volume's path.
struct InstanceFile {
  std::string volume;  // the volume's name
  std::string name;    // the file name inside it (the key)
  std::string contents;
  // Secret contents never touch the disk: they are written to tmpfs, readable by the owner only.
  bool secret = false;
  bool operator==(const InstanceFile&) const = default;
};

// A name as an environment variable's: upper case, '-' as '_' ("api-port" -> "API_PORT").
inline std::string envVarName(std::string name) {
  for (char& c : name) c = c == '-' ? '_' : (c >= 'a' && c <= 'z' ? static_cast<char>(c - 32) : c);
  return name;
}

// A host path visible inside a container.
struct BindMount {
  std::string source;       // absolute host path (file or directory)
  std::string destination;  // absolute path inside the container
  bool read_only = true;
  bool operator==(const BindMount&) const = default;
};

// What /etc/resolv.conf says inside a container.
struct DnsConfig {
  std::vector<std::string> nameservers;
  std::vector<std::string> search;
  std::vector<std::string> options;  // e.g. "ndots:5"
  bool operator==(const DnsConfig&) const = default;
};

// The container part of an instance: set for components with an image, run by a container
// driver (RuncDriver). InstanceSpec::argv, env and working_dir then refer to the container's
// filesystem: argv is already resolved from the image's Entrypoint/Cmd and the component's
// command/args, env already merged with the image's Env.
struct ContainerSpec {
  // The image's unpacked layers, bottom first, in overlay format (whiteouts are 0/0 character
  // devices, opaque directories carry trusted.overlay.opaque=y). Read only: never modified.
  std::vector<std::string> rootfs_layers;
  // "uid[:gid]" numerically, or "name[:group]" looked up in the image's /etc/passwd and
  // /etc/group; empty: root (0:0).
  std::string user;
  bool read_only_root = false;
  std::string hostname;  // empty: the instance id
  // The network namespace to join (created by CNI); empty: a new one with only loopback.
  std::string netns_path;
  // Lines of /etc/hosts after the localhost entries, e.g. "10.88.0.5 web".
  std::vector<std::string> hosts;
  DnsConfig dns;  // no nameservers: the host's /etc/resolv.conf is copied
  // Where each volume of InstanceSpec::files is mounted (read only): volume name -> path.
  std::map<std::string, std::string> volume_paths;
  std::vector<BindMount> mounts;  // further bind mounts (persistent volumes)
  bool operator==(const ContainerSpec&) const = default;
};

struct InstanceSpec {
  std::string id;  // lowercase letters, digits, '-', '.', '_'; unique per driver root
  // Command and arguments. A command without '/' is looked up in the PATH of `env` (or the
  // default PATH if env has none); one with '/' is taken as is (relative to working_dir).
  std::vector<std::string> argv;
  // The workload's whole environment: nothing is inherited from the control plane, so an
  // instance behaves the same whichever process started it.
  std::map<std::string, std::string> env;
  // Variables from Secrets: kept off the disk (spec.json never holds them) and handed to the
  // shim through a tmpfs file it deletes once read.
  std::map<std::string, std::string> secret_env;
  std::vector<InstanceFile> files;
  std::string working_dir = "/";
  InstanceLimits limits;
  // How long the workload has between SIGTERM and SIGKILL when its shim is told to stop
  // (Driver::stop() takes its own grace, normally this one).
  std::chrono::milliseconds termination_grace{10000};
  LogLimits logs;
  // Set: run as an OCI container (a container driver is needed); unset: a host process.
  std::optional<ContainerSpec> container;
  bool operator==(const InstanceSpec&) const = default;
};

enum class InstancePhase { kRunning, kExited };

const char* phaseName(InstancePhase phase);

struct InstanceState {
  std::string id;
  InstancePhase phase = InstancePhase::kRunning;
  pid_t shim_pid = -1;
  pid_t pid = -1;  // the workload; also its process group id
  std::chrono::system_clock::time_point started_at{};
  std::chrono::system_clock::time_point finished_at{};  // meaningful once exited
  int exit_code = -1;  // exit status if the workload exited normally, else -1
  int signal = 0;      // the signal that ended the workload, else 0
  // Why it is in this phase: "Running", "Completed", "Error", "Killed", "OOMKilled",
  // "StartFailed: ...", "ShimLost: ...".
  std::string reason;
  std::string log_path;  // the file being written now (current.log)
  std::string log_dir;   // where current.log and its rotated predecessors live
  bool operator==(const InstanceState&) const = default;
};

class Driver {
 public:
  virtual ~Driver() = default;

  // Short name of the driver ("process", "runc").
  virtual std::string name() const = 0;
  // One line for operators: what isolation and limits this driver applies on this machine.
  virtual std::string describe() const = 0;

  // Starts the instance and returns once its workload runs. Failures that can be detected up
  // front (command not found or not executable, working directory missing, id in use) are
  // returned as errors and leave nothing behind.
  virtual Result<InstanceState> start(const InstanceSpec& spec) = 0;
  virtual Result<InstanceState> inspect(const std::string& id) = 0;
  // SIGTERM to the workload's process group, SIGKILL after `grace`; returns once it exited.
  // Stopping an exited instance is a no-op.
  virtual Status stop(const std::string& id, std::chrono::milliseconds grace) = 0;
  // Deletes the state and host resources (cgroups) of an exited instance. Its logs are kept
  // for retention under the driver's logs directory.
  virtual Status remove(const std::string& id) = 0;
  // Every instance the driver has state for, running or exited, including ones started by an
  // earlier driver object (or process) on the same root.
  virtual Result<std::vector<std::string>> list() = 0;
  // The instance's current log file, also after remove() while its logs are retained.
  virtual Result<std::string> logPath(const std::string& id) = 0;

  // A host command line that runs `argv` inside the instance and exits with its exit code (for
  // exec probes): `argv` itself for a host process.
  virtual std::vector<std::string> hostCommand(const std::string& id,
                                               const std::vector<std::string>& argv) const {
    (void)id;
    return argv;
  }

  // Starts `argv` inside the running instance (as its user, in its working directory and
  // environment), with a terminal when `tty`. The session owns the command's stdio and reaps
  // it; see exec_session.h.
  virtual Result<std::unique_ptr<ExecSession>> exec(const std::string& id,
                                                    const std::vector<std::string>& argv,
                                                    bool tty) {
    (void)argv;
    (void)tty;
    return Status(StatusCode::kInvalid,
                  "the " + name() + " driver cannot run commands inside instance \"" + id + "\"",
                  {{"driver", "exec needs the runc driver"}});
  }
};

}  // namespace skiff::runtime
