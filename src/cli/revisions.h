// Reading an application's revisions, shared by `rollout history`, `rollout undo` and
// `describe`.
// Not thread-safe (uses the caller's ApiClient).
#pragma once

#include "model/well_known.h"

#include <string>
#include <vector>

#include "cli/api_client.h"

namespace skiff::cli {

// The revisions of `application` in `tenant`, by ascending spec.revision.
Result<std::vector<json>> applicationRevisions(ApiClient& client, const std::string& tenant,
                                               const std::string& application);

// spec.revision, or 0 when absent.
int64_t revisionNumber(const json& revision);

// The skiff.dev/change-cause annotation, or "<none>".
std::string changeCause(const json& revision);
// Who made the revision's change (its skiff.dev/changed-by), or "<unknown>".
std::string changedBy(const json& revision);

}  // namespace skiff::cli
