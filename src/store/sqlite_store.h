// SqliteStore: the embedded Store, on SQLite in WAL mode with synchronous=FULL, so a commit is
// on disk before a call returns. One process owns a database file (exclusive locking).
//
// All objects are also held in memory as immutable snapshots: reads never touch SQLite. A
// bounded history of recent events is kept in memory and in the `events` table, so watches
// can resume across server restarts.
//
// Thread-safe. Writers are serialized by write_mu_; readers take mu_ shared for the instant
// they copy a snapshot pointer.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>

#include "common/clock.h"
#include "store/store.h"

struct sqlite3;
struct sqlite3_stmt;

namespace skiff {

class SqliteStore final : public Store {
 public:
  struct Options {
    std::string path;
    // Events kept for watch resumption; older ones are compacted away.
    size_t history_events = 10000;
    const Clock* clock = &SystemClock::instance();
  };

  static Result<std::unique_ptr<SqliteStore>> open(const Options& options);
  ~SqliteStore() override;

  Result<StoredObjectPtr> create(Object object, bool dry_run) override;
  Result<StoredObjectPtr> update(Object object, UpdateOptions options) override;
  Result<StoredObjectPtr> remove(const ObjectKey& key,
                                 std::optional<int64_t> resource_version) override;
  Result<StoredObjectPtr> get(const ObjectKey& key) const override;
  ObjectList list(const std::string& kind, const ListOptions& options) const override;
  size_t count(const std::string& kind, const std::string& tenant) const override;
  Result<std::unique_ptr<WatchHandle>> watch(const WatchOptions& options,
                                             WatchSink sink) override;
  int64_t revision() const override;
  int64_t compactedRevision() const override;

 private:
  class Handle;
  struct Watcher {
    WatchOptions options;
    WatchSink sink;
  };

  explicit SqliteStore(const Options& options);
  Status init();
  Status load();
  // Writes `event` durably (object row + event row + revision) in one transaction, then
  // publishes it to memory and watchers. Requires write_mu_.
  Status commit(const WatchEvent& event);
  void publish(const WatchEvent& event);
  void unsubscribe(uint64_t id);
  std::string newUid();

  // Constant after construction.
  const Options options_;
  sqlite3* db_ = nullptr;
  sqlite3_stmt* put_object_ = nullptr;
  sqlite3_stmt* delete_object_ = nullptr;
  sqlite3_stmt* put_event_ = nullptr;
  sqlite3_stmt* trim_events_ = nullptr;
  sqlite3_stmt* put_revision_ = nullptr;

  // Serializes writers and watch (un)registration; guards the SQLite connection and watchers_.
  std::mutex write_mu_;
  std::map<uint64_t, Watcher> watchers_;  // guarded by write_mu_
  uint64_t next_watcher_id_ = 1;          // guarded by write_mu_
  uint64_t uid_counter_ = 0;              // guarded by write_mu_

  // Guards the in-memory state below. Written only while write_mu_ is also held, so writers
  // may read it without mu_.
  mutable std::shared_mutex mu_;
  std::map<ObjectKey, StoredObjectPtr> objects_;
  std::deque<WatchEvent> history_;
  int64_t revision_ = 0;
  int64_t compacted_revision_ = 0;
};

}  // namespace skiff
