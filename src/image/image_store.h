// The local image store: the images Skiff can run, kept under one root directory.
//
//   ROOT/blobs/sha256/<hex>   manifests, configs and layer blobs (BlobStore), content-addressed
//   ROOT/layers/<diffid-hex>/ each layer unpacked once (overlay lower-dir format), shared
//                             read-only by every image that has it
//   ROOT/refs.json            normalised reference -> manifest digest, replaced atomically
//   ROOT/lock, ROOT/gc.lock   flock()s, so the CLI and the server can share a store
//
// ROOT/lock guards refs.json: shared while reading, exclusive while changing it. ROOT/gc.lock
// keeps gc() from deleting what a pull, push or commit is still writing: they hold it shared,
// gc() exclusively. Blobs are written before a reference names them, so a reader never sees a
// reference to a missing blob.
//
// Thread-safe: every method takes the locks it needs (flock() locks are per open file, and each
// call opens its own).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/status.h"
#include "image/blob_store.h"
#include "image/digest.h"
#include "image/layer.h"
#include "image/reference.h"
#include "image/registry_client.h"

namespace skiff::image {

// What a container of the image runs by default (the config's "config" object).
struct ImageConfig {
  std::vector<std::string> entrypoint;
  std::vector<std::string> cmd;
  std::vector<std::string> env;  // "NAME=value"
  std::string user;
  std::string working_dir;
  std::vector<std::string> exposed_ports;  // "80/tcp"
  std::map<std::string, std::string> labels;
};

struct LayerInfo {
  Digest digest;   // of the blob
  Digest diff_id;  // of the uncompressed tar (the config's rootfs.diff_ids)
  uint64_t size = 0;
  std::string media_type;
};

struct Image {
  std::string reference;  // normalised, as stored in refs.json (empty when found by digest only)
  Digest manifest_digest;
  std::string media_type;  // of the manifest (OCI or Docker schema2)
  Digest config_digest;
  std::vector<LayerInfo> layers;  // bottom first
  uint64_t size = 0;              // of the config and the layer blobs
  std::string created;            // RFC 3339, as in the config
  std::string architecture;
  std::string os;
  ImageConfig config;
};

// Progress of a pull or push, reported after each chunk and each finished blob.
struct TransferProgress {
  size_t layers_total = 0;
  size_t layers_done = 0;
  uint64_t bytes_total = 0;  // of the blobs that are transferred (those already present: 0)
  uint64_t bytes_done = 0;
  std::string current;  // the blob in flight ("sha256:...")
};
using ProgressCallback = std::function<void(const TransferProgress&)>;

// A new layer for commit(): a blob file written by packLayer() (ideally in tmpDir(), on the
// store's filesystem, so it is moved rather than copied) and what packLayer() returned.
struct NewLayer {
  std::string file;
  PackedLayer packed;
  std::string created_by;  // for the config's history ("RUN make install")
};

struct CommitRequest {
  std::string parent;  // a reference or digest of a local image; empty: scratch
  std::vector<NewLayer> layers;
  // Replaces the parent's runtime config when given (the builder applies ENV, CMD, ... itself).
  std::optional<ImageConfig> config;
  std::string created;  // RFC 3339; empty: now
  std::string tag;      // the reference to give the new image
};

struct GcResult {
  size_t blobs_removed = 0;
  size_t layers_removed = 0;
  uint64_t bytes_freed = 0;
};

class ImageStore {
 public:
  // Creates the store's directories under `root` when missing.
  static Result<std::unique_ptr<ImageStore>> open(const std::string& root);

  // Fetches the image (for a multi-platform index: its linux/amd64 manifest) with every blob
  // verified, and points the reference at it. Layers are unpacked later, by layerDirs().
  Result<Image> pull(const std::string& reference, const RegistryOptions& registry,
                     const ProgressCallback& progress = {});
  // Uploads a local image to `target` (empty: its own reference) with the same manifest bytes,
  // so it keeps its digest. Returns the manifest digest.
  Result<Digest> push(const std::string& local, const std::string& target,
                      const RegistryOptions& registry, const ProgressCallback& progress = {});

  // By reference ("busybox", "host:5000/a/b:1"), by "name@sha256:..." or by manifest digest
  // ("sha256:<hex>", or a unique prefix of at least 12 hex digits).
  Result<Image> get(const std::string& reference) const;
  // Every tagged image, sorted by reference.
  Result<std::vector<Image>> list() const;
  // Removes the reference (untags); the blobs stay until gc().
  Status remove(const std::string& reference);
  // Points `target` at the image `source` names.
  Status tag(const std::string& source, const std::string& target);
  // Deletes blobs and unpacked layers that neither a reference nor one of `in_use` (manifest
  // digests of images that run but may have been untagged) needs.
  Result<GcResult> gc(const std::set<Digest>& in_use = {});

  // The image's unpacked layer directories, bottom first, unpacking those not unpacked yet and
  // checking each against the config's diff_ids.
  Result<std::vector<std::string>> layerDirs(const Image& image);

  // Writes a config and manifest for the parent's layers plus `request.layers` and tags the
  // result; for the image builder.
  Result<Image> commit(const CommitRequest& request);

  const BlobStore& blobs() const { return blobs_; }
  // Where to write files that commit() should adopt.
  std::string tmpDir() const { return blobs_.tmpDir(); }
  const std::string& root() const { return root_; }

 private:
  explicit ImageStore(std::string root);
  Result<std::map<std::string, Digest>> readRefs() const;
  Status writeRefs(const std::map<std::string, Digest>& refs) const;
  Result<Image> load(const Digest& manifest_digest, const std::string& reference) const;
  Result<Digest> resolve(const std::string& reference, std::string* normalised) const;
  Status setRef(const std::string& reference, const Digest& digest);

  std::string root_;
  BlobStore blobs_;
};

}  // namespace skiff::image
