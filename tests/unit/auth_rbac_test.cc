#include "auth/rbac.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

#include "auth_test_support.h"
#include "model/kinds.h"

namespace skiff {
namespace {

// What each built-in role grants, written out independently of rbac.cc: resource -> verbs. A
// change to a built-in role must change this table (and docs/security.md) too.
using Grants = std::map<std::string, std::set<std::string>>;
const std::set<std::string> kAll = {"get", "list", "watch", "create", "update", "patch", "delete"};
const std::set<std::string> kRead = {"get", "list", "watch"};

const Grants& expectedGrants(const std::string& role) {
  static const std::map<std::string, Grants> table = [] {
    std::map<std::string, Grants> t;
    for (const auto& r : allResources()) t["platform-admin"][r] = kAll;
    t["tenant-admin"] = {
        {"applications", kAll},
        {"applications/status", kAll},
        {"applications/logs", kAll},
        {"applications/metrics", kAll},
        {"revisions", kAll},
        {"revisions/status", kAll},
        {"instances", kAll},
        {"instances/status", kAll},
        {"instances/logs", kAll},
        {"instances/exec", kAll},
        {"instances/metrics", kAll},
        {"rolebindings", kAll},
        {"rolebindings/status", kAll},
        {"configs", kAll},
        {"configs/status", kAll},
        {"secrets", kAll},
        {"secrets/status", kAll},
        {"volumes", kAll},
        {"volumes/status", kAll},
        {"events", kAll},
        {"events/status", kAll},
        {"alertrules", kAll},
        {"alertrules/status", kAll},
        {"receivers", kAll},
        {"receivers/status", kAll},
        {"silences", kAll},
        {"silences/status", kAll},
        {"images", kAll},
        {"metrics", kAll},
        {"auditevents", kAll},
        {"tenants", kRead},
    };
    t["developer"] = {
        {"applications", kAll},
        {"configs", kAll},
        {"secrets", kAll},
        {"volumes", kAll},
        {"alertrules", kAll},
        {"receivers", kAll},
        {"silences", kAll},
        {"revisions", kRead},
        {"instances", kRead},
        {"events", kRead},
        {"tenants", kRead},
        {"applications/logs", {"get"}},
        {"applications/metrics", {"get"}},
        {"instances/logs", {"get"}},
        {"instances/metrics", {"get"}},
        {"metrics", {"get"}},
        {"instances/exec", {"create"}},
        {"images", {"get", "list", "create"}},
    };
    t["viewer"] = {
        {"applications", kRead},
        {"configs", kRead},
        {"volumes", kRead},
        {"alertrules", kRead},
        {"receivers", kRead},
        {"silences", kRead},
        {"revisions", kRead},
        {"instances", kRead},
        {"events", kRead},
        {"tenants", kRead},
        {"rolebindings", kRead},
        {"applications/logs", {"get"}},
        {"applications/metrics", {"get"}},
        {"instances/logs", {"get"}},
        {"instances/metrics", {"get"}},
        {"metrics", {"get"}},
        {"images", {"get", "list"}},
    };
    return t;
  }();
  return table.at(role);
}

bool expectedAllows(const std::string& role, const std::string& verb, const std::string& resource) {
  const Grants& g = expectedGrants(role);
  auto it = g.find(resource);
  return it != g.end() && it->second.count(verb) > 0;
}

const std::vector<std::string> kRoles = {"platform-admin", "tenant-admin", "developer", "viewer"};

class RbacTest : public testing::AuthStoreTest {
 protected:
  Identity user(const std::string& name, std::vector<std::string> groups = {}) {
    Identity id;
    id.user = name;
    id.groups = std::move(groups);
    return id;
  }
};

TEST_F(RbacTest, BuiltinRolesMatchTheDocumentedTable) {
  for (const auto& role : kRoles) {
    const RoleDefinition* def = findBuiltinRole(role);
    ASSERT_NE(def, nullptr) << role;
    for (const auto& verb : allVerbs())
      for (const auto& resource : allResources())
        EXPECT_EQ(def->allows(verb, resource), expectedAllows(role, verb, resource))
            << role << " " << verb << " " << resource;
  }
  EXPECT_EQ(builtinRoles().size(), kRoles.size());
  EXPECT_EQ(findBuiltinRole("root"), nullptr);
}

// Every built-in role x every verb x every resource x binding scope (tenant acme or platform)
// x request scope (own tenant, another tenant, platform).
TEST_F(RbacTest, ExhaustiveMatrixOfRolesVerbsAndScopes) {
  Authorizer authorizer(*store_);
  struct Binding {
    std::string user;
    std::string role;
    std::string tenant;  // empty: platform
  };
  std::vector<Binding> bindings;
  for (const auto& role : kRoles) {
    bindings.push_back({"t-" + role, role, "acme"});
    bindings.push_back({"p-" + role, role, ""});
  }
  for (const auto& b : bindings) bind(b.role, b.user, b.tenant);
  // Noise: bindings of other users and in other tenants must not leak.
  bind("platform-admin", "someone-else", "");
  bind("tenant-admin", "t-viewer", "zeta");

  int checked = 0;
  for (const auto& b : bindings) {
    for (const std::string request_tenant : {"acme", "other", ""}) {
      for (const auto& verb : allVerbs()) {
        for (const auto& resource : allResources()) {
          bool in_scope = b.tenant.empty() || b.tenant == request_tenant;
          bool want = in_scope && expectedAllows(b.role, verb, resource);
          Decision d = authorizer.authorize(user(b.user), {verb, resource, request_tenant});
          ASSERT_EQ(d.allowed, want)
              << b.user << " (" << b.role << " bound "
              << (b.tenant.empty() ? "at platform" : "in " + b.tenant) << ") " << verb << " "
              << resource << " in \"" << request_tenant << "\": " << d.reason;
          if (!d.allowed) {
            std::string where = request_tenant.empty() ? "at platform scope"
                                                       : "in tenant \"" + request_tenant + "\"";
            EXPECT_EQ(d.reason,
                      "user \"" + b.user + "\" cannot " + verb + " " + resource + " " + where);
          }
          ++checked;
        }
      }
    }
  }
  EXPECT_EQ(checked, 8 * 3 * 7 * static_cast<int>(allResources().size()));
}

TEST_F(RbacTest, NobodyIsAllowedAnythingWithoutABinding) {
  Authorizer authorizer(*store_);
  Decision d = authorizer.authorize(user("bob"), {"create", "applications", "acme"});
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.reason, "user \"bob\" cannot create applications in tenant \"acme\"");
  EXPECT_EQ(authorizer.authorize(user("bob"), {"list", "users", ""}).reason,
            "user \"bob\" cannot list users at platform scope");
}

TEST_F(RbacTest, GroupsAreSubjects) {
  bind("developer", "ops", "acme", "Group");
  Authorizer authorizer(*store_);
  EXPECT_TRUE(
      authorizer.authorize(user("bob", {"ops"}), {"create", "applications", "acme"}).allowed);
  EXPECT_FALSE(authorizer.authorize(user("bob"), {"create", "applications", "acme"}).allowed);
  // A user named like the group is not a member of it.
  EXPECT_FALSE(authorizer.authorize(user("ops"), {"create", "applications", "acme"}).allowed);
}

TEST_F(RbacTest, AChangedOrDeletedBindingAppliesToTheNextDecision) {
  bind("developer", "bob", "acme");
  Authorizer authorizer(*store_);
  const AccessRequest create_app{"create", "applications", "acme"};
  ASSERT_TRUE(authorizer.authorize(user("bob"), create_app).allowed);  // now cached
  const ObjectKey key{"RoleBinding", "acme", "developer-bob-1"};
  Object binding = store_->get(key).value()->object();
  binding.spec["role"] = "viewer";
  ASSERT_TRUE(store_->update(binding).ok());
  EXPECT_FALSE(authorizer.authorize(user("bob"), create_app).allowed);
  EXPECT_TRUE(authorizer.authorize(user("bob"), {"list", "applications", "acme"}).allowed);
  ASSERT_TRUE(store_->remove(key).ok());
  EXPECT_FALSE(authorizer.authorize(user("bob"), {"list", "applications", "acme"}).allowed);
}

TEST_F(RbacTest, CustomRolesFromTheStore) {
  create("Role", "", "log-reader",
         {{"rules",
           {{{"verbs", {"get"}}, {"resources", {"instances/*"}}},
            {{"verbs", {"*"}}, {"resources", {"images"}}}}}});
  bind("log-reader", "bob", "acme");
  Authorizer authorizer(*store_);
  Identity bob = user("bob");
  EXPECT_TRUE(authorizer.authorize(bob, {"get", "instances/logs", "acme"}).allowed);
  EXPECT_TRUE(authorizer.authorize(bob, {"get", "instances/exec", "acme"}).allowed);
  EXPECT_FALSE(authorizer.authorize(bob, {"get", "instances", "acme"}).allowed);
  EXPECT_FALSE(authorizer.authorize(bob, {"list", "instances/logs", "acme"}).allowed);
  EXPECT_TRUE(authorizer.authorize(bob, {"delete", "images", "acme"}).allowed);
  EXPECT_FALSE(authorizer.authorize(bob, {"delete", "images", "beta"}).allowed);
}

TEST_F(RbacTest, StoredRolesCannotRedefineBuiltinOnes) {
  create("Role", "", "viewer", {{"rules", {{{"verbs", {"*"}}, {"resources", {"*"}}}}}});
  bind("viewer", "bob", "acme");
  Authorizer authorizer(*store_);
  EXPECT_TRUE(authorizer.authorize(user("bob"), {"get", "applications", "acme"}).allowed);
  EXPECT_FALSE(authorizer.authorize(user("bob"), {"delete", "applications", "acme"}).allowed);
}

TEST_F(RbacTest, BindingsToMissingRolesGrantNothing) {
  bind("no-such-role", "bob", "acme");
  Authorizer authorizer(*store_);
  EXPECT_FALSE(authorizer.authorize(user("bob"), {"get", "applications", "acme"}).allowed);
  EXPECT_EQ(authorizer.findRole("no-such-role").status().code(), StatusCode::kNotFound);
}

TEST_F(RbacTest, TenantsPermittedFiltersLists) {
  bind("developer", "bob", "acme");
  bind("viewer", "bob", "beta");
  bind("viewer", "ops", "gamma", "Group");
  bind("platform-admin", "root", "");
  Authorizer authorizer(*store_);
  Identity bob = user("bob", {"ops"});

  TenantSet read = authorizer.tenantsPermitted(bob, "list", "applications");
  EXPECT_FALSE(read.all);
  EXPECT_EQ(read.tenants, (std::set<std::string>{"acme", "beta", "gamma"}));
  TenantSet write = authorizer.tenantsPermitted(bob, "create", "applications");
  EXPECT_EQ(write.tenants, (std::set<std::string>{"acme"}));
  EXPECT_TRUE(authorizer.tenantsPermitted(bob, "list", "auditevents").empty());
  TenantSet tenants = authorizer.tenantsPermitted(bob, "get", "tenants");
  EXPECT_EQ(tenants.tenants, (std::set<std::string>{"acme", "beta", "gamma"}));

  TenantSet everything = authorizer.tenantsPermitted(user("root"), "delete", "instances");
  EXPECT_TRUE(everything.all);
  EXPECT_TRUE(everything.contains("anything"));
  EXPECT_TRUE(authorizer.tenantsPermitted(user("nobody"), "list", "applications").empty());
}

// A token scope is intersected with the user's permissions: for every request, the token is
// allowed only if the user is, and only if the scope allows it too.
TEST_F(RbacTest, TokenScopesNarrowButNeverWiden) {
  bind("developer", "dev", "acme");
  bind("viewer", "dev", "beta");
  bind("viewer", "watcher", "acme");
  bind("platform-admin", "root", "");
  Authorizer authorizer(*store_);

  const std::vector<TokenScope> scopes = {
      {{}, {}},
      {{"platform-admin"}, {}},
      {{"viewer"}, {}},
      {{"developer", "viewer"}, {}},
      {{}, {"acme"}},
      {{}, {"beta", "zeta"}},
      {{"platform-admin"}, {"acme"}},
      {{"tenant-admin"}, {"beta"}},
  };
  for (const std::string name : {"dev", "watcher", "root", "nobody"}) {
    for (const TokenScope& scope : scopes) {
      Identity plain = user(name);
      Identity scoped = plain;
      scoped.token_id = "0123456789abcdef";
      scoped.scope = scope;
      for (const std::string tenant : {"acme", "beta", "zeta", ""}) {
        for (const auto& verb : allVerbs()) {
          for (const auto& resource : allResources()) {
            AccessRequest req{verb, resource, tenant};
            bool user_ok = authorizer.authorize(plain, req).allowed;
            bool tenant_ok = scope.tenants.empty() ||
                             std::find(scope.tenants.begin(), scope.tenants.end(), tenant) !=
                                 scope.tenants.end();
            bool role_ok = scope.roles.empty();
            for (const auto& r : scope.roles)
              role_ok = role_ok || expectedAllows(r, verb, resource);
            Decision d = authorizer.authorize(scoped, req);
            ASSERT_EQ(d.allowed, user_ok && tenant_ok && role_ok)
                << name << " " << verb << " " << resource << " in \"" << tenant
                << "\": " << d.reason;
          }
        }
      }
    }
  }
}

TEST_F(RbacTest, TokenDenialsNameTheScope) {
  bind("platform-admin", "root", "");
  Authorizer authorizer(*store_);
  Identity root = user("root");
  root.token_id = "0123456789abcdef";
  root.scope = TokenScope{{"viewer"}, {"acme"}};
  EXPECT_EQ(authorizer.authorize(root, {"delete", "applications", "acme"}).reason,
            "token \"0123456789abcdef\" of user \"root\" cannot delete applications in tenant "
            "\"acme\": the token is limited to roles \"viewer\"");
  EXPECT_EQ(authorizer.authorize(root, {"get", "applications", "beta"}).reason,
            "token \"0123456789abcdef\" of user \"root\" cannot get applications in tenant "
            "\"beta\": the token is limited to tenants \"acme\"");
  EXPECT_EQ(authorizer.authorize(root, {"list", "users", ""}).reason,
            "token \"0123456789abcdef\" of user \"root\" cannot list users at platform scope: "
            "the token is limited to tenants \"acme\"");

  TenantSet listed = authorizer.tenantsPermitted(root, "list", "applications");
  EXPECT_EQ(listed.tenants, (std::set<std::string>{"acme"}));
  EXPECT_FALSE(listed.all);
  EXPECT_TRUE(authorizer.tenantsPermitted(root, "delete", "applications").empty());
}

TEST_F(RbacTest, BindingsCannotEscalate) {
  bind("tenant-admin", "ta", "acme");
  bind("developer", "dev", "acme");
  bind("platform-admin", "root", "");
  Authorizer authorizer(*store_);

  for (const auto& role : {"tenant-admin", "developer", "viewer"})
    EXPECT_TRUE(authorizer.authorizeBinding(user("ta"), role, "acme").allowed) << role;
  Decision up = authorizer.authorizeBinding(user("ta"), "platform-admin", "acme");
  EXPECT_FALSE(up.allowed);
  EXPECT_EQ(up.reason.rfind("user \"ta\" cannot bind role \"platform-admin\" in tenant \"acme\": "
                            "user \"ta\" cannot ",
                            0),
            0u)
      << up.reason;
  EXPECT_FALSE(authorizer.authorizeBinding(user("ta"), "viewer", "beta").allowed);
  EXPECT_FALSE(authorizer.authorizeBinding(user("ta"), "viewer", "").allowed);

  EXPECT_TRUE(authorizer.authorizeBinding(user("dev"), "developer", "acme").allowed);
  EXPECT_FALSE(authorizer.authorizeBinding(user("dev"), "viewer", "acme").allowed);  // bindings

  for (const auto& role : kRoles) {
    EXPECT_TRUE(authorizer.authorizeBinding(user("root"), role, "").allowed) << role;
    EXPECT_TRUE(authorizer.authorizeBinding(user("root"), role, "acme").allowed) << role;
  }
  Decision missing = authorizer.authorizeBinding(user("root"), "no-such-role", "acme");
  EXPECT_FALSE(missing.allowed);
  EXPECT_EQ(missing.reason, "role \"no-such-role\" does not exist");
}

}  // namespace
}  // namespace skiff
