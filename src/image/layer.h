// Layer blobs and directories. A layer blob (tar, or tar compressed with gzip or zstd) unpacks
// into a directory in overlayfs lower-dir format: a whiteout ".wh.NAME" becomes a 0/0 character
// device NAME and an opaque marker ".wh..wh..opq" the xattr trusted.overlay.opaque=y on its
// directory, so the directories can be stacked as overlay lower dirs directly. applyLayers()
// flattens such directories into one rootfs where overlayfs is not available, and packLayer()
// turns a directory in overlay upper-dir format (what a container's writes leave) back into a
// layer blob.
//
// Unpacking never writes outside the target: entries with absolute paths or ".." components, and
// entries that would be written through a symlink (or a hardlink pointing outside), are refused
// with an error naming the entry. Needs root for ownership, device nodes and trusted.* xattrs.
//
// The functions share no state; they are safe to call from any thread on distinct directories.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "image/digest.h"

namespace skiff::image {

inline constexpr std::string_view kOciLayerTar = "application/vnd.oci.image.layer.v1.tar";
inline constexpr std::string_view kOciLayerGzip = "application/vnd.oci.image.layer.v1.tar+gzip";
inline constexpr std::string_view kOciLayerZstd = "application/vnd.oci.image.layer.v1.tar+zstd";
inline constexpr std::string_view kDockerLayerGzip =
    "application/vnd.docker.image.rootfs.diff.tar.gzip";

// True for the layer media types unpackLayer() understands.
bool isSupportedLayerMediaType(std::string_view media_type);

struct UnpackedLayer {
  Digest diff_id;  // sha256 of the uncompressed tar stream
  uint64_t uncompressed_size = 0;
  uint64_t entries = 0;
};

// Unpacks the layer blob at `blob_path` into the existing, empty directory `dest`. The
// compression is detected from the content (gzip and zstd magic), so a mislabelled media type
// still unpacks; `media_type` is only used to refuse types that are not layers.
Result<UnpackedLayer> unpackLayer(const std::string& blob_path, const std::string& dest,
                                  std::string_view media_type = kOciLayerGzip);

// Materialises the union of `layer_dirs` (bottom layer first, each in lower-dir format) into
// `dest` by copying: later layers replace earlier entries, whiteouts delete them and opaque
// directories hide everything below. Modes, ownership, symlinks, hardlinks, mtimes and xattrs
// (other than trusted.overlay.*) are kept.
Status applyLayers(const std::vector<std::string>& layer_dirs, const std::string& dest);

struct PackOptions {
  // Read `dir` as an overlay upper dir: 0/0 character devices are whiteouts, the opaque xattr
  // marks opaque directories. Otherwise device nodes and xattrs are packed as they are.
  bool overlay_upper = true;
  // Entries newer than this (seconds since the epoch) get this mtime, as SOURCE_DATE_EPOCH
  // does for reproducible builds.
  std::optional<int64_t> clamp_mtime;
};

struct PackedLayer {
  Digest digest;      // of the compressed blob
  uint64_t size = 0;  // of the compressed blob
  Digest diff_id;     // of the uncompressed tar
  std::string media_type = std::string(kOciLayerGzip);
};

// Writes `dir` as a tar+gzip layer to `output_file`. The output depends only on the content:
// entries are sorted by name, user and group names are left out and the gzip header carries no
// time, so equal trees give equal digests.
Result<PackedLayer> packLayer(const std::string& dir, const std::string& output_file,
                              const PackOptions& options = {});

}  // namespace skiff::image
