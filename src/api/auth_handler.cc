#include "api/auth_handler.h"

#include <algorithm>
#include <charconv>
#include <nlohmann/json.hpp>

#include "api/errors.h"
#include "api/resource_path.h"
#include "audit/audit_log.h"
#include "auth/authenticator.h"
#include "auth/rbac.h"
#include "common/clock.h"
#include "model/formats.h"
#include "model/kinds.h"
#include "store/store.h"

namespace skiff {

namespace {

using nlohmann::json;

HttpResponse jsonResponse(int status, const json& body) {
  HttpResponse r;
  r.status = status;
  r.body = body.dump();
  return r;
}

// The request body as a JSON object, or a 400 naming what is wrong.
Result<json> objectBody(const HttpRequest& request) {
  json body = json::parse(request.body, nullptr, false);
  if (!body.is_object()) return badRequest("the request body must be a JSON object");
  return body;
}

// body[field] as a string: required ones must be non-empty strings.
Result<std::string> stringField(const json& body, const char* field, bool required) {
  auto it = body.find(field);
  if (it == body.end() || it->is_null()) {
    if (!required) return std::string();
    return Status(StatusCode::kInvalid, std::string(field) + " is required",
                  {{field, "is required"}});
  }
  if (!it->is_string() || (required && it->get<std::string>().empty()))
    return Status(StatusCode::kInvalid, std::string(field) + " must be a non-empty string",
                  {{field, "must be a non-empty string"}});
  return it->get<std::string>();
}

Result<std::vector<std::string>> stringList(const json& body, const char* field) {
  auto it = body.find(field);
  if (it == body.end() || it->is_null()) return std::vector<std::string>();
  if (!it->is_array())
    return Status(StatusCode::kInvalid, std::string(field) + " must be a list of strings",
                  {{field, "must be a list of strings"}});
  std::vector<std::string> out;
  for (size_t i = 0; i < it->size(); ++i) {
    if (!(*it)[i].is_string())
      return Status(StatusCode::kInvalid, std::string(field) + " must be a list of strings",
                    {{std::string(field) + "[" + std::to_string(i) + "]", "must be a string"}});
    out.push_back((*it)[i].get<std::string>());
  }
  return out;
}

}  // namespace

AuthHandler::AuthHandler(Authenticator& authn, const Authorizer& authz, const Store& store,
                         AuditLog& audit)
    : authn_(authn), authz_(authz), store_(store), audit_(audit) {}

bool AuthHandler::handles(const HttpRequest& request) {
  const std::string& p = request.path;
  if (p == "/api/v1/login" || p == "/api/v1/logout" || p == "/api/v1/whoami" ||
      p == "/api/v1/accessreviews" || p == "/api/v1/audit" || p == "/api/v1/audit/verify")
    return true;
  const std::vector<std::string> seg = splitPath(p);
  if (seg.size() >= 3 && seg.size() <= 4 && seg[0] == "api" && seg[1] == "v1" && seg[2] == "tokens")
    return true;
  return seg.size() == 5 && seg[0] == "api" && seg[1] == "v1" && seg[2] == "users" &&
         seg[4] == "password";
}

HttpResponse AuthHandler::handle(HttpRequest& request) {
  const std::string& p = request.path;
  const std::string& m = request.method;
  if (p == "/api/v1/login")
    return m == "POST" ? login(request) : methodNotAllowed(request, p, "POST");
  if (p == "/api/v1/logout")
    return m == "POST" ? logout(request) : methodNotAllowed(request, p, "POST");
  if (p == "/api/v1/whoami")
    return m == "GET" ? whoami(request) : methodNotAllowed(request, p, "GET");
  if (p == "/api/v1/accessreviews")
    return m == "POST" ? accessReview(request) : methodNotAllowed(request, p, "POST");
  if (p == "/api/v1/audit" || p == "/api/v1/audit/verify")
    return m == "GET" ? audit(request) : methodNotAllowed(request, p, "GET");
  const std::vector<std::string> seg = splitPath(p);
  if (seg[2] == "users") {
    if (m != "PUT") return methodNotAllowed(request, p, "PUT");
    return password(request, seg[3]);
  }
  return tokens(request);
}

HttpResponse AuthHandler::login(HttpRequest& request) {
  auto body = objectBody(request);
  if (!body.ok()) return errorResponse(body.status());
  auto user = stringField(*body, "user", true);
  if (!user.ok()) return errorResponse(user.status());
  auto password = stringField(*body, "password", true);
  if (!password.ok()) return errorResponse(password.status());
  return deferred([this, user = *user, password = *password]() -> HttpResponse {
    auto result = authn_.login(user, password);
    if (!result.ok()) return errorResponse(result.status());
    if (!result->authentication.ok()) {
      HttpResponse r =
          errorResponse(Status(StatusCode::kUnauthenticated, result->authentication.message));
      r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"skiff\"");
      return r;
    }
    return jsonResponse(200, {{"token", result->session.token},
                              {"tokenId", result->session.id},
                              {"user", result->authentication.identity.user},
                              {"expiresAt", formatTimestamp(result->session.expires_at)}});
  });
}

