// SqliteStore: the embedded Store, on SQLite in WAL mode with synchronous=FULL, so a commit is
// on disk before a call returns. One process owns a database file (exclusive locking).
//
// Writes through derived() commit with synchronous=NORMAL: appended to the WAL without an fsync.
// WAL frames are replayed in order, so the next FULL commit's fsync makes them durable too, and
// a machine crash can only lose a tail of them. That tail is bounded (in revisions, and in age
// for the next write): a store opened after an unclean stop skips the revision past the longest
// tail it may have lost, so no revision a watcher saw is ever given to another change.
//
// All objects are also held in memory as immutable snapshots: reads never touch SQLite. A
// bounded history of recent events is kept in memory and in the `events` table, so watches
// can resume across server restarts.
//
// Objects of the kinds an AtRestCipher seals (Secret) are encrypted in both tables; secure_delete
// overwrites what SQLite frees, so replaced ciphertext does not linger in the file either.
//
// Thread-safe. Writers are serialized by write_mu_; readers take mu_ shared for the instant
// they copy a snapshot pointer.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>

#include "common/clock.h"
#include "store/at_rest.h"
#include "store/store.h"

struct sqlite3;
struct sqlite3_stmt;

namespace skiff {

class SqliteStore final : public Store {
 public:
  struct Options {
    std::string path;
    // Events kept for watch resumption; older ones are compacted away. Of the kept events,
    // those whose object has changed since hold a version nothing else holds: once those
    // versions take more than history_superseded_bytes, the oldest events go too, so a burst
    // of writes costs bounded memory however large its objects.
    size_t history_events = 10000;
    size_t history_superseded_bytes = size_t{4} << 20;
    const Clock* clock = &SystemClock::instance();
    // Seals sensitive kinds on disk; nullptr: everything is stored plain. Must outlive the
    // store.
    const AtRestCipher* cipher = nullptr;
  };

  // The write-ahead log's length, in pages, at which the commit that reaches it also copies
  // the log into the database file and fsyncs that (SQLite's auto-checkpoint; its default is
  // 1,000). That commit waits for the pages the fsync writes back: at 1,000 pages about 5 ms,
  // once in some 45 creates here, which set the p99 of durable writes. At 250 it waits less,
  // more often (docs/benchmarks.md).
  static constexpr int kCheckpointPages = 250;

  static Result<std::unique_ptr<SqliteStore>> open(const Options& options);
  ~SqliteStore() override;

  Result<StoredObjectPtr> create(Object object, bool dry_run) override;
  Result<StoredObjectPtr> update(Object object, UpdateOptions options) override;
  Result<StoredObjectPtr> remove(const ObjectKey& key,
                                 std::optional<int64_t> resource_version) override;
  Result<StoredObjectPtr> get(const ObjectKey& key) const override;
  ObjectList list(const std::string& kind, const ListOptions& options) const override;
  size_t count(const std::string& kind, const std::string& tenant) const override;
  Result<std::unique_ptr<WatchHandle>> watch(const WatchOptions& options, WatchSink sink) override;
  int64_t revision() const override;
  int64_t compactedRevision() const override;
  Store& derived() override;

  // Re-seals every sealed row (and seals any plain row of a sealed kind) under the cipher's
  // current key, in one transaction, while writes wait; returns how many rows it rewrote.
  // After it, keys other than the current one are no longer needed (secrets/rotation.h).
  Result<size_t> reseal();

 private:
  class Handle;
  class DerivedView;
  // Whether a write waits for the disk (see derived()).
  enum class Sync { kNow, kDeferred };
  struct Watcher {
    WatchOptions options;
    WatchSink sink;
  };
  // What one write does: the event it makes, or (no change) the current snapshot.
  struct Outcome {
    std::optional<WatchEvent> event;
    StoredObjectPtr unchanged;
  };
  // Computes a write's outcome from the object's current state (nullptr: absent) and the
  // revision it would commit at. Dry runs get the same computation without identity.
  using Mutation = std::function<Result<Outcome>(const StoredObjectPtr& current, int64_t revision,
                                                 bool dry_run)>;
  struct Writer;
  // Leads the writer queue alone: runs `exclusive` with the connection while writes wait.
  Status runExclusive(const std::function<Status()>& exclusive);
  // The text a row holds for `object_text` of `kind`: sealed when the cipher seals the kind.
  Result<std::string> rowText(const std::string& kind, const std::string& object_text) const;

