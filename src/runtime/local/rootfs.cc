#include "runtime/local/rootfs.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <sstream>

#include "common/files.h"
#include "image/layer.h"

namespace skiff::runtime {

namespace fs = std::filesystem;

namespace {

// Mount options must fit in a page; longer lowerdir lists need the copy.
constexpr size_t kMaxMountData = 4000;

std::string errnoText(int err) { return std::strerror(err); }

Status removePath(const std::string& path) {
  std::error_code ec;
  fs::remove_all(path, ec);
  if (ec) return internalError("cannot delete " + path + ": " + ec.message());
  return Status::ok();
}

// Mountinfo escapes blanks and backslashes in paths as octal (\040).
std::string unescapeMountPath(const std::string& text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\\' && i + 3 < text.size()) {
      int value = 0;
      bool octal = true;
      for (size_t k = 1; k <= 3; ++k) {
        char c = text[i + k];
        if (c < '0' || c > '7') octal = false;
        value = value * 8 + (c - '0');
      }
      if (octal) {
        out.push_back(static_cast<char>(value));
        i += 3;
        continue;
      }
    }
    out.push_back(text[i]);
  }
  return out;
}

Status mountOverlay(const std::vector<std::string>& layers, const std::string& dir) {
  std::string lower;
  for (auto it = layers.rbegin(); it != layers.rend(); ++it) {
    if (it->find_first_of(":,") != std::string::npos)
      return badRequest("layer path " + *it + " contains ':' or ','");
    if (!lower.empty()) lower += ":";
    lower += *it;
  }
  std::string data = "lowerdir=" + lower + ",upperdir=" + dir + "/upper,workdir=" + dir + "/work";
  if (data.size() > kMaxMountData)
    return badRequest("the overlay mount options for " + std::to_string(layers.size()) +
                      " layers are too long");
  std::string target = dir + "/rootfs";
  // volatile (Linux 5.10): the writable layer goes with its instance and is never mounted
  // again, so nothing need reach the disk, and the unmount skips what it would cost otherwise:
  // a sync of the whole filesystem under the data directory. Older kernels refuse the option.
  const std::string volatile_data = data + ",volatile";
  if (::mount("overlay", target.c_str(), "overlay", 0, volatile_data.c_str()) == 0)
    return Status::ok();
  if (::mount("overlay", target.c_str(), "overlay", 0, data.c_str()) != 0)
    return internalError("cannot mount overlayfs on " + target + ": " + errnoText(errno));
  return Status::ok();
}

}  // namespace

bool isMountPoint(const std::string& path) {
  // The kernel says so directly since Linux 5.8; mountinfo is the fallback.
  struct statx st {};
  if (::statx(AT_FDCWD, path.c_str(), AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &st) == 0 &&
      (st.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT))
    return (st.stx_attributes & STATX_ATTR_MOUNT_ROOT) != 0;
  auto text = readWholeFile("/proc/self/mountinfo");
  if (!text.ok()) return false;
  std::error_code ec;
  std::string canonical = fs::weakly_canonical(path, ec).string();
  if (ec) canonical = path;
  std::istringstream lines(*text);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream fields(line);
    std::string id, parent, devno, root, mount_point;
    fields >> id >> parent >> devno >> root >> mount_point;
    if (unescapeMountPath(mount_point) == canonical) return true;
  }
  return false;
}

Result<RootfsKind> prepareRootfs(const std::vector<std::string>& layers, const std::string& dir,
                                 bool force_copy) {
  if (layers.empty())
    return Status(StatusCode::kInvalid, "the container has no image layers",
                  {{"container.rootfsLayers", "give the image's unpacked layers, bottom first"}});
  for (size_t i = 0; i < layers.size(); ++i) {
    struct stat st;
    if (layers[i].empty() || layers[i][0] != '/' || ::stat(layers[i].c_str(), &st) != 0 ||
        !S_ISDIR(st.st_mode))
      return Status(StatusCode::kInvalid,
                    "image layer directory \"" + layers[i] + "\" does not exist",
                    {{"container.rootfsLayers[" + std::to_string(i) + "]",
                      "an absolute path of an unpacked layer; pull the image again"}});
  }
  for (const char* sub : {"/rootfs", "/upper", "/work"}) {
    std::error_code ec;
    fs::create_directories(dir + sub, ec);
    if (ec) {
      (void)releaseRootfs(dir);
      return internalError("cannot create " + dir + sub + ": " + ec.message());
    }
  }
  // The root directory of a container is world-readable like any "/".
  ::chmod((dir + "/rootfs").c_str(), 0755);
  if (!force_copy && mountOverlay(layers, dir).isOk()) return RootfsKind::kOverlay;
  if (Status s = image::applyLayers(layers, dir + "/rootfs"); !s.isOk()) {
    (void)releaseRootfs(dir);
    return s;
  }
  return RootfsKind::kCopy;
}

Status releaseRootfs(const std::string& dir) {
  if (Status s = unmountRootfs(dir); !s.isOk()) return s;
  for (const char* sub : {"/rootfs", "/upper", "/work"})
    if (Status s = removePath(dir + sub); !s.isOk()) return s;
  return Status::ok();
}

Status unmountRootfs(const std::string& dir) {
  const std::string rootfs = dir + "/rootfs";
  // A stacked mount (two mounts on one point after a crashed retry) needs one umount each.
  for (int i = 0; i < 8 && isMountPoint(rootfs); ++i) {
    if (::umount2(rootfs.c_str(), 0) != 0) {
      if (errno == EBUSY) {
        // Still in use (a process inside, or an exec'd shell): detach it; the kernel frees it
        // when the last user goes.
        if (::umount2(rootfs.c_str(), MNT_DETACH) != 0)
          return internalError("cannot unmount " + rootfs + ": " + errnoText(errno));
      } else if (errno != EINVAL) {
        return internalError("cannot unmount " + rootfs + ": " + errnoText(errno));
      }
    }
  }
  if (isMountPoint(rootfs)) return internalError(rootfs + " is still mounted");
  return Status::ok();
}

}  // namespace skiff::runtime
