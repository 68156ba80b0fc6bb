#include "cli/object_update.h"

#include "cli/revisions.h"

namespace skiff::cli {

namespace {

// Each conflict means someone else wrote in between; after this many the user should look.
constexpr int kUpdateAttempts = 5;

}  // namespace

int64_t resourceVersionOf(const json& object) {
  const json meta = object.value("metadata", json::object());
  const json rv = meta.is_object() ? meta.value("resourceVersion", json()) : json();
  return rv.is_number_integer() ? rv.get<int64_t>() : 0;
}

json replacementFor(const json& document, const json& live) {
  json out = document;
  out["metadata"]["resourceVersion"] = resourceVersionOf(live);
  const json live_meta = live.value("metadata", json::object());
  const json live_annotations =
      live_meta.is_object() ? live_meta.value("annotations", json()) : json();
  if (!live_annotations.is_object()) return out;
  for (const char* key : {kPausedAnnotation, kPromoteAnnotation, kAbortAnnotation}) {
    auto value = live_annotations.find(key);
    if (value == live_annotations.end()) continue;
    json& annotations = out["metadata"]["annotations"];
    if (!annotations.is_object()) annotations = json::object();
    if (!annotations.contains(key)) annotations[key] = *value;
  }
  return out;
}

Result<json> updateObject(ApiClient& client, const ObjectAddress& address, const ObjectEdit& edit) {
  for (int attempt = 1;; ++attempt) {
    auto live = client.get(address);
    if (!live.ok()) return live.status();
    json object = std::move(live).value();
    // Status is the controllers' to write; sending it back would only be ignored.
    object.erase("status");
    if (Status s = edit(object); !s.isOk()) return s;
    auto written = client.replace(address, object);
    if (written.ok() || written.status().code() != StatusCode::kConflict ||
        attempt == kUpdateAttempts)
      return written;
  }
}

}  // namespace skiff::cli
