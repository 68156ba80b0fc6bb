// The schema of each kind's spec and of the metadata envelope, in the dialect of
// model/schema.h. Admission (model/validation.cc) validates and defaults against them and
// /openapi.json publishes them, so documentation and enforcement cannot drift. Rules a schema
// cannot say (uniqueness, references between fields, "exactly one of") live in
// validation.cc. Built once, immutable afterwards; thread-safe.
#pragma once

#include <string_view>

#include "model/object.h"

namespace skiff {

// The spec schema of `kind`, or nullptr for an unknown kind.
const json* specSchema(std::string_view kind);
// The schema of an Application's spec (also a Revision's spec.template).
const json& applicationSpecSchema();
// metadata, for documentation (admission checks metadata in code, for its messages).
json metadataSchema(std::string_view kind);

}  // namespace skiff
