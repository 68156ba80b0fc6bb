// The resource kinds the API serves, and how each is addressed; the internal kinds it never
// serves; and the vocabulary of RBAC rules (verbs and resources, auth/rbac.h). Constant data;
// thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace skiff {

enum class Scope { kPlatform, kTenant };

struct KindInfo {
  const char* kind;        // "Application"
  const char* plural;      // "applications": the URL segment
  const char* short_name;  // "app": accepted by the CLI
  Scope scope;
  // False for kinds only Skiff itself writes (Revision): the API serves them read-only.
  bool api_writable;
};

const std::vector<KindInfo>& allKinds();
// Finds a kind by its name, plural or short name, case-insensitively; nullptr if unknown.
const KindInfo* findKind(std::string_view name);

// Internal kinds: kept in the store like any object but never listed by allKinds(), so the API
// has no route to them and never serves them (findKind() does not know them either). They hold
// what must not leave the server: a user's password hash and lockout state, keyed by user name
// (platform scope), and the digest of a Token's secret, keyed by the token id.
inline constexpr const char* kCredentialKind = "Credential";
inline constexpr const char* kTokenSecretKind = "TokenSecret";

// ---- RBAC vocabulary --------------------------------------------------------------------
//
// A permission is a verb on a resource, in a tenant or at platform scope. Resources are the
// kinds' plurals ("applications"), their subresources ("applications/status",
// "instances/logs") and the endpoints that are not objects ("images", "metrics",
// "auditevents"). Logs are `get` on ".../logs", exec is `create` on "instances/exec".

inline constexpr const char* kVerbGet = "get";
inline constexpr const char* kVerbList = "list";
inline constexpr const char* kVerbWatch = "watch";
inline constexpr const char* kVerbCreate = "create";
inline constexpr const char* kVerbUpdate = "update";
inline constexpr const char* kVerbPatch = "patch";
inline constexpr const char* kVerbDelete = "delete";
// In a rule: every verb, every resource. "<resource>/*" in a rule means every subresource of it.
inline constexpr const char* kRbacWildcard = "*";

// get, list, watch, create, update, patch, delete.
const std::vector<std::string>& allVerbs();
// Every resource a rule may name (besides wildcards), sorted.
const std::vector<std::string>& allResources();
// Resources addressed inside a tenant (tenant-scoped kinds, their subresources, and the
// per-tenant endpoints), sorted.
const std::vector<std::string>& tenantResources();
// True if `resource` is in allResources() or is "*" or "<plural>/*" of a known resource.
bool isRbacResource(std::string_view resource);

}  // namespace skiff
