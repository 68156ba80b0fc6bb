// AuthHandler: the endpoints of signing in and of a caller's own credentials, and the audit
// trail's reader.
//
//   POST   /api/v1/login                 {"user","password"} -> a session token
//   POST   /api/v1/logout                revokes the session (or token) presented
//   GET    /api/v1/whoami                the caller's identity
//   POST   /api/v1/accessreviews         {"verb","resource","tenant"}: may the caller do it?
//   POST   /api/v1/tokens                creates an API token, returning its secret once
//   GET    /api/v1/tokens[/{id}]         the caller's tokens (everyone's with "list tokens")
//   DELETE /api/v1/tokens/{id}           revokes a token
//   PUT    /api/v1/users/{name}/password {"password","currentPassword"}
//   GET    /api/v1/audit[?user,tenant,since,limit], GET /api/v1/audit/verify
//
// The Gatekeeper has authenticated every request but login; the rules on whose tokens and
// whose password a caller may touch are applied here. Password hashing is slow by design,
// so login and password changes run on the server's blocking pool.
//
// Thread-safe.
#pragma once

#include "api/http.h"

namespace skiff {

class AuditLog;
class Authenticator;
class Authorizer;
class Store;

class AuthHandler {
 public:
  AuthHandler(Authenticator& authn, const Authorizer& authz, const Store& store, AuditLog& audit);

  static bool handles(const HttpRequest& request);
  HttpResponse handle(HttpRequest& request);

 private:
  HttpResponse login(HttpRequest& request);
  HttpResponse logout(const HttpRequest& request);
  HttpResponse whoami(const HttpRequest& request);
  HttpResponse accessReview(const HttpRequest& request);
  HttpResponse tokens(HttpRequest& request);
  HttpResponse password(HttpRequest& request, const std::string& user);
  HttpResponse audit(const HttpRequest& request);
  // Whether the caller may `verb` tokens or users of others (platform scope).
  bool mayOnOthers(const HttpRequest& request, const char* verb, const char* resource) const;

  Authenticator& authn_;
  const Authorizer& authz_;
  const Store& store_;
  AuditLog& audit_;
};

}  // namespace skiff
