#include "common/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace skiff {

namespace {

Status fileError(const std::string& what, const std::string& path) {
  return Status(StatusCode::kUnavailable, what + " " + path + ": " + std::strerror(errno));
}

}  // namespace

Status writeFileAtomically(const std::string& path, std::string_view contents, mode_t mode,
                           Durability durability) {
  std::string tmp = path + ".tmp";
  // A stale temporary file may have another mode; start afresh so `mode` holds from the
  // first byte (O_EXCL), whatever the umask (fchmod).
  ::unlink(tmp.c_str());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
  if (fd < 0) return fileError("cannot create", tmp);
  if (::fchmod(fd, mode) != 0) {
    Status st = fileError("cannot set the mode of", tmp);
    ::close(fd);
    return st;
  }
  size_t off = 0;
  while (off < contents.size()) {
    ssize_t n = ::write(fd, contents.data() + off, contents.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      Status st = fileError("cannot write", tmp);
      ::close(fd);
      return st;
    }
    off += static_cast<size_t>(n);
  }
  if (durability == Durability::kDurable && ::fsync(fd) != 0) {
    Status st = fileError("cannot fsync", tmp);
    ::close(fd);
    return st;
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) return fileError("cannot rename to", path);
  if (durability == Durability::kVolatile) return Status::ok();
  std::string dir = path.substr(0, path.rfind('/') == std::string::npos ? 0 : path.rfind('/'));
  if (dir.empty()) dir = ".";
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);  // best effort: the rename is already visible
    ::close(dfd);
  }
  return Status::ok();
}

Result<std::string> readWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    // ifstream does not promise errno; ask the filesystem why.
    if (::access(path.c_str(), F_OK) != 0 && errno == ENOENT)
      return notFound(path + " does not exist");
    return fileError("cannot read", path);
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

ssize_t preadFully(int fd, char* buf, size_t n, off_t at) {
  size_t done = 0;
  while (done < n) {
    ssize_t r = ::pread(fd, buf + done, n - done, at + static_cast<off_t>(done));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return done > 0 ? static_cast<ssize_t>(done) : r;
    if (r == 0) break;
    done += static_cast<size_t>(r);
  }
  return static_cast<ssize_t>(done);
}

}  // namespace skiff
