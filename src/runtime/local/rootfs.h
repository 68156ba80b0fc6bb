// The root filesystem of one container: the image's read-only layers with a writable layer
// of the instance's own on top.
//
// prepareRootfs() builds it in a directory the caller owns (the instance's bundle dir):
//   rootfs/  what the container sees as "/"
//   upper/, work/  the writable layer and overlayfs' scratch space
// normally as an overlay mount (lowerdir = the layers, top first), and where overlayfs cannot
// be mounted (an unsupported backing filesystem, too many layers for the mount options) as a
// plain copy of the layers into rootfs/ (image::applyLayers), applying their whiteouts as
// overlayfs would. The
// layers are never written.
//
// The overlay mount lives in this process's mount namespace until releaseRootfs() unmounts it;
// it is also found and removed after a crash by releaseRootfs() on the same directory.
// Functions are thread-safe for different directories.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"

namespace skiff::runtime {

enum class RootfsKind { kOverlay, kCopy };

// Builds DIR/rootfs from `layers` (bottom first). With `force_copy` the copy is made even
// where overlayfs works. On error nothing is left mounted, and DIR's rootfs/upper/work are
// removed.
Result<RootfsKind> prepareRootfs(const std::vector<std::string>& layers, const std::string& dir,
                                 bool force_copy = false);

// Unmounts DIR/rootfs if mounted and deletes rootfs/, upper/ and work/. Fine if already gone.
Status releaseRootfs(const std::string& dir);
// Only the unmount of releaseRootfs(): DIR/rootfs is no mount point after it.
Status unmountRootfs(const std::string& dir);

// Whether `path` is a mount point in this process's mount namespace (per
// /proc/self/mountinfo).
bool isMountPoint(const std::string& path);

}  // namespace skiff::runtime
