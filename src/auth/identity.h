// Identity: who a request acts for, as the authenticator established it and the authorizer
// judges it. A plain value; thread-safe to copy.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace skiff {

// What an API token was limited to when it was created. A token never has more permissions
// than its user: each non-empty list narrows them further.
struct TokenScope {
  std::vector<std::string> roles;    // only what these roles allow; empty: no role limit
  std::vector<std::string> tenants;  // only requests in these tenants; empty: no tenant limit
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
