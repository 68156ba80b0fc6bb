#include "runtime/local/shim.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "runtime/local/cgroups.h"
#include "runtime/local/log_files.h"
#include "runtime/local/trash.h"

namespace skiff::runtime {

namespace {

using Json = nlohmann::json;
using std::chrono::system_clock;

constexpr const char* kDefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

std::string timeToJson(system_clock::time_point t) {
  return t == system_clock::time_point{} ? std::string() : formatTimestampMillis(t);
}

bool timeFromJson(const Json& j, const char* key, system_clock::time_point* out) {
  std::string text = j.value(key, std::string());
  if (text.empty()) {
    *out = {};
    return true;
  }
  return parseTimestampMillis(text, out);
}

bool validId(const std::string& id) {
  if (id.empty() || id.size() > 63) return false;
  if (!((id[0] >= 'a' && id[0] <= 'z') || (id[0] >= '0' && id[0] <= '9'))) return false;
  for (char c : id)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_'))
      return false;
  return true;
}

// Shim diagnostics go to stderr, which the shim points at DIR/shim.log.
void shimLog(const std::string& message) {
  std::string line = formatTimestampMillis(system_clock::now()) + " " + message + "\n";
  (void)!::write(2, line.data(), line.size());
}

}  // namespace

const char* phaseName(InstancePhase phase) {
  return phase == InstancePhase::kRunning ? "Running" : "Exited";
}

std::string encodeSpec(const InstanceSpec& spec, const std::string& secret_env_file,
                       const ShimRuncTarget* runc, const std::string& log_dir) {
  Json j = {
      {"id", spec.id},
      {"argv", spec.argv},
      {"env", spec.env},
      {"workingDir", spec.working_dir},
      {"limits",
       {{"cpuMillis", spec.limits.cpu_millis},
        {"memoryBytes", spec.limits.memory_bytes},
        {"pids", spec.limits.pids}}},
      {"terminationGraceMillis", spec.termination_grace.count()},
      {"logs", {{"maxBytes", spec.logs.max_bytes}, {"files", spec.logs.files}}},
  };
  if (!secret_env_file.empty()) j["secretEnvFile"] = secret_env_file;
  if (!log_dir.empty()) j["logDir"] = log_dir;
  if (runc != nullptr)
    j["runc"] = {{"runc", runc->runc},
                 {"root", runc->root},
                 {"containerId", runc->container_id},
                 {"memoryCgroupDir", runc->memory_cgroup_dir},
                 {"memoryCgroupV2", runc->memory_cgroup_v2}};
  return j.dump(2) + "\n";
}

Result<InstanceSpec> decodeSpec(std::string_view json, std::string* secret_env_file,
                                ShimRuncTarget* runc, std::string* log_dir) {
  Json j = Json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return badRequest("spec.json is not a JSON object");
  // The shim and driver are the same binary, so a type mismatch here means a corrupt file;
  // json's typed getters would throw, so check the shapes we rely on first.
  if (!j.contains("id") || !j["id"].is_string() || !j.contains("argv") || !j["argv"].is_array())
    return badRequest("spec.json lacks id or argv");
  InstanceSpec spec;
  try {
    spec.id = j["id"].get<std::string>();
    spec.argv = j["argv"].get<std::vector<std::string>>();
    spec.env = j.value("env", std::map<std::string, std::string>());
    spec.working_dir = j.value("workingDir", std::string("/"));
    const Json limits = j.value("limits", Json::object());
    spec.limits.cpu_millis = limits.value("cpuMillis", int64_t{0});
    spec.limits.memory_bytes = limits.value("memoryBytes", int64_t{0});
    spec.limits.pids = limits.value("pids", int64_t{0});
    spec.termination_grace =
        std::chrono::milliseconds(j.value("terminationGraceMillis", int64_t{10000}));
    const Json logs = j.value("logs", Json::object());
    spec.logs.max_bytes = logs.value("maxBytes", LogLimits{}.max_bytes);
    spec.logs.files = logs.value("files", LogLimits{}.files);
    if (secret_env_file != nullptr) *secret_env_file = j.value("secretEnvFile", std::string());
    if (log_dir != nullptr) *log_dir = j.value("logDir", std::string());
    if (runc != nullptr && j.contains("runc")) {
      const Json& r = j["runc"];
      runc->runc = r.value("runc", std::string());
      runc->root = r.value("root", std::string());
      runc->container_id = r.value("containerId", std::string());
      runc->memory_cgroup_dir = r.value("memoryCgroupDir", std::string());
      runc->memory_cgroup_v2 = r.value("memoryCgroupV2", false);
    }
  } catch (const Json::exception& e) {
    return badRequest(std::string("spec.json has a field of the wrong type: ") + e.what());
  }
  return spec;
}

std::string encodeRecord(const ShimRecord& record) {
  const InstanceState& s = record.state;
  Json j = {
      {"id", s.id},
      {"phase", phaseName(s.phase)},
      {"shimPid", s.shim_pid},
      {"pid", s.pid},
      {"startedAt", timeToJson(s.started_at)},
      {"finishedAt", timeToJson(s.finished_at)},
      {"exitCode", s.exit_code},
      {"signal", s.signal},
      {"reason", s.reason},
      {"logPath", s.log_path},
      {"logDir", s.log_dir},
      {"cgroupDirs", record.cgroup_dirs},
  };
  return j.dump(2) + "\n";
}

Result<ShimRecord> decodeRecord(std::string_view json) {
  Json j = Json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return badRequest("state.json is not a JSON object");
  ShimRecord record;
  InstanceState& s = record.state;
  try {
    s.id = j.value("id", std::string());
    std::string phase = j.value("phase", std::string());
    if (phase == "Running") {
      s.phase = InstancePhase::kRunning;
    } else if (phase == "Exited") {
      s.phase = InstancePhase::kExited;
    } else {
      return badRequest("state.json has an unknown phase \"" + phase + "\"");
    }
    s.shim_pid = j.value("shimPid", -1);
    s.pid = j.value("pid", -1);
    if (!timeFromJson(j, "startedAt", &s.started_at) ||
        !timeFromJson(j, "finishedAt", &s.finished_at))
      return badRequest("state.json has a malformed timestamp");
    s.exit_code = j.value("exitCode", -1);
    s.signal = j.value("signal", 0);
    s.reason = j.value("reason", std::string());
    s.log_path = j.value("logPath", std::string());
    s.log_dir = j.value("logDir", std::string());
    record.cgroup_dirs = j.value("cgroupDirs", std::vector<std::string>());
  } catch (const Json::exception& e) {
    return badRequest(std::string("state.json has a field of the wrong type: ") + e.what());
  }
  return record;
}

Result<std::string> resolveCommand(const InstanceSpec& spec) {
  if (spec.argv.empty() || spec.argv[0].empty())
    return Status(StatusCode::kInvalid, "the instance has no command",
                  {{"argv", "give the command to run as argv[0]"}});
  const std::string& command = spec.argv[0];
  auto executable = [](const std::string& path) {
    struct stat st;
    return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
           ::access(path.c_str(), X_OK) == 0;
  };
  if (command.find('/') != std::string::npos) {
    std::string path = command[0] == '/' ? command : spec.working_dir + "/" + command;
    struct stat st;
    if (::stat(path.c_str(), &st) != 0)
      return Status(StatusCode::kInvalid, "command \"" + command + "\" does not exist",
                    {{"argv[0]", "no such file: " + path}});
    if (!executable(path))
      return Status(StatusCode::kInvalid, "command \"" + command + "\" is not executable",
                    {{"argv[0]", path + " is not an executable file"}});
    return path;
  }
  auto it = spec.env.find("PATH");
  std::string search = it != spec.env.end() ? it->second : kDefaultPath;
  std::istringstream dirs(search);
  std::string dir;
  bool found_not_executable = false;
  while (std::getline(dirs, dir, ':')) {
    if (dir.empty()) dir = ".";
    std::string path = dir + "/" + command;
    if (executable(path)) return path;
    if (::access(path.c_str(), F_OK) == 0) found_not_executable = true;
  }
  std::string message = found_not_executable
                            ? "command \"" + command + "\" is in PATH but not executable"
                            : "command \"" + command + "\" not found in PATH";
  return Status(StatusCode::kInvalid, message, {{"argv[0]", "PATH searched: " + search}});
}

Status validateInstanceId(const std::string& id) {
  if (validId(id)) return Status::ok();
  return Status(StatusCode::kInvalid, "instance id \"" + id + "\" is not valid",
                {{"id",
                  "use 1-63 lowercase letters, digits, '-', '.' or '_', starting with a "
                  "letter or digit"}});
}

Status validateSpec(const InstanceSpec& spec) {
  if (Status s = validateInstanceId(spec.id); !s.isOk()) return s;
  struct stat st;
  if (spec.working_dir.empty() || spec.working_dir[0] != '/')
    return Status(StatusCode::kInvalid, "working directory must be an absolute path",
                  {{"workingDir", "\"" + spec.working_dir + "\" is relative"}});
  if (::stat(spec.working_dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    return Status(StatusCode::kInvalid,
                  "working directory \"" + spec.working_dir + "\" does not exist",
                  {{"workingDir", "create it or choose another"}});
  auto command = resolveCommand(spec);
  return command.ok() ? Status::ok() : command.status();
}

namespace {

// Whether the kernel OOM-killed a process in the memory cgroup `dir` (v1 or v2).
bool cgroupOomKilled(const std::string& dir, bool v2) {
  auto text = readWholeFile(dir + (v2 ? "/memory.events" : "/memory.oom_control"));
  if (!text.ok()) return false;
  std::istringstream lines(*text);
  std::string key;
  long long value = 0;
  while (lines >> key >> value)
    if (key == "oom_kill") return value > 0;
  return false;
}

// `runc kill ID KILL`: SIGKILL to the container's init, which takes the whole pid namespace
// with it (a SIGKILL to `runc run` would only end runc).
void runcKill(const ShimRuncTarget& runc) {
  std::vector<std::string> args = {runc.runc, "--root",          runc.root,
                                   "kill",    runc.container_id, "KILL"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid == 0) {
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  if (pid > 0)
    while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
}

// The shim proper. Single-threaded: one poll loop over the workload's pipes and a signalfd.
class InstanceShim {
 public:
  explicit InstanceShim(std::string dir) : dir_(std::move(dir)) {}
  int run();

 private:
  // Records that the workload could not be started, cleaning up what the shim created.
  int startFailed(const std::string& message);
  // The workload started with stdin from /dev/null, stdout and stderr to `out` and `err`, in
  // its own process group; its pid, or why it could not be executed.
  Result<pid_t> spawnWorkload(const std::string& command, char** argv, char** envp, int out,
                              int err);
  // The same by fork, for a workload that must join the shim's cgroup before it executes.
  Result<pid_t> forkWorkload(const std::string& command, char** argv, char** envp, int out,
                             int err);
  Status writeRecord() {
    return writeFileAtomically(dir_ + "/" + kStateFile, encodeRecord(record_), 0644,
                               Durability::kVolatile);
  }
  void pump(int* fd, LogStream stream);

  const std::string dir_;
  InstanceSpec spec_;
  ShimRecord record_;
  std::optional<InstanceCgroup> cgroup_;
  std::optional<ShimRuncTarget> runc_;  // set: the workload is `runc run`
  std::unique_ptr<LogFileWriter> log_;
};

int InstanceShim::startFailed(const std::string& message) {
  shimLog("start failed: " + message);
  if (cgroup_) (void)removeCgroupDirs(cgroup_->dirs());
  record_.cgroup_dirs.clear();
  record_.state.phase = InstancePhase::kExited;
  record_.state.finished_at = system_clock::now();
  record_.state.reason = kStartFailedPrefix + message;
  Status s = writeRecord();
  if (!s.isOk()) shimLog(s.toString());
  return 1;
}

void InstanceShim::pump(int* fd, LogStream stream) {
  char buf[64 * 1024];
  ssize_t n = ::read(*fd, buf, sizeof buf);
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
  if (n <= 0) {
    ::close(*fd);
    *fd = -1;
    return;
  }
  Status s =
      log_->append(stream, std::string_view(buf, static_cast<size_t>(n)), system_clock::now());
  // A full disk must not block the workload: drop the output and say so once per failure.
  if (!s.isOk()) shimLog("log write failed: " + s.toString());
}

Result<pid_t> InstanceShim::spawnWorkload(const std::string& command, char** argv, char** envp,
                                          int out, int err) {
  // posix_spawn shares the shim's memory until the exec (vfork), instead of copying the page
  // tables of the whole skiff binary, and reports a failed exec as its result.
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&actions);
  posix_spawnattr_init(&attr);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out, 1);
  posix_spawn_file_actions_adddup2(&actions, err, 2);
  posix_spawn_file_actions_addchdir_np(&actions, spec_.working_dir.c_str());
  sigset_t none, pipe;
  sigemptyset(&none);
  sigemptyset(&pipe);
  sigaddset(&pipe, SIGPIPE);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &pipe);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                      POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_USEVFORK);
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, command.c_str(), &actions, &attr, argv, envp);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc == 0) return pid;
  // The working directory is the one step before the exec that can fail on the spec's account.
  if (::access(spec_.working_dir.c_str(), X_OK) != 0)
    return internalError("cannot enter working directory \"" + spec_.working_dir +
                         "\": " + std::strerror(errno));
  return internalError("cannot execute \"" + command + "\": " + std::strerror(rc));
}

