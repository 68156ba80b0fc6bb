#include "api/gatekeeper.h"

#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include <atomic>
#include <cstdio>

#include "api/access.h"
#include "api/errors.h"
#include "audit/audit_log.h"
#include "auth/authenticator.h"
#include "auth/rbac.h"
#include "common/status.h"
#include "model/kinds.h"

namespace skiff {

namespace {

// A request id unique within this server's life, unless the client sent one.
std::string requestIdOf(const HttpRequest& request) {
  std::string id = request.header("x-request-id");
  if (!id.empty() && id.size() <= 128) return id;
  static std::atomic<uint64_t> next{1};
  char buf[32];
  std::snprintf(buf, sizeof buf, "api-%llu",
                static_cast<unsigned long long>(next.fetch_add(1, std::memory_order_relaxed)));
  return buf;
}

// The bearer token of an "Authorization: Bearer ..." header; empty if there is none.
std::string bearerOf(const HttpRequest& request) {
  const std::string header = request.header("authorization");
  constexpr std::string_view kScheme = "Bearer ";
  if (header.size() <= kScheme.size() || header.compare(0, kScheme.size(), kScheme) != 0) return "";
  return header.substr(kScheme.size());
}

HttpResponse unauthenticated(const std::string& message) {
  HttpResponse r = errorResponse(Status(StatusCode::kUnauthenticated, message));
  r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"skiff\"");
  return r;
}

}  // namespace

Gatekeeper::Gatekeeper(const Authenticator& authn, const Authorizer& authz, AuditLog& audit)
    : authn_(authn), authz_(authz), audit_(audit) {}

AuditEntry Gatekeeper::entryFor(const HttpRequest& request, const Access& access) {
  AuditEntry e;
  e.time = std::chrono::system_clock::now();
  e.user = request.identity.user;
  e.groups = request.identity.groups;
  e.tenant = access.request.tenant;
  e.verb = access.request.verb;
  e.resource = access.request.resource;
  e.name = access.name;
  e.source = request.remote_address;
  e.request_id = request.request_id;
  return e;
}

void Gatekeeper::record(AuditEntry entry, const HttpResponse& response, bool durable) const {
  entry.status = response.status;
  if (response.status >= 400) {
    // Error answers are JSON Status documents (api/errors.h) carrying the reason.
    const auto doc = nlohmann::json::parse(response.body, nullptr, false);
    entry.reason = doc.is_object() ? doc.value("reason", "") : "";
  }
  // A refused read waits for no disk; what changed something is durable before the answer.
  if (Status s = audit_.append(entry, durable); !s.isOk()) spdlog::error("audit: {}", s.toString());
}

HttpResponse Gatekeeper::handle(HttpRequest& request, const HttpHandler& next) {
  request.request_id = requestIdOf(request);
  const Access access = describeAccess(request);
  const bool login = access.check == Access::Check::kPublic && request.path == "/api/v1/login";
  if (access.check != Access::Check::kPublic) {
    if (auto refused = authenticateAndAuthorize(request, access)) {
      record(entryFor(request, access), *refused, access.mutating);
      return std::move(*refused);
    }
  }
  // Taken before the handler runs: it may move the request away.
  AuditEntry entry = entryFor(request, access);
  if (login) {
    const auto body = nlohmann::json::parse(request.body, nullptr, false);
    const auto user = body.is_object() ? body.value("user", nlohmann::json()) : nlohmann::json();
    entry.user = user.is_string() ? user.get<std::string>().substr(0, 256) : "";
  }
  HttpResponse response = next(request);
  // Logins and changes are recorded with their outcome; a deferred one's once it is known.
  if (!access.mutating && !login) return response;
  if (!response.deferred) {
    record(std::move(entry), response, true);
    return response;
  }
  response.deferred = [this, entry = std::move(entry), inner = std::move(response.deferred)] {
    HttpResponse out = inner();
    record(entry, out, true);
    return out;
  };
  return response;
}

std::optional<HttpResponse> Gatekeeper::authenticateAndAuthorize(HttpRequest& request,
                                                                 const Access& access) const {
  const std::string token = bearerOf(request);
  if (token.empty())
    return unauthenticated(
        "this request needs credentials: send \"Authorization: Bearer <token>\" (run skiff "
        "login, or use an API token)");
  auto authn = authn_.authenticateBearer(token);
  if (!authn.ok()) return errorResponse(authn.status());
  if (!authn->ok()) return unauthenticated(authn->message);
  request.identity = std::move(authn->identity);
  if (access.check != Access::Check::kAuthorized) return std::nullopt;
  if (!access.across_tenants) {
    Decision decision = authz_.authorize(request.identity, access.request);
    if (decision.allowed) return std::nullopt;
    return errorResponse(forbidden(decision.reason));
  }
  // Across tenants: the handler shows only the visible tenants' objects, and some must be.
  // Tenants themselves: all with the platform permission, else those the caller may get.
  TenantSet visible;
  if (access.request.resource == "tenants")
    visible = authz_.authorize(request.identity, access.request).allowed
                  ? TenantSet{true, {}}
                  : authz_.tenantsPermitted(request.identity, kVerbGet, "tenants");
  else
    visible =
        authz_.tenantsPermitted(request.identity, access.request.verb, access.request.resource);
  if (visible.empty())
    return errorResponse(forbidden("user \"" + request.identity.user + "\" cannot " +
                                   access.request.verb + " " + access.request.resource +
                                   " in any tenant"));
  request.visible_tenants = std::move(visible);
  return std::nullopt;
}

}  // namespace skiff
