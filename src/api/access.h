// Access: what an API request asks to do, in RBAC terms (auth/rbac.h): the verb, the resource
// and the tenant it is made in, plus how the Gatekeeper must check it. One function maps every
// endpoint, so that no path can reach a handler unchecked: a path it does not know is refused
// unless it is public. Pure functions; thread-safe.
#pragma once

#include <string>

#include "api/http.h"
#include "auth/rbac.h"

namespace skiff {

struct Access {
  enum class Check {
    kPublic,         // no credentials needed (health, version, OpenAPI, login)
    kAuthenticated,  // any signed-in caller; the handler applies finer rules itself
    kAuthorized,     // RBAC decides before the handler runs
  };
  Check check = Check::kAuthorized;
  AccessRequest request;  // verb, resource, tenant
  std::string name;       // the object addressed, if one is
  // A list or watch across tenants (or of tenants): allowed when the caller may see at least
  // one tenant's objects; the handler filters what it returns.
  bool across_tenants = false;
  // Whether the request changes something (it is then always audited).
  bool mutating = false;
};

Access describeAccess(const HttpRequest& request);

}  // namespace skiff
