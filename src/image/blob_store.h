// A content-addressed store of blobs (layers, configs, manifests) under ROOT/blobs/sha256/<hex>.
// A blob is written to a temporary file in ROOT/tmp, checked against the digest (and size) it
// must have, and only then renamed into place, so a blob in the store always has the content its
// name says and a failed or corrupted download leaves nothing behind.
//
// Thread-safe: writers use distinct temporary files and rename() is atomic; two writers of the
// same blob both succeed with the same content.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "image/digest.h"

namespace skiff::image {

class BlobStore {
 public:
  explicit BlobStore(std::string root);

  // Creates ROOT/blobs/sha256 and ROOT/tmp.
  Status init() const;

  std::string path(const Digest& digest) const;
  bool has(const Digest& digest) const;
  // The blob's size, or kNotFound.
  Result<uint64_t> size(const Digest& digest) const;
  // The whole blob (for manifests and configs; layers are read from path()).
  Result<std::string> read(const Digest& digest) const;
  std::vector<Digest> list() const;
  Status remove(const Digest& digest) const;

  // Writes one blob. Destroying a writer that was not committed removes its temporary file.
  class Writer {
   public:
    Writer(Writer&&) noexcept;
    Writer& operator=(Writer&&) = delete;
    ~Writer();
    Status write(std::string_view bytes);
    uint64_t bytesWritten() const { return written_; }
    // Verifies the content against the expected digest and size (when given) and moves it into
    // place; on a mismatch the temporary file is removed and the error names both digests.
    Result<Digest> commit();

   private:
    friend class BlobStore;
    Writer(const BlobStore* store, int fd, std::string tmp_path, std::optional<Digest> expected,
           std::optional<uint64_t> expected_size, std::string source);
    const BlobStore* store_;
    int fd_;
    std::string tmp_path_;
    std::optional<Digest> expected_;
    std::optional<uint64_t> expected_size_;
    std::string source_;  // where the content comes from, for errors ("registry HOST")
    Sha256 hasher_;
    uint64_t written_ = 0;
  };

  // `source` names where the content comes from in errors ("127.0.0.1:5000/acme/web").
  Result<Writer> writer(std::optional<Digest> expected = std::nullopt,
                        std::optional<uint64_t> expected_size = std::nullopt,
                        std::string source = "") const;
  // Stores `bytes` and returns their digest.
  Result<Digest> put(std::string_view bytes) const;
  // Moves an existing file (on the same filesystem) into the store after hashing it; when
  // `expected` is given, a mismatch removes the file and is an error.
  Result<Digest> adopt(const std::string& file,
                       std::optional<Digest> expected = std::nullopt) const;

  const std::string& root() const { return root_; }
  std::string tmpDir() const { return root_ + "/tmp"; }

 private:
  std::string root_;
};

}  // namespace skiff::image
