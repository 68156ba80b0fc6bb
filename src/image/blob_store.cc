#include "image/blob_store.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

namespace skiff::image {
namespace {

namespace fs = std::filesystem;

std::string errnoText() { return std::strerror(errno); }

Status writeAll(int fd, std::string_view bytes, const std::string& path) {
  while (!bytes.empty()) {
    ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return unavailable("cannot write " + path + ": " + errnoText());
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return Status::ok();
}

}  // namespace

BlobStore::BlobStore(std::string root) : root_(std::move(root)) {}

Status BlobStore::init() const {
  std::error_code ec;
  fs::create_directories(root_ + "/blobs/sha256", ec);
  if (!ec) fs::create_directories(tmpDir(), ec);
  if (ec)
    return unavailable("cannot create the blob store in " + root_ + ": " + ec.message() +
                       " (check the directory's permissions)");
  return Status::ok();
}

std::string BlobStore::path(const Digest& digest) const {
  return root_ + "/blobs/sha256/" + digest.hex();
}

bool BlobStore::has(const Digest& digest) const {
  struct stat st;
  return ::stat(path(digest).c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

Result<uint64_t> BlobStore::size(const Digest& digest) const {
  struct stat st;
  if (::stat(path(digest).c_str(), &st) != 0)
    return notFound("blob " + digest.str() + " is not in the store " + root_);
  return static_cast<uint64_t>(st.st_size);
}

Result<std::string> BlobStore::read(const Digest& digest) const {
  int fd = ::open(path(digest).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return notFound("blob " + digest.str() + " is not in the store " + root_);
    return unavailable("cannot read blob " + path(digest) + ": " + errnoText());
  }
  std::string out;
  char buf[65536];
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ::close(fd);
      return unavailable("cannot read blob " + path(digest) + ": " + errnoText());
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

std::vector<Digest> BlobStore::list() const {
  std::vector<Digest> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(root_ + "/blobs/sha256", ec)) {
    auto digest = Digest::parse("sha256:" + entry.path().filename().string());
    if (digest.ok()) out.push_back(*digest);
  }
  std::sort(out.begin(), out.end());
  return out;
}

Status BlobStore::remove(const Digest& digest) const {
  if (::unlink(path(digest).c_str()) != 0 && errno != ENOENT)
    return unavailable("cannot remove blob " + path(digest) + ": " + errnoText());
  return Status::ok();
}

BlobStore::Writer::Writer(const BlobStore* store, int fd, std::string tmp_path,
                          std::optional<Digest> expected, std::optional<uint64_t> expected_size,
                          std::string source)
    : store_(store),
      fd_(fd),
      tmp_path_(std::move(tmp_path)),
      expected_(std::move(expected)),
      expected_size_(expected_size),
      source_(std::move(source)) {}

BlobStore::Writer::Writer(Writer&& other) noexcept
    : store_(other.store_),
      fd_(other.fd_),
      tmp_path_(std::move(other.tmp_path_)),
      expected_(std::move(other.expected_)),
      expected_size_(other.expected_size_),
      source_(std::move(other.source_)),
      written_(other.written_) {
  // The hasher cannot move; a writer is only moved before anything is written.
  SKIFF_ASSERT(other.written_ == 0, "a BlobStore::Writer moved after writing");
  other.fd_ = -1;
  other.tmp_path_.clear();
}

BlobStore::Writer::~Writer() {
  if (fd_ >= 0) ::close(fd_);
  if (!tmp_path_.empty()) ::unlink(tmp_path_.c_str());
}

Status BlobStore::Writer::write(std::string_view bytes) {
  hasher_.update(bytes);
  written_ += bytes.size();
  return writeAll(fd_, bytes, tmp_path_);
}

Result<Digest> BlobStore::Writer::commit() {
  SKIFF_ASSERT(fd_ >= 0, "BlobStore::Writer committed twice");
  Digest actual = hasher_.finish();
  int rc = ::fsync(fd_);
  ::close(fd_);
  fd_ = -1;
  const std::string from = source_.empty() ? "" : " from " + source_;
  if ((expected_ && actual != *expected_) || (expected_size_ && written_ != *expected_size_)) {
    ::unlink(tmp_path_.c_str());
    tmp_path_.clear();
  }
  if (expected_ && actual != *expected_)
    return Status(
        StatusCode::kInvalid,
        "digest mismatch for blob " + expected_->str() + from + ": its content hashes to " +
            actual.str() +
            "; the blob is corrupted (in the registry or on the way): nothing was stored");
  if (expected_size_ && written_ != *expected_size_)
    return Status(StatusCode::kInvalid, "size mismatch for blob " + actual.str() + from + ": got " +
                                            std::to_string(written_) + " bytes, expected " +
                                            std::to_string(*expected_size_) +
                                            "; nothing was stored");
  if (rc != 0) return unavailable("cannot write " + tmp_path_ + ": " + errnoText());
  ::chmod(tmp_path_.c_str(), 0644);
  if (::rename(tmp_path_.c_str(), store_->path(actual).c_str()) != 0)
    return unavailable("cannot move a blob into " + store_->path(actual) + ": " + errnoText());
  tmp_path_.clear();
  return actual;
}

Result<BlobStore::Writer> BlobStore::writer(std::optional<Digest> expected,
                                            std::optional<uint64_t> expected_size,
                                            std::string source) const {
  std::string tmpl = tmpDir() + "/blob-XXXXXX";
  int fd = ::mkostemp(tmpl.data(), O_CLOEXEC);
  if (fd < 0 && errno == ENOENT) {
    if (Status s = init(); !s.isOk()) return s;
    fd = ::mkostemp(tmpl.data(), O_CLOEXEC);
  }
  if (fd < 0)
    return unavailable("cannot create a temporary file in " + tmpDir() + ": " + errnoText());
  return Writer(this, fd, std::move(tmpl), std::move(expected), expected_size, std::move(source));
}

Result<Digest> BlobStore::put(std::string_view bytes) const {
  auto w = writer();
  if (!w.ok()) return w.status();
  if (Status s = w->write(bytes); !s.isOk()) return s;
  return w->commit();
}

Result<Digest> BlobStore::adopt(const std::string& file, std::optional<Digest> expected) const {
  int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return unavailable("cannot read " + file + ": " + errnoText());
  Sha256 hasher;
  char buf[65536];
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ::close(fd);
      return unavailable("cannot read " + file + ": " + errnoText());
    }
    if (n == 0) break;
    hasher.update(std::string_view(buf, static_cast<size_t>(n)));
  }
  ::close(fd);
  Digest actual = hasher.finish();
  if (expected && actual != *expected) {
    ::unlink(file.c_str());
    return Status(StatusCode::kInvalid, "digest mismatch for " + file + ": expected " +
                                            expected->str() + ", got " + actual.str());
  }
  ::chmod(file.c_str(), 0644);
  if (::rename(file.c_str(), path(actual).c_str()) != 0)
    return unavailable("cannot move " + file + " into " + path(actual) + ": " + errnoText());
  return actual;
}

}  // namespace skiff::image
