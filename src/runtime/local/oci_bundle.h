// OCI bundle generation for the runc driver: config.json for one container, the user it runs
// as, and the /etc/hosts, /etc/resolv.conf and /etc/hostname it sees. Pure functions of their
// inputs (no filesystem access), so every choice here is unit-tested by JSON assertions.
//
// What a container gets follows `runc spec` and Docker's defaults: namespaces pid, mount,
// uts, ipc and net; /proc, /dev, /dev/pts, /dev/shm, /dev/mqueue, /sys and /sys/fs/cgroup
// (read only); runc spec's masked and read-only paths; Docker's default capabilities; no new
// privileges; cgroup limits from InstanceLimits under linux.cgroupsPath.
//
// Thread-safe: no state.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "runtime/local/driver.h"

namespace skiff::runtime {

// Whom the container's process runs as.
struct OciUser {
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::vector<uint32_t> additional_gids;
  bool operator==(const OciUser&) const = default;
};

// Resolves ContainerSpec::user ("uid[:gid]" or "name[:group]", empty for root) against the
// image's /etc/passwd and /etc/group (either may be empty when the image has none). A numeric
// uid missing from passwd runs with gid 0, as Docker does; a name that is missing is an error
// that names the user and the file. Supplementary groups are those of /etc/group that list
// the user's name.
Result<OciUser> resolveOciUser(const std::string& user, std::string_view passwd,
                               std::string_view group);

// Everything config.json says, already resolved by the driver.
struct OciBundleConfig {
  std::vector<std::string> argv;
  std::vector<std::string> env;  // "NAME=value"
  std::string cwd = "/";
  OciUser user;
  std::string rootfs;  // absolute host path of the root filesystem
  bool read_only_root = false;
  std::string hostname;
  std::string netns_path;    // empty: a new network namespace
  std::string cgroups_path;  // linux.cgroupsPath, relative to runc's own cgroup
  InstanceLimits limits;
  std::vector<BindMount> mounts;  // after the standard ones, in this order
};

// config.json (OCI runtime spec 1.0.2) for `runc run`.
std::string ociConfigJson(const OciBundleConfig& config);

// /etc/hosts: localhost entries, the container's own name on 127.0.1.1 unless `lines` name
// it, then `lines`.
std::string hostsFileContents(const std::string& hostname, const std::vector<std::string>& lines);
// /etc/resolv.conf from `dns`; without nameservers, `host_resolv_conf` (the host's file)
// minus nameservers on loopback, which mean nothing inside a network namespace.
std::string resolvConfContents(const DnsConfig& dns, std::string_view host_resolv_conf);

}  // namespace skiff::runtime
