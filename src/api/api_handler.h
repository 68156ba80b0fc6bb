// ApiHandler: the REST resource API (/api/v1/...), /openapi.json, /healthz and /version.
// Decodes and admits input (model/validation.h), applies the API's own rules (tenants must
// exist, read-only kinds, status subresource, merge patch, dry run), and calls the Store.
// Watches become EventStreams of newline-delimited JSON events.
//
// Thread-safe: handle() is called concurrently from the HTTP server's threads.
#pragma once

#include <string>

#include "api/http.h"
#include "common/clock.h"
#include "store/store.h"

namespace skiff {

class ApiHandler {
 public:
  ApiHandler(Store& store, const Clock& clock);
  HttpResponse handle(HttpRequest& request);

  // What a /api/v1/... path addresses (parsed in api_handler.cc).
  struct Route;

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

  Store& store_;
  const Clock& clock_;
  const std::string openapi_;  // rendered once
};

}  // namespace skiff