  explicit SqliteStore(const Options& options);
  Status init();
  Status load();
  Result<StoredObjectPtr> createObject(Object object, bool dry_run, Sync sync);
  Result<StoredObjectPtr> updateObject(Object object, UpdateOptions options, Sync sync);
  Result<StoredObjectPtr> removeObject(const ObjectKey& key,
                                       std::optional<int64_t> resource_version, Sync sync);
  // Queues a write and returns once it is committed (on disk unless kDeferred) or failed; see
  // the group commit in .cc.
  Result<StoredObjectPtr> write(ObjectKey key, Mutation mutation, Sync sync);
  Result<StoredObjectPtr> dryRun(const ObjectKey& key, const Mutation& mutation);
  // Writes events in one transaction, fsynced when `synced`. Called by the leading writer
  // without write_mu_.
  Status persist(const std::vector<WatchEvent>& events, bool synced);
  // Sets the connection's synchronous mode for the next commit. Called by the leading writer.
  Status setSynchronous(bool full);
  // Whether the next commit must reach the disk although its writes would not wait: the
  // unsynced tail would outgrow its bounds. Called by the leading writer.
  bool unsyncedTailFull(int64_t next_revision) const;
  // Publishes committed events to memory and watchers. Requires write_mu_.
  void apply(const std::vector<WatchEvent>& events);
  // Drops the oldest events beyond the history's bounds. Requires mu_ held exclusively.
  void compactHistory();
  // Whether the event holds a version of its object that is no longer current. Requires mu_.
  bool superseded(const WatchEvent& event) const;
  void unsubscribe(uint64_t id);
  std::string newUid();

  // Constant after construction.
  const Options options_;
  std::unique_ptr<DerivedView> derived_;
  sqlite3* db_ = nullptr;
  sqlite3_stmt* put_object_ = nullptr;
  sqlite3_stmt* delete_object_ = nullptr;
  sqlite3_stmt* put_event_ = nullptr;
  sqlite3_stmt* trim_events_ = nullptr;
  sqlite3_stmt* put_revision_ = nullptr;

  // Orders writers and watch (un)registration. The SQLite connection belongs to the writer at
  // the front of writers_.
  std::mutex write_mu_;
  std::deque<Writer*> writers_;           // guarded by write_mu_
  std::map<uint64_t, Watcher> watchers_;  // guarded by write_mu_
  uint64_t next_watcher_id_ = 1;          // guarded by write_mu_
  uint64_t uid_counter_ = 0;              // guarded by write_mu_

  // The unsynced tail, kept by the leading writer: the last revision certainly on disk, when
  // the first one after it committed, and the connection's current synchronous mode.
  int64_t synced_revision_ = 0;
  std::chrono::steady_clock::time_point unsynced_since_;
  bool synchronous_full_ = true;
  // Revisions a machine crash may have taken with an unsynced tail before this process opened
  // the database: (lost_after_, lost_through_]. A watch cannot resume from them. Constant after
  // open.
  int64_t lost_after_ = 0;
  int64_t lost_through_ = 0;
  bool marked_open_ = false;  // the database says "not closed cleanly" while this store has it

  // Guards the in-memory state below. Written only by the leading writer holding write_mu_,
  // so the leader may read it without mu_.
  mutable std::shared_mutex mu_;
  std::map<ObjectKey, StoredObjectPtr> objects_;
  std::deque<WatchEvent> history_;
  size_t superseded_bytes_ = 0;  // what superseded() events of history_ hold (historyCost)
  int64_t revision_ = 0;
  int64_t compacted_revision_ = 0;
};

}  // namespace skiff
