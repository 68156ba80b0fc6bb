// The object envelope every Skiff resource shares (DESIGN.md, "Resource model"):
// apiVersion, kind, metadata, spec and status. Objects are plain values; the store owns the
// authoritative copies and hands out immutable snapshots (StoredObject).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/packed_text.h"
#include "common/status.h"

namespace skiff {

using json = nlohmann::json;

inline constexpr const char* kApiVersion = "skiff.dev/v1";
inline constexpr const char* kDefaultTenant = "default";

// Identity of an object. `tenant` is empty for platform-scoped kinds (Tenant).
struct ObjectKey {
  std::string kind;
  std::string tenant;
  std::string name;

  auto operator<=>(const ObjectKey&) const = default;
  std::string toString() const;  // "Application acme/shop"
};

struct ObjectMeta {
  std::string name;
  std::string tenant;
  std::string uid;
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
  int64_t resource_version = 0;
  int64_t generation = 0;
  std::string created_at;
};

struct Condition {
  std::string type;
  std::string status;  // "True" | "False" | "Unknown"
  std::string reason;
  std::string message;
  std::string last_transition_time;
};

struct Object {
  std::string kind;
  ObjectMeta metadata;
  json spec = json::object();
  json status = json::object();

  ObjectKey key() const { return {kind, metadata.tenant, metadata.name}; }
  json toJson() const;
};

// Reads an envelope that has already passed validation (or came from the store). Fields it
// does not know are ignored; use validation for user input.
Result<Object> objectFromJson(const json& doc);

// An immutable snapshot held by the store: identity and metadata, plus the serialized JSON of
// the whole object, so reads and watch fan-out never re-serialize. The JSON is held packed: the
// store keeps every object for as long as it exists, and packed it takes under half the memory
// for an unpack that costs a tenth of a parse. Spec and status are parsed on demand. Shared
// between threads read-only.
struct StoredObject {
  std::string kind;
  ObjectMeta metadata;
  PackedText packed_json;
  // The revision of the last write that changed more than the status (the object's creation,
  // or a change of its labels, annotations or spec): equal to resourceVersion unless the writes
  // since were status writes. Not serialized; a snapshot loaded from disk has its
  // resourceVersion here.
  int64_t spec_revision = 0;

  ObjectKey key() const { return {kind, metadata.tenant, metadata.name}; }
  int64_t resourceVersion() const { return metadata.resource_version; }
  // The whole object's JSON (costs an unpack: call once per use).
  std::string jsonText() const { return packed_json.unpack(); }
  // The whole object, parsed (costs a parse: call once per use).
  Object object() const;
};
using StoredObjectPtr = std::shared_ptr<const StoredObject>;

// `spec_revision` 0: the object's resourceVersion (a write that changed more than status).
StoredObjectPtr makeStored(Object object, int64_t spec_revision = 0);

// The snapshot's object, shared by all who read it soon after: the snapshots written or parsed
// most recently (a few dozen, of the common kinds that hold no credentials) stay parsed, so the
// controllers that each reconcile the same write, and the revision every reconcile of an
// application reads, share one object and mostly no parse at all. Thread-safe.
std::shared_ptr<const Object> parsedObject(const StoredObjectPtr& snapshot);

// Sets or replaces condition `c.type` in status.conditions, keeping lastTransitionTime when
// the status value did not change. `now` stamps a transition.
void setCondition(json& status, const Condition& c, const std::string& now);
// The condition of `type` in status.conditions, or nullptr.
const json* findCondition(const json& status, const std::string& type);

// The strings of the array object[key]; other elements and a missing or non-array field give
// nothing.
std::vector<std::string> stringsAt(const json& object, const char* key);

// Whether an Application's spec (or a Revision's template) runs on the embedded runtime: its
// `cluster` is absent, empty or "local" (the default), rather than a registered Cluster.
bool runsLocally(const json& spec);

}  // namespace skiff
