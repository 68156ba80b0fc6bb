// Gatekeeper: the API's front door. Every request is authenticated (a bearer token resolved by
// the Authenticator), authorised (the verb, resource and tenant describeAccess() finds in it,
// judged by the Authorizer) and, when it changes something or is refused, recorded in the
// audit trail; only then does it reach the handler that serves it, with request.identity set.
//
// Unauthenticated requests get 401 and refused ones 403 naming the missing permission, as
// JSON errors like every other. Public paths: /healthz, /readyz, /version, /openapi.json and
// POST /api/v1/login (whose attempts are audited too).
//
// Thread-safe: handle() is called concurrently from the HTTP server's threads.
#pragma once

#include <optional>

#include "api/http.h"
#include "audit/audit_log.h"

namespace skiff {

class Authenticator;
class Authorizer;
struct Access;

class Gatekeeper {
 public:
  Gatekeeper(const Authenticator& authn, const Authorizer& authz, AuditLog& audit);

  // Checks `request` and, if it may proceed, passes it to `next`.
  HttpResponse handle(HttpRequest& request, const HttpHandler& next);

 private:
  // Sets request.identity; the answer to give instead of serving the request, if any.
  std::optional<HttpResponse> authenticateAndAuthorize(HttpRequest& request,
                                                       const Access& access) const;
  static AuditEntry entryFor(const HttpRequest& request, const Access& access);
  void record(AuditEntry entry, const HttpResponse& response, bool durable) const;

  const Authenticator& authn_;
  const Authorizer& authz_;
  AuditLog& audit_;
};

}  // namespace skiff
