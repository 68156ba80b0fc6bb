// The API's error document, and the few other answers every handler builds: a Status object, as
// Kubernetes' API returns it, with the reason and each offending field path. Thread-safe pure
// functions.
#pragma once

#include <functional>
#include <string>

#include "api/http.h"
#include "common/status.h"

namespace skiff {

// {"apiVersion":"skiff.dev/v1","kind":"Status","status":"Failure","code":422,
//  "reason":"Invalid","message":"...","details":{"causes":[{"field":"...","message":"..."}]}}
HttpResponse errorResponse(const Status& status);

// 405 naming the method and what is allowed on `what`.
HttpResponse methodNotAllowed(const HttpRequest& request, const std::string& what,
                              const char* allowed);

// A response that runs `work` on the server's blocking pool (for work that waits: hashing,
// disk).
HttpResponse deferred(std::function<HttpResponse()> work);

}  // namespace skiff
