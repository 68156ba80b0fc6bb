// AlertHandler: the alerts a tenant has now, as the alerting engine (alert/alerting_service.h)
// last evaluated them:
//
//   GET /api/v1/tenants/{t}/alerts    {"items": [{rule, labels, annotations, state, value,
//                                      activeAt, firingAt, resolvedAt, fingerprint, silenced,
//                                      inhibited, builtin}]}
//
// Reading them is `get alertrules` in the tenant (api/access.cc). Thread-safe.
#pragma once

#include <functional>
#include <string>

#include "api/http.h"
#include "model/object.h"
#include "store/store.h"

namespace skiff {

class AlertHandler {
 public:
  // `alerts` answers a tenant's alerts (AlertingService::alerts).
  AlertHandler(const Store& store, std::function<json(const std::string& tenant)> alerts);

  static bool handles(const HttpRequest& request);
  HttpResponse handle(HttpRequest& request);

 private:
  const Store& store_;
  const std::function<json(const std::string&)> alerts_;
};

}  // namespace skiff
