#include "runtime/local/cgroups.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

namespace skiff::runtime {

namespace {

std::vector<std::string_view> split(std::string_view text, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    size_t pos = text.find(sep, start);
    if (pos == std::string_view::npos) {
      out.push_back(text.substr(start));
      return out;
    }
    out.push_back(text.substr(start, pos - start));
    start = pos + 1;
  }
}

std::string readSmallFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Writes `value` to a cgroup control file; cgroupfs reports errors on write, not open.
Status writeControl(const std::string& path, const std::string& value) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return internalError("cannot open " + path + ": " + std::strerror(errno));
  ssize_t n = ::write(fd, value.data(), value.size());
  int err = errno;
  ::close(fd);
  if (n != static_cast<ssize_t>(value.size()))
    return internalError("cannot write \"" + value + "\" to " + path + ": " + std::strerror(err));
  return Status::ok();
}

// Joins a mount point and a cgroup path relative to the mount's root.
std::string joinCgroupPath(std::string_view mount_point, std::string_view mount_root,
                           std::string_view path) {
  if (mount_root != "/" && path.substr(0, mount_root.size()) == mount_root)
    path.remove_prefix(mount_root.size());
  std::string dir(mount_point);
  if (!path.empty() && path != "/") dir += std::string(path);
  return dir;
}

// The value after `key ` in a "key value" per line file (memory.events, memory.oom_control).
int64_t keyedValue(const std::string& text, const std::string& key) {
  std::istringstream in(text);
  std::string k;
  int64_t v;
  while (in >> k >> v)
    if (k == key) return v;
  return 0;
}

}  // namespace

std::string CgroupLayout::describe() const {
  if (!anyAvailable())
    return "no usable cgroups: instances run without cpu, memory and pids limits";
  std::string out;
  auto add = [&](const char* name, const CgroupPlace& place) {
    if (!out.empty()) out += ", ";
    out += name;
    out += place.available() ? (place.v2 ? " (v2)" : " (v1)") : " (unavailable: not limited)";
  };
  add("cpu", cpu);
  add("memory", memory);
  add("pids", pids);
  return "cgroups: " + out;
}

CgroupLayout parseCgroupLayout(std::string_view mountinfo, std::string_view proc_self_cgroup) {
  // This process's path per v1 controller, and in the unified hierarchy.
  std::map<std::string, std::string, std::less<>> v1_paths;
  std::string v2_path;
  bool have_v2_path = false;
  for (std::string_view line : split(proc_self_cgroup, '\n')) {
    auto fields = split(line, ':');
    if (fields.size() < 3) continue;
    // The path may itself contain ':'; rejoin everything after the second field.
    std::string path(line.substr(fields[0].size() + fields[1].size() + 2));
    if (fields[1].empty()) {
      v2_path = path;
      have_v2_path = true;
      continue;
    }
    for (std::string_view c : split(fields[1], ',')) v1_paths[std::string(c)] = path;
  }

  CgroupLayout layout;
  for (std::string_view line : split(mountinfo, '\n')) {
    auto fields = split(line, ' ');
    size_t dash = 0;
    while (dash < fields.size() && fields[dash] != "-") ++dash;
    if (dash < 5 || dash + 4 > fields.size()) continue;
    std::string_view root = fields[3], mount_point = fields[4];
    std::string_view fstype = fields[dash + 1], super_options = fields[dash + 3];
    if (fstype == "cgroup2") {
      if (have_v2_path) layout.unified_dir = joinCgroupPath(mount_point, root, v2_path);
      continue;
    }
    if (fstype != "cgroup") continue;
    for (std::string_view option : split(super_options, ',')) {
      CgroupPlace* place = option == "cpu"       ? &layout.cpu
                           : option == "memory"  ? &layout.memory
                           : option == "pids"    ? &layout.pids
                           : option == "cpuacct" ? &layout.cpuacct
                                                 : nullptr;
      if (place == nullptr) continue;
      auto it = v1_paths.find(option);
      if (it == v1_paths.end()) continue;
      place->dir = joinCgroupPath(mount_point, root, it->second);
      place->v2 = false;
    }
  }
  return layout;
}

CgroupLayout detectCgroupLayout() {
  CgroupLayout layout =
      parseCgroupLayout(readSmallFile("/proc/self/mountinfo"), readSmallFile("/proc/self/cgroup"));
  if (!layout.unified_dir.empty()) {
    std::istringstream controllers(readSmallFile(layout.unified_dir + "/cgroup.controllers"));
    std::string c;
    while (controllers >> c) {
      CgroupPlace* place = c == "cpu"      ? &layout.cpu
                           : c == "memory" ? &layout.memory
                           : c == "pids"   ? &layout.pids
                                           : nullptr;
      if (place != nullptr && !place->available()) *place = CgroupPlace{layout.unified_dir, true};
    }
  }
  for (CgroupPlace* place : {&layout.cpu, &layout.memory, &layout.pids, &layout.cpuacct})
    if (place->available() && ::access(place->dir.c_str(), W_OK) != 0) *place = CgroupPlace{};
  return layout;
}

