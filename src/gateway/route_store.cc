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
