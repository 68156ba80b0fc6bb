#include "runtime/local/process_driver.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <thread>

#include <nlohmann/json.hpp>

#include "runtime/local/log_files.h"
#include "runtime/local/trash.h"

namespace skiff::runtime {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

namespace {

constexpr milliseconds kPollInterval{10};
// After SIGKILL the kernel needs only moments; this bounds a stop() on a wedged machine.
constexpr milliseconds kKillTimeout{10000};

bool startsWith(const std::string& text, const std::string& prefix) {
  return text.compare(0, prefix.size(), prefix) == 0;
}

// The last lines of the shim's log, to explain a failure that only the shim saw.
std::string shimLogTail(const std::string& dir) {
  auto text = readWholeFile(dir + "/" + kShimLogFile);
  if (!text.ok() || text->empty()) return "(the shim logged nothing)";
  std::string tail = text->size() > 1000 ? text->substr(text->size() - 1000) : *text;
  while (!tail.empty() && tail.back() == '\n') tail.pop_back();
  return tail;
}

}  // namespace

ProcessDriver::ProcessDriver(ProcessDriverOptions options)
    : root_(std::move(options.root_dir)),
      shim_binary_(options.shim_binary.empty() ? "/proc/self/exe" : std::move(options.shim_binary)),
      start_timeout_(options.start_timeout),
      cgroups_(detectCgroupLayout()),
      secret_root_(secretRoot(root_)),
      trash_(std::make_unique<Trash>(root_ + "/trash")) {}

ProcessDriver::~ProcessDriver() = default;

std::string ProcessDriver::secretRoot(const std::string& root_dir) {
  return "/dev/shm/skiff-" + rootTag(root_dir);
}

std::string ProcessDriver::describe() const {
  return "process driver: fork/exec under a per-instance shim, without namespaces; " +
         cgroups_.describe();
}

void ProcessDriver::discard(const std::string& id) const {
  std::string dir = instanceDir(id);
  std::vector<std::string> cgroup_dirs;
  if (auto text = readWholeFile(dir + "/" + kStateFile); text.ok()) {
    if (auto record = decodeRecord(*text); record.ok()) {
      cgroup_dirs = record->cgroup_dirs;
      if (record->state.phase == InstancePhase::kRunning && record->state.pid > 0 &&
          shimAlive(instanceDir(id), record->state.shim_pid))
        ::kill(-record->state.pid, SIGKILL);
    }
  }
  pid_t shim_pid = readShimPid(dir);
  if (shimAlive(instanceDir(id), shim_pid)) {
    ::kill(shim_pid, SIGKILL);
    for (int i = 0; i < 200 && shimAlive(instanceDir(id), shim_pid); ++i)
      std::this_thread::sleep_for(kPollInterval);
  }
  // A shim killed halfway may have created cgroups it never recorded.
  for (const CgroupPlace* place :
       {&cgroups_.cpu, &cgroups_.memory, &cgroups_.pids, &cgroups_.cpuacct})
    if (place->available())
      cgroup_dirs.push_back(place->dir + "/skiff/" + instanceCgroupName(root_, id));
  std::sort(cgroup_dirs.begin(), cgroup_dirs.end());
  cgroup_dirs.erase(std::unique(cgroup_dirs.begin(), cgroup_dirs.end()), cgroup_dirs.end());
  (void)removeCgroupDirs(cgroup_dirs);
  std::error_code ec;
  fs::remove_all(dir, ec);
  fs::remove_all(secretDir(id), ec);
  removeEmptySecretRoot(secretDir(id));
}

Result<std::string> ProcessDriver::writeWorkloadFiles(const InstanceSpec& spec) const {
  InstanceSpec shim_spec = spec;
  const bool has_secrets =
      !spec.secret_env.empty() ||
      std::any_of(spec.files.begin(), spec.files.end(), [](const auto& f) { return f.secret; });
  auto makeDir = [](const std::string& dir, mode_t mode) -> Status {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec || ::chmod(dir.c_str(), mode) != 0)
      return internalError("cannot create " + dir + ": " +
                           (ec ? ec.message() : std::string(std::strerror(errno))));
    return Status::ok();
  };
  if (has_secrets) {
    for (const std::string& dir : {secret_root_, secretDir(spec.id)})
      if (Status s = makeDir(dir, 0700); !s.isOk()) return s;
  }
  for (const InstanceFile& f : spec.files) {
    const std::string dir =
        (f.secret ? secretDir(spec.id) : instanceDir(spec.id)) + "/volumes/" + f.volume;
    if (Status s = makeDir(dir, f.secret ? 0700 : 0755); !s.isOk()) return s;
    if (Status s = writeFileAtomically(dir + "/" + f.name, f.contents, f.secret ? 0400 : 0444,
                                       Durability::kVolatile);
        !s.isOk())
      return s;
    shim_spec.env["SKIFF_VOLUME_" + envVarName(f.volume)] = dir;
  }
  std::string secret_env_file;
  if (!spec.secret_env.empty()) {
    secret_env_file = secretDir(spec.id) + "/env.json";
    const nlohmann::json env(spec.secret_env);
    if (Status s = writeFileAtomically(secret_env_file, env.dump(), 0600, Durability::kVolatile);
        !s.isOk())
      return s;
  }
  return encodeSpec(shim_spec, secret_env_file);
}