Result<pid_t> InstanceShim::forkWorkload(const std::string& command, char** argv, char** envp,
                                         int out, int err) {
  int exec_status[2];
  if (::pipe2(exec_status, O_CLOEXEC) != 0)
    return internalError(std::string("pipe: ") + std::strerror(errno));
  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(exec_status[0]);
    ::close(exec_status[1]);
    return internalError(std::string("fork: ") + std::strerror(errno));
  }
  if (pid == 0) {
    // Into the cgroup before exec so no allocation escapes the limits; failures go back
    // through exec_status, which the exec closes.
    auto fail = [&](const std::string& what) {
      (void)!::write(exec_status[1], what.data(), what.size());
      ::_exit(127);
    };
    ::setpgid(0, 0);
    if (Status s = cgroup_->addProcess(::getpid()); !s.isOk()) fail(s.toString());
    if (::chdir(spec_.working_dir.c_str()) != 0)
      fail("cannot enter working directory \"" + spec_.working_dir + "\": " + std::strerror(errno));
    int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull < 0 || ::dup2(devnull, 0) < 0 || ::dup2(out, 1) < 0 || ::dup2(err, 2) < 0)
      fail(std::string("cannot set up stdio: ") + std::strerror(errno));
    ::signal(SIGPIPE, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execve(command.c_str(), argv, envp);
    fail("cannot execute \"" + command + "\": " + std::strerror(errno));
  }
  ::setpgid(pid, pid);  // also here, so the group exists whichever side runs first
  ::close(exec_status[1]);
  std::string exec_error;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(exec_status[0], buf, sizeof buf)) != 0) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    exec_error.append(buf, static_cast<size_t>(n));
  }
  ::close(exec_status[0]);
  if (exec_error.empty()) return pid;
  ::waitpid(pid, nullptr, 0);
  return internalError(exec_error);
}