HttpResponse AuthHandler::logout(const HttpRequest& request) {
  const std::string id = request.identity.token_id;
  return deferred([this, id]() -> HttpResponse {
    if (Status s = authn_.revokeToken(id); !s.isOk()) return errorResponse(s);
    return jsonResponse(200, {{"revoked", id}});
  });
}

HttpResponse AuthHandler::whoami(const HttpRequest& request) {
  const Identity& id = request.identity;
  json out = {{"user", id.user}, {"groups", id.groups}, {"tokenId", id.token_id}};
  if (id.scope) out["scope"] = {{"roles", id.scope->roles}, {"tenants", id.scope->tenants}};
  return jsonResponse(200, out);
}

HttpResponse AuthHandler::accessReview(const HttpRequest& request) {
  auto body = objectBody(request);
  if (!body.ok()) return errorResponse(body.status());
  auto verb = stringField(*body, "verb", true);
  if (!verb.ok()) return errorResponse(verb.status());
  auto resource = stringField(*body, "resource", true);
  if (!resource.ok()) return errorResponse(resource.status());
  auto tenant = stringField(*body, "tenant", false);
  if (!tenant.ok()) return errorResponse(tenant.status());
  const auto& verbs = allVerbs();
  if (std::find(verbs.begin(), verbs.end(), *verb) == verbs.end()) {
    std::string known;
    for (const auto& v : verbs) known += (known.empty() ? "" : ", ") + v;
    return errorResponse(Status(StatusCode::kInvalid, "unknown verb \"" + *verb + "\"",
                                {{"verb", "must be one of " + known + ", got \"" + *verb + "\""}}));
  }
  if (!isRbacResource(*resource) || *resource == kRbacWildcard)
    return errorResponse(
        Status(StatusCode::kInvalid, "unknown resource \"" + *resource + "\"",
               {{"resource",
                 "must be a resource such as applications, instances/logs or users (see "
                 "docs/security.md), got \"" +
                     *resource + "\""}}));
  Decision d = authz_.authorize(request.identity, {*verb, *resource, *tenant});
  json out = {{"allowed", d.allowed}};
  if (!d.allowed) out["reason"] = d.reason;
  return jsonResponse(200, out);
}

bool AuthHandler::mayOnOthers(const HttpRequest& request, const char* verb,
                              const char* resource) const {
  return authz_.authorize(request.identity, {verb, resource, ""}).allowed;
}

HttpResponse AuthHandler::tokens(HttpRequest& request) {
  const std::vector<std::string> seg = splitPath(request.path);
  const std::string& m = request.method;
  const std::string& caller = request.identity.user;
  if (seg.size() == 3) {
    if (m == "GET") {
      // Everyone sees their own tokens; those who may list tokens see everyone's.
      std::vector<StoredObjectPtr> items;
      if (mayOnOthers(request, kVerbList, "tokens"))
        items = store_.list("Token", {}).items;
      else
        items = authn_.listTokens(caller);
      std::string body = R"({"apiVersion":"skiff.dev/v1","kind":"TokenList","items":[)";
      for (size_t i = 0; i < items.size(); ++i) {
        if (i) body += ',';
        items[i]->packed_json.appendTo(body);
      }
      body += "]}";
      HttpResponse r;
      r.body = std::move(body);
      return r;
    }
    if (m != "POST") return methodNotAllowed(request, "tokens", "GET or POST");
    auto body = objectBody(request);
    if (!body.ok()) return errorResponse(body.status());
    TokenRequest t;
    auto user = stringField(*body, "user", false);
    auto roles = stringList(*body, "roles");
    auto tenants = stringList(*body, "tenants");
    auto description = stringField(*body, "description", false);
    auto ttl = stringField(*body, "ttl", false);
    for (const Status* s :
         {&user.status(), &roles.status(), &tenants.status(), &description.status(), &ttl.status()})
      if (!s->isOk()) return errorResponse(*s);
    t.user = user->empty() ? caller : *user;
    t.roles = *roles;
    t.tenants = *tenants;
    t.description = *description;
    if (!ttl->empty()) {
      auto seconds = parseDurationSeconds(*ttl);
      if (!seconds || *seconds < 1)
        return errorResponse(Status(
            StatusCode::kInvalid, "ttl is not a duration",
            {{"ttl", "must be a duration of at least 1s (e.g. 720h), got \"" + *ttl + "\""}}));
      t.ttl = std::chrono::seconds(static_cast<int64_t>(*seconds));
    }
    // A token only narrows its user's permissions, so minting one's own needs no permission;
    // one for somebody else does.
    if (t.user != caller && !mayOnOthers(request, kVerbCreate, "tokens"))
      return errorResponse(
          forbidden("user \"" + caller + "\" cannot create tokens for user \"" + t.user + "\""));
    return deferred([this, t]() -> HttpResponse {
      auto created = authn_.createToken(t);
      if (!created.ok()) return errorResponse(created.status());
      return jsonResponse(
          201, {{"token", created->token}, {"object", json::parse(created->object->jsonText())}});
    });
  }
  const std::string id = seg[3];
  auto token = store_.get({"Token", "", id});
  const bool own = token.ok() && (*token)->object().spec.value("user", "") == caller;
  if (m == "GET") {
    if (!own && !mayOnOthers(request, kVerbGet, "tokens"))
      return errorResponse(notFound("no token \"" + id + "\" of user \"" + caller + "\""));
    if (!token.ok()) return errorResponse(token.status());
    HttpResponse r;
    r.body = (*token)->jsonText();
    return r;
  }
  if (m != "DELETE") return methodNotAllowed(request, "a token", "GET or DELETE");
  // Someone else's token is "not found" to a caller who may not see it.
  if (!own && !mayOnOthers(request, kVerbDelete, "tokens"))
    return errorResponse(notFound("no token \"" + id + "\" of user \"" + caller + "\""));
  return deferred([this, id]() -> HttpResponse {
    if (Status s = authn_.revokeToken(id); !s.isOk()) return errorResponse(s);
    return jsonResponse(200, {{"revoked", id}});
  });
}

