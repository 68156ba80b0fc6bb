#include "api/api_handler.h"

#include <atomic>
#include <charconv>
#include <optional>
#include <vector>

#include "alert/rule.h"
#include "api/errors.h"
#include "api/openapi.h"
#include "auth/authenticator.h"
#include "auth/rbac.h"
#include "controller/deploy_plan.h"
#include "controller/footprint.h"
#include "controller/limits.h"
#include "controller/revision_controller.h"
#include "model/codec.h"
#include "model/kinds.h"
#include "model/validation.h"
#include "model/well_known.h"

namespace skiff {

namespace {

HttpResponse jsonResponse(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

Result<json> decodeBody(const HttpRequest& request) {
  std::string type = request.header("content-type");
  if (size_t semi = type.find(';'); semi != std::string::npos) type.resize(semi);
  while (!type.empty() && type.back() == ' ') type.pop_back();
  if (!type.empty() && type != "application/json" && type != "application/yaml" &&
      type != "application/x-yaml" && type != "text/yaml")
    return Status(StatusCode::kUnsupportedMediaType,
                  "content type \"" + type +
                      "\" is not supported: send application/json or application/yaml");
  if (request.body.empty()) return badRequest("the request body is empty: send an object");
  return decodeDocument(request.body, type);
}

Result<std::optional<int64_t>> parseRevisionParam(const HttpRequest& request) {
  const std::string* v = request.queryParam("resourceVersion");
  if (v == nullptr || v->empty()) return std::optional<int64_t>();
  int64_t n = 0;
  auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
  if (ec != std::errc() || end != v->data() + v->size() || n < 0)
    return badRequest("query parameter resourceVersion must be a non-negative integer, got \"" +
                      *v + "\"");
  return std::optional<int64_t>(n);
}

bool flag(const HttpRequest& request, const char* name) {
  const std::string* v = request.queryParam(name);
  return v != nullptr && (*v == "true" || *v == "1" || *v == "All" || v->empty());
}

std::string eventLine(const char* type, const std::string& object_json) {
  std::string line;
  line.reserve(object_json.size() + 32);
  line += "{\"type\":\"";
  line += type;
  line += "\",\"object\":";
  line += object_json;
  line += "}\n";
  return line;
}

// A watch: store events rendered into the HTTP stream. Owns the store subscription, which
// ends when the stream is dropped by the server.
class WatchStream final : public EventStream {
 public:
  WatchStream(std::string kind, int64_t start_revision)
      : kind_(std::move(kind)), last_revision_(start_revision) {}

  void deliver(const WatchEvent& e) {
    last_revision_.store(e.revision, std::memory_order_relaxed);
    push(eventLine(eventTypeName(e.type), e.object->jsonText()));
  }
  void setHandle(std::unique_ptr<WatchHandle> handle) { handle_ = std::move(handle); }

  // Every revision up to last_revision_ has been queued, so a client may resume from it.
  std::string heartbeat() override {
    json bookmark = {
        {"kind", kind_},
        {"metadata", {{"resourceVersion", last_revision_.load(std::memory_order_relaxed)}}}};
    return eventLine("BOOKMARK", bookmark.dump());
  }

 private:
  const std::string kind_;
  std::atomic<int64_t> last_revision_;
  std::unique_ptr<WatchHandle> handle_;  // destroyed first: no delivery after that
};

}  // namespace

ApiHandler::ApiHandler(Store& store, const Clock& clock, Authenticator& authn,
                       const Authorizer& authz)
    : store_(store),
      clock_(clock),
      authn_(authn),
      authz_(authz),
      openapi_(openApiDocument().dump()) {}

Status ApiHandler::admitToTenant(Object& object) const {
  // The model cannot parse queries (the query language sits above the store): checked here.
  if (object.kind == "AlertRule") return alert::checkRuleQuery(object.spec);
  if (object.kind != "Application") return Status::ok();
  auto tenant = store_.get({"Tenant", "", object.metadata.tenant});
  if (!tenant.ok()) return Status::ok();  // checkTenant() says so
  const json& tenant_spec = (*tenant)->object().spec;
  if (Status s = applyTenantLimits(tenant_spec, object.metadata.tenant, object.spec); !s.isOk())
    return s;
  const json quota = tenant_spec.value("quota", json::object());
  if (!quota.is_object() || quota.empty()) return Status::ok();
  Footprint used, previous;
  ListOptions in_tenant;
  in_tenant.tenant = object.metadata.tenant;
  for (const auto& other : store_.list("Application", in_tenant).items)
    (other->metadata.name == object.metadata.name ? previous : used) +=
        footprintOf(other->object().spec);
  const Footprint wanted = footprintOf(object.spec);
  // A change that grows nothing passes, even in a tenant over a quota lowered since.
  if (previous.applications > 0 && wanted.instances <= previous.instances &&
      wanted.cpu_millis <= previous.cpu_millis && wanted.memory_bytes <= previous.memory_bytes &&
      wanted.storage_bytes <= previous.storage_bytes)
    return Status::ok();
  const std::string exceeded = quotaExceeded(quota, used, wanted, object.metadata.name);
  if (exceeded.empty()) return Status::ok();
  return forbidden("exceeded the quota of tenant \"" + object.metadata.tenant + "\": " + exceeded +
                   " (raise spec.quota of the tenant, or ask less)");
}

void ApiHandler::stampChange(const HttpRequest& request, Object& object,
                             const Object* current) const {
  if (object.kind != "Application") return;
  auto& annotations = object.metadata.annotations;
  annotations[kChangedByAnnotation] = request.identity.user;
  // A change cause describes the change it came with: one carried over unchanged from the
  // stored object (a read-modify-write that did not set it) is not this change's.
  if (current != nullptr && current->spec != object.spec) {
    auto cause = annotations.find(kChangeCauseAnnotation);
    auto before = current->metadata.annotations.find(kChangeCauseAnnotation);
    if (cause != annotations.end() && before != current->metadata.annotations.end() &&
        cause->second == before->second)
      annotations.erase(cause);
  }
}

Status ApiHandler::checkRbacWrite(const HttpRequest& request, const Object& object) const {
  const std::string_view kind = object.kind;
  if (kind == "Role" && findBuiltinRole(object.metadata.name) != nullptr)
    return Status(StatusCode::kInvalid, "\"" + object.metadata.name + "\" is a built-in role",
                  {{"metadata.name",
                    "must not be a built-in role's name (platform-admin, "
                    "tenant-admin, developer, viewer), got \"" +
                        object.metadata.name + "\""}});
  if (kind != "RoleBinding" && kind != "PlatformRoleBinding") return Status::ok();
  const std::string role = object.spec.value("role", "");
  Decision d = authz_.authorizeBinding(request.identity, role, object.metadata.tenant);
  return d.allowed ? Status::ok() : forbidden(d.reason);
}

HttpResponse ApiHandler::handle(HttpRequest& request) {
  const std::string& p = request.path;
  if (p == "/healthz" || p == "/readyz") return jsonResponse(200, R"({"status":"ok"})");
  if (p == "/version")
    return jsonResponse(200, json{{"version", SKIFF_VERSION}, {"apiVersion", kApiVersion}}.dump());
  if (p == "/openapi.json") return jsonResponse(200, openapi_);
  if (p.rfind(kApiPrefix, 0) != 0) return errorResponse(notFound("no resource at " + p));
  if (const auto seg = splitPath(p);
      seg.size() == 7 && seg[2] == "tenants" && seg[4] == "applications" && seg[6] == "plan") {
    if (request.method != "POST")
      return errorResponse(Status(StatusCode::kMethodNotAllowed,
                                  "a plan is asked for with POST and the application as the body"));
    return plan(request, seg[3], seg[5]);
  }
  Result<ResourcePath> route = parseResourcePath(p);
  if (!route.ok()) return errorResponse(route.status());
  auto run = [this](HttpRequest& r, const Route& rt) {
    try {
      return handleResource(r, rt);
    } catch (const std::exception& e) {
      // A bug, not user input: answer 500 rather than take the server down.
      return errorResponse(internalError(std::string("internal error: ") + e.what()));
    }
  };
  if (request.method == "GET") return run(request, *route);
  // Writes wait for their group commit: run them off the event loops.
  HttpResponse deferred;
  deferred.deferred = [run, r = std::move(request), rt = std::move(route).value()]() mutable {
    return run(r, rt);
  };
  return deferred;
}

HttpResponse ApiHandler::handleResource(HttpRequest& request, const Route& route) {
  const std::string& m = request.method;
  const bool item = !route.name.empty();
  auto not_allowed = [&] {
    std::string what = route.status ? "the status of " + std::string(route.kind->plural)
                                    : std::string(route.kind->plural);
    return errorResponse(
        Status(StatusCode::kMethodNotAllowed, "method " + m + " is not allowed on " + what));
  };
  if (!route.kind->api_writable && m != "GET")
    return errorResponse(Status(StatusCode::kMethodNotAllowed,
                                std::string(route.kind->plural) +
                                    " are written only by Skiff itself; they are read-only in "
                                    "the API"));
  if (route.status) {
    if (m == "GET") {
      auto got = store_.get({route.kind->kind, route.tenant, route.name});
      return got.ok() ? jsonResponse(200, (*got)->jsonText()) : errorResponse(got.status());
    }
    if (m == "PUT") return replaceStatus(request, route);
    return not_allowed();
  }
  if (!item) {
    if (m == "GET") return flag(request, "watch") ? watch(request, route) : list(request, route);
    if (m == "POST" && (route.kind->scope == Scope::kPlatform || !route.tenant.empty()))
      return create(request, route);
    return not_allowed();
  }
  if (m == "GET") {
    auto got = store_.get({route.kind->kind, route.tenant, route.name});
    return got.ok() ? jsonResponse(200, (*got)->jsonText()) : errorResponse(got.status());
  }
  if (m == "PUT") return replace(request, route);
  if (m == "PATCH") return patch(request, route);
  if (m == "DELETE") return remove(request, route);
  return not_allowed();
}

HttpResponse ApiHandler::plan(HttpRequest& request, const std::string& tenant,
                              const std::string& name) {
  auto doc = decodeBody(request);
  if (!doc.ok()) return errorResponse(doc.status());
  auto object = admitObject(*doc, {"Application", tenant});
  if (!object.ok()) return errorResponse(object.status());
  if (object->metadata.name != name)
    return errorResponse(
        Status(StatusCode::kInvalid, "the name in the body differs from the URL",
               {{"metadata.name", "must be \"" + name + "\" (the name in the URL), got \"" +
                                      object->metadata.name + "\""}}));
  PlanInput input;
  input.application = name;
  if (auto current = store_.get({"Application", tenant, name}); current.ok()) {
    input.current_revision = (*current)->object().status.value("latestRevision", int64_t{0});
    auto revision = store_.get({"Revision", tenant, revisionName(name, input.current_revision)});
    if (revision.ok()) input.current = (*revision)->object().spec.value("template", json());
  } else if (current.status().code() != StatusCode::kNotFound) {
    return errorResponse(current.status());
  }
  // The quota's answer is part of the plan, not a refusal of it; other limits refuse.
  if (Status s = admitToTenant(*object); !s.isOk()) {
    if (s.code() != StatusCode::kForbidden) return errorResponse(s);
    input.quota_problem = s.message();
  }
  input.next = object->spec;
  try {
    return jsonResponse(200, deployPlan(input).dump());
  } catch (const std::exception& e) {
    return errorResponse(internalError(std::string("internal error: ") + e.what()));
  }
}

HttpResponse ApiHandler::list(HttpRequest& request, const Route& route) {
  ListOptions options;
  options.tenant = route.tenant;
  if (const std::string* sel = request.queryParam("labelSelector")) {
    auto parsed = LabelSelector::parse(*sel);
    if (!parsed.ok()) return errorResponse(parsed.status());
    options.selector = std::move(parsed).value();
  }
  if (!route.tenant.empty()) {
    if (Status s = checkTenant(route.tenant); !s.isOk()) return errorResponse(s);
  }
  ObjectList objects = store_.list(route.kind->kind, options);
  if (const auto& visible = request.visible_tenants; visible && !visible->all) {
    const bool tenants = route.kind->kind == std::string_view("Tenant");
    std::erase_if(objects.items, [&](const StoredObjectPtr& o) {
      return !visible->contains(tenants ? o->metadata.name : o->metadata.tenant);
    });
  }
  size_t size = 128;
  for (const auto& o : objects.items) size += o->packed_json.size() + 1;
  std::string body;
  body.reserve(size);
  body += R"({"apiVersion":"skiff.dev/v1","kind":")";
  body += route.kind->kind;
  body += R"(List","metadata":{"resourceVersion":)";
  body += std::to_string(objects.revision);
  body += R"(},"items":[)";
  for (size_t i = 0; i < objects.items.size(); ++i) {
    if (i) body += ',';
    objects.items[i]->packed_json.appendTo(body);
  }
  body += "]}";
  return jsonResponse(200, std::move(body));
}

HttpResponse ApiHandler::watch(HttpRequest& request, const Route& route) {
  WatchOptions options;
  options.kind = route.kind->kind;
  options.tenant = route.tenant;
  if (const std::string* sel = request.queryParam("labelSelector")) {
    auto parsed = LabelSelector::parse(*sel);
    if (!parsed.ok()) return errorResponse(parsed.status());
    options.selector = std::move(parsed).value();
  }
  auto from = parseRevisionParam(request);
  if (!from.ok()) return errorResponse(from.status());
  options.from_revision = *from;
  auto stream = std::make_shared<WatchStream>(route.kind->kind, from->value_or(store_.revision()));
  WatchStream* raw = stream.get();
  // Fixed for the watch's life: a grant made later shows in the next watch.
  TenantSet visible = request.visible_tenants.value_or(TenantSet{true, {}});
  const bool tenants = route.kind->kind == std::string_view("Tenant");
  auto handle =
      store_.watch(options, [raw, visible = std::move(visible), tenants](const WatchEvent& e) {
        if (visible.contains(tenants ? e.object->metadata.name : e.object->metadata.tenant))
          raw->deliver(e);
      });
  if (!handle.ok()) return errorResponse(handle.status());
  stream->setHandle(std::move(handle).value());
  HttpResponse r;
  r.content_type = "application/json";
  r.stream = std::move(stream);
  return r;
}

Status ApiHandler::checkTenant(const std::string& tenant) const {
  if (store_.get({"Tenant", "", tenant}).ok()) return Status::ok();
  return notFound("tenant \"" + tenant + "\" not found: create it first (kind: Tenant)");
}

Status ApiHandler::checkTenantDeletable(const std::string& tenant) const {
  if (tenant == kDefaultTenant) return conflict("the default tenant cannot be deleted");
  for (const auto& k : allKinds()) {
    if (k.scope != Scope::kTenant) continue;
    if (size_t n = store_.count(k.kind, tenant); n > 0)
      return conflict("tenant \"" + tenant + "\" still has " + std::to_string(n) + " " + k.plural +
                      ": delete them first");
  }
  return Status::ok();
}

HttpResponse ApiHandler::create(HttpRequest& request, const Route& route) {
  auto doc = decodeBody(request);
  if (!doc.ok()) return errorResponse(doc.status());
  auto object = admitObject(*doc, {route.kind->kind, route.tenant});
  if (!object.ok()) return errorResponse(object.status());
  if (!route.tenant.empty()) {
    if (Status s = checkTenant(route.tenant); !s.isOk()) return errorResponse(s);
  }
  if (Status s = checkRbacWrite(request, *object); !s.isOk()) return errorResponse(s);
  if (Status s = admitToTenant(*object); !s.isOk()) return errorResponse(s);
  stampChange(request, *object, nullptr);
  auto stored = store_.create(std::move(object).value(), flag(request, "dryRun"));
  if (!stored.ok()) return errorResponse(stored.status());
  return jsonResponse(201, (*stored)->jsonText());
}

HttpResponse ApiHandler::replace(HttpRequest& request, const Route& route) {
  auto doc = decodeBody(request);
  if (!doc.ok()) return errorResponse(doc.status());
  auto object = admitObject(*doc, {route.kind->kind, route.tenant});
  if (!object.ok()) return errorResponse(object.status());
  if (object->metadata.name != route.name)
    return errorResponse(Status(StatusCode::kInvalid, "the name in the body differs from the URL",
                                {{"metadata.name", "must be \"" + route.name +
                                                       "\" (the name in "
                                                       "the URL), got \"" +
                                                       object->metadata.name + "\""}}));
  if (object->metadata.resource_version == 0)
    return errorResponse(Status(StatusCode::kInvalid,
                                "an update must say which version it replaces",
                                {{"metadata.resourceVersion",
                                  "is required for update: get the object and send back its "
                                  "resourceVersion (or use PATCH)"}}));
  if (Status s = checkRbacWrite(request, *object); !s.isOk()) return errorResponse(s);
  if (Status s = admitToTenant(*object); !s.isOk()) return errorResponse(s);
  if (auto current = store_.get(object->key()); current.ok()) {
    const Object before = (*current)->object();
    stampChange(request, *object, &before);
  }
  UpdateOptions options;
  options.dry_run = flag(request, "dryRun");
  auto stored = store_.update(std::move(object).value(), options);
  if (!stored.ok()) return errorResponse(stored.status());
  return jsonResponse(200, (*stored)->jsonText());
}

HttpResponse ApiHandler::patch(HttpRequest& request, const Route& route) {
  std::string type = request.header("content-type");
  if (type.rfind("application/merge-patch+json", 0) != 0)
    return errorResponse(Status(StatusCode::kUnsupportedMediaType,
                                "PATCH takes a JSON merge patch (RFC 7386): send Content-Type "
                                "application/merge-patch+json"));
  auto patch_doc = decodeDocument(request.body, "application/json");
  if (!patch_doc.ok()) return errorResponse(patch_doc.status());
  if (!patch_doc->is_object())
    return errorResponse(badRequest("a merge patch must be a JSON object"));
  const ObjectKey key{route.kind->kind, route.tenant, route.name};
  const bool pinned = patch_doc->contains("metadata") && (*patch_doc)["metadata"].is_object() &&
                      (*patch_doc)["metadata"].contains("resourceVersion");
  // Without a pinned resourceVersion the patch applies to whatever is current; retry when a
  // concurrent writer gets in between our read and our write.
  for (int attempt = 0;; ++attempt) {
    auto current = store_.get(key);
    if (!current.ok()) return errorResponse(current.status());
    json doc = (*current)->object().toJson();
    doc.erase("status");
    doc.merge_patch(*patch_doc);
    auto object = admitObject(doc, {route.kind->kind, route.tenant});
    if (!object.ok()) return errorResponse(object.status());
    if (object->metadata.name != route.name)
      return errorResponse(Status(StatusCode::kInvalid, "a patch cannot rename an object",
                                  {{"metadata.name", "cannot be changed"}}));
    if (Status s = checkRbacWrite(request, *object); !s.isOk()) return errorResponse(s);
    if (Status s = admitToTenant(*object); !s.isOk()) return errorResponse(s);
    const Object before = (*current)->object();
    stampChange(request, *object, &before);
    UpdateOptions options;
    options.dry_run = flag(request, "dryRun");
    auto stored = store_.update(std::move(object).value(), options);
    if (stored.ok()) return jsonResponse(200, (*stored)->jsonText());
    if (pinned || stored.status().code() != StatusCode::kConflict || attempt == 5)
      return errorResponse(stored.status());
  }
}

HttpResponse ApiHandler::remove(HttpRequest& request, const Route& route) {
  auto rv = parseRevisionParam(request);
  if (!rv.ok()) return errorResponse(rv.status());
  if (route.kind->kind == std::string_view("Tenant")) {
    if (Status s = checkTenantDeletable(route.name); !s.isOk()) return errorResponse(s);
  }
  auto removed = store_.remove({route.kind->kind, route.tenant, route.name}, *rv);
  if (!removed.ok()) return errorResponse(removed.status());
  if (route.kind->kind == std::string_view("User")) {
    // The user's password and tokens go with them: none may sign in any more.
    if (Status s = authn_.forgetUser(route.name); !s.isOk()) return errorResponse(s);
  }
  return jsonResponse(200, (*removed)->jsonText());
}

HttpResponse ApiHandler::replaceStatus(HttpRequest& request, const Route& route) {
  auto doc = decodeBody(request);
  if (!doc.ok()) return errorResponse(doc.status());
  auto object = objectFromJson(*doc);
  if (!object.ok()) return errorResponse(object.status());
  if (Status s = validateStatus(object->status); !s.isOk()) return errorResponse(s);
  object->kind = route.kind->kind;
  object->metadata.tenant = route.tenant;
  object->metadata.name = route.name;
  UpdateOptions options;
  options.status_only = true;
  options.unconditional = object->metadata.resource_version == 0;
  auto stored = store_.update(std::move(object).value(), options);
  if (!stored.ok()) return errorResponse(stored.status());
  return jsonResponse(200, (*stored)->jsonText());
}

}  // namespace skiff
