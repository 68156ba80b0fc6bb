// RouteStore: keeps the last route table the gateway accepted, so a restarted gateway serves
// the same routes before the control plane pushes again.
//
// STATE_DIR/routes.json holds a whole table, replaced atomically (write a temporary file,
// fsync, rename, fsync the directory). The deltas accepted since (PATCH /routes) are appended
// to STATE_DIR/routes.journal, one JSON line each, fdatasync'ed before the delta is served: a
// delta costs its own size on disk, not the table's. Once the journal outgrows the table it is
// folded into a new routes.json. Loading applies the journal's complete lines to routes.json in
// order; a torn last line (a crash mid-append) is cut off. Not thread-safe; the admin server's
// thread owns it.
#pragma once

#include <cstdint>
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
  Result<std::shared_ptr<const RouteTable>> load();
  // Replaces everything with `table`.
  Status save(const RouteTable& table);
  // Records `delta` (its JSON text, one line), which made `result` of the saved table.
  Status append(std::string_view delta, const RouteTable& result);
  const std::string& stateDir() const { return state_dir_; }

 private:
  std::string tablePath() const { return state_dir_ + "/routes.json"; }
  std::string journalPath() const { return state_dir_ + "/routes.journal"; }

  std::string state_dir_;
  uint64_t table_bytes_ = 0;    // of routes.json
  uint64_t journal_bytes_ = 0;  // of routes.journal
};

}  // namespace skiff::gateway
