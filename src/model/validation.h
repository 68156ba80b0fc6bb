// Admission of user input: the envelope and spec of each kind are checked against the kind's
// schema (model/schemas.cc), defaults are filled in, and cross-field rules are enforced
// (unique names, references, dependsOn cycles, ...). Every violation is reported with its field
// path; nothing is partially admitted. Pure functions; thread-safe.
#pragma once

#include <string>

#include "common/status.h"
#include "model/object.h"

namespace skiff {

struct AdmitOptions {
  // The kind the URL names; the document's `kind` must match it.
  std::string kind;
  // The tenant the URL names (empty for platform-scoped kinds). metadata.tenant may be omitted
  // or must equal it.
  std::string tenant;
};

// Validates `doc` (a decoded request body) for create/update and returns the typed Object with
// defaults applied. Server-owned metadata (uid, generation, createdAt) in the input is ignored;
// metadata.resourceVersion is carried over (the store checks it on update). Failure is
// kInvalid with one FieldError per violation, e.g.
//   {"spec.components[1].ports[0].port", "must be between 1 and 65535, got 70000"}.
Result<Object> admitObject(const json& doc, const AdmitOptions& options);

// Checks a status written through the status subresource (must be an object, bounded size).
Status validateStatus(const json& status);

// JSON Schema (OpenAPI 3 subset) of the whole object of `kind`, for /openapi.json.
json objectSchema(const std::string& kind);

// True if `name` is a DNS label: 1-63 of [a-z0-9-], starting and ending alphanumeric.
bool isDnsLabel(std::string_view name);

}  // namespace skiff
