// Decoding of user documents (JSON or YAML) into JSON values, and YAML output.
// Pure functions; thread-safe. Decoding never crashes or recurses without bound on any input:
// these functions are fuzzed (fuzz/decode_fuzzer.cc).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "model/object.h"

namespace skiff {

// Largest request body the API accepts.
inline constexpr size_t kMaxBodyBytes = 1 << 20;

// Decodes one document. `content_type` selects the syntax ("application/json",
// "application/yaml", "application/x-yaml", "text/yaml"); when empty the syntax is sniffed
// (JSON if the first non-space byte is '{' or '['). Duplicate keys, nesting deeper than 64 and
// trailing garbage are errors (kBadRequest, message saying where). YAML follows the 1.2 core
// schema (quoted scalars are strings; NaN and infinities are errors); anchors and aliases work
// but a document may expand to at most 1,000,000 values and 16 MiB. Body size is the caller's
// limit (kMaxBodyBytes), not checked here.
Result<json> decodeDocument(std::string_view body, std::string_view content_type = {});

// Decodes a stream of documents: YAML separated by "---", a JSON object, or a JSON array of
// objects. Empty documents are skipped.
Result<std::vector<json>> decodeDocuments(std::string_view text);

// YAML block-style rendering of a JSON value (strings that would read back as another type
// are quoted).
std::string toYaml(const json& value);

}  // namespace skiff
