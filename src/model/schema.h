// A small JSON Schema engine for the model's kind schemas (model/schemas.h). Schemas are plain
// nlohmann::json values using a subset of JSON Schema: type (a name or a list of names),
// properties, required, additionalProperties (false or a schema), items, enum, minimum,
// maximum, exclusiveMinimum (numeric, as in JSON Schema 2019), minLength, maxLength, minItems,
// maxItems, default, description and format (model/formats.h). The same schemas are rendered
// as OpenAPI 3.0 for /openapi.json. Pure functions over immutable schemas; thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "model/object.h"

namespace skiff {

// Normalizes `value` in place before validation: fills absent properties that have a
// default (recursively, including inside array items and defaults themselves), treats a null
// property as absent (YAML's "key:" with nothing after it), and turns integral floats (2.0)
// into integers where the schema wants an integer. Values of the wrong type are left alone
// for validateSchema() to report.
void applySchemaDefaults(const json& schema, json& value);

// Appends one FieldError per violation of `schema` by `value`, which sits at `path` (e.g.
// "spec.components[1]"). Reports every violation, not just the first.
void validateSchema(const json& schema, const json& value, const std::string& path,
                    std::vector<FieldError>& errors);

// The schema in OpenAPI 3.0's dialect: type lists and int-or-percent become oneOf, numeric
// exclusiveMinimum becomes minimum + exclusiveMinimum: true.
json toOpenApiSchema(const json& schema);

// Field paths: childPath("spec", "ports") == "spec.ports", indexPath("spec.ports", 1) ==
// "spec.ports[1]"; keys that are not identifiers are quoted: metadata.labels["a.b/c"].
std::string childPath(const std::string& parent, std::string_view key);
std::string indexPath(const std::string& parent, size_t index);

// How messages show a value the user sent: JSON text ("\"svc\"", "70000", "2.5").
std::string showValue(const json& value);
// "string", "integer", "number", "object", ... as in "must be a string, got number".
std::string typeName(const json& value);

}  // namespace skiff
