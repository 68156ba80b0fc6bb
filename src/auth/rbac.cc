#include "auth/rbac.h"

#include <algorithm>
#include <map>
#include <optional>

#include "model/kinds.h"
#include "store/store.h"

namespace skiff {
namespace {

bool listed(const std::vector<std::string>& items, std::string_view item) {
  return std::find(items.begin(), items.end(), item) != items.end();
}

bool resourceMatches(std::string_view pattern, std::string_view resource) {
  if (pattern == kRbacWildcard || pattern == resource) return true;
  // "instances/*": every subresource of instances, but not instances itself.
  if (pattern.size() > 2 && pattern.substr(pattern.size() - 2) == "/*") {
    std::string_view base = pattern.substr(0, pattern.size() - 1);  // "instances/"
    return resource.size() > base.size() && resource.substr(0, base.size()) == base;
  }
  return false;
}

std::string where(const std::string& tenant) {
  return tenant.empty() ? "at platform scope" : "in tenant \"" + tenant + "\"";
}

std::string quotedList(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "\"" : ", \"") + i + "\"";
  return out;
}

std::string permission(const AccessRequest& r) {
  return r.verb + " " + r.resource + " " + where(r.tenant);
}

std::vector<RoleDefinition> buildBuiltinRoles() {
  const std::vector<std::string> read = {kVerbGet, kVerbList, kVerbWatch};
  const std::vector<std::string> get = {kVerbGet};
  const std::vector<std::string> observe = {"applications/logs", "applications/metrics",
                                            "instances/logs", "instances/metrics", "metrics"};
  std::vector<RoleDefinition> roles;
  roles.push_back({kPlatformAdminRole,
                   "everything, everywhere: every tenant and the platform's own resources",
                   {{{kRbacWildcard}, {kRbacWildcard}}}});
  roles.push_back(
      {kTenantAdminRole,
       "everything inside the tenant, including its members (bindings); reads its Tenant object",
       {{{kRbacWildcard}, tenantResources()}, {read, {"tenants"}}}});
  roles.push_back(
      {kDeveloperRole,
       "manages applications and their configs, secrets, volumes and alerting (rules, "
       "receivers, silences), reads what runs, follows logs and metrics, execs into "
       "instances and pushes images in the tenant",
       {{{kRbacWildcard},
         {"applications", "configs", "secrets", "volumes", "alertrules", "receivers", "silences"}},
        {read, {"revisions", "instances", "events", "tenants"}},
        {get, observe},
        {{kVerbCreate}, {"instances/exec"}},
        {{kVerbGet, kVerbList, kVerbCreate}, {"images"}}}});
  roles.push_back({kViewerRole,
                   "reads everything in the tenant (logs and metrics included) except secrets; "
                   "changes nothing",
                   {{read,
                     {"applications", "revisions", "instances", "events", "tenants", "rolebindings",
                      "configs", "volumes", "alertrules", "receivers", "silences"}},
                    {get, observe},
                    {{kVerbGet, kVerbList}, {"images"}}}});
  return roles;
}

// Roles resolved during one decision, so a role named by several bindings is read once.
using RoleCache = std::map<std::string, std::optional<RoleDefinition>, std::less<>>;

}  // namespace

bool PolicyRule::matches(std::string_view verb, std::string_view resource) const {
  bool verb_ok = listed(verbs, kRbacWildcard) || listed(verbs, verb);
  if (!verb_ok) return false;
  return std::any_of(resources.begin(), resources.end(),
                     [&](const std::string& p) { return resourceMatches(p, resource); });
}

bool RoleDefinition::allows(std::string_view verb, std::string_view resource) const {
  return std::any_of(rules.begin(), rules.end(),
                     [&](const PolicyRule& r) { return r.matches(verb, resource); });
}

const std::vector<RoleDefinition>& builtinRoles() {
  static const std::vector<RoleDefinition> roles = buildBuiltinRoles();
  return roles;
}

const RoleDefinition* findBuiltinRole(std::string_view name) {
  for (const auto& r : builtinRoles())
    if (r.name == name) return &r;
  return nullptr;
}

Result<RoleDefinition> Authorizer::findRole(std::string_view name) const {
  if (const RoleDefinition* builtin = findBuiltinRole(name)) return *builtin;
  auto stored = store_.get({"Role", "", std::string(name)});
  if (!stored.ok()) return notFound("role \"" + std::string(name) + "\" does not exist");
  Object role = (*stored)->object();
  RoleDefinition def{std::string(name), role.spec.value("description", ""), {}};
  auto rules = role.spec.find("rules");
  if (rules != role.spec.end() && rules->is_array()) {
    for (const json& r : *rules)
      if (r.is_object()) def.rules.push_back({stringsAt(r, "verbs"), stringsAt(r, "resources")});
  }
  return def;
}

namespace {}  // namespace

struct Authorizer::ParsedBinding {
  std::string role;
  std::vector<std::string> users;
  std::vector<std::string> groups;
};

Authorizer::Authorizer(const Store& store) : store_(store) {}
Authorizer::~Authorizer() = default;