int InstanceShim::run() {
  record_.state.shim_pid = ::getpid();
  record_.state.log_dir = dir_ + "/" + kLogsDir;
  record_.state.log_path = record_.state.log_dir + "/" + LogFileWriter::kCurrentName;
  (void)writeFileAtomically(dir_ + "/" + kShimPidFile, std::to_string(::getpid()) + "\n", 0644,
                            Durability::kVolatile);

  auto spec_text = readWholeFile(dir_ + "/" + kSpecFile);
  if (!spec_text.ok()) return startFailed(spec_text.status().toString());
  std::string secret_env_file, log_dir;
  ShimRuncTarget runc;
  auto spec = decodeSpec(*spec_text, &secret_env_file, &runc, &log_dir);
  if (!spec.ok()) return startFailed(spec.status().toString());
  spec_ = std::move(spec).value();
  if (!log_dir.empty()) {
    record_.state.log_dir = log_dir;
    record_.state.log_path = log_dir + "/" + LogFileWriter::kCurrentName;
  }
  if (!runc.runc.empty()) runc_ = runc;
  if (!secret_env_file.empty()) {
    // Read once and deleted: the values then live only in this process and the workload.
    auto secret_text = readWholeFile(secret_env_file);
    ::unlink(secret_env_file.c_str());
    if (!secret_text.ok()) return startFailed(secret_text.status().toString());
    Json secret_env = Json::parse(*secret_text, nullptr, /*allow_exceptions=*/false);
    if (!secret_env.is_object()) return startFailed("the secret environment file is damaged");
    for (auto it = secret_env.begin(); it != secret_env.end(); ++it)
      if (it->is_string()) spec_.env[it.key()] = it->get<std::string>();
  }
  record_.state.id = spec_.id;

  // Signals arrive through a signalfd so the loop handles them between reads, not in a
  // handler; SIGPIPE is ignored so a vanished reader never kills the shim.
  sigset_t handled;
  sigemptyset(&handled);
  for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGCHLD}) sigaddset(&handled, sig);
  sigprocmask(SIG_BLOCK, &handled, nullptr);
  int signal_fd = ::signalfd(-1, &handled, SFD_CLOEXEC | SFD_NONBLOCK);
  if (signal_fd < 0) return startFailed(std::string("signalfd: ") + std::strerror(errno));
  ::signal(SIGPIPE, SIG_IGN);
  // Descendants the workload orphans come to the shim rather than to init, so they are
  // reaped here and not left as zombies on hosts whose init does not reap.
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);

  auto command = resolveCommand(spec_);
  if (!command.ok()) return startFailed(command.status().toString());
  auto log = LogFileWriter::open(record_.state.log_dir, spec_.logs);
  if (!log.ok()) return startFailed(log.status().toString());
  log_ = std::move(log).value();

  if (runc_) {
    // runc creates, limits and deletes the container's cgroups itself.
  } else if (CgroupLayout layout = detectCgroupLayout(); layout.anyAvailable()) {
    // The shim's directory is ROOT/instances/ID (ProcessDriver::instanceDir).
    const std::string driver_root =
        std::filesystem::path(dir_).parent_path().parent_path().string();
    auto cgroup =
        InstanceCgroup::create(layout, instanceCgroupName(driver_root, spec_.id), spec_.limits);
    if (!cgroup.ok()) return startFailed(cgroup.status().toString());
    cgroup_ = std::move(cgroup).value();
    record_.cgroup_dirs = cgroup_->dirs();
  } else {
    shimLog("running without limits: " + layout.describe());
  }

  int out[2], err[2];
  if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0)
    return startFailed(std::string("pipe: ") + std::strerror(errno));

  // Everything the child needs is built before it exists.
  std::vector<std::string> env_strings;
  for (const auto& [k, v] : spec_.env) env_strings.push_back(k + "=" + v);
  if (!spec_.env.count("PATH")) env_strings.push_back(std::string("PATH=") + kDefaultPath);
  std::vector<char*> envp, argv;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  for (auto& a : spec_.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);

  Result<pid_t> started = cgroup_
                              ? forkWorkload(*command, argv.data(), envp.data(), out[1], err[1])
                              : spawnWorkload(*command, argv.data(), envp.data(), out[1], err[1]);
  ::close(out[1]);
  ::close(err[1]);
  if (!started.ok()) {
    ::close(out[0]);
    ::close(err[0]);
    return startFailed(started.status().message());
  }
  const pid_t pid = *started;

  record_.state.pid = pid;
  record_.state.phase = InstancePhase::kRunning;
  record_.state.started_at = system_clock::now();
  record_.state.reason = "Running";
  if (Status s = writeRecord(); !s.isOk()) shimLog("cannot record the start: " + s.toString());
  shimLog("started pid " + std::to_string(pid) + ": " + *command);

  int out_fd = out[0], err_fd = err[0];
  std::optional<int> wait_status;
  // After the workload's main process exits, stragglers holding its pipes are killed; the
  // remaining output is read until EOF or this deadline.
  std::chrono::steady_clock::time_point drain_deadline{};
  // Once the shim itself is asked to stop (say, the machine shuts down), the workload gets
  // its termination grace and then SIGKILL, as with Driver::stop().
  auto kill_deadline = std::chrono::steady_clock::time_point::max();  // max: not asked
  auto millisUntil = [](std::chrono::steady_clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(t -
                                                                 std::chrono::steady_clock::now())
        .count();
  };
  while (out_fd >= 0 || err_fd >= 0 || !wait_status) {
    int timeout_ms = -1;
    if (wait_status) {
      auto left = millisUntil(drain_deadline);
      if (left <= 0) break;
      timeout_ms = static_cast<int>(left);
    } else if (kill_deadline != std::chrono::steady_clock::time_point::max()) {
      auto left = millisUntil(kill_deadline);
      if (left <= 0) {
        if (runc_) {
          shimLog("termination grace over: runc kill " + runc_->container_id + " KILL");
          runcKill(*runc_);
        } else {
          shimLog("termination grace over: SIGKILL to process group " + std::to_string(pid));
          ::kill(-pid, SIGKILL);
        }
        kill_deadline = std::chrono::steady_clock::time_point::max();
      } else {
        timeout_ms = static_cast<int>(left);
      }
    }
    pollfd fds[3] = {{signal_fd, POLLIN, 0}, {out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}};
    int ready = ::poll(fds, 3, timeout_ms);
    if (ready < 0 && errno != EINTR) {
      shimLog(std::string("poll: ") + std::strerror(errno));
      break;
    }
    if (ready <= 0) continue;
    if (fds[1].revents) pump(&out_fd, LogStream::kStdout);
    if (fds[2].revents) pump(&err_fd, LogStream::kStderr);
    if (fds[0].revents & POLLIN) {
      signalfd_siginfo info;
      while (::read(signal_fd, &info, sizeof info) == sizeof info) {
        int sig = static_cast<int>(info.ssi_signo);
        if (sig != SIGCHLD) {
          shimLog("forwarding signal " + std::to_string(sig) + " to process group " +
                  std::to_string(pid));
          // runc forwards signals to the container's init itself.
          if (!wait_status) ::kill(runc_ ? pid : -pid, sig);
          if (!wait_status && kill_deadline == std::chrono::steady_clock::time_point::max())
            kill_deadline = std::chrono::steady_clock::now() + spec_.termination_grace;
        }
      }
      // Peek without reaping: while the main process is a zombie its pid cannot be reused,
      // so killing the group below cannot hit an unrelated process. Other exited children
      // are orphans of the workload that the subreaper setting made ours: reap them.
      siginfo_t info_child;
      while (true) {
        info_child = {};
        if (::waitid(P_ALL, 0, &info_child, WEXITED | WNOHANG | WNOWAIT) != 0 ||
            info_child.si_pid == 0)
          break;
        int status = 0;
        if (info_child.si_pid == pid) {
          ::kill(-pid, SIGKILL);
          ::waitpid(pid, &status, 0);
          wait_status = status;
          drain_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
        } else {
          ::waitpid(info_child.si_pid, &status, 0);
        }
      }
    }
  }
  if (out_fd >= 0) ::close(out_fd);
  if (err_fd >= 0) ::close(err_fd);
  if (Status s = log_->flush(system_clock::now()); !s.isOk()) shimLog(s.toString());

  InstanceState& state = record_.state;
  state.phase = InstancePhase::kExited;
  state.finished_at = system_clock::now();
  int status = wait_status.value_or(0);
  bool oom = cgroup_ && cgroup_->oomKilled();
  if (runc_ && !runc_->memory_cgroup_dir.empty())
    oom = cgroupOomKilled(runc_->memory_cgroup_dir, runc_->memory_cgroup_v2);
  if (runc_ && wait_status && WIFEXITED(status) && WEXITSTATUS(status) > 128 &&
      WEXITSTATUS(status) < 128 + NSIG) {
    // `runc run` exits with 128+N when signal N ended the container's init, as a shell does.
    state.signal = WEXITSTATUS(status) - 128;
    state.reason = "Killed";
  } else if (wait_status && WIFEXITED(status)) {
    state.exit_code = WEXITSTATUS(status);
    state.reason = state.exit_code == 0 ? "Completed" : "Error";
  } else if (wait_status && WIFSIGNALED(status)) {
    state.signal = WTERMSIG(status);
    state.reason = "Killed";
  } else {
    state.reason = "Error";
  }
  // The kernel may OOM-kill a child of the main process (which then exits non-zero), so any
  // OOM kill in the cgroup names the cause.
  if (oom) state.reason = "OOMKilled";
  if (Status s = writeRecord(); !s.isOk()) {
    shimLog("cannot record the exit: " + s.toString());
    return 1;
  }
  shimLog("workload exited: " + state.reason + " (exit code " + std::to_string(state.exit_code) +
          ", signal " + std::to_string(state.signal) + ")");
  return 0;
}

}  // namespace

