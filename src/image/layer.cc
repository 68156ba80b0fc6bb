#include "image/layer.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <memory>
#include <utility>

namespace skiff::image {
namespace {

constexpr std::string_view kWhiteoutPrefix = ".wh.";
constexpr std::string_view kOpaqueMarker = ".wh..wh..opq";
constexpr const char* kOpaqueXattr = "trusted.overlay.opaque";

std::string errnoText() { return std::strerror(errno); }

// An owned file descriptor.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
  }
  ~Fd() { reset(); }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

struct ArchiveReadDeleter {
  void operator()(archive* a) const { archive_read_free(a); }
};
struct ArchiveWriteDeleter {
  void operator()(archive* a) const { archive_write_free(a); }
};
using ArchiveReader = std::unique_ptr<archive, ArchiveReadDeleter>;
using ArchiveWriter = std::unique_ptr<archive, ArchiveWriteDeleter>;

std::string archiveError(archive* a) {
  const char* e = archive_error_string(a);
  return e ? e : "unknown archive error";
}

// Removes `name` in `dir_fd`, recursively when it is a directory; never follows symlinks.
bool removeAt(int dir_fd, const std::string& name) {
  struct stat st;
  if (::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return errno == ENOENT;
  if (S_ISDIR(st.st_mode)) {
    int fd = ::openat(dir_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return false;
    DIR* d = ::fdopendir(fd);
    if (d == nullptr) {
      ::close(fd);
      return false;
    }
    std::vector<std::string> children;
    while (dirent* e = ::readdir(d)) {
      std::string child = e->d_name;
      if (child != "." && child != "..") children.push_back(child);
    }
    bool ok = true;
    for (const auto& child : children) ok = removeAt(::dirfd(d), child) && ok;
    ::closedir(d);
    return ok && ::unlinkat(dir_fd, name.c_str(), AT_REMOVEDIR) == 0;
  }
  return ::unlinkat(dir_fd, name.c_str(), 0) == 0;
}

bool removePath(const std::string& path) {
  auto slash = path.rfind('/');
  std::string parent =
      slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  Fd dir(::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir.valid()) return errno == ENOENT;
  return removeAt(dir.get(), path.substr(slash + 1));
}

// ---- unpacking ----

// A layer entry's path split into components, after refusing what could escape the target.
Result<std::vector<std::string>> entryComponents(std::string_view path, std::string_view what) {
  auto refuse = [&](const std::string& why) -> Status {
    return Status(StatusCode::kInvalid,
                  "layer entry \"" + std::string(what) + "\" is refused: " + why);
  };
  if (path.starts_with('/')) return refuse("absolute paths could write outside the image");
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    std::string_view c = path.substr(start, end - start);
    if (c == "..") return refuse("\"..\" could write outside the image");
    if (!c.empty() && c != ".") out.emplace_back(c);
    start = end + 1;
  }
  return out;
}

// Opens the directory that holds the last of `components`, creating missing parents, and
// refusing to pass through a symlink or a non-directory.
Result<Fd> openParent(int root_fd, const std::vector<std::string>& components, bool create,
                      std::string_view entry) {
  Fd current(::dup(root_fd));
  for (size_t i = 0; i + 1 < components.size(); ++i) {
    const std::string& c = components[i];
    int fd = ::openat(current.get(), c.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT && create) {
      if (::mkdirat(current.get(), c.c_str(), 0755) != 0 && errno != EEXIST)
        return unavailable("cannot create the directory of layer entry \"" + std::string(entry) +
                           "\": " + errnoText());
      fd = ::openat(current.get(), c.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    }
    if (fd < 0) {
      if (errno == ELOOP || errno == ENOTDIR)
        return Status(StatusCode::kInvalid,
                      "layer entry \"" + std::string(entry) + "\" is refused: its parent \"" + c +
                          "\" is a symlink or not a directory, and writing through it could "
                          "leave the image");
      return unavailable("cannot open the directory of layer entry \"" + std::string(entry) +
                         "\": " + errnoText());
    }
    current = Fd(fd);
  }
  return current;
}

void applyXattrs(archive_entry* entry, int fd) {
  const char* name;
  const void* value;
  size_t size;
  archive_entry_xattr_reset(entry);
  while (archive_entry_xattr_next(entry, &name, &value, &size) == ARCHIVE_OK) {
    // Overlay's own attributes in a layer would change what the stack shows; they are only
    // ever set by the whiteout translation.
    if (std::string_view(name).starts_with("trusted.overlay.")) continue;
    ::fsetxattr(fd, name, value, size, 0);
  }
}

struct DirTime {
  std::vector<std::string> components;
  timespec mtime;
};

// The tar stream from the decompressor, hashed on the way to the tar reader (the diffID).
struct TarSource {
  archive* raw;
  Sha256 hasher;
  uint64_t bytes = 0;
  char buf[1 << 16];
  bool failed = false;
};

la_ssize_t readTar(archive* a, void* client, const void** out) {
  auto* src = static_cast<TarSource*>(client);
  la_ssize_t n = archive_read_data(src->raw, src->buf, sizeof src->buf);
  if (n < 0) {
    src->failed = true;
    archive_set_error(a, EIO, "%s", archiveError(src->raw).c_str());
    return -1;
  }
  src->hasher.update(std::string_view(src->buf, static_cast<size_t>(n)));
  src->bytes += static_cast<uint64_t>(n);
  *out = src->buf;
  return n;
}

class Unpacker {
 public:
  Unpacker(int root_fd, archive* tar) : root_fd_(root_fd), tar_(tar) {}

  Status entry(archive_entry* e) {
    const char* raw_path = archive_entry_pathname(e);
    std::string path = raw_path ? raw_path : "";
    auto components = entryComponents(path, path);
    if (!components.ok()) return components.status();
    if (components->empty()) return Status::ok();  // the layer's root, "./"
    auto parent = openParent(root_fd_, *components, true, path);
    if (!parent.ok()) return parent.status();
    const std::string& name = components->back();
    const int dir = parent->get();

    if (name == kOpaqueMarker) {
      if (::fsetxattr(dir, kOpaqueXattr, "y", 1, 0) != 0)
        return unavailable("cannot mark the directory of \"" + path +
                           "\" opaque (xattr trusted.overlay.opaque needs root and a filesystem "
                           "with xattrs): " +
                           errnoText());
      return Status::ok();
    }
    if (name.starts_with(kWhiteoutPrefix)) {
      std::string hidden = name.substr(kWhiteoutPrefix.size());
      if (hidden.empty() || hidden == "." || hidden == "..")
        return Status(StatusCode::kInvalid, "layer entry \"" + path + "\" is a malformed whiteout");
      removeAt(dir, hidden);
      if (::mknodat(dir, hidden.c_str(), S_IFCHR | 0, makedev(0, 0)) != 0)
        return unavailable("cannot create the whiteout for \"" + path +
                           "\" (a 0/0 character device needs root): " + errnoText());
      ::fchownat(dir, hidden.c_str(), 0, 0, AT_SYMLINK_NOFOLLOW);
      return Status::ok();
    }

    const mode_t type = archive_entry_filetype(e);
    const mode_t perm = archive_entry_perm(e);
    const uid_t uid = static_cast<uid_t>(archive_entry_uid(e));
    const gid_t gid = static_cast<gid_t>(archive_entry_gid(e));
    timespec times[2];
    times[1].tv_sec = archive_entry_mtime(e);
    times[1].tv_nsec = archive_entry_mtime_nsec(e);
    times[0] = times[1];

    struct stat existing;
    bool exists = ::fstatat(dir, name.c_str(), &existing, AT_SYMLINK_NOFOLLOW) == 0;
    if (exists && !(type == AE_IFDIR && S_ISDIR(existing.st_mode))) {
      if (!removeAt(dir, name))
        return unavailable("cannot replace \"" + path + "\" while unpacking: " + errnoText());
      exists = false;
    }

    if (const char* link = archive_entry_hardlink(e)) {
      auto target = entryComponents(link, path + " -> " + link);
      if (!target.ok()) return target.status();
      if (target->empty())
        return Status(StatusCode::kInvalid, "layer entry \"" + path + "\" links to the root");
      auto target_parent = openParent(root_fd_, *target, false, path);
      if (!target_parent.ok()) return target_parent.status();
      if (::linkat(target_parent->get(), target->back().c_str(), dir, name.c_str(), 0) != 0)
        return Status(StatusCode::kInvalid,
                      "layer entry \"" + path + "\" is a hardlink to \"" + std::string(link) +
                          "\", which is not earlier in the layer: " + errnoText());
      return Status::ok();
    }

    switch (type) {
      case AE_IFDIR: {
        if (!exists && ::mkdirat(dir, name.c_str(), 0700) != 0)
          return unavailable("cannot create directory \"" + path + "\": " + errnoText());
        Fd fd(::openat(dir, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!fd.valid())
          return unavailable("cannot open directory \"" + path + "\": " + errnoText());
        ::fchown(fd.get(), uid, gid);
        ::fchmod(fd.get(), perm);
        applyXattrs(e, fd.get());
        dir_times_.push_back({*components, times[1]});
        return Status::ok();
      }
      case AE_IFREG: {
        Fd fd(::openat(dir, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                       0600));
        if (!fd.valid()) return unavailable("cannot create file \"" + path + "\": " + errnoText());
        const void* block;
        size_t size;
        la_int64_t offset;
        int r;
        while ((r = archive_read_data_block(tar_, &block, &size, &offset)) == ARCHIVE_OK) {
          const char* p = static_cast<const char*>(block);
          while (size > 0) {
            ssize_t n = ::pwrite(fd.get(), p, size, offset);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) return unavailable("cannot write \"" + path + "\": " + errnoText());
            p += n;
            size -= static_cast<size_t>(n);
            offset += n;
          }
        }
        if (r != ARCHIVE_EOF)
          return Status(StatusCode::kInvalid,
                        "cannot read layer entry \"" + path + "\": " + archiveError(tar_));
        // Sparse files end in a hole that no block covers.
        if (::ftruncate(fd.get(), archive_entry_size(e)) != 0)
          return unavailable("cannot write \"" + path + "\": " + errnoText());
        ::fchown(fd.get(), uid, gid);
        ::fchmod(fd.get(), perm);  // after chown, which clears setuid bits
        applyXattrs(e, fd.get());
        ::futimens(fd.get(), times);
        return Status::ok();
      }
      case AE_IFLNK: {
        const char* target = archive_entry_symlink(e);
        if (::symlinkat(target ? target : "", dir, name.c_str()) != 0)
          return unavailable("cannot create symlink \"" + path + "\": " + errnoText());
        ::fchownat(dir, name.c_str(), uid, gid, AT_SYMLINK_NOFOLLOW);
        ::utimensat(dir, name.c_str(), times, AT_SYMLINK_NOFOLLOW);
        return Status::ok();
      }
      case AE_IFCHR:
      case AE_IFBLK:
      case AE_IFIFO: {
        if (::mknodat(dir, name.c_str(), type | perm, archive_entry_rdev(e)) != 0)
          return unavailable("cannot create device or fifo \"" + path + "\": " + errnoText());
        ::fchownat(dir, name.c_str(), uid, gid, AT_SYMLINK_NOFOLLOW);
        ::fchmodat(dir, name.c_str(), perm, 0);
        ::utimensat(dir, name.c_str(), times, AT_SYMLINK_NOFOLLOW);
        return Status::ok();
      }
      default:
        return Status::ok();  // sockets and unknown types carry no content
    }
  }

  // Directory mtimes last: creating their children changed them.
  void finish() {
    for (auto it = dir_times_.rbegin(); it != dir_times_.rend(); ++it) {
      auto parent = openParent(root_fd_, it->components, false, "");
      if (!parent.ok()) continue;
      timespec times[2] = {it->mtime, it->mtime};
      ::utimensat(parent->get(), it->components.back().c_str(), times, AT_SYMLINK_NOFOLLOW);
    }
  }

 private:
  int root_fd_;
  archive* tar_;
  std::vector<DirTime> dir_times_;
};

// ---- flattening ----

std::string getXattr(const std::string& path, const char* name) {
  char buf[64];
  ssize_t n = ::lgetxattr(path.c_str(), name, buf, sizeof buf);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
}

void copyXattrs(const std::string& from, const std::string& to) {
  ssize_t n = ::llistxattr(from.c_str(), nullptr, 0);
  if (n <= 0) return;
  std::string names(static_cast<size_t>(n), '\0');
  n = ::llistxattr(from.c_str(), names.data(), names.size());
  if (n <= 0) return;
  for (size_t i = 0; i < static_cast<size_t>(n);) {
    std::string name = names.c_str() + i;
    i += name.size() + 1;
    if (name.starts_with("trusted.overlay.")) continue;
    ssize_t size = ::lgetxattr(from.c_str(), name.c_str(), nullptr, 0);
    if (size < 0) continue;
    std::string value(static_cast<size_t>(size), '\0');
    size = ::lgetxattr(from.c_str(), name.c_str(), value.data(), value.size());
    if (size < 0) continue;
    ::lsetxattr(to.c_str(), name.c_str(), value.data(), static_cast<size_t>(size), 0);
  }
}

void copyMetadata(const std::string& from, const std::string& to, const struct stat& st) {
  ::lchown(to.c_str(), st.st_uid, st.st_gid);
  if (!S_ISLNK(st.st_mode)) ::chmod(to.c_str(), st.st_mode & 07777);
  copyXattrs(from, to);
  timespec times[2] = {st.st_atim, st.st_mtim};
  ::utimensat(AT_FDCWD, to.c_str(), times, AT_SYMLINK_NOFOLLOW);
}

Status copyFile(const std::string& from, const std::string& to) {
  Fd in(::open(from.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!in.valid()) return unavailable("cannot read " + from + ": " + errnoText());
  Fd out(::open(to.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!out.valid()) return unavailable("cannot create " + to + ": " + errnoText());
  char buf[1 << 16];
  while (true) {
    ssize_t n = ::read(in.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return unavailable("cannot read " + from + ": " + errnoText());
    if (n == 0) break;
    for (ssize_t done = 0; done < n;) {
      ssize_t w = ::write(out.get(), buf + done, static_cast<size_t>(n - done));
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) return unavailable("cannot write " + to + ": " + errnoText());
      done += w;
    }
  }
  return Status::ok();
}

std::vector<std::string> sortedChildren(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return out;
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name != "." && name != "..") out.push_back(std::move(name));
  }
  ::closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

bool isWhiteout(const struct stat& st) { return S_ISCHR(st.st_mode) && st.st_rdev == 0; }

class Flattener {
 public:
  Status apply(const std::string& src, const std::string& dst) {
    links_.clear();  // hardlinks only ever join files of one layer
    return applyDir(src, dst);
  }

 private:
  Status applyDir(const std::string& src, const std::string& dst) {
    for (const std::string& name : sortedChildren(src)) {
      const std::string from = src + "/" + name;
      const std::string to = dst + "/" + name;
      struct stat st;
      if (::lstat(from.c_str(), &st) != 0)
        return unavailable("cannot read " + from + ": " + errnoText());
      struct stat existing;
      bool exists = ::lstat(to.c_str(), &existing) == 0;
      if (isWhiteout(st)) {
        if (exists && !removePath(to))
          return unavailable("cannot remove " + to + ": " + errnoText());
        continue;
      }
      if (S_ISDIR(st.st_mode)) {
        bool opaque = getXattr(from, kOpaqueXattr) == "y";
        if (exists && (!S_ISDIR(existing.st_mode) || opaque)) {
          if (!removePath(to)) return unavailable("cannot remove " + to + ": " + errnoText());
          exists = false;
        }
        if (!exists && ::mkdir(to.c_str(), 0700) != 0)
          return unavailable("cannot create " + to + ": " + errnoText());
        if (Status s = applyDir(from, to); !s.isOk()) return s;
        copyMetadata(from, to, st);
        continue;
      }
      if (exists && !removePath(to)) return unavailable("cannot remove " + to + ": " + errnoText());
      if (S_ISREG(st.st_mode)) {
        auto key = std::make_pair(st.st_dev, st.st_ino);
        if (st.st_nlink > 1) {
          if (auto it = links_.find(key); it != links_.end()) {
            if (::link(it->second.c_str(), to.c_str()) != 0)
              return unavailable("cannot link " + to + ": " + errnoText());
            continue;
          }
          links_[key] = to;
        }
        if (Status s = copyFile(from, to); !s.isOk()) return s;
      } else if (S_ISLNK(st.st_mode)) {
        std::string target(static_cast<size_t>(st.st_size) + 1, '\0');
        ssize_t n = ::readlink(from.c_str(), target.data(), target.size());
        if (n < 0) return unavailable("cannot read symlink " + from + ": " + errnoText());
        target.resize(static_cast<size_t>(n));
        if (::symlink(target.c_str(), to.c_str()) != 0)
          return unavailable("cannot create symlink " + to + ": " + errnoText());
      } else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) || S_ISFIFO(st.st_mode)) {
        if (::mknod(to.c_str(), st.st_mode, st.st_rdev) != 0)
          return unavailable("cannot create " + to + ": " + errnoText());
      } else {
        continue;
      }
      copyMetadata(from, to, st);
    }
    return Status::ok();
  }

  std::map<std::pair<dev_t, ino_t>, std::string> links_;
};

// ---- packing ----

// Takes the tar stream from libarchive: hashes it (the diffID) and gzips it into the output
// file, hashing the compressed bytes too (the blob digest).
struct GzipSink {
  int fd = -1;
  z_stream z{};
  gz_header header{};
  Sha256 tar_hash;
  Sha256 blob_hash;
  uint64_t blob_size = 0;
  std::string error;

  bool emit(int flush) {
    unsigned char out[1 << 16];
    do {
      z.next_out = out;
      z.avail_out = sizeof out;
      int r = ::deflate(&z, flush);
      if (r == Z_STREAM_ERROR) {
        error = "gzip failed";
        return false;
      }
      size_t n = sizeof out - z.avail_out;
      blob_hash.update(std::string_view(reinterpret_cast<char*>(out), n));
      blob_size += n;
      for (size_t done = 0; done < n;) {
        ssize_t w = ::write(fd, out + done, n - done);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) {
          error = errnoText();
          return false;
        }
        done += static_cast<size_t>(w);
      }
    } while (z.avail_out == 0);
    return true;
  }
};

la_ssize_t writeTar(archive*, void* client, const void* buffer, size_t length) {
  auto* sink = static_cast<GzipSink*>(client);
  sink->tar_hash.update(std::string_view(static_cast<const char*>(buffer), length));
  sink->z.next_in = static_cast<Bytef*>(const_cast<void*>(buffer));
  sink->z.avail_in = static_cast<uInt>(length);
  if (!sink->emit(Z_NO_FLUSH)) return -1;
  return static_cast<la_ssize_t>(length);
}

class Packer {
 public:
  Packer(archive* a, const PackOptions& options) : a_(a), options_(options) {}

