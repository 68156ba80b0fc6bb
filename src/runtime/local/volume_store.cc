#include "runtime/local/volume_store.h"

#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <filesystem>
#include <system_error>

#include "common/command.h"
#include "runtime/local/rootfs.h"

namespace skiff::runtime {

namespace {

namespace fs = std::filesystem;

int64_t usedBytes(const std::string& dir) {
  int64_t total = 0;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    struct stat st {};
    if (::lstat(it->path().c_str(), &st) == 0 && !S_ISDIR(st.st_mode))
      total += static_cast<int64_t>(st.st_blocks) * 512;
  }
  return total;
}

}  // namespace

VolumeStore::VolumeStore(Options options)
    : root_(std::move(options.root)), loop_mounts_(options.loop_mounts) {}

std::string VolumeStore::dataDir(const std::string& tenant, const std::string& name) const {
  return root_ + "/" + tenant + "/" + name;
}

std::string VolumeStore::backingFile(const std::string& tenant, const std::string& name) const {
  return dataDir(tenant, name) + ".ext4";
}

std::string VolumeStore::probeLoopMounts() {
  if (::geteuid() != 0) return "loop mounts need root";
  if (::access("/dev/loop-control", R_OK | W_OK) != 0) return "no /dev/loop-control";
  for (const char* tool : {"/usr/sbin/mkfs.ext4", "/sbin/mkfs.ext4"})
    if (::access(tool, X_OK) == 0) return "";
  return "mkfs.ext4 is not installed (Debian package e2fsprogs)";
}

Result<VolumeInfo> VolumeStore::ensure(const std::string& tenant, const std::string& name,
                                       int64_t size_bytes) {
  std::lock_guard lock(mu_);
  const std::string dir = dataDir(tenant, name);
  const std::string file = backingFile(tenant, name);
  std::error_code ec;
  const bool exists = fs::exists(dir, ec);
  const bool backed = fs::exists(file, ec);
  if (!exists) {
    fs::create_directories(dir, ec);
    if (ec) return unavailable("cannot create volume directory " + dir + ": " + ec.message());
    // A new sized volume gets its own filesystem when the host allows; the size then holds.
    if (size_bytes > 0 && loop_mounts_ && probeLoopMounts().empty()) {
      auto made = runChecked({"mkfs.ext4", "-q", "-F", "-m", "0", "-E",
                              "lazy_itable_init=1,lazy_journal_init=1", file,
                              std::to_string(size_bytes / 1024) + "k"});
      if (!made.ok()) {
        fs::remove(file, ec);
        fs::remove(dir, ec);
        return unavailable("cannot make the filesystem of volume " + name + ": " +
                           made.status().message());
      }
      if (Status s = mountBacking(file, dir); !s.isOk()) {
        fs::remove(file, ec);
        fs::remove(dir, ec);
        return s;
      }
    }
  } else if (backed && !isMountPoint(dir)) {
    // Mounted before a reboot (or an unmountAll()): mounted again, data intact.
    if (Status s = mountBacking(file, dir); !s.isOk()) return s;
  }
  return infoLocked(tenant, name);
}

Status VolumeStore::mountBacking(const std::string& file, const std::string& dir) {
  auto mounted = runChecked({"mount", "-o", "loop", file, dir});
  if (!mounted.ok())
    return unavailable("cannot loop-mount " + file + ": " + mounted.status().message());
  return Status::ok();
}

Result<VolumeInfo> VolumeStore::info(const std::string& tenant, const std::string& name) const {
  std::lock_guard lock(mu_);
  return infoLocked(tenant, name);
}

Result<VolumeInfo> VolumeStore::infoLocked(const std::string& tenant,
                                           const std::string& name) const {
  const std::string dir = dataDir(tenant, name);
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    return notFound("volume " + name + " of tenant " + tenant + " has no data on this machine");
  VolumeInfo info;
  info.path = dir;
  if (fs::exists(backingFile(tenant, name), ec) && isMountPoint(dir)) {
    struct statvfs st {};
    if (::statvfs(dir.c_str(), &st) == 0) {
      info.size_enforced = true;
      info.capacity_bytes = static_cast<int64_t>(st.f_blocks) * static_cast<int64_t>(st.f_frsize);
      info.used_bytes =
          static_cast<int64_t>(st.f_blocks - st.f_bfree) * static_cast<int64_t>(st.f_frsize);
      return info;
    }
  }
  info.used_bytes = usedBytes(dir);
  return info;
}

Status VolumeStore::remove(const std::string& tenant, const std::string& name) {
  std::lock_guard lock(mu_);
  const std::string dir = dataDir(tenant, name);
  if (isMountPoint(dir)) {
    // Lazy: an instance that still has it mounted keeps it until it ends; the loop device is
    // released then (mount -o loop sets autoclear).
    auto unmounted = runChecked({"umount", "-l", dir});
    if (!unmounted.ok())
      return unavailable("cannot unmount volume " + name + ": " + unmounted.status().message());
  }
  std::error_code ec;
  fs::remove(backingFile(tenant, name), ec);
  fs::remove_all(dir, ec);
  if (ec)
    return unavailable("cannot delete volume " + name + " data in " + dir + ": " + ec.message());
  fs::remove(root_ + "/" + tenant, ec);  // only when it was the tenant's last volume
  return Status::ok();
}

std::vector<std::pair<std::string, std::string>> VolumeStore::list() const {
  std::lock_guard lock(mu_);
  return listLocked();
}

std::vector<std::pair<std::string, std::string>> VolumeStore::listLocked() const {
  std::vector<std::pair<std::string, std::string>> out;
  std::error_code ec;
  for (const auto& tenant : fs::directory_iterator(root_, ec)) {
    if (!tenant.is_directory()) continue;
    std::error_code inner;
    for (const auto& entry : fs::directory_iterator(tenant.path(), inner))
      if (entry.is_directory())
        out.emplace_back(tenant.path().filename().string(), entry.path().filename().string());
  }
  return out;
}

Status VolumeStore::unmountAll() {
  std::lock_guard lock(mu_);
  for (const auto& [tenant, name] : listLocked()) {
    const std::string dir = dataDir(tenant, name);
    if (!isMountPoint(dir)) continue;
    auto unmounted = runChecked({"umount", "-l", dir});
    if (!unmounted.ok())
      return unavailable("cannot unmount " + dir + ": " + unmounted.status().message());
  }
  return Status::ok();
}

}  // namespace skiff::runtime