int runShim(const std::string& dir) {
  // The shim outlives whoever started it, so its stdio must not point at their terminal or
  // pipes: stdin from /dev/null, diagnostics to DIR/shim.log.
  int devnull = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  if (devnull >= 0) {
    ::dup2(devnull, 0);
    ::close(devnull);
  }
  int log_fd =
      ::open((dir + "/" + kShimLogFile).c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) return 2;  // the directory is gone; nobody is left to tell
  ::dup2(log_fd, 1);
  ::dup2(log_fd, 2);
  ::close(log_fd);
  InstanceShim shim(dir);
  return shim.run();
}

pid_t readShimPid(const std::string& dir) {
  auto text = readWholeFile(dir + "/" + kShimPidFile);
  return text.ok() ? static_cast<pid_t>(std::atoi(text->c_str())) : -1;
}

bool shimAlive(const std::string& dir, pid_t shim_pid) {
  if (shim_pid <= 0) return false;
  auto cmdline = readWholeFile("/proc/" + std::to_string(shim_pid) + "/cmdline");
  if (!cmdline.ok()) return false;
  const std::string needle = std::string("--dir") + '\0' + dir + '\0';
  return cmdline->find(needle) != std::string::npos;
}

void stdioToDevNull() {
  int devnull = ::open("/dev/null", O_RDWR);
  if (devnull < 0) return;
  for (int fd = 0; fd <= 2; ++fd) ::dup2(devnull, fd);
  if (devnull > 2) ::close(devnull);
}

