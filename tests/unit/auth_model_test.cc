#include <gtest/gtest.h>

#include "model/kinds.h"
#include "model/validation.h"

namespace skiff {
namespace {

Result<Object> admit(const std::string& kind, const std::string& tenant, json spec) {
  json doc = {{"apiVersion", kApiVersion},
              {"kind", kind},
              {"metadata", {{"name", "x"}}},
              {"spec", std::move(spec)}};
  return admitObject(doc, {kind, tenant});
}

std::vector<std::string> paths(const Result<Object>& r) {
  std::vector<std::string> out;
  for (const auto& f : r.status().fields()) out.push_back(f.path);
  return out;
}

TEST(AuthModelTest, IdentityKindsAreServedAndCredentialsAreNot) {
  for (const char* name : {"users", "roles", "rolebindings", "rb", "platformrolebindings", "prb",
                           "tokens", "User", "Token"})
    EXPECT_NE(findKind(name), nullptr) << name;
  EXPECT_EQ(findKind("RoleBinding")->scope, Scope::kTenant);
  EXPECT_EQ(findKind("PlatformRoleBinding")->scope, Scope::kPlatform);
  EXPECT_EQ(findKind(kCredentialKind), nullptr);
  EXPECT_EQ(findKind(kTokenSecretKind), nullptr);
}

TEST(AuthModelTest, RbacVocabulary) {
  EXPECT_EQ(allVerbs().size(), 7u);
  for (const char* r : {"applications", "applications/status", "instances/logs", "instances/exec",
                        "users", "tokens", "images", "metrics", "auditevents", "*", "instances/*"})
    EXPECT_TRUE(isRbacResource(r)) << r;
  for (const char* r : {"", "application", "instances/log", "nothing/*", "**"})
    EXPECT_FALSE(isRbacResource(r)) << r;
  const auto& tenant = tenantResources();
  EXPECT_NE(std::find(tenant.begin(), tenant.end(), "rolebindings"), tenant.end());
  EXPECT_EQ(std::find(tenant.begin(), tenant.end(), "users"), tenant.end());
  EXPECT_EQ(std::find(tenant.begin(), tenant.end(), "tenants"), tenant.end());
}

TEST(AuthModelTest, UserSpec) {
  auto ok = admit("User", "",
                  {{"displayName", "Bob"}, {"email", "bob@example.com"}, {"groups", {"ops"}}});
  ASSERT_TRUE(ok.ok()) << ok.status().toString();
  EXPECT_EQ(ok->spec["disabled"], false);
  auto bad = admit("User", "", {{"email", "bob"}, {"groups", {"Not Valid"}}, {"password", "x"}});
  EXPECT_EQ(paths(bad),
            (std::vector<std::string>{"spec.groups[0]", "spec.password", "spec.email"}));
}

TEST(AuthModelTest, RoleSpec) {
  auto ok = admit("Role", "",
                  {{"rules", {{{"verbs", {"get", "list"}}, {"resources", {"instances/*"}}}}}});
  ASSERT_TRUE(ok.ok()) << ok.status().toString();
  auto bad = admit("Role", "",
                   {{"rules",
                     {{{"verbs", {"fly"}}, {"resources", {"planes", "*"}}},
                      {{"verbs", json::array()}, {"resources", {"users"}}}}}});
  EXPECT_EQ(paths(bad), (std::vector<std::string>{"spec.rules[0].verbs[0]", "spec.rules[1].verbs",
                                                  "spec.rules[0].resources[0]"}));
  EXPECT_FALSE(admit("Role", "", json::object()).ok());
}

TEST(AuthModelTest, BindingSpecs) {
  json spec = {{"role", "developer"}, {"subjects", {{{"kind", "Group"}, {"name", "ops"}}}}};
  EXPECT_TRUE(admit("RoleBinding", "acme", spec).ok());
  EXPECT_TRUE(admit("PlatformRoleBinding", "", spec).ok());
  json bad = {{"role", "developer"}, {"subjects", {{{"kind", "Robot"}, {"name", "r2"}}}}};
  EXPECT_EQ(paths(admit("RoleBinding", "acme", bad)),
            std::vector<std::string>{"spec.subjects[0].kind"});
  EXPECT_EQ(paths(admit("RoleBinding", "acme", {{"role", "viewer"}, {"subjects", json::array()}})),
            std::vector<std::string>{"spec.subjects"});
}

TEST(AuthModelTest, TokenSpec) {
  json spec = {{"user", "bob"}, {"expiresAt", "2026-01-31T00:00:00Z"}, {"tenants", {"acme"}}};
  auto ok = admit("Token", "", spec);
  ASSERT_TRUE(ok.ok()) << ok.status().toString();
  EXPECT_EQ(ok->spec["type"], "api");
  spec["expiresAt"] = "next week";
  EXPECT_EQ(paths(admit("Token", "", spec)), std::vector<std::string>{"spec.expiresAt"});
  EXPECT_EQ(paths(admit("Token", "", {{"user", "bob"}})),
            std::vector<std::string>{"spec.expiresAt"});
}

}  // namespace
}  // namespace skiff
