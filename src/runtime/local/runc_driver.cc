#include "runtime/local/runc_driver.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "runtime/local/log_files.h"
#include "runtime/local/oci_bundle.h"
#include "runtime/local/rootfs.h"
#include "runtime/local/spare_layers.h"
#include "runtime/local/trash.h"

namespace skiff::runtime {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

namespace {

constexpr milliseconds kPollInterval{10};
// A start waits on inotify for the files that tell its progress, and looks again at least this
// often in case a change came between a look and the watch that would have seen it.
constexpr milliseconds kStartRecheck{10};
constexpr milliseconds kKillTimeout{10000};
constexpr std::chrono::microseconds kExecRecheck{100};
// The name runc's init process has until it execs the container's command.
constexpr const char* kRuncInitName = "runc:[2:INIT]";
constexpr const char* kDefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

bool startsWith(const std::string& text, const std::string& prefix) {
  return text.compare(0, prefix.size(), prefix) == 0;
}

bool endsWith(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string trimmed(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

std::string fileTail(const std::string& path, size_t bytes = 1000) {
  auto text = readWholeFile(path);
  if (!text.ok() || text->empty()) return "";
  return trimmed(text->size() > bytes ? text->substr(text->size() - bytes) : *text);
}

// Runs `args` to completion with stdin from /dev/null and stdout+stderr captured (in a memfd,
// so a child that passes its stdio on, as `runc create` does, cannot keep us waiting for EOF).
int runProgram(const std::vector<std::string>& args, std::string* output) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  int out = ::memfd_create("skiff-runc-output", MFD_CLOEXEC);
  pid_t pid = ::fork();
  if (pid < 0) {
    if (out >= 0) ::close(out);
    if (output) *output = std::string("fork: ") + std::strerror(errno);
    return -1;
  }
  if (pid == 0) {
    int devnull = ::open("/dev/null", O_RDWR);
    ::dup2(devnull, 0);
    ::dup2(out >= 0 ? out : devnull, 1);
    ::dup2(out >= 0 ? out : devnull, 2);
    ::close_range(3, ~0U, 0);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (output && out >= 0) {
    output->clear();
    char buf[4096];
    ssize_t n;
    off_t offset = 0;
    while ((n = ::pread(out, buf, sizeof buf, offset)) > 0) {
      output->append(buf, static_cast<size_t>(n));
      offset += n;
    }
    *output = trimmed(*output);
  }
  if (out >= 0) ::close(out);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// Waits for changes to the files of a starting container (an inotify instance). There is one
// per thread, kept for the next start: closing an inotify instance waits for an RCU grace
// period, which here took longer than the rest of a start.
class StartWatch {
 public:
  static StartWatch& forThisThread() {
    thread_local StartWatch watch;
    return watch;
  }
  ~StartWatch() {
    if (fd_ >= 0) ::close(fd_);
  }
  StartWatch(const StartWatch&) = delete;
  StartWatch& operator=(const StartWatch&) = delete;

  // A watch that cannot be added costs only latency: wait() still returns after its timeout.
  void add(const std::string& path, uint32_t mask) {
    if (fd_ < 0) return;
    if (int wd = ::inotify_add_watch(fd_, path.c_str(), mask); wd >= 0) watches_.push_back(wd);
  }
  // Until some watched change or `timeout`.
  void wait(milliseconds timeout) {
    if (fd_ < 0) {
      std::this_thread::sleep_for(timeout);
      return;
    }
    pollfd pfd{fd_, POLLIN, 0};
    (void)::poll(&pfd, 1, static_cast<int>(timeout.count()));
    drain();
  }
  // Removes the watches, for the next start.
  void clear() {
    for (int wd : watches_) (void)::inotify_rm_watch(fd_, wd);
    watches_.clear();
    drain();
  }

 private:
  StartWatch() : fd_(::inotify_init1(IN_CLOEXEC | IN_NONBLOCK)) {}
  void drain() {
    char events[4096];
    while (fd_ >= 0 && ::read(fd_, events, sizeof events) > 0) {
    }
  }

  const int fd_;
  std::vector<int> watches_;
};

// This process's directory in every mounted cgroup hierarchy (v1 ones and the unified one),
// where runc puts a container's relative cgroupsPath.
std::vector<std::string> ownCgroupDirs() {
  std::vector<std::string> dirs;
  auto mountinfo = readWholeFile("/proc/self/mountinfo");
  auto cgroup = readWholeFile("/proc/self/cgroup");
  if (!mountinfo.ok() || !cgroup.ok()) return dirs;
  struct Line {
    std::set<std::string> controllers;
    std::string path;
  };
  std::vector<Line> lines;
  std::string unified_path;
  {
    std::istringstream in(*cgroup);
    std::string line;
    while (std::getline(in, line)) {
      size_t a = line.find(':'), b = line.find(':', a + 1);
      if (a == std::string::npos || b == std::string::npos) continue;
      std::string hid = line.substr(0, a), list = line.substr(a + 1, b - a - 1);
      std::string path = line.substr(b + 1);
      if (hid == "0" && list.empty()) {
        unified_path = path;
        continue;
      }
      Line l;
      std::istringstream names(list);
      std::string name;
      while (std::getline(names, name, ',')) l.controllers.insert(name);
      l.path = path;
      lines.push_back(l);
    }
  }
  std::istringstream in(*mountinfo);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string id, parent, devno, root, mount_point, word;
    fields >> id >> parent >> devno >> root >> mount_point;
    while (fields >> word && word != "-") {
    }
    std::string fstype, source, options;
    fields >> fstype >> source >> options;
    auto join = [&](const std::string& path) {
      std::string rel = path;
      if (root != "/" && startsWith(rel, root)) rel = rel.substr(root.size());
      return mount_point + (rel == "/" ? "" : rel);
    };
    if (fstype == "cgroup2") {
      if (!unified_path.empty()) dirs.push_back(join(unified_path));
      continue;
    }
    if (fstype != "cgroup") continue;
    std::set<std::string> opts;
    std::istringstream o(options);
    std::string opt;
    while (std::getline(o, opt, ',')) opts.insert(opt);
    for (const Line& l : lines) {
      bool all = !l.controllers.empty();
      for (const auto& c : l.controllers) all = all && opts.count(c);
      if (all) {
        dirs.push_back(join(l.path));
        break;
      }
    }
  }
  std::sort(dirs.begin(), dirs.end());
  dirs.erase(std::unique(dirs.begin(), dirs.end()), dirs.end());
  return dirs;
}

// Removes a container cgroup directory that runc did not (a stopped container's, or one whose
// state was lost): rmdir, and while processes still hold it, SIGKILL to them (the container's
// processes; nothing else joins these cgroups) and rmdir again.
void removeContainerCgroup(const std::string& dir) {
  for (int attempt = 0; attempt < 100; ++attempt) {
    // Empty, as it is once a container has exited: gone at the first try.
    if (::rmdir(dir.c_str()) == 0 || errno == ENOENT) break;
    if (auto procs = readWholeFile(dir + "/cgroup.procs"); procs.ok()) {
      std::istringstream in(*procs);
      pid_t pid;
      while (in >> pid)
        if (pid > 0) ::kill(pid, SIGKILL);
    }
    if (::rmdir(dir.c_str()) == 0 || errno == ENOENT) break;
    std::this_thread::sleep_for(kPollInterval);
  }
}

// The version runc reports ("1.1.5+ds1"), or empty.
std::string runcVersion(const std::string& runc_binary) {
  std::string output;
  if (runProgram({runc_binary, "--version"}, &output) != 0) return "";
  std::istringstream in(output);
  std::string word, version;
  in >> word >> word >> version;  // "runc version 1.1.5+ds1"
  return version;
}

}  // namespace

RuncDriver::RuncDriver(RuncDriverOptions options)
    : root_(std::move(options.root_dir)),
      shim_binary_(options.shim_binary.empty() ? "/proc/self/exe" : std::move(options.shim_binary)),
      runc_binary_(std::move(options.runc_binary)),
      start_timeout_(options.start_timeout),
      force_copy_rootfs_(options.force_copy_rootfs),
      cgroups_(detectCgroupLayout()),
      own_cgroups_(ownCgroupDirs()),
      state_root_("/dev/shm/skiff-" + rootTag(root_)),
      trash_(std::make_unique<Trash>(root_ + "/trash")),
      spares_(options.force_copy_rootfs || options.keep_spares.count() <= 0
                  ? nullptr
                  : std::make_unique<SpareLayers>(root_ + "/spares", options.keep_spares)) {}

RuncDriver::~RuncDriver() = default;

std::string RuncDriver::describe() const {
  std::string version = runcVersion(runc_binary_);
  return "runc " + (version.empty() ? std::string("(version unknown)") : version) +
         ": OCI containers, namespaces pid/mount/uts/ipc/net, " + cgroups_.describe() + ", " +
         (force_copy_rootfs_ ? "copied rootfs" : "overlayfs rootfs");
}

// One level below this process's cgroups, with no shared parent: a parent runc would create
// but never delete, and that removing once empty would race with another container's start.
std::string RuncDriver::cgroupsPath(const std::string& id) const {
  return "skiff-" + instanceCgroupName(root_, id);
}

std::vector<std::string> RuncDriver::cgroupDirs(const std::string& id) const {
  std::vector<std::string> dirs;
  for (const std::string& own : own_cgroups_) dirs.push_back(own + "/" + cgroupsPath(id));
  return dirs;
}

int RuncDriver::runc(const std::string& id, const std::vector<std::string>& args,
                     std::string* output) const {
  std::vector<std::string> full = {runc_binary_, "--root", runcRoot(id)};
  full.insert(full.end(), args.begin(), args.end());
  return runProgram(full, output);
}

std::string RuncDriver::runcError(const std::string& id) const {
  auto text = readWholeFile(runcLogPath(id));
  if (!text.ok()) return "";
  std::istringstream lines(*text);
  std::string line, error;
  while (std::getline(lines, line)) {
    auto entry = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (entry.is_object() && entry.value("level", "") == "error")
      error = entry.value("msg", std::string("(no message)"));
  }
  return error;
}

std::optional<std::string> RuncDriver::initName(const std::string& id) const {
  auto text = readWholeFile(runcRoot(id) + "/" + id + "/state.json");
  if (!text.ok()) return std::nullopt;
  auto state = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (!state.is_object() || !state.contains("init_process_pid") ||
      !state["init_process_pid"].is_number_integer())
    return std::nullopt;
  const int pid = state["init_process_pid"].get<int>();
  auto stat = readWholeFile("/proc/" + std::to_string(pid) + "/stat");
  if (pid <= 0 || !stat.ok()) return std::nullopt;
  // "pid (comm) state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime
  // stime cutime cstime priority nice num_threads itrealvalue starttime": the start time tells
  // the init from a process that got its pid later.
  const size_t open = stat->find('('), close = stat->rfind(')');
  if (open == std::string::npos || close == std::string::npos || close < open) return std::nullopt;
  std::istringstream fields(stat->substr(close + 1));
  std::string state_letter, field;
  fields >> state_letter;
  for (int i = 0; i < 19 && fields >> field; ++i) {
  }
  if (state_letter == "Z" || state_letter == "X") return std::nullopt;
  if (state.contains("init_process_start") && state["init_process_start"].is_number_unsigned() &&
      field != std::to_string(state["init_process_start"].get<uint64_t>()))
    return std::nullopt;
  return stat->substr(open + 1, close - open - 1);
}

bool RuncDriver::initRunning(const std::string& id) const { return initName(id).has_value(); }

RuncDriver::Launch RuncDriver::launchState(const std::string& id) const {
  // runc removes exec.fifo once the container's init has opened it to exec the command, which
  // it does only after finding the command; a failed start has a dead init instead. Between
  // the two the init is still runc's (named so until it execs), and a signal would end it
  // with runc's status 2 rather than reach the command.
  if (fs::exists(runcRoot(id) + "/" + id + "/exec.fifo")) return Launch::kWaiting;
  auto name = initName(id);
  if (!name) return Launch::kWaiting;
  return *name == kRuncInitName ? Launch::kExecing : Launch::kExecuted;
}

bool RuncDriver::runcKnows(const std::string& id) const {
  // runc saves state.json once the container's init is set up; `run --keep` leaves it after
  // the container exits, also after a failed start (runc.log tells those apart).
  return fs::exists(runcRoot(id) + "/" + id + "/state.json");
}

RuncProbe RuncDriver::probe(const std::string& runc_binary) {
  RuncProbe result;
  if (::access(runc_binary.c_str(), X_OK) != 0) {
    result.reason =
        "runc not found at " + runc_binary + "; install runc (Debian: apt install runc)";
    return result;
  }
  result.version = runcVersion(runc_binary);
  if (::geteuid() != 0) {
    result.reason = "runc needs root and this server runs as uid " + std::to_string(::geteuid()) +
                    "; run the server as root to run images, or use the process driver";
    return result;
  }
  std::string tmpl = (fs::temp_directory_path() / "skiff-runc-probe-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) {
    result.reason = std::string("cannot create a probe directory: ") + std::strerror(errno);
    return result;
  }
  const std::string dir = tmpl;
  std::error_code ec;
  fs::create_directories(dir + "/bundle/rootfs", ec);
  // runc checks the command exists before it creates the container; any executable does,
  // since it is never started.
  std::string self = fs::read_symlink("/proc/self/exe", ec).string();
  OciBundleConfig config;
  config.argv = {"/probe"};
  config.rootfs = dir + "/bundle/rootfs";
  config.hostname = "probe";
  const std::string id = "skiff-probe-" + std::to_string(::getpid());
  config.cgroups_path = id;
  config.mounts = {{self, "/probe", true}};
  (void)writeFileAtomically(dir + "/bundle/config.json", ociConfigJson(config));
  const std::string root = dir + "/runc";
  std::string output;
  int rc =
      runProgram({runc_binary, "--root", root, "create", "--bundle", dir + "/bundle", id}, &output);
  std::string ignored;
  (void)runProgram({runc_binary, "--root", root, "delete", "--force", id}, &ignored);
  fs::remove_all(dir, ec);
  if (rc != 0) {
    result.reason = "runc " + result.version + " cannot create a container here: " + output;
    return result;
  }
  result.usable = true;
  return result;
}

void RuncDriver::discard(const std::string& id) const {
  const std::string state = stateDir(id);
  std::string ignored;
  // Deleting the container kills its processes; `runc run` then exits and the shim with it.
  if (fs::exists(runcRoot(id) + "/" + id)) (void)runc(id, {"delete", "--force", id}, &ignored);
  pid_t shim_pid = readShimPid(state);
  if (shimAlive(state, shim_pid)) {
    ::kill(shim_pid, SIGKILL);
    for (int i = 0; i < 200 && shimAlive(state, shim_pid); ++i)
      std::this_thread::sleep_for(kPollInterval);
  }
  for (const std::string& cgroup : cgroupDirs(id))
    if (fs::exists(cgroup)) removeContainerCgroup(cgroup);
  std::error_code ec;
  const std::string dir = instanceDir(id);
  (void)releaseRootfs(dir);
  if (!isMountPoint(dir + "/rootfs")) fs::remove_all(dir, ec);
  // With it runc's state, also that of a runc killed before `runc delete` would know it.
  fs::remove_all(state, ec);
  removeEmptySecretRoot(state);
}

Status RuncDriver::removeOrphan(const std::string& id) const {
  // Before the state moved to tmpfs, the root filesystem was in bundle/.
  for (const std::string& dir : {instanceDir(id), instanceDir(id) + "/bundle"})
    if (Status s = releaseRootfs(dir); !s.isOk()) return s;
  return keepLogsAndDelete(root_, id, stateDir(id), *trash_);
}

Result<std::string> RuncDriver::prepare(const InstanceSpec& spec, bool has_rootfs) const {
  const ContainerSpec& container = *spec.container;
  const std::string dir = instanceDir(spec.id);
  const std::string state = stateDir(spec.id);
  auto makeDir = [](const std::string& path, mode_t mode) -> Status {
    std::error_code ec;
    fs::create_directories(path, ec);
    if (ec || ::chmod(path.c_str(), mode) != 0)
      return internalError("cannot create " + path + ": " +
                           (ec ? ec.message() : std::string(std::strerror(errno))));
    return Status::ok();
  };

  OciBundleConfig config;
  // Volume files first: a volume without a path is the caller's mistake, found before any
  // mount is made.
  std::map<std::string, std::string> volume_dirs;
  for (const InstanceFile& f : spec.files) {
    auto path = container.volume_paths.find(f.volume);
    if (path == container.volume_paths.end() || path->second.empty() || path->second[0] != '/')
      return Status(
          StatusCode::kInvalid,
          "volume \"" + f.volume + "\" has files but no absolute path in the container",
          {{"container.volumePaths", "give the path where \"" + f.volume + "\" is mounted"}});
    const std::string volume_dir = state + "/volumes/" + f.volume;
    // Readable by the container's user, whoever that is: the directory is only reachable
    // through the state directory (0700).
    if (Status s = makeDir(volume_dir, 0755); !s.isOk()) return s;
    if (Status s =
            writeFileAtomically(volume_dir + "/" + f.name, f.contents, 0444, Durability::kVolatile);
        !s.isOk())
      return s;
    volume_dirs[f.volume] = volume_dir;
  }
  if (!container.netns_path.empty() && !fs::exists(container.netns_path))
    return Status(StatusCode::kInvalid,
                  "network namespace " + container.netns_path + " does not exist",
                  {{"container.netnsPath", "create the instance's network first"}});
  for (size_t i = 0; i < container.mounts.size(); ++i) {
    const BindMount& m = container.mounts[i];
    if (m.destination.empty() || m.destination[0] != '/' || !fs::exists(m.source))
      return Status(StatusCode::kInvalid,
                    "bind mount " + m.source + " -> " + m.destination + " is not valid",
                    {{"container.mounts[" + std::to_string(i) + "]",
                      "the source must exist and the destination be an absolute path"}});
  }

  if (!has_rootfs)
    if (auto kind = prepareRootfs(container.rootfs_layers, dir, force_copy_rootfs_); !kind.ok())
      return kind.status();
  const std::string rootfs = dir + "/rootfs";

  // The image's account files, unless they are links (which would resolve on the host).
  auto imageFile = [&](const std::string& path) -> std::string {
    struct stat st;
    if (::lstat((rootfs + path).c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return "";
    auto text = readWholeFile(rootfs + path);
    return text.ok() ? *text : "";
  };
  auto user = resolveOciUser(container.user, imageFile("/etc/passwd"), imageFile("/etc/group"));
  if (!user.ok()) return user.status();

  const std::string hostname = container.hostname.empty() ? spec.id : container.hostname;
  // A bind mount does not look at the source's parent directories, so the state directory's
  // 0700 keeps these from the host's users without hiding them from the container's.
  const std::string etc = state + "/etc";
  if (Status s = makeDir(etc, 0755); !s.isOk()) return s;
  auto host_resolv = readWholeFile("/etc/resolv.conf");
  for (const auto& [name, contents] : std::vector<std::pair<std::string, std::string>>{
           {"hosts", hostsFileContents(hostname, container.hosts)},
           {"resolv.conf", resolvConfContents(container.dns, host_resolv.ok() ? *host_resolv : "")},
           {"hostname", hostname + "\n"}}) {
    if (Status s = writeFileAtomically(etc + "/" + name, contents, 0644, Durability::kVolatile);
        !s.isOk())
      return s;
    config.mounts.push_back({etc + "/" + name, "/etc/" + name, true});
  }
  for (const auto& [volume, volume_dir] : volume_dirs)
    config.mounts.push_back({volume_dir, container.volume_paths.at(volume), true});
  for (const BindMount& m : container.mounts) config.mounts.push_back(m);

  std::map<std::string, std::string> env = spec.env;
  for (const auto& [k, v] : spec.secret_env) env[k] = v;
  if (!env.count("PATH")) env["PATH"] = kDefaultPath;
  for (const auto& [k, v] : env) config.env.push_back(k + "=" + v);
  config.argv = spec.argv;
  config.cwd = spec.working_dir;
  config.user = *user;
  config.rootfs = rootfs;
  config.read_only_root = container.read_only_root;
  config.hostname = hostname;
  config.netns_path = container.netns_path;
  config.cgroups_path = cgroupsPath(spec.id);
  config.limits = spec.limits;
  // runc's bundle is only its config.json (the root filesystem is named by absolute path), in
  // the state directory: secret variables never reach the disk.
  if (Status s = writeFileAtomically(state + "/config.json", ociConfigJson(config), 0600,
                                     Durability::kVolatile);
      !s.isOk())
    return s;

  // The shim's workload is runc; the container's own command is in config.json.
  InstanceSpec shim_spec;
  shim_spec.id = spec.id;
  // runc's own errors also go to runc.log, which tells a container that exited from one that
  // runc could not start (both end `runc run` with status 1).
  shim_spec.argv = {runc_binary_, "--root", runcRoot(spec.id), "--log", runcLogPath(spec.id)};
  shim_spec.argv.insert(shim_spec.argv.end(),
                        {"--log-format", "json", "run", "--keep", "--bundle", state, spec.id});
  shim_spec.env = {{"PATH", kDefaultPath}};
  shim_spec.working_dir = "/";
  shim_spec.termination_grace = spec.termination_grace;
  shim_spec.logs = spec.logs;
  ShimRuncTarget target;
  target.runc = runc_binary_;
  target.root = runcRoot(spec.id);
  target.container_id = spec.id;
  if (cgroups_.memory.available()) {
    target.memory_cgroup_dir = cgroups_.memory.dir + "/" + cgroupsPath(spec.id);
    target.memory_cgroup_v2 = cgroups_.memory.v2;
  }
  return encodeSpec(shim_spec, "", &target, dir + "/" + kLogsDir);
}

Result<InstanceState> RuncDriver::start(const InstanceSpec& spec) {
  if (Status s = validateInstanceId(spec.id); !s.isOk()) return s;
  if (!spec.container)
    return Status(StatusCode::kInvalid,
                  "instance \"" + spec.id + "\" has no container part; the runc driver runs images",
                  {{"container", "give the image's layers, or run it with the process driver"}});
  if (spec.argv.empty() || spec.argv[0].empty())
    return Status(StatusCode::kInvalid, "the instance has no command",
                  {{"argv", "give the command (the image's Entrypoint/Cmd or the component's)"}});
  if (spec.working_dir.empty() || spec.working_dir[0] != '/')
    return Status(StatusCode::kInvalid, "working directory must be an absolute path",
                  {{"workingDir", "\"" + spec.working_dir + "\" is relative"}});
  // The state directory is the instance: making it claims the id. The root goes with the last
  // instance removed, which may be just now: then it is made again.
  const std::string state = stateDir(spec.id);
  for (int attempt = 0;; ++attempt) {
    if (::mkdir(state_root_.c_str(), 0700) != 0 && errno != EEXIST)
      return internalError("cannot create " + state_root_ + ": " + std::strerror(errno));
    if (::mkdir(state.c_str(), 0700) == 0) break;
    if (errno == EEXIST)
      return alreadyExists("instance \"" + spec.id + "\" already exists; remove it first");
    if (errno != ENOENT || attempt == 2)
      return internalError("cannot create " + state + ": " + std::strerror(errno));
  }
  const std::string dir = instanceDir(spec.id);
  std::error_code ec;
  fs::create_directories(root_ + "/instances", ec);
  // One without a state directory lost its instance (to a reboot, or a removal cut short).
  if (!ec && fs::exists(dir)) {
    if (Status s = removeOrphan(spec.id); !s.isOk()) {
      discard(spec.id);
      return s;
    }
  }
  const bool spare = !ec && spares_ && spares_->take(spec.container->rootfs_layers, dir);
  if (!spare && (ec || ::mkdir(dir.c_str(), 0755) != 0)) {
    const std::string why = ec ? ec.message() : std::string(std::strerror(errno));
    fs::remove_all(state, ec);
    removeEmptySecretRoot(state);
    return internalError("cannot create " + dir + ": " + why);
  }
  // Made here, as runc would (0700), so that the start can watch it.
  if (::mkdir(runcRoot(spec.id).c_str(), 0700) != 0) {
    const std::string why = std::strerror(errno);
    discard(spec.id);
    return internalError("cannot create " + runcRoot(spec.id) + ": " + why);
  }
  auto spec_json = prepare(spec, spare);
  if (!spec_json.ok()) {
    discard(spec.id);
    return spec_json.status();
  }
  if (Status s =
          writeFileAtomically(state + "/" + kSpecFile, *spec_json, 0644, Durability::kVolatile);
      !s.isOk()) {
    discard(spec.id);
    return s;
  }
  if (Status s = launcher_.spawn(state); !s.isOk()) {
    discard(spec.id);
    return s;
  }

  auto fail = [&](const std::string& why) -> Status {
    std::string shim_said = fileTail(state + "/" + kShimLogFile, 500);
    discard(spec.id);
    return internalError("instance \"" + spec.id + "\" failed to start: " + why +
                         (shim_said.empty() ? "" : "; shim log: " + shim_said));
  };
  // What tells: the shim's state.json here, and runc's directory for the container (in its
  // root), whose exec.fifo goes once the command runs. Only those events wake the loop, which
  // shares the machine with runc: runc.log and shim.log are read when state.json changes.
  StartWatch& watch = StartWatch::forThisThread();
  struct ClearAtEnd {
    StartWatch& watch;
    ~ClearAtEnd() { watch.clear(); }
  } clear_at_end{watch};
  watch.add(state, IN_MOVED_TO);
  watch.add(runcRoot(spec.id), IN_CREATE | IN_MOVED_TO);
  bool watching_container = false;
  const auto deadline = steady_clock::now() + start_timeout_;
  while (true) {
    if (!watching_container && fs::exists(runcRoot(spec.id) + "/" + spec.id)) {
      watch.add(runcRoot(spec.id) + "/" + spec.id, IN_DELETE);
      watching_container = true;
    }
    if (auto text = readWholeFile(state + "/" + kStateFile); text.ok()) {
      auto record = decodeRecord(*text);
      if (!record.ok()) return fail(record.status().message());
      const InstanceState& now = record->state;
      if (now.phase == InstancePhase::kExited && startsWith(now.reason, kStartFailedPrefix))
        return fail(now.reason.substr(std::strlen(kStartFailedPrefix)));
      if (std::string error = runcError(spec.id); !error.empty())
        return fail("runc could not start the container: " + error);
      const Launch launch = launchState(spec.id);
      if (now.phase == InstancePhase::kExited || launch == Launch::kExecuted) {
        if (spares_) spares_->want(spec.container->rootfs_layers);
        return now;
      }
      // Only the exec is left, which no file tells: look again shortly, at that alone.
      if (launch == Launch::kExecing) {
        while (launchState(spec.id) == Launch::kExecing && steady_clock::now() < deadline)
          std::this_thread::sleep_for(kExecRecheck);
        if (steady_clock::now() < deadline) continue;
      }
    } else {
      pid_t shim_pid = readShimPid(state);
      if (shim_pid > 0 && !shimAlive(state, shim_pid) && !fs::exists(state + "/" + kStateFile))
        return fail("its shim exited before starting runc");
    }
    if (steady_clock::now() > deadline)
      return fail("runc did not create the container within " +
                  std::to_string(start_timeout_.count()) + " ms");
    watch.wait(std::min(kStartRecheck,
                        std::chrono::duration_cast<milliseconds>(deadline - steady_clock::now()) +
                            milliseconds(1)));
  }
}

Result<ShimRecord> RuncDriver::readRecord(const std::string& id) const {
  return readShimRecord(id, stateDir(id), "runc");
}

Result<InstanceState> RuncDriver::inspect(const std::string& id) {
  auto record = readRecord(id);
  if (!record.ok()) return record.status();
  return record->state;
}

Status RuncDriver::stop(const std::string& id, milliseconds grace) {
  auto record = readRecord(id);
  if (!record.ok()) return record.status();
  std::string ignored;
  if (record->state.phase == InstancePhase::kExited) {
    // Without its shim the container may still run; runc can still reach it.
    if (startsWith(record->state.reason, "ShimLost") && runcKnows(id))
      (void)runc(id, {"kill", id, "KILL"}, &ignored);
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
  // Fails when the container has just exited; the wait below tells.
  (void)runc(id, {"kill", id, "TERM"}, &ignored);
  if (exited(grace)) return Status::ok();
  (void)runc(id, {"kill", id, "KILL"}, &ignored);
  if (exited(kKillTimeout)) return Status::ok();
  return unavailable("instance \"" + id + "\" did not exit after SIGKILL within " +
                     std::to_string(kKillTimeout.count()) + " ms; see " + stateDir(id) + "/" +
                     kShimLogFile);
}

Status RuncDriver::remove(const std::string& id) {
  auto record = readRecord(id);
  if (!record.ok()) {
    if (record.status().code() == StatusCode::kUnavailable)
      return conflict("instance \"" + id + "\" is starting; stop it before removing it");
    return record.status();
  }
  if (record->state.phase == InstancePhase::kRunning)
    return conflict("instance \"" + id + "\" is running; stop it before removing it");
  // Of `runc delete`, a stopped container needs only what follows: its state directory and
  // cgroups removed (it has no hooks), which spares a runc process per removal. runc's state
  // goes with the instance's state directory. A container whose init still runs (its shim was
  // lost) is runc's to kill.
  std::string output;
  if (initRunning(id) && runc(id, {"delete", "--force", id}, &output) != 0 && runcKnows(id))
    return internalError("cannot delete container \"" + id + "\": runc said: " + output);
  for (const std::string& cgroup : cgroupDirs(id)) removeContainerCgroup(cgroup);
  // Unmounted here; its directories go with the instance's, to the trash.
  if (Status s = unmountRootfs(instanceDir(id)); !s.isOk()) return s;
  return keepLogsAndDelete(root_, id, stateDir(id), *trash_);
}

void RuncDriver::waitForDeletions() { trash_->drain(); }

Result<std::vector<std::string>> RuncDriver::list() { return listInstances(state_root_); }

Result<std::string> RuncDriver::logPath(const std::string& id) {
  return instanceLogPath(root_, id);
}

Status RuncDriver::cleanupOrphans() {
  Status first;
  auto note = [&](Status s) {
    if (first.isOk() && !s.isOk()) first = std::move(s);
  };
  if (spares_) note(spares_->releaseAll());
  auto ids = list();
  if (!ids.ok()) return ids.status();
  std::set<std::string> live;
  std::string output;
  for (const std::string& id : *ids) {
    auto record = readRecord(id);
    if (!record.ok()) {
      live.insert(id);  // starting, or unreadable: not ours to judge
      continue;
    }
    if (record->state.phase == InstancePhase::kRunning) {
      live.insert(id);
      continue;
    }
    if (fs::exists(runcRoot(id) + "/" + id)) {
      if (runc(id, {"delete", "--force", id}, &output) != 0 && runcKnows(id))
        note(internalError("cannot delete container \"" + id + "\": runc said: " + output));
      std::error_code ec;
      fs::remove_all(runcRoot(id) + "/" + id, ec);
    }
    note(releaseRootfs(instanceDir(id)));
  }
  // Containers of a build that kept runc's state on disk, in ROOT/runc: their instances have no
  // state directory, so they are ended here and started again by their owners.
  std::error_code ec;
  const std::string legacy_runc_root = root_ + "/runc";
  bool legacy_gone = true;
  for (const auto& entry : fs::directory_iterator(legacy_runc_root, ec)) {
    const std::string id = entry.path().filename().string();
    const std::vector<std::string> del = {runc_binary_, "--root",  legacy_runc_root,
                                          "delete",     "--force", id};
    if (runProgram(del, &output) == 0 || !fs::exists(entry.path() / "state.json")) continue;
    legacy_gone = false;
    note(internalError("cannot delete container \"" + id + "\": runc said: " + output));
  }
  if (legacy_gone) fs::remove_all(legacy_runc_root, ec);
  // Directories on disk without a state directory: their instance was lost with the tmpfs (a
  // reboot), its removal was cut short, or a build before kept its state there. Their logs are
  // kept as a removal keeps them.
  for (const auto& entry : fs::directory_iterator(root_ + "/instances", ec)) {
    const std::string id = entry.path().filename().string();
    if (!fs::exists(stateDir(id))) note(removeOrphan(id));
  }
  // Cgroups of this root whose instance is neither live nor known to runc any more.
  const std::string suffix = "-" + rootTag(root_);
  for (const std::string& own : own_cgroups_) {
    for (const auto& entry : fs::directory_iterator(own, ec)) {
      const std::string name = entry.path().filename().string();
      if (!startsWith(name, "skiff-") || !endsWith(name, suffix) || !entry.is_directory()) continue;
      const std::string id = name.substr(6, name.size() - 6 - suffix.size());
      if (live.count(id) || runcKnows(id)) continue;
      removeContainerCgroup(entry.path().string());
    }
  }
  return first;
}

std::vector<std::string> RuncDriver::hostCommand(const std::string& id,
                                                 const std::vector<std::string>& argv) const {
  std::vector<std::string> command = {runc_binary_, "--root", runcRoot(id), "exec", id};
  command.insert(command.end(), argv.begin(), argv.end());
  return command;
}

Result<std::unique_ptr<ExecSession>> RuncDriver::exec(const std::string& id,
                                                      const std::vector<std::string>& argv,
                                                      bool tty) {
  if (Status s = checkExecTarget(id, stateDir(id), argv); !s.isOk()) return s;

  // runc exec takes the user, working directory and environment from the bundle's config.
  // With a terminal, `runc exec --tty` in the foreground gives the command a pty of the
  // container's own (and a controlling terminal) and copies between it and runc's stdio, which
  // is a pty of ours: the session holds its master, and a size set there reaches runc as
  // SIGWINCH, which runc applies to the container's pty. (A console socket would need a
  // detached runc, and then the command's exit code would be lost.)
  std::vector<std::string> args = {runc_binary_, "--root", runcRoot(id), "exec"};
  if (tty) args.push_back("--tty");
  args.push_back(id);
  args.insert(args.end(), argv.begin(), argv.end());
  return startExecSession(args, tty);
}

}  // namespace skiff::runtime
