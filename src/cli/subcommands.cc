#include "cli/subcommands.h"

#include <ostream>

namespace skiff::cli {

const std::string& TenantOption::effective() const {
  static const std::string kDefault = kDefaultTenant;
  return tenant.empty() ? kDefault : tenant;
}

int reportError(std::ostream& err, const Status& status) {
  err << "error: " << status.message() << "\n";
  for (const auto& f : status.fields()) {
    err << "  " << (f.path.empty() ? std::string("(object)") : f.path) << ": " << f.message << "\n";
  }
  return 1;
}

Result<const KindInfo*> resolveKind(const std::string& name) {
  if (const KindInfo* kind = findKind(name)) return kind;
  // "apps", "revs": the plural of a short name, as people type it after kubectl.
  if (name.size() > 1 && (name.back() == 's' || name.back() == 'S')) {
    const KindInfo* kind = findKind(std::string_view(name).substr(0, name.size() - 1));
    if (kind != nullptr) return kind;
  }
  std::string known;
  for (const auto& k : allKinds()) {
    if (!known.empty()) known += ", ";
    known += std::string(k.plural) + " (" + k.short_name + ")";
  }
  return badRequest("unknown kind \"" + name + "\": use one of " + known);
}

int runVersion(CommandContext& ctx) {
  ctx.out << "Client Version: " << SKIFF_VERSION << "\n";
  auto server = ctx.client.serverVersion();
  if (!server.ok()) {
    ctx.out << "Server Version: unreachable (" << server.status().message() << ")\n";
    return 1;
  }
  ctx.out << "Server Version: " << server->value("version", std::string("unknown")) << "\n";
  return 0;
}

}  // namespace skiff::cli