  Status packDir(const std::string& root, const std::string& rel) {
    const std::string dir = rel.empty() ? root : root + "/" + rel;
    for (const std::string& name : sortedChildren(dir)) {
      const std::string path = dir + "/" + name;
      const std::string entry_name = rel.empty() ? name : rel + "/" + name;
      struct stat st;
      if (::lstat(path.c_str(), &st) != 0)
        return unavailable("cannot read " + path + ": " + errnoText());
      if (options_.overlay_upper && isWhiteout(st)) {
        const std::string parent = rel.empty() ? "" : rel + "/";
        if (Status s = writeEmpty(parent + std::string(kWhiteoutPrefix) + name, st); !s.isOk())
          return s;
        continue;
      }
      if (Status s = writeEntry(path, entry_name, st); !s.isOk()) return s;
      if (S_ISDIR(st.st_mode)) {
        if (options_.overlay_upper && getXattr(path, kOpaqueXattr) == "y")
          if (Status s = writeEmpty(entry_name + "/" + std::string(kOpaqueMarker), st); !s.isOk())
            return s;
        if (Status s = packDir(root, entry_name); !s.isOk()) return s;
      }
    }
    return Status::ok();
  }

 private:
  int64_t mtimeOf(const struct stat& st) const {
    int64_t t = st.st_mtim.tv_sec;
    if (options_.clamp_mtime && t > *options_.clamp_mtime) t = *options_.clamp_mtime;
    return t;
  }

