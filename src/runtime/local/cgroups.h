// Cgroups for instances of the process driver: where the cpu, memory and pids controllers
// live on this machine (cgroup v2 unified, v1 per-controller hierarchies, or a hybrid of
// both), and one instance's cgroup "skiff/<id>" below the current process's own cgroup in
// each hierarchy that provides a controller.
//
// CgroupLayout is a plain value, detected once per process. InstanceCgroup owns nothing in
// memory: the directories it creates stay on the host until removeCgroupDirs() is called
// with its dirs() (recorded in the instance's state so a restarted driver can do that).
// Neither is synchronised; they only touch the filesystem.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "runtime/local/driver.h"

namespace skiff::runtime {

// Where one controller is available: this process's cgroup directory in its hierarchy.
struct CgroupPlace {
  std::string dir;  // empty: controller unavailable
  bool v2 = false;
  bool available() const { return !dir.empty(); }
  bool operator==(const CgroupPlace&) const = default;
};

struct CgroupLayout {
  CgroupPlace cpu;
  CgroupPlace memory;
  CgroupPlace pids;
  // Cpu time accounting where v1 mounts it apart from cpu; v2 always counts in cpu.stat.
  CgroupPlace cpuacct;
  // This process's directory in the v2 hierarchy, if one is mounted (even without
  // controllers, as in the hybrid layout).
  std::string unified_dir;

  bool anyAvailable() const { return cpu.available() || memory.available() || pids.available(); }
  // "cgroup v1: cpu, memory, pids" or why there are no limits.
  std::string describe() const;
};

// Parses /proc/self/mountinfo and /proc/self/cgroup. A controller found in a v1 hierarchy is
// placed there; the unified hierarchy is recorded in unified_dir, and detectCgroupLayout()
// decides which controllers it provides (that needs cgroup.controllers).
CgroupLayout parseCgroupLayout(std::string_view mountinfo, std::string_view proc_self_cgroup);

// The layout of this process, with v2 controllers taken from cgroup.controllers for those
// no v1 hierarchy provides; controllers whose directory is not writable are left out.
CgroupLayout detectCgroupLayout();

// What the kernel counts for one cgroup; a field is empty where this machine does not say.
struct CgroupUsage {
  std::optional<double> cpu_seconds;          // cpu time used, cumulative
  std::optional<double> throttled_seconds;    // time held back by the cpu limit, cumulative
  std::optional<uint64_t> throttled_periods;  // scheduling periods throttled, cumulative
  std::optional<int64_t> memory_working_set;  // usage minus inactive file cache, as kubelet
  std::optional<int64_t> memory_limit;        // empty without a limit
};

// The usage of the cgroups `layout` names, as parseCgroupLayout() gives them for one process
// (its /proc/PID/cgroup): v1 controller directories where present, else the unified one.
CgroupUsage readCgroupUsage(const CgroupLayout& layout);

// A short tag of a driver's root directory (8 hex digits), naming what the driver keeps outside
// it: cgroups, secret files on tmpfs.
std::string rootTag(const std::string& driver_root);

// The cgroup name of instance `id` of the driver rooted at `driver_root`: the id and a tag of
// the root, so that servers with different data directories on one machine (tests run several)
// never share a cgroup, and leftovers can be found by the tag alone.
std::string instanceCgroupName(const std::string& driver_root, const std::string& id);
// Every instance cgroup directory of the driver rooted at `driver_root` in `layout`, for a
// cleanup after processes were killed without their shims removing their cgroups.
std::vector<std::string> instanceCgroupDirs(const CgroupLayout& layout,
                                            const std::string& driver_root);

class InstanceCgroup {
 public:
  // Creates skiff/<name> in every hierarchy providing a controller and writes the limits.
  // A limit for an unavailable controller is not applied (the layout's describe() says so);
  // a limit that cannot be written is an error, and then nothing is left behind.
  static Result<InstanceCgroup> create(const CgroupLayout& layout, const std::string& name,
                                       const InstanceLimits& limits);

  // Moves `pid` into the instance's cgroups (the workload does this to itself before exec,
  // so none of its allocations escape the limits).
  Status addProcess(pid_t pid) const;
  // Whether the kernel OOM-killed a process in this cgroup.
  bool oomKilled() const;
  // Every directory created (each a leaf below a "skiff" directory).
  const std::vector<std::string>& dirs() const { return dirs_; }

 private:
  std::vector<std::string> dirs_;  // one per distinct hierarchy
  std::string memory_dir_;         // empty without the memory controller
  bool memory_v2_ = false;
};

// Removes instance cgroup directories (and their "skiff" parents when they become empty).
// Missing directories are fine; a directory still holding processes is an error.
Status removeCgroupDirs(const std::vector<std::string>& dirs);

}  // namespace skiff::runtime