namespace {

// FNV-1a: stable across builds and processes, which std::hash is not required to be.
}  // namespace

std::string rootTag(const std::string& driver_root) {
  uint32_t h = 2166136261u;
  for (unsigned char c : driver_root) h = (h ^ c) * 16777619u;
  char tag[9];
  std::snprintf(tag, sizeof tag, "%08x", h);
  return tag;
}

std::string instanceCgroupName(const std::string& driver_root, const std::string& id) {
  return id + "-" + rootTag(driver_root);
}

std::vector<std::string> instanceCgroupDirs(const CgroupLayout& layout,
                                            const std::string& driver_root) {
  const std::string suffix = "-" + rootTag(driver_root);
  std::vector<std::string> dirs;
  for (const CgroupPlace* place : {&layout.cpu, &layout.memory, &layout.pids, &layout.cpuacct}) {
    if (!place->available()) continue;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(place->dir + "/skiff", ec)) {
      const std::string name = entry.path().filename().string();
      if (name.size() > suffix.size() &&
          name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0)
        dirs.push_back(entry.path().string());
    }
  }
  std::sort(dirs.begin(), dirs.end());
  dirs.erase(std::unique(dirs.begin(), dirs.end()), dirs.end());
  return dirs;
}

Result<InstanceCgroup> InstanceCgroup::create(const CgroupLayout& layout, const std::string& name,
                                              const InstanceLimits& limits) {
  InstanceCgroup cgroup;
  // One directory per hierarchy: v1 may co-mount controllers, v2 has them all in one.
  std::map<std::string, std::string> dir_of_parent;
  auto ensureDir = [&](const CgroupPlace& place, const char* controller) -> Result<std::string> {
    if (auto it = dir_of_parent.find(place.dir); it != dir_of_parent.end()) return it->second;
    std::string parent = place.dir + "/skiff";
    std::string dir = parent + "/" + name;
    if (place.v2) {
      // A v2 controller reaches a child only when enabled in each ancestor's subtree_control.
      Status s = writeControl(place.dir + "/cgroup.subtree_control", std::string("+") + controller);
      if (!s.isOk()) return s;
    }
    if (::mkdir(parent.c_str(), 0755) != 0 && errno != EEXIST)
      return internalError("cannot create cgroup " + parent + ": " + std::strerror(errno));
    if (place.v2) {
      Status s = writeControl(parent + "/cgroup.subtree_control", std::string("+") + controller);
      if (!s.isOk()) return s;
    }
    if (::mkdir(dir.c_str(), 0755) != 0)
      return internalError("cannot create cgroup " + dir + ": " + std::strerror(errno));
    dir_of_parent[place.dir] = dir;
    cgroup.dirs_.push_back(dir);
    return dir;
  };
  auto fail = [&](Status s) -> Result<InstanceCgroup> {
    (void)removeCgroupDirs(cgroup.dirs_);
    return s;
  };

  if (layout.cpu.available()) {
    auto dir = ensureDir(layout.cpu, "cpu");
    if (!dir.ok()) return fail(dir.status());
    if (limits.cpu_millis > 0) {
      constexpr int64_t kPeriodUs = 100000;
      int64_t quota_us = std::max<int64_t>(1000, limits.cpu_millis * kPeriodUs / 1000);
      Status s = layout.cpu.v2
                     ? writeControl(*dir + "/cpu.max",
                                    std::to_string(quota_us) + " " + std::to_string(kPeriodUs))
                     : writeControl(*dir + "/cpu.cfs_period_us", std::to_string(kPeriodUs));
      if (s.isOk() && !layout.cpu.v2)
        s = writeControl(*dir + "/cpu.cfs_quota_us", std::to_string(quota_us));
      if (!s.isOk()) return fail(s);
    }
  }
  // Nothing to limit there, but the instance's cpu time is only counted in its own group.
  if (layout.cpuacct.available()) {
    auto dir = ensureDir(layout.cpuacct, "cpuacct");
    if (!dir.ok()) return fail(dir.status());
  }
  if (layout.memory.available()) {
    auto dir = ensureDir(layout.memory, "memory");
    if (!dir.ok()) return fail(dir.status());
    cgroup.memory_dir_ = *dir;
    cgroup.memory_v2_ = layout.memory.v2;
    if (limits.memory_bytes > 0) {
      std::string value = std::to_string(limits.memory_bytes);
      Status s =
          writeControl(*dir + (layout.memory.v2 ? "/memory.max" : "/memory.limit_in_bytes"), value);
      if (!s.isOk()) return fail(s);
      // Without a swap limit a workload over its memory limit swaps instead of being
      // OOM-killed; the files exist only where the kernel accounts swap.
      std::string swap_file =
          *dir + (layout.memory.v2 ? "/memory.swap.max" : "/memory.memsw.limit_in_bytes");
      if (::access(swap_file.c_str(), F_OK) == 0)
        (void)writeControl(swap_file, layout.memory.v2 ? "0" : value);
    }
  }
  if (layout.pids.available()) {
    auto dir = ensureDir(layout.pids, "pids");
    if (!dir.ok()) return fail(dir.status());
    if (limits.pids > 0) {
      Status s = writeControl(*dir + "/pids.max", std::to_string(limits.pids));
      if (!s.isOk()) return fail(s);
    }
  }
  return cgroup;
}