void resetSignals() {
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) ::sigaction(sig, &dfl, nullptr);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
}

Status spawnShim(const std::string& shim_binary, const std::string& dir) {
  std::vector<std::string> args = {"skiff", "shim", "--dir", dir};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const char* binary = shim_binary.c_str();

  // Double fork: the intermediate child starts a new session and exits at once, so the shim
  // has no controlling terminal, is no child of ours (nothing to reap, nothing killed with
  // our process group) and is adopted by init when we die. Only async-signal-safe calls
  // between fork and exec: this process may have other threads.
  pid_t child = ::fork();
  if (child < 0) return internalError(std::string("cannot fork the shim: ") + std::strerror(errno));
  if (child == 0) {
    ::setsid();
    pid_t shim = ::fork();
    if (shim != 0) ::_exit(shim < 0 ? 1 : 0);
    // The server's listening sockets and other files must not live on in the shim.
    ::close_range(3, ~0U, 0);
    stdioToDevNull();
    resetSignals();
    ::execv(binary, argv.data());
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return internalError("cannot fork the shim for " + dir);
  return Status::ok();
}

namespace {

bool predatesBoot(const std::string& path) {
  struct stat st;
  timespec up{};
  if (::stat(path.c_str(), &st) != 0 || ::clock_gettime(CLOCK_BOOTTIME, &up) != 0) return false;
  return st.st_mtime + 1 < ::time(nullptr) - up.tv_sec;
}

}  // namespace

Result<ShimRecord> readShimRecord(const std::string& id, const std::string& dir,
                                  const std::string& workload) {
  if (!std::filesystem::is_directory(dir)) return notFound("no instance \"" + id + "\"");
  for (int attempt = 0;; ++attempt) {
    auto text = readWholeFile(dir + "/" + kStateFile);
    if (!text.ok()) {
      if (text.status().code() != StatusCode::kNotFound) return text.status();
      const pid_t shim_pid = readShimPid(dir);
      // No shim.pid yet: starting, unless the machine restarted since (these files are not
      // fsynced, so a start cut short by that may have left none).
      if ((shim_pid <= 0 && !predatesBoot(dir)) || shimAlive(dir, shim_pid))
        return unavailable("instance \"" + id + "\" is starting; try again shortly");
      ShimRecord lost;
      lost.state.id = id;
      lost.state.phase = InstancePhase::kExited;
      lost.state.shim_pid = shim_pid;
      lost.state.reason = "ShimLost: the shim exited before starting " + workload + "; see " + dir +
                          "/" + kShimLogFile;
      return lost;
    }
    auto record = decodeRecord(*text);
    if (!record.ok()) return record.status();
    if (record->state.phase == InstancePhase::kExited || shimAlive(dir, record->state.shim_pid))
      return record;
    // The shim may have recorded the exit and left between our two reads: read once more.
    if (attempt == 0) continue;
    record->state.phase = InstancePhase::kExited;
    record->state.reason = "ShimLost: shim (pid " + std::to_string(record->state.shim_pid) +
                           ") exited without recording the exit of " + workload + "; see " + dir +
                           "/" + kShimLogFile;
    return record;
  }
}

void removeEmptySecretRoot(const std::string& secret_dir) {
  // Fails, as it should, while another instance has a directory there.
  (void)::rmdir(std::filesystem::path(secret_dir).parent_path().c_str());
}

Status keepLogsAndDelete(const std::string& root, const std::string& id,
                         const std::string& secret_dir, Trash& trash) {
  namespace fs = std::filesystem;
  const std::string dir = root + "/instances/" + id;
  std::error_code ec;
  if (fs::exists(dir + "/" + kLogsDir)) {
    // Same filesystem, so a rename.
    const std::string retained = root + "/logs/" + id;
    fs::create_directories(root + "/logs", ec);
    if (Status s = trash.discard(retained); !s.isOk()) return s;
    fs::rename(dir + "/" + kLogsDir, retained, ec);
    if (ec) return internalError("cannot keep the logs of \"" + id + "\": " + ec.message());
  }
  // The secrets are on tmpfs, where deleting costs nothing and must not wait.
  fs::remove_all(secret_dir, ec);
  if (ec) return internalError("cannot delete " + secret_dir + ": " + ec.message());
  removeEmptySecretRoot(secret_dir);
  return trash.discard(dir);
}

Status checkExecTarget(const std::string& id, const std::string& dir,
                       const std::vector<std::string>& argv) {
  if (argv.empty() || argv[0].empty())
    return Status(StatusCode::kInvalid, "no command to run", {{"command", "give a command"}});
  auto record = readShimRecord(id, dir, "the workload");
  if (!record.ok()) return record.status();
  if (record->state.phase != InstancePhase::kRunning)
    return conflict("instance \"" + id + "\" is not running (" + record->state.reason +
                    "); exec needs a running instance");
  return Status::ok();
}

Result<std::vector<std::string>> listInstances(const std::string& dir) {
  std::vector<std::string> ids;
  std::error_code ec;
  std::filesystem::directory_iterator it(dir, ec);
  if (ec) {
    if (ec == std::errc::no_such_file_or_directory) return ids;
    return internalError("cannot list " + dir + ": " + ec.message());
  }
  for (const auto& entry : it) {
    std::string name = entry.path().filename().string();
    if (validId(name) && entry.is_directory(ec)) ids.push_back(std::move(name));
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

Result<std::string> instanceLogPath(const std::string& root, const std::string& id) {
  if (std::filesystem::is_directory(root + "/instances/" + id))
    return root + "/instances/" + id + "/" + kLogsDir + "/" + LogFileWriter::kCurrentName;
  if (std::filesystem::is_directory(root + "/logs/" + id))
    return root + "/logs/" + id + "/" + LogFileWriter::kCurrentName;
  return notFound("no instance \"" + id + "\" and no retained logs for it");
}

}  // namespace skiff::runtime
