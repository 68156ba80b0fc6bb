#include "gateway/route_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace skiff::gateway {
namespace {

Status ioError(const std::string& what, const std::string& path) {
  return Status(StatusCode::kUnavailable, what + " " + path + ": " + std::strerror(errno));
}

}  // namespace

Status writeFileAtomically(const std::string& path, std::string_view contents) {
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return ioError("cannot create", tmp);
  size_t off = 0;
  while (off < contents.size()) {
    ssize_t n = ::write(fd, contents.data() + off, contents.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      Status st = ioError("cannot write", tmp);
      ::close(fd);
      return st;
    }
    off += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    Status st = ioError("cannot fsync", tmp);
    ::close(fd);
    return st;
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) return ioError("cannot rename to", path);
  std::string dir = path.substr(0, path.rfind('/') == std::string::npos ? 0 : path.rfind('/'));
  if (dir.empty()) dir = ".";
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);  // best effort: the rename is already visible
    ::close(dfd);
  }
  return Status::ok();
}

Result<std::shared_ptr<const RouteTable>> RouteStore::load() const {
  std::string path = state_dir_ + "/routes.json";
  std::ifstream in(path);
  if (!in) {
    if (errno == ENOENT) return std::shared_ptr<const RouteTable>(std::make_shared<RouteTable>());
    return ioError("cannot read", path);
  }
  std::stringstream ss;
  ss << in.rdbuf();
  auto table = parseRouteTable(ss.str());
  if (!table.ok())
    return Status(StatusCode::kInternal,
                  path + " is not a valid route table: " + table.status().toString());
  return table;
}

Status RouteStore::save(const RouteTable& table) const {
  return writeFileAtomically(state_dir_ + "/routes.json", table.json());
}

}  // namespace skiff::gateway