  Status finishHeader(archive_entry* e, const std::string& name) {
    int r = archive_write_header(a_, e);
    if (r < ARCHIVE_WARN)
      return unavailable("cannot write layer entry \"" + name + "\": " + archiveError(a_));
    return Status::ok();
  }

  Status writeEmpty(const std::string& name, const struct stat& st) {
    std::unique_ptr<archive_entry, void (*)(archive_entry*)> e(archive_entry_new(),
                                                               archive_entry_free);
    archive_entry_set_pathname(e.get(), name.c_str());
    archive_entry_set_filetype(e.get(), AE_IFREG);
    archive_entry_set_perm(e.get(), 0);
    archive_entry_set_size(e.get(), 0);
    archive_entry_set_mtime(e.get(), mtimeOf(st), 0);
    return finishHeader(e.get(), name);
  }

  Status writeEntry(const std::string& path, const std::string& name, const struct stat& st) {
    std::unique_ptr<archive_entry, void (*)(archive_entry*)> e(archive_entry_new(),
                                                               archive_entry_free);
    archive_entry_set_pathname(e.get(), name.c_str());
    archive_entry_set_perm(e.get(), st.st_mode & 07777);
    archive_entry_set_uid(e.get(), st.st_uid);
    archive_entry_set_gid(e.get(), st.st_gid);
    archive_entry_set_mtime(e.get(), mtimeOf(st), 0);
    addXattrs(path, e.get());
    bool has_data = false;
    if (S_ISREG(st.st_mode)) {
      auto key = std::make_pair(st.st_dev, st.st_ino);
      auto seen = st.st_nlink > 1 ? links_.find(key) : links_.end();
      if (seen != links_.end()) {
        archive_entry_set_filetype(e.get(), AE_IFREG);
        archive_entry_set_hardlink(e.get(), seen->second.c_str());
        archive_entry_set_size(e.get(), 0);
      } else {
        if (st.st_nlink > 1) links_[key] = name;
        archive_entry_set_filetype(e.get(), AE_IFREG);
        archive_entry_set_size(e.get(), st.st_size);
        has_data = true;
      }
    } else if (S_ISDIR(st.st_mode)) {
      archive_entry_set_filetype(e.get(), AE_IFDIR);
    } else if (S_ISLNK(st.st_mode)) {
      std::string target(static_cast<size_t>(st.st_size) + 1, '\0');
      ssize_t n = ::readlink(path.c_str(), target.data(), target.size());
      if (n < 0) return unavailable("cannot read symlink " + path + ": " + errnoText());
      target.resize(static_cast<size_t>(n));
      archive_entry_set_filetype(e.get(), AE_IFLNK);
      archive_entry_set_symlink(e.get(), target.c_str());
    } else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) || S_ISFIFO(st.st_mode)) {
      archive_entry_set_filetype(e.get(), st.st_mode & S_IFMT);
      archive_entry_set_rdev(e.get(), st.st_rdev);
    } else {
      return Status::ok();  // sockets do not survive a tar
    }
    if (Status s = finishHeader(e.get(), name); !s.isOk()) return s;
    if (!has_data) return Status::ok();
    Fd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd.valid()) return unavailable("cannot read " + path + ": " + errnoText());
    char buf[1 << 16];
    int64_t left = st.st_size;
    while (left > 0) {
      ssize_t n = ::read(fd.get(), buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return unavailable("cannot read " + path + ": " + errnoText());
      if (n == 0) return unavailable(path + " shrank while it was packed: try again");
      size_t take = static_cast<size_t>(std::min<int64_t>(n, left));
      if (archive_write_data(a_, buf, take) < 0)
        return unavailable("cannot write layer entry \"" + name + "\": " + archiveError(a_));
      left -= static_cast<int64_t>(take);
    }
    return Status::ok();
  }

  void addXattrs(const std::string& path, archive_entry* e) {
    ssize_t n = ::llistxattr(path.c_str(), nullptr, 0);
    if (n <= 0) return;
    std::string names(static_cast<size_t>(n), '\0');
    n = ::llistxattr(path.c_str(), names.data(), names.size());
    if (n <= 0) return;
    std::vector<std::string> sorted;
    for (size_t i = 0; i < static_cast<size_t>(n);) {
      std::string name = names.c_str() + i;
      i += name.size() + 1;
      if (!name.starts_with("trusted.overlay.") && !name.starts_with("security.selinux"))
        sorted.push_back(std::move(name));
    }
    std::sort(sorted.begin(), sorted.end());
    for (const auto& name : sorted) {
      ssize_t size = ::lgetxattr(path.c_str(), name.c_str(), nullptr, 0);
      if (size < 0) continue;
      std::string value(static_cast<size_t>(size), '\0');
      size = ::lgetxattr(path.c_str(), name.c_str(), value.data(), value.size());
      if (size >= 0)
        archive_entry_xattr_add_entry(e, name.c_str(), value.data(), static_cast<size_t>(size));
    }
  }

  archive* a_;
  const PackOptions& options_;
  std::map<std::pair<dev_t, ino_t>, std::string> links_;
};

}  // namespace