HttpResponse AuthHandler::password(HttpRequest& request, const std::string& user) {
  auto body = objectBody(request);
  if (!body.ok()) return errorResponse(body.status());
  auto password = stringField(*body, "password", true);
  if (!password.ok()) return errorResponse(password.status());
  const bool own = user == request.identity.user;
  if (own) {
    // One's own password: prove it is you, even with a stolen session.
    auto current = stringField(*body, "currentPassword", true);
    if (!current.ok()) return errorResponse(current.status());
    return deferred([this, user, current = *current, password = *password]() -> HttpResponse {
      auto changed = authn_.changePassword(user, current, password);
      if (!changed.ok()) return errorResponse(changed.status());
      if (!changed->ok())
        return errorResponse(Status(StatusCode::kUnauthenticated, changed->message));
      return jsonResponse(200, {{"user", user}, {"changed", true}});
    });
  }
  if (!mayOnOthers(request, kVerbUpdate, "users"))
    return errorResponse(forbidden("user \"" + request.identity.user +
                                   "\" cannot update users: only their own password"));
  return deferred([this, user, password = *password]() -> HttpResponse {
    if (Status s = authn_.setPassword(user, password); !s.isOk()) return errorResponse(s);
    return jsonResponse(200, {{"user", user}, {"changed", true}});
  });
}

HttpResponse AuthHandler::audit(const HttpRequest& request) {
  if (request.path == "/api/v1/audit/verify") {
    return deferred([this]() -> HttpResponse {
      auto v = audit_.verify();
      if (!v.ok()) return errorResponse(v.status());
      return jsonResponse(200, {{"intact", v->intact},
                                {"entries", v->entries},
                                {"headHash", v->head_hash},
                                {"brokenAtLine", v->broken_at_line},
                                {"problem", v->problem}});
    });
  }
  AuditQuery q;
  if (const std::string* user = request.queryParam("user")) q.user = *user;
  if (const std::string* tenant = request.queryParam("tenant")) q.tenant = *tenant;
  if (const std::string* since = request.queryParam("since"); since && !since->empty()) {
    std::chrono::system_clock::time_point at;
    if (auto seconds = parseDurationSeconds(*since); seconds && *seconds >= 0) {
      q.since = std::chrono::system_clock::now() -
                std::chrono::milliseconds(static_cast<int64_t>(*seconds * 1000));
    } else if (parseTimestamp(*since, &at)) {
      q.since = at;
    } else {
      return errorResponse(
          badRequest("query parameter since must be a duration (e.g. 1h) or an "
                     "RFC 3339 time, got \"" +
                     *since + "\""));
    }
  }
  if (const std::string* limit = request.queryParam("limit")) {
    size_t n = 0;
    auto [end, ec] = std::from_chars(limit->data(), limit->data() + limit->size(), n);
    if (ec != std::errc() || end != limit->data() + limit->size() || n == 0 || n > 100000)
      return errorResponse(badRequest(
          "query parameter limit must be a number from 1 to 100000, got \"" + *limit + "\""));
    q.limit = n;
  }
  return deferred([this, q]() -> HttpResponse {
    auto lines = audit_.query(q);
    if (!lines.ok()) return errorResponse(lines.status());
    std::string body = R"({"kind":"AuditEventList","items":[)";
    for (size_t i = 0; i < lines->size(); ++i) body += (i ? "," : "") + (*lines)[i];
    body += "]}";
    HttpResponse r;
    r.body = std::move(body);
    return r;
  });
}

}  // namespace skiff
