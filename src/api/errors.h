// The API's error document: a Status object, as Kubernetes' API returns it, with the reason and
// each offending field path. Thread-safe pure functions.
#pragma once

#include <string>

#include "api/http.h"
#include "common/status.h"

namespace skiff {

// {"apiVersion":"skiff.dev/v1","kind":"Status","status":"Failure","code":422,
//  "reason":"Invalid","message":"...","details":{"causes":[{"field":"...","message":"..."}]}}
HttpResponse errorResponse(const Status& status);

}  // namespace skiff
