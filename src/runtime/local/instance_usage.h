// What one running instance uses, read from the kernel: the cpu and memory of its cgroups
// (whichever driver made them) and the bytes through its network namespace. Reading needs only
// the workload's pid, as the node agent records it in the Instance's status. Pure reads of
// /proc and cgroupfs; thread-safe.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"
#include "runtime/local/cgroups.h"

namespace skiff::runtime {

struct NetworkBytes {
  uint64_t received = 0;
  uint64_t transmitted = 0;
};

struct InstanceUsage {
  CgroupUsage cgroup;
  // Only for an instance with a network namespace of its own: a host process shares the
  // host's, whose counters are not its own.
  std::optional<NetworkBytes> network;
};

// The totals of a /proc/PID/net/dev text over every interface but loopback.
NetworkBytes parseNetDev(std::string_view text);

// The usage of process `pid`; kNotFound once the process is gone. `mountinfo` is this
// process's /proc/self/mountinfo, read once for many instances.
Result<InstanceUsage> readInstanceUsage(pid_t pid, std::string_view mountinfo);
// This process's /proc/self/mountinfo (empty if unreadable).
std::string readMountinfo();

}  // namespace skiff::runtime
