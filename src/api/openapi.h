// The OpenAPI 3.0 document served at /openapi.json: every path, schema and error of the API,
// generated from the same schemas admission uses (model/validation.h), so the two cannot drift.
#pragma once

#include <nlohmann/json.hpp>

namespace skiff {

nlohmann::json openApiDocument();

}  // namespace skiff
