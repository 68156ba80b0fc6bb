#include "api/access.h"

#include "api/resource_path.h"

namespace skiff {

namespace {

const char* verbOf(const std::string& method, bool collection, bool watch) {
  if (method == "GET" || method == "HEAD")
    return collection ? (watch ? kVerbWatch : kVerbList) : kVerbGet;
  if (method == "POST") return kVerbCreate;
  if (method == "PUT") return kVerbUpdate;
  if (method == "PATCH") return kVerbPatch;
  if (method == "DELETE") return kVerbDelete;
  return kVerbGet;  // other methods are refused by the handlers with 405
}

bool isWatch(const HttpRequest& request) {
  const std::string* v = request.queryParam("watch");
  return v != nullptr && (*v == "true" || *v == "1" || v->empty());
}

}  // namespace

Access describeAccess(const HttpRequest& request) {
  Access a;
  const std::string& p = request.path;
  const std::string& m = request.method;
  a.mutating = m != "GET" && m != "HEAD";
  if (p == "/healthz" || p == "/readyz" || p == "/version" || p == "/openapi.json" ||
      (p == "/api/v1/login" && m == "POST")) {
    a.check = Access::Check::kPublic;
    a.request = {kVerbCreate, "sessions", ""};
    return a;
  }
  const std::vector<std::string> seg = splitPath(p);
  // The signed-in caller's own affairs: whoami, logout, access reviews, tokens, password.
  auto own = [&](const char* verb, const char* resource, std::string name = "") {
    a.check = Access::Check::kAuthenticated;
    a.request = {verb, resource, ""};
    a.name = std::move(name);
    return a;
  };
  if (p == "/api/v1/whoami") return own(kVerbGet, "users");
  if (p == "/api/v1/logout") return own(kVerbDelete, "sessions");
  if (p == "/api/v1/accessreviews") return own(kVerbCreate, "accessreviews");
  // A registry's notification only makes Skiff read the registry (api/registry_hook_handler.h).
  if (p == "/api/v1/hooks/registry") return own(kVerbCreate, "registryhooks");
  if (seg.size() >= 3 && seg[0] == "api" && seg[1] == "v1" && seg[2] == "tokens")
    return own(verbOf(m, seg.size() == 3, false), "tokens", seg.size() > 3 ? seg[3] : "");
  if (seg.size() == 5 && seg[0] == "api" && seg[1] == "v1" && seg[2] == "users" &&
      seg[4] == "password")
    return own(kVerbUpdate, "users/password", seg[3]);

  // The audit trail: a tenant's part needs permission in that tenant, the whole of it at
  // platform scope.
  if (p == "/api/v1/audit" || p == "/api/v1/audit/verify") {
    const std::string* tenant = request.queryParam("tenant");
    a.request = {p == "/api/v1/audit" ? kVerbList : kVerbGet, "auditevents",
                 tenant != nullptr && p == "/api/v1/audit" ? *tenant : ""};
    return a;
  }
  if (p == "/api/v1/admin/rotate-key") {
    a.request = {kVerbCreate, "encryptionkeys", ""};
    return a;
  }
  // The platform's own logs (the server's, its gateway's): platform scope only.
  if (p == "/api/v1/platform/logs") {
    a.request = {verbOf(m, false, false), "platformlogs", ""};
    return a;
  }
  // Logs: /api/v1/tenants/{t}/instances/{name}/log, /api/v1/tenants/{t}/applications/{a}/logs.
  if (seg.size() == 7 && seg[0] == "api" && seg[1] == "v1" && seg[2] == "tenants" &&
      ((seg[4] == "instances" && seg[6] == "log") ||
       (seg[4] == "applications" && seg[6] == "logs"))) {
    a.request = {verbOf(m, false, false), seg[4] + "/logs", seg[3]};
    a.name = seg[5];
    return a;
  }

  // Metrics: the exposition and queries over every tenant need the platform's permission, a
  // tenant's queries (confined to its series by the handler) the tenant's.
  if (p == "/metrics" || p == "/api/v1/metrics") {
    a.request = {kVerbGet, "metrics", ""};
    return a;
  }
  if (seg.size() == 5 && seg[0] == "api" && seg[1] == "v1" && seg[2] == "tenants" &&
      seg[4] == "metrics") {
    a.request = {kVerbGet, "metrics", seg[3]};
    return a;
  }

  // The alerts a tenant has now (api/alert_handler.h): whoever may read its alert rules.
  if (seg.size() == 5 && seg[0] == "api" && seg[1] == "v1" && seg[2] == "tenants" &&
      seg[4] == "alerts") {
    a.request = {kVerbGet, "alertrules", seg[3]};
    return a;
  }

  // A deploy's plan: POST /api/v1/tenants/{t}/applications/{name}/plan. It changes nothing, but
  // tells what an update would do: whoever may update the application may ask.
  if (seg.size() == 7 && seg[0] == "api" && seg[1] == "v1" && seg[2] == "tenants" &&
      seg[4] == "applications" && seg[6] == "plan") {
    a.request = {kVerbUpdate, "applications", seg[3]};
    a.name = seg[5];
    a.mutating = false;
    return a;
  }

  // Exec: POST /api/v1/tenants/{t}/instances/{name}/exec, or a GET upgraded to a WebSocket;
  // either runs a command, so it is audited like a change.
  if (seg.size() == 7 && seg[0] == "api" && seg[1] == "v1" && seg[2] == "tenants" &&
      seg[4] == "instances" && seg[6] == "exec") {
    a.request = {kVerbCreate, "instances/exec", seg[3]};
    a.name = seg[5];
    a.mutating = true;
    return a;
  }

  Result<ResourcePath> path =
      p.rfind(kApiPrefix, 0) == 0 ? parseResourcePath(p) : Result<ResourcePath>(notFound(p));
  if (!path.ok()) {
    // Nothing is served there (the OpenAPI document, public anyway, lists what is): the
    // handler answers 404 to any signed-in caller.
    a.check = Access::Check::kAuthenticated;
    a.request = {verbOf(m, false, false), "unknown", ""};
    return a;
  }
  const bool collection = path->name.empty();
  const bool tenant_kind = path->kind->scope == Scope::kTenant;
  a.request.verb = verbOf(m, collection, isWatch(request));
  a.request.resource =
      std::string(path->kind->plural) + (path->status && a.mutating ? "/status" : "");
  a.request.tenant = path->tenant;
  a.name = path->name;
  if (path->kind->kind == std::string_view("Tenant")) {
    // One tenant is governed inside itself; the list of tenants is filtered to those visible.
    if (collection && !a.mutating) a.across_tenants = true;
    if (!collection) a.request.tenant = path->name;
  } else if (tenant_kind && path->tenant.empty()) {
    a.across_tenants = true;
  }
  return a;
}

}  // namespace skiff
