#include "model/kinds.h"

#include <strings.h>

#include <algorithm>
#include <string>

namespace skiff {
namespace {

// Subresources and endpoints that are not kinds. All can be addressed inside a tenant; metrics
// and auditevents also at platform scope (the whole platform's).
constexpr const char* kExtraResources[] = {
    "applications/logs", "applications/metrics", "instances/logs",
    "instances/exec",    "instances/metrics",    "images",
    "metrics",           "auditevents",
};
// Platform operations, never inside a tenant: rotating the key that seals secrets, reading the
// platform's own components' logs (server, gateway).
constexpr const char* kPlatformResources[] = {"encryptionkeys", "platformlogs"};

std::vector<std::string> collectResources(bool tenant_only) {
  std::vector<std::string> out;
  for (const KindInfo& k : allKinds()) {
    if (tenant_only && k.scope != Scope::kTenant) continue;
    out.push_back(k.plural);
    out.push_back(std::string(k.plural) + "/status");
  }
  for (const char* r : kExtraResources) out.push_back(r);
  if (!tenant_only)
    for (const char* r : kPlatformResources) out.push_back(r);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

const std::vector<KindInfo>& allKinds() {
  static const std::vector<KindInfo> kinds = {
      {"Tenant", "tenants", "tenant", Scope::kPlatform, true},
      {"Application", "applications", "app", Scope::kTenant, true},
      {"Revision", "revisions", "rev", Scope::kTenant, false},
      {"Instance", "instances", "inst", Scope::kTenant, true},
      {"Config", "configs", "cfg", Scope::kTenant, true},
      // Sealed at rest (secrets/keyring.h); only callers allowed to get secrets read them.
      {"Secret", "secrets", "secret", Scope::kTenant, true},
      // Created by the node agent for a component's persistent volume (or ahead of it by a
      // user); its data outlives instances and goes only when the Volume is deleted.
      {"Volume", "volumes", "vol", Scope::kTenant, true},
      // What happened to instances and applications (controller/event_controller.h).
      {"Event", "events", "ev", Scope::kTenant, false},
      // Alerting (alert/, docs/alerting.md): conditions on metrics, logs and events, where
      // their notifications go, and when they are kept quiet. Their status is Skiff's.
      {"AlertRule", "alertrules", "ar", Scope::kTenant, true},
      {"Receiver", "receivers", "rcv", Scope::kTenant, true},
      {"Silence", "silences", "sil", Scope::kTenant, true},
      // A Kubernetes cluster applications may target (spec.cluster); sealed at rest, since it
      // carries credentials, and platform-scoped: only platform admins read it.
      {"Cluster", "clusters", "cluster", Scope::kPlatform, true},
      {"User", "users", "user", Scope::kPlatform, true},
      {"Role", "roles", "role", Scope::kPlatform, true},
      {"RoleBinding", "rolebindings", "rb", Scope::kTenant, true},
      {"PlatformRoleBinding", "platformrolebindings", "prb", Scope::kPlatform, true},
      // Created through the token endpoint (auth/authenticator.h), which returns the secret
      // once; deleting one revokes it.
      {"Token", "tokens", "token", Scope::kPlatform, true},
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

const std::vector<std::string>& allVerbs() {
  static const std::vector<std::string> verbs = {kVerbGet,    kVerbList,  kVerbWatch, kVerbCreate,
                                                 kVerbUpdate, kVerbPatch, kVerbDelete};
  return verbs;
}

const std::vector<std::string>& allResources() {
  static const std::vector<std::string> resources = collectResources(false);
  return resources;
}

const std::vector<std::string>& tenantResources() {
  static const std::vector<std::string> resources = collectResources(true);
  return resources;
}

bool isRbacResource(std::string_view resource) {
  if (resource == kRbacWildcard) return true;
  const auto& all = allResources();
  if (resource.size() > 2 && resource.substr(resource.size() - 2) == "/*")
    resource.remove_suffix(2);
  return std::find(all.begin(), all.end(), resource) != all.end();
}

}  // namespace skiff
