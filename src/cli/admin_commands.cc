// `skiff admin ...`: operations on the platform itself, for platform admins.
#include <ostream>

#include "cli/subcommands.h"

namespace skiff::cli {

int runAdminRotateKey(CommandContext& ctx) {
  auto rotated = ctx.client.request("POST", "/api/v1/admin/rotate-key");
  if (!rotated.ok()) return reportError(ctx.err, rotated.status());
  ctx.out << "secrets are now sealed under key " << rotated->value("keyId", std::string("?"))
          << " (" << rotated->value("resealed", 0) << " stored rows re-sealed, "
          << rotated->value("retiredKeys", json::array()).size() << " old keys retired)\n";
  return 0;
}

}  // namespace skiff::cli
