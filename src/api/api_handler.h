// ApiHandler: the REST resource API (/api/v1/...), /openapi.json, /healthz and /version.
// Decodes and admits input (model/validation.h), applies the API's own rules (tenants must
// exist, read-only kinds, status subresource, merge patch, dry run), and calls the Store.
// Watches become EventStreams of newline-delimited JSON events.
//
// Thread-safe: handle() is called concurrently from the HTTP server's threads.
#pragma once

#include <string>

#include "api/http.h"
#include "api/resource_path.h"
#include "common/clock.h"
#include "store/store.h"

namespace skiff {

class Authenticator;
class Authorizer;

class ApiHandler {
 public:
  // Lists and watches across tenants show request.visible_tenants (set by the Gatekeeper);
  // `authz` guards role bindings against escalation; `authn` forgets what a deleted user leaves
  // behind.
  ApiHandler(Store& store, const Clock& clock, Authenticator& authn, const Authorizer& authz);
  HttpResponse handle(HttpRequest& request);

  using Route = ResourcePath;

 private:
  HttpResponse handleResource(HttpRequest& request, const Route& route);
  HttpResponse list(HttpRequest& request, const Route& route);
  HttpResponse watch(HttpRequest& request, const Route& route);
  HttpResponse create(HttpRequest& request, const Route& route);
  HttpResponse replace(HttpRequest& request, const Route& route);
  HttpResponse patch(HttpRequest& request, const Route& route);
  HttpResponse remove(HttpRequest& request, const Route& route);
  HttpResponse replaceStatus(HttpRequest& request, const Route& route);
  // kNotFound unless `tenant` exists.
  Status checkTenant(const std::string& tenant) const;
  // Rules for deleting a tenant: not the default one, and only when it owns nothing.
  Status checkTenantDeletable(const std::string& tenant) const;

  // Rules on writing the RBAC kinds: a binding may grant only what its writer holds, and a
  // Role may not take a built-in role's name.
  Status checkRbacWrite(const HttpRequest& request, const Object& object) const;
  // Applies the tenant's limits to an application (defaults filled in, kInvalid above the
  // maximum; controller/limits.h); then it may be created or grown only while the tenant's
  // quota has room for its footprint (controller/footprint.h): kForbidden naming the quota, the
  // need and what remains.
  Status admitToTenant(Object& object) const;
  // On an Application written through the API: who wrote it (skiff.dev/changed-by), and no
  // change cause carried over from `current` (the stored object, null on create) into a
  // change of its spec that did not set one.
  void stampChange(const HttpRequest& request, Object& object, const Object* current) const;
  // POST .../applications/{name}/plan: what applying the body would do (controller/deploy_plan.h).
  HttpResponse plan(HttpRequest& request, const std::string& tenant, const std::string& name);

  Store& store_;
  const Clock& clock_;
  Authenticator& authn_;
  const Authorizer& authz_;
  const std::string openapi_;  // rendered once
};

}  // namespace skiff
