// Store: the control plane's source of truth for objects, with a global monotonic revision and
// watch (DESIGN.md, "Store"). Every mutation is durable before the call returns, except through
// derived() (below); watch events are delivered after commit, in revision order. Reads are
// served from memory.
//
// The store implements the generic semantics of the resource API: uid/generation/createdAt
// assignment, optimistic concurrency on resourceVersion, spec vs status separation. Validation
// happens before (model/validation.h). Implementations are thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "model/label_selector.h"
#include "model/object.h"

namespace skiff {

enum class EventType { kAdded, kModified, kDeleted };
const char* eventTypeName(EventType type);  // "ADDED" | "MODIFIED" | "DELETED"

struct WatchEvent {
  EventType type;
  int64_t revision;  // the store revision at which this happened
  // For kDeleted: the last state of the object (its resourceVersion is `revision`).
  StoredObjectPtr object;
};

struct ListOptions {
  std::string tenant;  // empty: every tenant (platform kinds ignore it)
  LabelSelector selector;
  // Only names that start with this; with a tenant, the list costs the objects in that name
  // range rather than every object of the tenant.
  std::string name_prefix;
};

struct ObjectList {
  std::vector<StoredObjectPtr> items;  // sorted by (tenant, name)
  int64_t revision = 0;                // the store revision the list is consistent with
};

struct WatchOptions {
  std::string kind;    // empty: every kind
  std::string tenant;  // empty: every tenant
  LabelSelector selector;
  // Deliver every event after this revision, then live ones. std::nullopt: first an ADDED event
  // for each existing matching object, then live ones. A revision older than the kept history
  // fails with kGone.
  std::optional<int64_t> from_revision;
};

// Receives events in revision order. Called on the writer's thread while the store holds its
// write lock: it must only hand the event off (enqueue and wake), never block or call the store.
using WatchSink = std::function<void(const WatchEvent&)>;

// Unsubscribes on destruction; after it returns the sink is never called again.
class WatchHandle {
 public:
  virtual ~WatchHandle() = default;
};

struct UpdateOptions {
  // Apply only status (the status subresource); otherwise only metadata labels/annotations
  // and spec, keeping status.
  bool status_only = false;
  // When set, the object's resourceVersion is not checked.
  bool unconditional = false;
  // Compute and return the result without writing it.
  bool dry_run = false;
};

class Store {
 public:
  virtual ~Store() = default;

  // Creates `object` (its resourceVersion must be 0). Assigns uid, generation 1, createdAt and
  // the new revision. kAlreadyExists if the key exists. With `dry_run`, returns the object as it
  // would be stored (without uid and resourceVersion) and writes nothing.
  virtual Result<StoredObjectPtr> create(Object object, bool dry_run = false) = 0;

  // Replaces labels, annotations and spec (or only status) of an existing object whose
  // resourceVersion equals object.metadata.resource_version (kConflict otherwise). A spec change
  // bumps generation. An update that changes nothing writes nothing and returns the current
  // snapshot (same resourceVersion).
  virtual Result<StoredObjectPtr> update(Object object, UpdateOptions options = {}) = 0;

  // Deletes the object; when `resource_version` is given it must match (kConflict otherwise).
  virtual Result<StoredObjectPtr> remove(const ObjectKey& key,
                                         std::optional<int64_t> resource_version = {}) = 0;

  virtual Result<StoredObjectPtr> get(const ObjectKey& key) const = 0;
  virtual ObjectList list(const std::string& kind, const ListOptions& options) const = 0;
  virtual size_t count(const std::string& kind, const std::string& tenant) const = 0;

  virtual Result<std::unique_ptr<WatchHandle>> watch(const WatchOptions& options,
                                                     WatchSink sink) = 0;

  virtual int64_t revision() const = 0;
  // Oldest revision a watch can resume from (events after it are all kept).
  virtual int64_t compactedRevision() const = 0;

  // This store, for writers of derived state: what controllers compute again from the objects
  // they watch (statuses, revisions, instances, events). Its writes commit in revision order
  // like any other, but do not wait for the disk: they reach it with the next durable write, or
  // with the first write once a bounded number of revisions or a second went by without one. A
  // process crash loses none of them; a machine crash may lose the last ones, which the controllers
  // then write again (a watch resuming from a lost revision is answered kGone). Reads and watches
  // are the store's own.
  virtual Store& derived() = 0;
};

}  // namespace skiff