std::shared_ptr<const Authorizer::ParsedBinding> Authorizer::parsed(
    const StoredObject& binding) const {
  {
    std::lock_guard lock(cache_mu_);
    auto it = cache_.find(binding.metadata.uid);
    if (it != cache_.end() && it->second.first == binding.metadata.resource_version)
      return it->second.second;
  }
  auto p = std::make_shared<ParsedBinding>();
  const Object b = binding.object();
  p->role = b.spec.value("role", "");
  auto subjects = b.spec.find("subjects");
  if (subjects != b.spec.end() && subjects->is_array()) {
    for (const json& subject : *subjects) {
      if (!subject.is_object()) continue;
      const std::string kind = subject.value("kind", "");
      if (kind == "User") p->users.push_back(subject.value("name", ""));
      if (kind == "Group") p->groups.push_back(subject.value("name", ""));
    }
  }
  std::lock_guard lock(cache_mu_);
  // Deleted bindings leave entries behind; start over now and then rather than track them.
  if (cache_.size() > 10000) cache_.clear();
  cache_[binding.metadata.uid] = {binding.metadata.resource_version, p};
  return p;
}

// Whether one binding object gives `identity` a role that allows verb on resource.
bool Authorizer::grants(const StoredObject& binding, const Identity& identity,
                        std::string_view verb, std::string_view resource, RoleCache& roles) const {
  const std::shared_ptr<const ParsedBinding> b = parsed(binding);
  bool subject = listed(b->users, identity.user);
  for (size_t i = 0; !subject && i < identity.groups.size(); ++i)
    subject = listed(b->groups, identity.groups[i]);
  if (!subject) return false;
  auto it = roles.find(b->role);
  if (it == roles.end()) {
    auto found = findRole(b->role);
    it = roles.emplace(b->role, found.ok() ? std::optional(*found) : std::nullopt).first;
  }
  return it->second.has_value() && it->second->allows(verb, resource);
}

bool Authorizer::userAllows(const Identity& identity, const AccessRequest& request) const {
  RoleCache roles;
  for (const auto& b : store_.list("PlatformRoleBinding", {}).items)
    if (grants(*b, identity, request.verb, request.resource, roles)) return true;
  if (request.tenant.empty()) return false;
  ListOptions in_tenant;
  in_tenant.tenant = request.tenant;
  for (const auto& b : store_.list("RoleBinding", in_tenant).items)
    if (grants(*b, identity, request.verb, request.resource, roles)) return true;
  return false;
}

std::string Authorizer::scopeDenial(const Identity& identity, const AccessRequest& request) const {
  if (!identity.scope) return "";
  const TokenScope& scope = *identity.scope;
  std::string who = "token \"" + identity.token_id + "\" of user \"" + identity.user + "\"";
  if (!scope.tenants.empty() && (request.tenant.empty() || !listed(scope.tenants, request.tenant)))
    return who + " cannot " + permission(request) + ": the token is limited to tenants " +
           quotedList(scope.tenants);
  if (!scope.roles.empty()) {
    bool any = false;
    for (const auto& name : scope.roles) {
      auto role = findRole(name);
      if (role.ok() && role->allows(request.verb, request.resource)) {
        any = true;
        break;
      }
    }
    if (!any)
      return who + " cannot " + permission(request) + ": the token is limited to roles " +
             quotedList(scope.roles);
  }
  return "";
}

Decision Authorizer::authorize(const Identity& identity, const AccessRequest& request) const {
  if (!userAllows(identity, request))
    return {false, "user \"" + identity.user + "\" cannot " + permission(request)};
  if (std::string denial = scopeDenial(identity, request); !denial.empty()) return {false, denial};
  return {true, ""};
}

TenantSet Authorizer::tenantsPermitted(const Identity& identity, std::string_view verb,
                                       std::string_view resource) const {
  TenantSet out;
  if (identity.scope && !identity.scope->roles.empty()) {
    bool any = false;
    for (const auto& name : identity.scope->roles) {
      auto role = findRole(name);
      any = any || (role.ok() && role->allows(verb, resource));
    }
    if (!any) return out;
  }
  RoleCache roles;
  for (const auto& b : store_.list("PlatformRoleBinding", {}).items) {
    if (grants(*b, identity, verb, resource, roles)) {
      out.all = true;
      break;
    }
  }
  if (!out.all) {
    for (const auto& b : store_.list("RoleBinding", {}).items) {
      if (out.tenants.count(b->metadata.tenant) == 0 && grants(*b, identity, verb, resource, roles))
        out.tenants.insert(b->metadata.tenant);
    }
  }
  if (identity.scope && !identity.scope->tenants.empty()) {
    TenantSet limited;
    for (const auto& t : identity.scope->tenants)
      if (out.contains(t)) limited.tenants.insert(t);
    return limited;
  }
  return out;
}

Decision Authorizer::authorizeBinding(const Identity& identity, std::string_view role,
                                      const std::string& tenant) const {
  auto def = findRole(role);
  if (!def.ok()) return {false, def.status().message()};
  const std::string bind = "user \"" + identity.user + "\" cannot bind role \"" +
                           std::string(role) + "\" " + where(tenant) + ": ";
  for (const PolicyRule& rule : def->rules) {
    std::vector<std::string> verbs = listed(rule.verbs, kRbacWildcard) ? allVerbs() : rule.verbs;
    std::vector<std::string> resources;
    for (const auto& pattern : rule.resources) {
      if (pattern.find('*') == std::string::npos) {
        resources.push_back(pattern);
        continue;
      }
      for (const auto& r : allResources())
        if (resourceMatches(pattern, r)) resources.push_back(r);
    }
    for (const auto& v : verbs) {
      for (const auto& r : resources) {
        Decision d = authorize(identity, {v, r, tenant});
        if (!d.allowed) return {false, bind + d.reason};
      }
    }
  }
  return {true, ""};
}

}  // namespace skiff
