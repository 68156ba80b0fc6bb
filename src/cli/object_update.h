// Read-modify-write of one object against the API's optimistic concurrency: GET, change the
// copy, PUT it back with the resourceVersion it was read at, and start over from a fresh GET
// when another writer got in between (409). For edits a merge patch cannot express, such as
// one element of an array (`skiff scale`), or that must start from what is live (`rollout
// undo`). Not thread-safe (uses the caller's ApiClient).
#pragma once

#include <cstdint>
#include <functional>

#include "cli/api_client.h"

namespace skiff::cli {

// metadata.resourceVersion, or 0 when absent.
int64_t resourceVersionOf(const json& object);

// What `apply` (and `diff`, which shows what apply would do) sends in place of the live
// object: `document` with the live resourceVersion, keeping the annotations that imperative
// commands set on the live object (skiff.dev/paused) unless the document sets them itself. A
// file knows nothing of a `rollout pause`, and applying it must not quietly resume the
// rollout it paused.
json replacementFor(const json& document, const json& live);

// Edits the live object in place; an error aborts the update and is returned as is.
using ObjectEdit = std::function<Status(json& object)>;

// Applies `edit` to the object at `address` and writes it back, retrying on conflict a few
// times. Returns the object as written (unchanged resourceVersion: nothing changed).
Result<json> updateObject(ApiClient& client, const ObjectAddress& address, const ObjectEdit& edit);

}  // namespace skiff::cli