bool isSupportedLayerMediaType(std::string_view media_type) {
  return media_type == kOciLayerTar || media_type == kOciLayerGzip || media_type == kOciLayerZstd ||
         media_type == kDockerLayerGzip ||
         media_type == "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip" ||
         media_type == "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";
}

Result<UnpackedLayer> unpackLayer(const std::string& blob_path, const std::string& dest,
                                  std::string_view media_type) {
  if (!isSupportedLayerMediaType(media_type))
    return Status(StatusCode::kInvalid, "layer " + blob_path + " has media type \"" +
                                            std::string(media_type) +
                                            "\", which is not a tar layer Skiff can unpack");
  Fd root(::open(dest.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root.valid()) return unavailable("cannot open " + dest + ": " + errnoText());

  ArchiveReader raw(archive_read_new());
  archive_read_support_filter_all(raw.get());
  archive_read_support_format_raw(raw.get());
  archive_read_support_format_empty(raw.get());
  if (archive_read_open_filename(raw.get(), blob_path.c_str(), 1 << 16) != ARCHIVE_OK)
    return unavailable("cannot read layer " + blob_path + ": " + archiveError(raw.get()));
  archive_entry* raw_entry;
  int r = archive_read_next_header(raw.get(), &raw_entry);
  TarSource source{raw.get(), {}, 0, {}, false};
  UnpackedLayer result;
  if (r == ARCHIVE_EOF) {  // an empty blob: an empty layer
    result.diff_id = source.hasher.finish();
    return result;
  }
  if (r != ARCHIVE_OK)
    return Status(StatusCode::kInvalid,
                  "layer " + blob_path + " cannot be decompressed: " + archiveError(raw.get()));

  ArchiveReader tar(archive_read_new());
  archive_read_support_format_tar(tar.get());
  archive_read_support_format_gnutar(tar.get());
  if (archive_read_open(tar.get(), &source, nullptr, readTar, nullptr) != ARCHIVE_OK)
    return Status(StatusCode::kInvalid,
                  "layer " + blob_path + " is not a tar archive: " + archiveError(tar.get()));
  Unpacker unpacker(root.get(), tar.get());
  archive_entry* entry;
  while ((r = archive_read_next_header(tar.get(), &entry)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
    if (Status s = unpacker.entry(entry); !s.isOk()) return s;
    ++result.entries;
  }
  if (r != ARCHIVE_EOF)
    return Status(StatusCode::kInvalid,
                  "layer " + blob_path + " is damaged: " + archiveError(tar.get()));
  unpacker.finish();
  // The tar reader stops at the end-of-archive blocks; the diffID covers all of the stream.
  la_ssize_t n;
  char buf[1 << 16];
  while ((n = archive_read_data(raw.get(), buf, sizeof buf)) > 0) {
    source.hasher.update(std::string_view(buf, static_cast<size_t>(n)));
    source.bytes += static_cast<uint64_t>(n);
  }
  if (n < 0)
    return Status(StatusCode::kInvalid,
                  "layer " + blob_path + " is damaged: " + archiveError(raw.get()));
  result.diff_id = source.hasher.finish();
  result.uncompressed_size = source.bytes;
  return result;
}

Status applyLayers(const std::vector<std::string>& layer_dirs, const std::string& dest) {
  Flattener flattener;
  for (const auto& layer : layer_dirs)
    if (Status s = flattener.apply(layer, dest); !s.isOk()) return s;
  return Status::ok();
}

Result<PackedLayer> packLayer(const std::string& dir, const std::string& output_file,
                              const PackOptions& options) {
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    return notFound("cannot pack " + dir + ": it is not a directory");
  Fd out(::open(output_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!out.valid()) return unavailable("cannot create " + output_file + ": " + errnoText());

  GzipSink sink;
  sink.fd = out.get();
  if (deflateInit2(&sink.z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
      Z_OK)
    return internalError("zlib cannot start a gzip stream");
  std::unique_ptr<z_stream, int (*)(z_stream*)> z_guard(&sink.z, deflateEnd);
  sink.header.time = 0;  // no timestamp: equal content, equal digest
  sink.header.os = 255;
  deflateSetHeader(&sink.z, &sink.header);

  ArchiveWriter a(archive_write_new());
  archive_write_set_format_pax_restricted(a.get());
  if (archive_write_open(a.get(), &sink, nullptr, writeTar, nullptr) != ARCHIVE_OK)
    return internalError("cannot start a tar stream: " + archiveError(a.get()));
  Packer packer(a.get(), options);
  if (Status s = packer.packDir(dir, ""); !s.isOk()) return s;
  if (archive_write_close(a.get()) != ARCHIVE_OK)
    return unavailable("cannot write " + output_file + ": " +
                       (sink.error.empty() ? archiveError(a.get()) : sink.error));
  sink.z.next_in = nullptr;
  sink.z.avail_in = 0;
  if (!sink.emit(Z_FINISH)) return unavailable("cannot write " + output_file + ": " + sink.error);
  if (::fsync(out.get()) != 0)
    return unavailable("cannot write " + output_file + ": " + errnoText());

  PackedLayer packed;
  packed.digest = sink.blob_hash.finish();
  packed.size = sink.blob_size;
  packed.diff_id = sink.tar_hash.finish();
  return packed;
}

}  // namespace skiff::image
