#include "api/errors.h"

#include <nlohmann/json.hpp>

namespace skiff {

HttpResponse errorResponse(const Status& status) {
  nlohmann::json causes = nlohmann::json::array();
  for (const auto& f : status.fields())
    causes.push_back({{"field", f.path}, {"message", f.message}});
  const int code = httpStatusOf(status.code());
  nlohmann::json doc = {{"apiVersion", "skiff.dev/v1"},
                        {"kind", "Status"},
                        {"status", "Failure"},
                        {"code", code},
                        {"reason", reasonOf(status.code())},
                        {"message", status.message()}};
  if (!causes.empty()) doc["details"] = {{"causes", std::move(causes)}};
  HttpResponse r;
  r.status = code;
  r.body = doc.dump();
  return r;
}

HttpResponse methodNotAllowed(const HttpRequest& request, const std::string& what,
                              const char* allowed) {
  return errorResponse(
      Status(StatusCode::kMethodNotAllowed,
             "method " + request.method + " is not allowed on " + what + ": use " + allowed));
}

HttpResponse deferred(std::function<HttpResponse()> work) {
  HttpResponse r;
  r.deferred = std::move(work);
  return r;
}

}  // namespace skiff