Result<InstanceState> ProcessDriver::start(const InstanceSpec& spec) {
  if (Status s = validateSpec(spec); !s.isOk()) return s;
  std::error_code ec;
  fs::create_directories(root_ + "/instances", ec);
  if (ec) return internalError("cannot create " + root_ + "/instances: " + ec.message());
  std::string dir = instanceDir(spec.id);
  if (::mkdir(dir.c_str(), 0755) != 0) {
    if (errno == EEXIST)
      return alreadyExists("instance \"" + spec.id + "\" already exists; remove it first");
    return internalError("cannot create " + dir + ": " + std::strerror(errno));
  }
  auto spec_json = writeWorkloadFiles(spec);
  if (!spec_json.ok()) {
    discard(spec.id);
    return spec_json.status();
  }
  if (Status s =
          writeFileAtomically(dir + "/" + kSpecFile, *spec_json, 0644, Durability::kVolatile);
      !s.isOk()) {
    discard(spec.id);
    return s;
  }
  if (Status s = launcher_.spawn(dir); !s.isOk()) {
    discard(spec.id);
    return s;
  }

  auto deadline = steady_clock::now() + start_timeout_;
  while (true) {
    if (auto text = readWholeFile(dir + "/" + kStateFile); text.ok()) {
      auto record = decodeRecord(*text);
      if (!record.ok()) {
        discard(spec.id);
        return internalError("instance \"" + spec.id + "\": " + record.status().message());
      }
      const std::string& reason = record->state.reason;
      if (record->state.phase == InstancePhase::kExited && startsWith(reason, kStartFailedPrefix)) {
        discard(spec.id);
        return internalError("instance \"" + spec.id + "\" failed to start: " +
                             reason.substr(std::strlen(kStartFailedPrefix)));
      }
      // Running, or already finished (a quick command): either way it started.
      return record->state;
    }
    pid_t shim_pid = readShimPid(dir);
    bool shim_gone = shim_pid > 0 && !shimAlive(instanceDir(spec.id), shim_pid) &&
                     !fs::exists(dir + "/" + kStateFile);
    if (shim_gone || steady_clock::now() > deadline) {
      std::string why = shim_gone ? "its shim exited before starting it"
                                  : "its shim did not report within " +
                                        std::to_string(start_timeout_.count()) + " ms";
      std::string tail = shimLogTail(dir);
      discard(spec.id);
      return internalError("instance \"" + spec.id + "\" failed to start: " + why +
                           "; shim log: " + tail);
    }
    std::this_thread::sleep_for(kPollInterval);
  }
}

Result<ShimRecord> ProcessDriver::readRecord(const std::string& id) const {
  return readShimRecord(id, instanceDir(id), "the workload");
}

Result<InstanceState> ProcessDriver::inspect(const std::string& id) {
  auto record = readRecord(id);
  if (!record.ok()) return record.status();
  return record->state;
}

Status ProcessDriver::stop(const std::string& id, milliseconds grace) {
  auto record = readRecord(id);
  if (!record.ok()) return record.status();
  const InstanceState& state = record->state;
  if (state.phase == InstancePhase::kExited) {
    // Without its shim a workload may still run; its group is ours to end.
    if (startsWith(state.reason, "ShimLost") && state.pid > 0 && ::getpgid(state.pid) == state.pid)
      ::kill(-state.pid, SIGKILL);
    return Status::ok();
  }
  auto exited = [&](milliseconds timeout) {
    auto deadline = steady_clock::now() + timeout;
    while (true) {
      auto now = readRecord(id);
      if (!now.ok() || now->state.phase == InstancePhase::kExited) return true;
      if (steady_clock::now() >= deadline) return false;
      std::this_thread::sleep_for(kPollInterval);
    }
  };
  ::kill(-state.pid, SIGTERM);
  if (exited(grace)) return Status::ok();
  ::kill(-state.pid, SIGKILL);
  if (exited(kKillTimeout)) return Status::ok();
  return unavailable("instance \"" + id + "\" did not exit after SIGKILL within " +
                     std::to_string(kKillTimeout.count()) + " ms; see " + instanceDir(id) + "/" +
                     kShimLogFile);
}

Status ProcessDriver::remove(const std::string& id) {
  auto record = readRecord(id);
  if (!record.ok()) {
    if (record.status().code() == StatusCode::kUnavailable)
      return conflict("instance \"" + id + "\" is starting; stop it before removing it");
    return record.status();
  }
  if (record->state.phase == InstancePhase::kRunning)
    return conflict("instance \"" + id + "\" is running; stop it before removing it");
  if (Status s = removeCgroupDirs(record->cgroup_dirs); !s.isOk()) return s;
  return keepLogsAndDelete(root_, id, secretDir(id), *trash_);
}

Result<std::vector<std::string>> ProcessDriver::list() {
  return listInstances(root_ + "/instances");
}

Result<std::string> ProcessDriver::logPath(const std::string& id) {
  return instanceLogPath(root_, id);
}

Result<std::unique_ptr<ExecSession>> ProcessDriver::exec(const std::string& id,
                                                         const std::vector<std::string>& argv,
                                                         bool tty) {
  if (Status s = checkExecTarget(id, instanceDir(id), argv); !s.isOk()) return s;
  auto text = readWholeFile(instanceDir(id) + "/" + kSpecFile);
  if (!text.ok()) return text.status();
  auto spec = decodeSpec(*text);
  if (!spec.ok()) return spec.status();
  spec->argv = argv;
  auto command = resolveCommand(*spec);
  if (!command.ok()) return command.status();
  std::vector<std::string> full = argv;
  full[0] = *command;
  std::vector<std::string> env;
  for (const auto& [name, value] : spec->env) env.push_back(name + "=" + value);
  return startExecSession(full, tty, spec->working_dir, &env);
}

}  // namespace skiff::runtime
