#include "model/kinds.h"

#include <strings.h>

#include <string>

namespace skiff {

const std::vector<KindInfo>& allKinds() {
  static const std::vector<KindInfo> kinds = {
      {"Tenant", "tenants", "tenant", Scope::kPlatform, true},
      {"Application", "applications", "app", Scope::kTenant, true},
      {"Revision", "revisions", "rev", Scope::kTenant, false},
      {"Instance", "instances", "inst", Scope::kTenant, true},
  };
  return kinds;
}

const KindInfo* findKind(std::string_view name) {
  std::string n(name);
  for (const auto& k : allKinds()) {
    if (strcasecmp(n.c_str(), k.kind) == 0 || strcasecmp(n.c_str(), k.plural) == 0 ||
        strcasecmp(n.c_str(), k.short_name) == 0)
      return &k;
  }
  return nullptr;
}

}  // namespace skiff
