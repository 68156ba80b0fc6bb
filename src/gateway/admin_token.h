// The gateway's admin token: a random secret in STATE_DIR/admin-token (mode 0600) that the
// admin API requires, as "Authorization: Bearer <token>", on /routes. The gateway makes it on
// its first start and keeps it across restarts; the control plane, which owns the state
// directory, reads it to publish routes. Anyone else on the machine reaching the admin port
// can read /healthz and /metrics but not read or replace the route table.
// Thread-safe pure functions.
#pragma once

#include <string>

#include "common/status.h"

namespace skiff::gateway {

inline constexpr const char* kAdminTokenFile = "admin-token";

// The token in `state_dir`, made (and saved) if there is none yet.
Result<std::string> ensureAdminToken(const std::string& state_dir);
// The token in `state_dir`; empty if there is none (the gateway has not started yet).
std::string readAdminToken(const std::string& state_dir);

}  // namespace skiff::gateway
