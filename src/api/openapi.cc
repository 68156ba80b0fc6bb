#include "api/openapi.h"

#include <string>

#include "model/kinds.h"
#include "model/validation.h"

namespace skiff {

namespace {

using nlohmann::json;

json schemaRef(const std::string& name) { return {{"$ref", "#/components/schemas/" + name}}; }

json content(const json& schema, bool yaml_too) {
  json c = {{"application/json", {{"schema", schema}}}};
  if (yaml_too) c["application/yaml"] = {{"schema", schema}};
  return c;
}

json okResponse(const std::string& description, const json& schema) {
  return {{"description", description}, {"content", content(schema, false)}};
}

json errorResponses(std::initializer_list<int> codes) {
  static const std::map<int, const char*> kDescriptions = {
      {400, "BadRequest: the body or a query parameter cannot be decoded"},
      {404, "NotFound: no such object or tenant"},
      {405, "MethodNotAllowed: the kind is read-only or the method does not apply"},
      {409,
       "AlreadyExists (create) or Conflict (stale resourceVersion, or a state that forbids "
       "the operation)"},
      {410, "Gone: the watch's resourceVersion is older than the kept history; list again"},
      {413, "RequestEntityTooLarge: the body is over 1 MiB"},
      {415, "UnsupportedMediaType: send application/json or application/yaml"},
      {422, "Invalid: the object breaks the model's rules; details.causes names each field"},
      {401, "Unauthorized: no valid bearer token (or, at login, wrong credentials or a lock)"},
      {403, "Forbidden: the caller's roles do not allow it; the message names the permission"},
      {503, "ServiceUnavailable: a store, key file or directory the server needs failed"},
  };
  json out = json::object();
  for (int c : codes)
    out[std::to_string(c)] = {{"description", kDescriptions.at(c)},
                              {"content", content(schemaRef("Status"), false)}};
  return out;
}

json param(const char* name, const char* in, const char* description, const json& schema,
           bool required = false) {
  return {{"name", name},
          {"in", in},
          {"description", description},
          {"schema", schema},
          {"required", required}};
}

json statusSchema() {
  return {
      {"type", "object"},
      {"description",
       "An error. `reason` is machine-readable; `details.causes` lists each "
       "offending field path."},
      {"properties",
       {{"apiVersion", {{"type", "string"}}},
        {"kind", {{"type", "string"}, {"enum", {"Status"}}}},
        {"status", {{"type", "string"}, {"enum", {"Failure"}}}},
        {"code", {{"type", "integer"}}},
        {"reason",
         {{"type", "string"},
          {"enum",
           {"BadRequest", "Invalid", "NotFound", "AlreadyExists", "Conflict", "Gone",
            "RequestEntityTooLarge", "UnsupportedMediaType", "MethodNotAllowed",
            "ServiceUnavailable", "InternalError"}}}},
        {"message", {{"type", "string"}}},
        {"details",
         {{"type", "object"},
          {"properties",
           {{"causes",
             {{"type", "array"},
              {"items",
               {{"type", "object"},
                {"properties",
                 {{"field", {{"type", "string"}}}, {"message", {{"type", "string"}}}}}}}}}}}}}}}};
}

}  // namespace

json openApiDocument() {
  json schemas = json::object();
  json paths = json::object();
  schemas["Status"] = statusSchema();

  const json selector =
      param("labelSelector", "query", "Only objects whose labels match, e.g. `app=shop,tier!=db`.",
            {{"type", "string"}});
  const json watch_param = param("watch", "query",
                                 "Stream newline-delimited JSON events (ADDED, MODIFIED, DELETED, "
                                 "BOOKMARK) instead of returning a list.",
                                 {{"type", "boolean"}});
  const json rv_param = param("resourceVersion", "query",
                              "With watch: deliver every event after this revision. With delete: "
                              "delete only if the object is still at this version.",
                              {{"type", "integer"}});
  const json dry_run =
      param("dryRun", "query", "Validate and return the result without storing it.",
            {{"type", "boolean"}});
  const json tenant_param = param("tenant", "path", "Tenant name.", {{"type", "string"}}, true);
  const json name_param = param("name", "path", "Object name.", {{"type", "string"}}, true);

  for (const KindInfo& k : allKinds()) {
    const std::string kind = k.kind;
    schemas[kind] = objectSchema(kind);
    schemas[kind + "List"] = {
        {"type", "object"},
        {"properties",
         {{"apiVersion", {{"type", "string"}}},
          {"kind", {{"type", "string"}}},
          {"metadata",
           {{"type", "object"}, {"properties", {{"resourceVersion", {{"type", "integer"}}}}}}},
          {"items", {{"type", "array"}, {"items", schemaRef(kind)}}}}}};
    const bool tenant_scoped = k.scope == Scope::kTenant;
    const std::string base = tenant_scoped ? "/api/v1/tenants/{tenant}/" + std::string(k.plural)
                                           : "/api/v1/" + std::string(k.plural);
    json scope_params = tenant_scoped ? json::array({tenant_param}) : json::array();
    json item_params = scope_params;
    item_params.push_back(name_param);

    json collection = {{"parameters", scope_params}};
    collection["get"] = {{"summary", "List or watch " + std::string(k.plural)},
                         {"operationId", "list" + kind},
                         {"parameters", {selector, watch_param, rv_param}},
                         {"responses", errorResponses({400, 404, 410})}};
    collection["get"]["responses"]["200"] =
        okResponse("The list, or with watch=true a stream of events", schemaRef(kind + "List"));
    json item = {{"parameters", item_params}};
    item["get"] = {{"summary", "Read a " + kind},
                   {"operationId", "read" + kind},
                   {"responses", errorResponses({404})}};
    item["get"]["responses"]["200"] = okResponse("The object", schemaRef(kind));
    json status = {{"parameters", item_params}};
    status["get"] = item["get"];
    status["get"]["operationId"] = "read" + kind + "Status";

    if (k.api_writable) {
      json body = {{"required", true}, {"content", content(schemaRef(kind), true)}};
      collection["post"] = {{"summary", "Create a " + kind},
                            {"operationId", "create" + kind},
                            {"parameters", {dry_run}},
                            {"requestBody", body},
                            {"responses", errorResponses({400, 404, 409, 413, 415, 422})}};
      collection["post"]["responses"]["201"] = okResponse("Created", schemaRef(kind));
      item["put"] = {{"summary", "Replace a " + kind +
                                     "'s labels, annotations and spec; "
                                     "metadata.resourceVersion must be the current one"},
                     {"operationId", "replace" + kind},
                     {"parameters", {dry_run}},
                     {"requestBody", body},
                     {"responses", errorResponses({400, 404, 409, 413, 415, 422})}};
      item["put"]["responses"]["200"] = okResponse(
          "Replaced (unchanged objects keep their "
          "resourceVersion)",
          schemaRef(kind));
      item["patch"] = {
          {"summary", "Apply a JSON merge patch (RFC 7386) to the latest version"},
          {"operationId", "patch" + kind},
          {"parameters", {dry_run}},
          {"requestBody",
           {{"required", true},
            {"content", {{"application/merge-patch+json", {{"schema", {{"type", "object"}}}}}}}}},
          {"responses", errorResponses({400, 404, 409, 413, 415, 422})}};
      item["patch"]["responses"]["200"] = okResponse("Patched", schemaRef(kind));
      item["delete"] = {{"summary", "Delete a " + kind},
                        {"operationId", "delete" + kind},
                        {"parameters", {rv_param}},
                        {"responses", errorResponses({400, 404, 409})}};
      item["delete"]["responses"]["200"] = okResponse("The object's last state", schemaRef(kind));
      status["put"] = {{"summary", "Replace a " + kind + "'s status (spec is left alone)"},
                       {"operationId", "replace" + kind + "Status"},
                       {"requestBody", body},
                       {"responses", errorResponses({400, 404, 409, 413, 415, 422})}};
      status["put"]["responses"]["200"] = okResponse("Updated", schemaRef(kind));
    }
    paths[base] = collection;
    paths[base + "/{name}"] = item;
    paths[base + "/{name}/status"] = status;
    if (tenant_scoped) {
      json all = {{"get",
                   {{"summary", "List or watch " + std::string(k.plural) + " of every tenant"},
                    {"operationId", "list" + kind + "AllTenants"},
                    {"parameters", {selector, watch_param, rv_param}},
                    {"responses", errorResponses({400, 410})}}}};
      all["get"]["responses"]["200"] = okResponse("The list", schemaRef(kind + "List"));
      paths["/api/v1/" + std::string(k.plural)] = all;
    }
  }
  // Logs: plain text, one line per log line.
  const json text_lines = {
      {"description",
       "The log lines as plain text; with follow=true a chunked stream that goes on until the "
       "instances are deleted or the client disconnects"},
      {"content", {{"text/plain", {{"schema", {{"type", "string"}}}}}}}};
  const json boolean = {{"type", "boolean"}};
  const json log_params = json::array(
      {param("previous", "query",
             "The run before the current one (after a restart) instead of the current one.",
             boolean),
       param("sinceSeconds", "query", "Only lines written in the last N seconds (N >= 1).",
             {{"type", "integer"}, {"minimum", 1}}),
       param("since", "query",
             "Only lines written at or after this RFC 3339 time (UTC); excludes sinceSeconds.",
             {{"type", "string"}, {"format", "date-time"}}),
       param("tailLines", "query", "Only the last N lines (of each instance).",
             {{"type", "integer"}, {"minimum", 0}}),
       param("follow", "query", "Keep streaming new lines as they are written.", boolean),
       param("timestamps", "query", "Start each line with its RFC 3339 time.", boolean)});
  const json instance_name = param("name", "path", "Instance name.", {{"type", "string"}}, true);
  json instance_log_params = log_params;
  paths["/api/v1/tenants/{tenant}/instances/{name}/log"] = {
      {"parameters", {tenant_param, instance_name}},
      {"get",
       {{"summary", "Read or follow an instance's log (also of a deleted one, until retention)"},
        {"operationId", "readInstanceLog"},
        {"parameters", instance_log_params},
        {"responses", errorResponses({400, 404})}}}};
  paths["/api/v1/tenants/{tenant}/instances/{name}/log"]["get"]["responses"]["200"] = text_lines;
  json app_log_params = log_params;
  app_log_params.push_back(
      param("component", "query", "Only the instances of this component.", {{"type", "string"}}));
  app_log_params.push_back(param("instance", "query", "Only this instance.", {{"type", "string"}}));
  paths["/api/v1/tenants/{tenant}/applications/{name}/logs"] = {
      {"parameters", {tenant_param, name_param}},
      {"get",
       {{"summary",
         "Read or follow the logs of an application's instances, merged by time and prefixed "
         "with \"[INSTANCE] \" when there are several"},
        {"operationId", "readApplicationLogs"},
        {"parameters", app_log_params},
        {"responses", errorResponses({400, 404})}}}};
  paths["/api/v1/tenants/{tenant}/applications/{name}/logs"]["get"]["responses"]["200"] =
      text_lines;

  json plain = {{"type", "object"}};
  paths["/api/v1/tenants/{tenant}/applications/{name}/plan"] = {
      {"parameters", {tenant_param, name_param}},
      {"post",
       {{"summary",
         "What applying the Application in the body would do, changing nothing: the changed "
         "fields, each component's release schedule (weights, pauses, gates, instances started "
         "and stopped), the analysis that gates it, and whether the tenant's quota allows it"},
        {"operationId", "planApplication"},
        {"requestBody",
         {{"required", true},
          {"content",
           {{"application/json", {{"schema", {{"$ref", "#/components/schemas/Application"}}}}}}}}},
        {"responses", errorResponses({400, 403, 422})}}}};
  paths["/api/v1/tenants/{tenant}/applications/{name}/plan"]["post"]["responses"]["200"] =
      okResponse("The plan (nextRevision null: nothing would change)", plain);
  paths["/api/v1/tenants/{tenant}/alerts"] = {
      {"parameters", {tenant_param}},
      {"get",
       {{"summary",
         "The tenant's alerts now (docs/alerting.md): {items: [{rule, labels, annotations, state "
         "(pending, firing, resolved), value, activeAt, firingAt, resolvedAt, fingerprint, "
         "silenced, inhibited, builtin}]}"},
        {"operationId", "listAlerts"},
        {"responses", errorResponses({401, 403, 404})}}}};
  paths["/api/v1/tenants/{tenant}/alerts"]["get"]["responses"]["200"] =
      okResponse("The alerts", plain);
  // Metrics (docs/observability.md): queries answer the `data` of Prometheus' HTTP API.
  const json query_params = {
      param("query", "query", "A query in Skiff's PromQL subset.", {{"type", "string"}}, true),
      param("time", "query", "The instant (RFC 3339 or Unix seconds; default now).",
            {{"type", "string"}}),
      param("start", "query", "A range's start (with end and step).", {{"type", "string"}}),
      param("end", "query", "A range's end.", {{"type", "string"}}),
      param("step", "query", "A range's step: a duration (15s) or seconds.", {{"type", "string"}})};
  const char* query_summary =
      "Evaluate a query at an instant or over a range: {resultType: vector|matrix|scalar, "
      "result: [{metric, value: [t, \"v\"]} | {metric, values: [[t, \"v\"], ...]}]}";
  paths["/api/v1/tenants/{tenant}/metrics"] = {
      {"parameters", {tenant_param}},
      {"get",
       {{"summary", std::string(query_summary) + ", over the tenant's series only"},
        {"operationId", "queryTenantMetrics"},
        {"parameters", query_params},
        {"responses", errorResponses({400, 401, 403})}}}};
  paths["/api/v1/tenants/{tenant}/metrics"]["get"]["responses"]["200"] =
      okResponse("The query's result", plain);
  paths["/api/v1/metrics"] = {{"get",
                               {{"summary", std::string(query_summary) + ", over every tenant"},
                                {"operationId", "queryMetrics"},
                                {"parameters", query_params},
                                {"responses", errorResponses({400, 401, 403})}}}};
  paths["/api/v1/metrics"]["get"]["responses"]["200"] = okResponse("The query's result", plain);
  paths["/metrics"] = {
      {"get",
       {{"summary",
         "Every series' latest sample with the time it was measured, in the Prometheus text "
         "format (version 0.0.4), for a Prometheus to scrape"},
        {"operationId", "exposeMetrics"},
        {"responses", errorResponses({401, 403})}}}};
  paths["/metrics"]["get"]["responses"]["200"] = {
      {"description", "The exposition"},
      {"content", {{"text/plain", {{"schema", {{"type", "string"}}}}}}}};
  // Signing in, the caller's own credentials and the audit trail (api/auth_handler.h).
  auto operation = [&](const char* summary, const char* id, std::initializer_list<int> errors) {
    json op = {{"summary", summary}, {"operationId", id}, {"responses", errorResponses(errors)}};
    op["responses"]["200"] = okResponse("Done", plain);
    return op;
  };
  paths["/api/v1/login"] = {
      {"post", operation("Sign in with {user, password}: a session token, shown once", "login",
                         {400, 401, 422, 503})}};
  paths["/api/v1/logout"] = {{"post", operation("Revoke the session presented", "logout", {401})}};
  paths["/api/v1/whoami"] = {{"get", operation("The caller's identity", "whoami", {401})}};
  paths["/api/v1/accessreviews"] = {
      {"post",
       operation("May the caller do {verb, resource, tenant}?", "accessReview", {400, 401, 422})}};
  paths["/api/v1/tokens"] = {
      {"get", operation("The caller's API tokens and sessions (everyone's with permission)",
                        "listTokens", {401})},
      {"post", operation("Create an API token {user, roles, tenants, ttl, description}; the "
                         "secret is in this answer only",
                         "createToken", {400, 401, 403, 422})}};
  paths["/api/v1/tokens/{name}"] = {
      {"parameters", {name_param}},
      {"get", operation("One token (no secret)", "readToken", {401, 404})},
      {"delete", operation("Revoke a token", "revokeToken", {401, 404})}};
  paths["/api/v1/users/{name}/password"] = {
      {"parameters", {name_param}},
      {"put", operation("Set a password {password, currentPassword}", "setPassword",
                        {400, 401, 403, 404, 422})}};
  paths["/api/v1/audit"] = {
      {"get", operation("Audit entries, filtered by user, tenant, since and limit",
                        "listAuditEvents", {400, 401, 403})}};
  paths["/api/v1/audit/verify"] = {
      {"get", operation("Recompute the audit trail's hash chain", "verifyAudit", {401, 403})}};
  paths["/api/v1/admin/rotate-key"] = {
      {"post", operation("Seal every secret under a new key and retire the old ones",
                         "rotateSecretsKey", {401, 403, 503})}};

  paths["/healthz"] = {{"get",
                        {{"summary", "Liveness of the API server"},
                         {"operationId", "healthz"},
                         {"responses", {{"200", okResponse("Serving", plain)}}}}}};
  paths["/version"] = {{"get",
                        {{"summary", "Server version"},
                         {"operationId", "version"},
                         {"responses", {{"200", okResponse("The version", plain)}}}}}};
  paths["/openapi.json"] = {{"get",
                             {{"summary", "This document"},
                              {"operationId", "openapi"},
                              {"responses", {{"200", okResponse("OpenAPI 3.0", plain)}}}}}};
  return {
      {"openapi", "3.0.3"},
      {"info",
       {{"title", "Skiff API"},
        {"version", SKIFF_VERSION},
        {"description", "The resource API of Skiff, an application-centric container PaaS."}}},
      {"paths", std::move(paths)},
      // Every path but /healthz, /readyz, /version, /openapi.json and login needs a token.
      {"security", {{{"bearer", json::array()}}}},
      {"components",
       {{"schemas", std::move(schemas)},
        {"securitySchemes",
         {{"bearer",
           {{"type", "http"}, {"scheme", "bearer"}, {"bearerFormat", "skf_<id>_<secret>"}}}}}}}};
}

}  // namespace skiff
