// Role-based access control: roles are sets of verbs on resources (model/kinds.h names both);
// bindings give a role to users and groups, either in one tenant (RoleBinding, tenant-scoped)
// or at platform scope (PlatformRoleBinding), where it applies in every tenant and to the
// platform's own resources. docs/security.md describes the model and the built-in roles.
//
// Addressing: a request names a verb, a resource and the tenant it is made in; the tenant is
// empty for platform-scoped resources (users, roles, ...) and cross-tenant lists. A request on
// one Tenant object (get/update/delete of tenant "acme") is made in that tenant, so a
// tenant's own bindings govern it; listing tenants is platform-scoped and filtered with
// tenantsPermitted().
//
// The Authorizer reads bindings and roles from the Store on every call (they are in memory
// there; parsed bindings are cached per version), so changes apply to the next request.
// Thread-safe.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "auth/identity.h"
#include "common/status.h"

namespace skiff {

class Store;
struct StoredObject;

inline constexpr const char* kPlatformAdminRole = "platform-admin";
inline constexpr const char* kTenantAdminRole = "tenant-admin";
inline constexpr const char* kDeveloperRole = "developer";
inline constexpr const char* kViewerRole = "viewer";

// One rule of a role: every listed verb on every listed resource. "*" matches every verb or
// resource; "<resource>/*" every subresource of <resource>.
struct PolicyRule {
  std::vector<std::string> verbs;
  std::vector<std::string> resources;

  bool matches(std::string_view verb, std::string_view resource) const;
};

struct RoleDefinition {
  std::string name;
  std::string description;
  std::vector<PolicyRule> rules;

  bool allows(std::string_view verb, std::string_view resource) const;
};

// platform-admin, tenant-admin, developer, viewer. They are defined here, not in the store: a
// Role object with one of these names is ignored (the API should refuse to create one).
const std::vector<RoleDefinition>& builtinRoles();
// nullptr if `name` is not a built-in role.
const RoleDefinition* findBuiltinRole(std::string_view name);

struct AccessRequest {
  std::string verb;      // "create"
  std::string resource;  // "applications", "instances/exec"
  std::string tenant;    // "acme"; empty: platform scope
};

struct Decision {
  bool allowed = false;
  // On denial, the missing permission for a 403, e.g.
  //   user "bob" cannot create applications in tenant "acme"
  std::string reason;
};

class Authorizer {
 public:
  explicit Authorizer(const Store& store);
  ~Authorizer();

  Decision authorize(const Identity& identity, const AccessRequest& request) const;

  // Where `identity` may `verb` `resource`: for filtering cross-tenant lists and watches (and,
  // with resource "tenants", the list of tenants). Platform-scoped requests are not included:
  // ask authorize() with an empty tenant for those.
  TenantSet tenantsPermitted(const Identity& identity, std::string_view verb,
                             std::string_view resource) const;

  // Guards against privilege escalation through bindings (Kubernetes' "escalate" rule): a
  // binding of `role` in `tenant` (empty: platform scope) may be created or changed only by
  // someone who holds every permission of that role there. "*" in the role is expanded to
  // every known verb and resource. Call it, besides authorize(), for every write of a
  // RoleBinding or PlatformRoleBinding. Denies if the role does not exist.
  Decision authorizeBinding(const Identity& identity, std::string_view role,
                            const std::string& tenant) const;

  // A built-in role, or a Role object's rules; kNotFound if neither exists.
  Result<RoleDefinition> findRole(std::string_view name) const;

 private:
  // Whether the user's own bindings (ignoring any token scope) allow the request.
  bool userAllows(const Identity& identity, const AccessRequest& request) const;
  // The check of a token's scope alone; empty string if it allows the request.
  std::string scopeDenial(const Identity& identity, const AccessRequest& request) const;

  // A binding's role and subjects, parsed once per version of the binding: every request
  // consults the bindings, and parsing their JSON each time would dominate the decision.
  struct ParsedBinding;
  std::shared_ptr<const ParsedBinding> parsed(const StoredObject& binding) const;
  bool grants(const StoredObject& binding, const Identity& identity, std::string_view verb,
              std::string_view resource,
              std::map<std::string, std::optional<RoleDefinition>, std::less<>>& roles) const;

  const Store& store_;
  mutable std::mutex cache_mu_;
  // By uid: the resourceVersion parsed and what it holds. Guarded by cache_mu_.
  mutable std::unordered_map<std::string, std::pair<int64_t, std::shared_ptr<const ParsedBinding>>>
      cache_;
};

}  // namespace skiff