namespace {

std::optional<int64_t> readInteger(const std::string& path) {
  std::string text = readSmallFile(path);
  if (text.empty() || text[0] < '0' || text[0] > '9') return std::nullopt;  // absent, or "max"
  return std::atoll(text.c_str());
}

// A "key value" line file as a map (cpu.stat, memory.stat); empty if unreadable.
std::map<std::string, int64_t> keyedValues(const std::string& path) {
  std::map<std::string, int64_t> out;
  std::istringstream in(readSmallFile(path));
  std::string k;
  int64_t v;
  while (in >> k >> v) out[k] = v;
  return out;
}

}  // namespace

CgroupUsage readCgroupUsage(const CgroupLayout& layout) {
  CgroupUsage usage;
  // v1 spreads what v2 keeps in one directory: prefer a v1 controller's directory, and read
  // the unified one for whatever v1 does not hold.
  const std::string& unified = layout.unified_dir;
  if (layout.cpuacct.available() || (layout.cpu.available() && !layout.cpu.v2)) {
    const std::string& acct = layout.cpuacct.available() ? layout.cpuacct.dir : layout.cpu.dir;
    if (auto ns = readInteger(acct + "/cpuacct.usage")) usage.cpu_seconds = *ns / 1e9;
  }
  if (layout.cpu.available() && !layout.cpu.v2) {
    auto stat = keyedValues(layout.cpu.dir + "/cpu.stat");
    if (stat.count("throttled_time")) usage.throttled_seconds = stat["throttled_time"] / 1e9;
    if (stat.count("nr_throttled")) usage.throttled_periods = stat["nr_throttled"];
  }
  if (!unified.empty()) {
    auto stat = keyedValues(unified + "/cpu.stat");
    if (!usage.cpu_seconds && stat.count("usage_usec"))
      usage.cpu_seconds = stat["usage_usec"] / 1e6;
    if (!usage.throttled_seconds && stat.count("throttled_usec"))
      usage.throttled_seconds = stat["throttled_usec"] / 1e6;
    if (!usage.throttled_periods && stat.count("nr_throttled"))
      usage.throttled_periods = stat["nr_throttled"];
  }
  const bool v1_memory = layout.memory.available() && !layout.memory.v2;
  const std::string memory_dir = v1_memory ? layout.memory.dir : unified;
  if (!memory_dir.empty()) {
    auto used =
        readInteger(memory_dir + (v1_memory ? "/memory.usage_in_bytes" : "/memory.current"));
    if (used) {
      auto stat = keyedValues(memory_dir + "/memory.stat");
      const int64_t inactive = v1_memory ? stat["total_inactive_file"] : stat["inactive_file"];
      usage.memory_working_set = std::max<int64_t>(0, *used - inactive);
    }
    auto limit = readInteger(memory_dir + (v1_memory ? "/memory.limit_in_bytes" : "/memory.max"));
    // v1 writes "no limit" as the largest page-aligned value.
    if (limit && *limit < (int64_t{1} << 62)) usage.memory_limit = *limit;
  }
  return usage;
}

Status InstanceCgroup::addProcess(pid_t pid) const {
  for (const std::string& dir : dirs_) {
    Status s = writeControl(dir + "/cgroup.procs", std::to_string(pid));
    if (!s.isOk()) return s;
  }
  return Status::ok();
}

bool InstanceCgroup::oomKilled() const {
  if (memory_dir_.empty()) return false;
  if (memory_v2_) return keyedValue(readSmallFile(memory_dir_ + "/memory.events"), "oom_kill") > 0;
  // Kernels since 4.13 count kills in memory.oom_control; older ones only count how often the
  // limit was hit, which together with a SIGKILL is the best evidence they give.
  std::string oom_control = readSmallFile(memory_dir_ + "/memory.oom_control");
  if (oom_control.find("oom_kill ") != std::string::npos)
    return keyedValue(oom_control, "oom_kill") > 0;
  return std::atoll(readSmallFile(memory_dir_ + "/memory.failcnt").c_str()) > 0;
}

Status removeCgroupDirs(const std::vector<std::string>& dirs) {
  Status result;
  for (const std::string& dir : dirs) {
    // The kernel may still be tearing down the last exited task: retry EBUSY briefly.
    int err = 0;
    for (int attempt = 0; attempt < 50; ++attempt) {
      if (::rmdir(dir.c_str()) == 0 || errno == ENOENT) {
        err = 0;
        break;
      }
      err = errno;
      if (err != EBUSY) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (err != 0) {
      if (result.isOk())
        result = internalError("cannot remove cgroup " + dir + ": " + std::strerror(err));
      continue;
    }
    // The shared "skiff" parent goes when its last instance does; other instances keep it.
    std::string parent = dir.substr(0, dir.rfind('/'));
    ::rmdir(parent.c_str());
  }
  return result;
}

}  // namespace skiff::runtime
