#include "api/alert_handler.h"

#include "api/errors.h"
#include "api/resource_path.h"

namespace skiff {

namespace {

// The tenant of /api/v1/tenants/{t}/alerts, or empty.
std::string tenantOf(const std::string& path) {
  const std::vector<std::string> seg = splitPath(path);
  if (seg.size() == 5 && seg[0] == "api" && seg[1] == "v1" && seg[2] == "tenants" &&
      seg[4] == "alerts")
    return seg[3];
  return "";
}

}  // namespace

AlertHandler::AlertHandler(const Store& store, std::function<json(const std::string&)> alerts)
    : store_(store), alerts_(std::move(alerts)) {}

bool AlertHandler::handles(const HttpRequest& request) { return !tenantOf(request.path).empty(); }

HttpResponse AlertHandler::handle(HttpRequest& request) {
  if (request.method != "GET") return methodNotAllowed(request, request.path, "GET");
  const std::string tenant = tenantOf(request.path);
  if (!store_.get({"Tenant", "", tenant}).ok())
    return errorResponse(notFound("tenant \"" + tenant + "\" does not exist"));
  HttpResponse r;
  r.body = alerts_(tenant).dump();
  return r;
}

}  // namespace skiff
