// Identity: who a request acts for, as the authenticator established it and the authorizer
// judges it. A plain value; thread-safe to copy.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <vector>

namespace skiff {

// What an API token was limited to when it was created. A token never has more permissions
// than its user: each non-empty list narrows them further.
struct TokenScope {
  std::vector<std::string> roles;    // only what these roles allow; empty: no role limit
  std::vector<std::string> tenants;  // only requests in these tenants; empty: no tenant limit
};

// The tenants a request may be made in; `all` when not limited to a list (a platform binding).
struct TenantSet {
  bool all = false;
  std::set<std::string> tenants;

  bool contains(const std::string& tenant) const { return all || tenants.count(tenant) > 0; }
  bool empty() const { return !all && tenants.empty(); }
};

struct Identity {
  std::string user;
  std::vector<std::string> groups;  // the User's spec.groups
  // The Token (API or session) the request presented; empty when authenticated otherwise.
  std::string token_id;
  // Set for API tokens created with a scope; std::nullopt means the user's full permissions.
  std::optional<TokenScope> scope;
};

}  // namespace skiff
