// RouteStore: keeps the last route table the gateway accepted in `STATE_DIR/routes.json`, so a
// restarted gateway serves the same routes before the control plane pushes again.
//
// Files are replaced atomically (write a temporary file, fsync, rename, fsync the directory):
// a crash leaves either the old or the new table, never a torn one. Not thread-safe; the admin
// server's thread owns it.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "common/files.h"
#include "common/status.h"
#include "gateway/route_table.h"

namespace skiff::gateway {

class RouteStore {
 public:
  explicit RouteStore(std::string state_dir) : state_dir_(std::move(state_dir)) {}

  // The persisted table; an empty table (version 0) when there is none yet.
  Result<std::shared_ptr<const RouteTable>> load() const;
  Status save(const RouteTable& table) const;
  const std::string& stateDir() const { return state_dir_; }

 private:
  std::string state_dir_;
};

}  // namespace skiff::gateway
