#include "store/sqlite_store.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <random>

namespace skiff {

const char* eventTypeName(EventType type) {
  switch (type) {
    case EventType::kAdded:
      return "ADDED";
    case EventType::kModified:
      return "MODIFIED";
    case EventType::kDeleted:
      return "DELETED";
  }
  return "UNKNOWN";
}

namespace {

// What a version held only by the history costs: its packed text and, about, its parsed
// metadata.
size_t historyCost(const StoredObject& version) { return version.packed_json.packedSize() + 512; }

// Bounds of the unsynced tail of derived writes: a commit that would take it past either
// bound is fsynced. The revision bound is also how far a store skips after an unclean stop.
constexpr int64_t kMaxUnsyncedRevisions = 1000;
constexpr std::chrono::seconds kMaxUnsyncedAge{1};
// The events table holds the history's events and at most this many older ones.
constexpr int64_t kTrimBatch = 256;

// Owns a prepared statement's bindings for one execution.
class Bound {
 public:
  explicit Bound(sqlite3_stmt* stmt) : stmt_(stmt) {}
  ~Bound() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  Bound& text(int i, const std::string& s) {
    sqlite3_bind_text(stmt_, i, s.data(), static_cast<int>(s.size()), SQLITE_STATIC);
    return *this;
  }
  Bound& integer(int i, int64_t v) {
    sqlite3_bind_int64(stmt_, i, v);
    return *this;
  }
  int step() { return sqlite3_step(stmt_); }

 private:
  sqlite3_stmt* stmt_;
};

bool matches(const WatchOptions& w, const StoredObject& o) {
  const ObjectMeta& m = o.metadata;
  return (w.kind.empty() || w.kind == o.kind) && (w.tenant.empty() || w.tenant == m.tenant) &&
         w.selector.matches(m.labels);
}

}  // namespace

// The store with its writes deferred; everything else is the store's own.
class SqliteStore::DerivedView final : public Store {
 public:
  explicit DerivedView(SqliteStore& store) : store_(store) {}
  Result<StoredObjectPtr> create(Object object, bool dry_run) override {
    return store_.createObject(std::move(object), dry_run, Sync::kDeferred);
  }
  Result<StoredObjectPtr> update(Object object, UpdateOptions options) override {
    return store_.updateObject(std::move(object), options, Sync::kDeferred);
  }
  Result<StoredObjectPtr> remove(const ObjectKey& key,
                                 std::optional<int64_t> resource_version) override {
    return store_.removeObject(key, resource_version, Sync::kDeferred);
  }
  Result<StoredObjectPtr> get(const ObjectKey& key) const override { return store_.get(key); }
  ObjectList list(const std::string& kind, const ListOptions& options) const override {
    return store_.list(kind, options);
  }
  size_t count(const std::string& kind, const std::string& tenant) const override {
    return store_.count(kind, tenant);
  }
  Result<std::unique_ptr<WatchHandle>> watch(const WatchOptions& options, WatchSink sink) override {
    return store_.watch(options, std::move(sink));
  }
  int64_t revision() const override { return store_.revision(); }
  int64_t compactedRevision() const override { return store_.compactedRevision(); }
  Store& derived() override { return *this; }

 private:
  SqliteStore& store_;
};

class SqliteStore::Handle final : public WatchHandle {
 public:
  Handle(SqliteStore* store, uint64_t id) : store_(store), id_(id) {}
  ~Handle() override { store_->unsubscribe(id_); }

 private:
  SqliteStore* store_;
  uint64_t id_;
};

SqliteStore::SqliteStore(const Options& options)
    : options_(options), derived_(std::make_unique<DerivedView>(*this)) {}

SqliteStore::~SqliteStore() {
  // Closed cleanly: the unsynced tail goes to disk with the mark, so the next open need not
  // skip revisions. (Writers are gone: whoever destroys the store has stopped them.)
  if (marked_open_ && setSynchronous(true).isOk())
    sqlite3_exec(db_, "UPDATE meta SET value=1 WHERE key='clean'", nullptr, nullptr, nullptr);
  for (sqlite3_stmt* s : {put_object_, delete_object_, put_event_, trim_events_, put_revision_})
    sqlite3_finalize(s);
  if (db_ != nullptr) sqlite3_close(db_);
}

Result<std::unique_ptr<SqliteStore>> SqliteStore::open(const Options& options) {
  std::unique_ptr<SqliteStore> store(new SqliteStore(options));
  if (Status s = store->init(); !s.isOk()) return s;
  if (Status s = store->load(); !s.isOk()) return s;
  return store;
}

Status SqliteStore::init() {
  if (sqlite3_open_v2(options_.path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                      nullptr) != SQLITE_OK) {
    return unavailable("cannot open the database " + options_.path + ": " + sqlite3_errmsg(db_));
  }
  // WAL + synchronous=FULL: each commit is fsynced before it returns. Exclusive locking: a
  // second server on the same data directory fails here instead of corrupting state.
  const char* setup = R"sql(
    PRAGMA locking_mode=EXCLUSIVE;
    PRAGMA journal_mode=WAL;
    PRAGMA synchronous=FULL;
    PRAGMA secure_delete=ON;
    CREATE TABLE IF NOT EXISTS objects(
      kind TEXT NOT NULL, tenant TEXT NOT NULL, name TEXT NOT NULL, data TEXT NOT NULL,
      PRIMARY KEY(kind, tenant, name)) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS events(
      revision INTEGER PRIMARY KEY, type INTEGER NOT NULL, data TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL);
    INSERT OR IGNORE INTO meta(key, value) VALUES('revision', 0);
    INSERT OR IGNORE INTO meta(key, value) VALUES('clean', 1);
  )sql";
  char* err = nullptr;
  sqlite3_wal_autocheckpoint(db_, kCheckpointPages);
  if (sqlite3_exec(db_, setup, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    return unavailable("cannot initialise the database " + options_.path + ": " + msg);
  }
  struct {
    sqlite3_stmt** stmt;
    const char* sql;
  } statements[] = {
      {&put_object_, "INSERT OR REPLACE INTO objects(kind, tenant, name, data) VALUES(?,?,?,?)"},
      {&delete_object_, "DELETE FROM objects WHERE kind=? AND tenant=? AND name=?"},
      {&put_event_, "INSERT INTO events(revision, type, data) VALUES(?,?,?)"},
      {&trim_events_, "DELETE FROM events WHERE revision <= ?"},
      {&put_revision_, "UPDATE meta SET value=? WHERE key='revision'"},
  };
  for (auto& s : statements) {
    if (sqlite3_prepare_v3(db_, s.sql, -1, SQLITE_PREPARE_PERSISTENT, s.stmt, nullptr) != SQLITE_OK)
      return internalError(std::string("cannot prepare statement: ") + sqlite3_errmsg(db_));
  }
  return Status::ok();
}

Status SqliteStore::load() {
  auto query = [&](const char* sql, auto&& row) -> Status {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db_, sql, -1, &stmt, nullptr) != SQLITE_OK)
      return internalError(std::string("cannot read the database: ") + sqlite3_errmsg(db_));
    int rc;
    Status status;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW && status.isOk()) status = row(stmt);
    sqlite3_finalize(stmt);
    if (status.isOk() && rc != SQLITE_DONE && rc != SQLITE_ROW)
      status = internalError(std::string("cannot read the database: ") + sqlite3_errmsg(db_));
    return status;
  };
  auto parse = [this](sqlite3_stmt* stmt, int col) -> Result<StoredObjectPtr> {
    const char* data = reinterpret_cast<const char*>(sqlite3_column_text(stmt, col));
    std::string text = data ? data : "";
    if (options_.cipher != nullptr && options_.cipher->isSealed(text)) {
      auto opened = options_.cipher->open(text);
      if (!opened.ok())
        return internalError("cannot open a sealed object in the database: " +
                             opened.status().message());
      text = std::move(opened).value();
    } else if (options_.cipher == nullptr && text.starts_with("$")) {
      return internalError("the database holds sealed objects but no key was given to open them");
    }
    json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
    Result<Object> object = objectFromJson(doc);
    if (!object.ok())
      return internalError("corrupt object in the database: " + object.status().toString());
    return makeStored(std::move(object).value());
  };

  bool clean = true;
  Status s = query("SELECT key, value FROM meta", [&](sqlite3_stmt* stmt) {
    const std::string key = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
    if (key == "revision") revision_ = sqlite3_column_int64(stmt, 1);
    if (key == "clean") clean = sqlite3_column_int64(stmt, 1) != 0;
    return Status::ok();
  });
  if (!s.isOk()) return s;
  s = query("SELECT data FROM objects", [&](sqlite3_stmt* stmt) -> Status {
    auto stored = parse(stmt, 0);
    if (!stored.ok()) return stored.status();
    objects_.emplace((*stored)->key(), *stored);
    return Status::ok();
  });
  if (!s.isOk()) return s;
  s = query("SELECT revision, type, data FROM events ORDER BY revision",
            [&](sqlite3_stmt* stmt) -> Status {
              auto stored = parse(stmt, 2);
              if (!stored.ok()) return stored.status();
              const auto type = static_cast<EventType>(sqlite3_column_int(stmt, 1));
              // An event that made an object's current state shares its snapshot, as it does
              // before a restart, instead of holding a second copy.
              StoredObjectPtr object = *stored;
              if (auto it = objects_.find(object->key());
                  type != EventType::kDeleted && it != objects_.end() &&
                  it->second->resourceVersion() == object->resourceVersion())
                object = it->second;
              history_.push_back({type, sqlite3_column_int64(stmt, 0), std::move(object)});
              return Status::ok();
            });
  if (!s.isOk()) return s;
  compacted_revision_ = history_.empty() ? revision_ : history_.front().revision - 1;
  for (const WatchEvent& event : history_)
    if (superseded(event)) superseded_bytes_ += historyCost(*event.object);
  compactHistory();

  // Not closed cleanly: the machine may have crashed with an unsynced tail that watchers saw,
  // at most kMaxUnsyncedRevisions after the last revision on disk. Those revisions are never
  // given out again and are not resumable; the store goes on one past them, so that a list's
  // revision is one to watch from.
  if (!clean) {
    lost_after_ = revision_;
    lost_through_ = revision_ + kMaxUnsyncedRevisions;
    revision_ = lost_through_ + 1;
  }
  synced_revision_ = revision_;
  const std::string mark =
      "BEGIN; UPDATE meta SET value=0 WHERE key='clean'; UPDATE meta SET value=" +
      std::to_string(revision_) + " WHERE key='revision'; COMMIT;";
  if (sqlite3_exec(db_, mark.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK) {
    const std::string msg = sqlite3_errmsg(db_);
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    return unavailable("cannot write to the database " + options_.path + ": " + msg);
  }
  marked_open_ = true;
  return Status::ok();
}

Status SqliteStore::setSynchronous(bool full) {
  if (full == synchronous_full_) return Status::ok();
  if (sqlite3_exec(db_, full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL", nullptr,
                   nullptr, nullptr) != SQLITE_OK)
    return unavailable(std::string("cannot set the commit mode: ") + sqlite3_errmsg(db_));
  synchronous_full_ = full;
  return Status::ok();
}

bool SqliteStore::unsyncedTailFull(int64_t next_revision) const {
  return revision_ > synced_revision_ &&
         (next_revision - synced_revision_ > kMaxUnsyncedRevisions ||
          options_.clock->monotonic() - unsynced_since_ >= kMaxUnsyncedAge);
}

Store& SqliteStore::derived() { return *derived_; }

std::string SqliteStore::newUid() {
  // Random per process, counter within: unique without a syscall per object.
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  uint64_t hi = rng();
  uint64_t lo = (rng() & 0xffffffff00000000ull) | (++uid_counter_ & 0xffffffffull);
  char buf[40];
  std::snprintf(buf, sizeof buf, "%08x-%04x-4%03x-%04x-%012llx", static_cast<unsigned>(hi >> 32),
                static_cast<unsigned>((hi >> 16) & 0xffff), static_cast<unsigned>(hi & 0xfff),
                static_cast<unsigned>(0x8000 | ((lo >> 48) & 0x3fff)),
                static_cast<unsigned long long>(lo & 0xffffffffffffull));
  return buf;
}

Status SqliteStore::persist(const std::vector<WatchEvent>& events, bool synced) {
  auto fail = [&](const char* what) {
    std::string msg = std::string("cannot ") + what + ": " + sqlite3_errmsg(db_);
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    return unavailable(msg);
  };
  if (Status s = setSynchronous(synced); !s.isOk()) return s;
  if (sqlite3_exec(db_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) != SQLITE_OK)
    return fail("begin a transaction");
  for (const WatchEvent& event : events) {
    const StoredObject& o = *event.object;
    auto text = rowText(o.kind, o.jsonText());
    if (!text.ok()) {
      sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
      return text.status();
    }
    if (event.type == EventType::kDeleted) {
      if (Bound(delete_object_)
              .text(1, o.kind)
              .text(2, o.metadata.tenant)
              .text(3, o.metadata.name)
              .step() != SQLITE_DONE)
        return fail("delete the object");
    } else if (Bound(put_object_)
                   .text(1, o.kind)
                   .text(2, o.metadata.tenant)
                   .text(3, o.metadata.name)
                   .text(4, *text)
                   .step() != SQLITE_DONE) {
      return fail("write the object");
    }
    if (Bound(put_event_)
            .integer(1, event.revision)
            .integer(2, static_cast<int>(event.type))
            .text(3, *text)
            .step() != SQLITE_DONE)
      return fail("write the event");
  }
  const int64_t last = events.back().revision;
  // Old events go kTrimBatch at a time: a delete that finds nothing writes no page, and one at
  // every commit would add the table's first page to each (and, as pages empty, the freelist's).
  const int64_t keep_after =
      (last - static_cast<int64_t>(options_.history_events)) / kTrimBatch * kTrimBatch;
  if (keep_after > 0 && Bound(trim_events_).integer(1, keep_after).step() != SQLITE_DONE)
    return fail("compact the event history");
  if (Bound(put_revision_).integer(1, last).step() != SQLITE_DONE)
    return fail("write the revision");
  if (sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) return fail("commit");
  return Status::ok();
}

Result<std::string> SqliteStore::rowText(const std::string& kind,
                                         const std::string& object_text) const {
  if (options_.cipher == nullptr || !options_.cipher->seals(kind)) return object_text;
  return options_.cipher->seal(object_text);
}

Result<size_t> SqliteStore::reseal() {
  if (options_.cipher == nullptr) return size_t{0};
  size_t rewritten = 0;
  Status s = runExclusive([&]() -> Status {
    if (Status full = setSynchronous(true); !full.isOk()) return full;
    // Rows are collected first: SQLite does not promise what a scan sees of its own updates.
    struct Row {
      std::string key[3];  // objects: kind, tenant, name; events: revision
      std::string data;
    };
    auto collect = [&](const char* sql, int key_columns, std::vector<Row>* rows) -> Status {
      sqlite3_stmt* stmt = nullptr;
      if (sqlite3_prepare_v2(db_, sql, -1, &stmt, nullptr) != SQLITE_OK)
        return internalError(std::string("cannot read the database: ") + sqlite3_errmsg(db_));
      while (sqlite3_step(stmt) == SQLITE_ROW) {
        Row row;
        for (int i = 0; i < key_columns; ++i)
          row.key[i] = reinterpret_cast<const char*>(sqlite3_column_text(stmt, i));
        row.data = reinterpret_cast<const char*>(sqlite3_column_text(stmt, key_columns));
        rows->push_back(std::move(row));
      }
      sqlite3_finalize(stmt);
      return Status::ok();
    };
    std::vector<Row> objects, events;
    if (Status c = collect("SELECT kind, tenant, name, data FROM objects", 3, &objects); !c.isOk())
      return c;
    if (Status c = collect("SELECT revision, data FROM events", 1, &events); !c.isOk()) return c;
    // The plain text of a row that must be (re)sealed, or nullopt to leave it.
    auto plainOf = [&](const Row& row,
                       const std::string& kind) -> Result<std::optional<std::string>> {
      if (options_.cipher->isSealed(row.data)) {
        auto opened = options_.cipher->open(row.data);
        if (!opened.ok()) return opened.status();
        return std::optional<std::string>(std::move(opened).value());
      }
      if (options_.cipher->seals(kind)) return std::optional<std::string>(row.data);
      return std::optional<std::string>();
    };
    auto fail = [&](const std::string& what) {
      std::string msg = "cannot re-seal " + what + ": " + sqlite3_errmsg(db_);
      sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
      return unavailable(msg);
    };
    if (sqlite3_exec(db_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) != SQLITE_OK)
      return fail("(begin a transaction)");
    for (const Row& row : objects) {
      auto plain = plainOf(row, row.key[0]);
      if (!plain.ok()) {
        sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
        return plain.status();
      }
      if (!*plain) continue;
      auto sealed = options_.cipher->seal(**plain);
      if (!sealed.ok()) return fail("an object");
      if (Bound(put_object_)
              .text(1, row.key[0])
              .text(2, row.key[1])
              .text(3, row.key[2])
              .text(4, *sealed)
              .step() != SQLITE_DONE)
        return fail("an object");
      ++rewritten;
    }
    sqlite3_stmt* put = nullptr;
    if (sqlite3_prepare_v2(db_, "UPDATE events SET data=? WHERE revision=?", -1, &put, nullptr) !=
        SQLITE_OK)
      return fail("the events");
    std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)> put_owner(put, &sqlite3_finalize);
    for (const Row& row : events) {
      // Only plain events of a sealed kind need their kind looked up.
      std::string kind;
      if (!options_.cipher->isSealed(row.data))
        kind = json::parse(row.data, nullptr, false).value("kind", std::string());
      auto plain = plainOf(row, kind);
      if (!plain.ok()) {
        sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
        return plain.status();
      }
      if (!*plain) continue;
      auto sealed = options_.cipher->seal(**plain);
      if (!sealed.ok()) return fail("an event");
      if (Bound(put).text(1, *sealed).integer(2, std::stoll(row.key[0])).step() != SQLITE_DONE)
        return fail("an event");
      ++rewritten;
    }
    if (sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK)
      return fail("(commit)");
    // Fold the WAL into the database so the replaced pages are overwritten there too.
    sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_TRUNCATE, nullptr, nullptr);
    return Status::ok();
  });
  if (!s.isOk()) return s;
  return rewritten;
}

bool SqliteStore::superseded(const WatchEvent& event) const {
  if (event.type == EventType::kDeleted) return true;
  auto it = objects_.find(event.object->key());
  return it == objects_.end() || it->second != event.object;
}

void SqliteStore::compactHistory() {
  while (!history_.empty() && (history_.size() > options_.history_events ||
                               superseded_bytes_ > options_.history_superseded_bytes)) {
    const WatchEvent& oldest = history_.front();
    if (superseded(oldest)) superseded_bytes_ -= historyCost(*oldest.object);
    compacted_revision_ = oldest.revision;
    history_.pop_front();
  }
}

void SqliteStore::apply(const std::vector<WatchEvent>& events) {
  {
    std::unique_lock lock(mu_);
    for (const WatchEvent& event : events) {
      // The version this event replaces is left to the history alone if an event holds it
      // (the event that made it: its revision is the version's, and it has not been compacted).
      auto current = objects_.find(event.object->key());
      if (current != objects_.end() && current->second->resourceVersion() > compacted_revision_)
        superseded_bytes_ += historyCost(*current->second);
      if (event.type == EventType::kDeleted) {
        if (current != objects_.end()) objects_.erase(current);
        superseded_bytes_ += historyCost(*event.object);
      } else if (current != objects_.end()) {
        current->second = event.object;
      } else {
        objects_.emplace(event.object->key(), event.object);
      }
      revision_ = event.revision;
      history_.push_back(event);
    }
    compactHistory();
  }
  for (const WatchEvent& event : events)
    for (auto& [id, w] : watchers_)
      if (matches(w.options, *event.object)) w.sink(event);
}

// One queued write. Lives on its caller's stack until `done`.
struct SqliteStore::Writer {
  Writer(ObjectKey k, Mutation m, Sync s) : key(std::move(k)), mutation(std::move(m)), sync(s) {}
  ObjectKey key;
  Mutation mutation;  // empty for an exclusive writer (runExclusive), which no batch takes
  Sync sync;
  Result<StoredObjectPtr> result = internalError("the write was not run");
  bool wrote = false;
  bool done = false;
  std::condition_variable cv;
};

Result<StoredObjectPtr> SqliteStore::write(ObjectKey key, Mutation mutation, Sync sync) {
  Writer w(std::move(key), std::move(mutation), sync);
  std::unique_lock lock(write_mu_);
  writers_.push_back(&w);
  w.cv.wait(lock, [&] { return w.done || writers_.front() == &w; });
  if (w.done) return std::move(w.result);

  // The writer at the front leads: it commits every queued write in one transaction, so
  // concurrent writers share one fsync (LevelDB's group commit). Each write sees the state
  // left by the writes before it in the batch.
  constexpr size_t kMaxBatch = 512;
  std::vector<Writer*> batch;
  for (Writer* q : writers_) {
    if (batch.size() == kMaxBatch || !q->mutation) break;
    batch.push_back(q);
  }
  std::map<ObjectKey, StoredObjectPtr> overlay;  // nullptr: deleted earlier in the batch
  std::vector<WatchEvent> events;
  int64_t revision = revision_;
  // One write that waits for the disk makes the whole batch wait for it.
  bool synced = false;
  for (Writer* b : batch) {
    StoredObjectPtr current;
    if (auto o = overlay.find(b->key); o != overlay.end()) {
      current = o->second;
    } else if (auto it = objects_.find(b->key); it != objects_.end()) {
      current = it->second;
    }
    Result<Outcome> outcome = b->mutation(current, revision + 1, /*dry_run=*/false);
    if (!outcome.ok()) {
      b->result = outcome.status();
      continue;
    }
    if (!outcome->event) {
      b->result = outcome->unchanged;
      continue;
    }
    ++revision;
    overlay[b->key] =
        outcome->event->type == EventType::kDeleted ? nullptr : outcome->event->object;
    b->result = outcome->event->object;
    b->wrote = true;
    synced = synced || b->sync == Sync::kNow;
    events.push_back(std::move(*outcome->event));
  }
  if (!events.empty()) {
    synced = synced || unsyncedTailFull(revision);
    // Writers may queue for the next batch while this one is on its way to disk; nothing
    // else changes objects_ or the revision meanwhile, since only the leader writes.
    lock.unlock();
    Status committed = persist(events, synced);
    lock.lock();
    if (committed.isOk()) {
      if (synced)
        synced_revision_ = revision;
      else if (revision_ == synced_revision_)
        unsynced_since_ = options_.clock->monotonic();
      apply(events);
    } else {
      for (Writer* b : batch)
        if (b->wrote) b->result = committed;
    }
  }
  for (Writer* b : batch) {
    writers_.pop_front();
    b->done = true;
    if (b != &w) b->cv.notify_one();
  }
  if (!writers_.empty()) writers_.front()->cv.notify_one();
  return std::move(w.result);
}

Status SqliteStore::runExclusive(const std::function<Status()>& exclusive) {
  Writer w(ObjectKey{}, nullptr, Sync::kNow);
  std::unique_lock lock(write_mu_);
  writers_.push_back(&w);
  w.cv.wait(lock, [&] { return writers_.front() == &w; });
  // Holding write_mu_ throughout: queued writers wait, none can lead meanwhile.
  Status s = exclusive();
  writers_.pop_front();
  if (!writers_.empty()) writers_.front()->cv.notify_one();
  return s;
}

Result<StoredObjectPtr> SqliteStore::dryRun(const ObjectKey& key, const Mutation& mutation) {
  std::lock_guard write_lock(write_mu_);  // uid_counter_ and a stable view
  auto it = objects_.find(key);
  Result<Outcome> outcome =
      mutation(it == objects_.end() ? nullptr : it->second, revision_ + 1, /*dry_run=*/true);
  if (!outcome.ok()) return outcome.status();
  return outcome->event ? outcome->event->object : outcome->unchanged;
}

Result<StoredObjectPtr> SqliteStore::create(Object object, bool dry_run) {
  return createObject(std::move(object), dry_run, Sync::kNow);
}

Result<StoredObjectPtr> SqliteStore::update(Object object, UpdateOptions options) {
  return updateObject(std::move(object), options, Sync::kNow);
}

Result<StoredObjectPtr> SqliteStore::remove(const ObjectKey& key,
                                            std::optional<int64_t> resource_version) {
  return removeObject(key, resource_version, Sync::kNow);
}

Result<StoredObjectPtr> SqliteStore::createObject(Object object, bool dry_run, Sync sync) {
  if (object.metadata.resource_version != 0)
    return Status(StatusCode::kInvalid, "resourceVersion must not be set when creating an object",
                  {{"metadata.resourceVersion", "must be omitted on create"}});
  const ObjectKey key = object.key();
  Mutation m = [this, object = std::move(object)](const StoredObjectPtr& current, int64_t revision,
                                                  bool dry) -> Result<Outcome> {
    if (current) return alreadyExists(current->key().toString() + " already exists");
    Object o = object;
    o.metadata.generation = 1;
    o.metadata.created_at = formatTimestamp(options_.clock->now());
    if (!dry) {
      o.metadata.uid = newUid();
      o.metadata.resource_version = revision;
    }
    return Outcome{WatchEvent{EventType::kAdded, revision, makeStored(std::move(o))}, nullptr};
  };
  return dry_run ? dryRun(key, m) : write(key, std::move(m), sync);
}

Result<StoredObjectPtr> SqliteStore::updateObject(Object object, UpdateOptions options, Sync sync) {
  const ObjectKey key = object.key();
  Mutation m = [object = std::move(object), options](
                   const StoredObjectPtr& stored, int64_t revision, bool dry) -> Result<Outcome> {
    if (!stored) return notFound(object.key().toString() + " not found");
    if (!options.unconditional && object.metadata.resource_version != stored->resourceVersion()) {
      return conflict(object.key().toString() + " has been modified (resourceVersion " +
                      std::to_string(object.metadata.resource_version) + " given, current is " +
                      std::to_string(stored->resourceVersion()) +
                      "): get the latest version and apply your change to it");
    }
    // Usually the snapshot the writer has just read: parsed already.
    const auto parsed = parsedObject(stored);
    const Object& current = *parsed;
    Object next = current;
    if (options.status_only) {
      next.status = object.status;
    } else {
      next.metadata.labels = object.metadata.labels;
      next.metadata.annotations = object.metadata.annotations;
      if (object.spec != current.spec) ++next.metadata.generation;
      next.spec = object.spec;
    }
    if (next.metadata.labels == current.metadata.labels &&
        next.metadata.annotations == current.metadata.annotations && next.spec == current.spec &&
        next.status == current.status)
      return Outcome{std::nullopt, stored};
    if (!dry) next.metadata.resource_version = revision;
    const bool status_only_change = next.metadata.labels == current.metadata.labels &&
                                    next.metadata.annotations == current.metadata.annotations &&
                                    next.spec == current.spec;
    return Outcome{
        WatchEvent{EventType::kModified, revision,
                   makeStored(std::move(next), status_only_change ? stored->spec_revision : 0)},
        nullptr};
  };
  return options.dry_run ? dryRun(key, m) : write(key, std::move(m), sync);
}

Result<StoredObjectPtr> SqliteStore::removeObject(const ObjectKey& key,
                                                  std::optional<int64_t> resource_version,
                                                  Sync sync) {
  return write(
      key,
      [key, resource_version](const StoredObjectPtr& stored, int64_t revision,
                              bool) -> Result<Outcome> {
        if (!stored) return notFound(key.toString() + " not found");
        if (resource_version && *resource_version != stored->resourceVersion())
          return conflict(key.toString() + " has been modified (resourceVersion " +
                          std::to_string(*resource_version) + " given, current is " +
                          std::to_string(stored->resourceVersion()) + ")");
        Object last = stored->object();
        last.metadata.resource_version = revision;
        return Outcome{WatchEvent{EventType::kDeleted, revision, makeStored(std::move(last))},
                       nullptr};
      },
      sync);
}

Result<StoredObjectPtr> SqliteStore::get(const ObjectKey& key) const {
  std::shared_lock lock(mu_);
  auto it = objects_.find(key);
  if (it == objects_.end()) return notFound(key.toString() + " not found");
  return it->second;
}

ObjectList SqliteStore::list(const std::string& kind, const ListOptions& options) const {
  ObjectList out;
  std::shared_lock lock(mu_);
  out.revision = revision_;
  const std::string& prefix = options.name_prefix;
  auto has_prefix = [&](const std::string& name) {
    return name.compare(0, prefix.size(), prefix) == 0;
  };
  // Within one tenant, the names with the prefix are one contiguous range of the map.
  const bool ranged = !options.tenant.empty();
  for (auto it = objects_.lower_bound({kind, options.tenant, ranged ? prefix : ""});
       it != objects_.end() && it->first.kind == kind; ++it) {
    if (ranged && (it->first.tenant != options.tenant || !has_prefix(it->first.name))) break;
    if (!has_prefix(it->first.name)) continue;
    if (options.selector.matches(it->second->metadata.labels)) out.items.push_back(it->second);
  }
  return out;
}

size_t SqliteStore::count(const std::string& kind, const std::string& tenant) const {
  std::shared_lock lock(mu_);
  size_t n = 0;
  for (auto it = objects_.lower_bound({kind, tenant, ""});
       it != objects_.end() && it->first.kind == kind && it->first.tenant == tenant; ++it)
    ++n;
  return n;
}

Result<std::unique_ptr<WatchHandle>> SqliteStore::watch(const WatchOptions& options,
                                                        WatchSink sink) {
  std::lock_guard write(write_mu_);
  if (options.from_revision) {
    const int64_t from = *options.from_revision;
    if (from > lost_after_ && from <= lost_through_)
      return Status(StatusCode::kGone,
                    "resourceVersion " + std::to_string(from) +
                        " may be of a change lost when the server's machine stopped; list again "
                        "and watch from the list's resourceVersion");
    if (from < compacted_revision_)
      return Status(StatusCode::kGone, "resourceVersion " + std::to_string(from) +
                                           " is too old: history starts after " +
                                           std::to_string(compacted_revision_) +
                                           "; list again and watch from the "
                                           "list's resourceVersion");
    for (const auto& e : history_)
      if (e.revision > from && matches(options, *e.object)) sink(e);
  } else {
    for (const auto& [key, stored] : objects_)
      if (matches(options, *stored)) sink({EventType::kAdded, revision_, stored});
  }
  const uint64_t id = next_watcher_id_++;
  watchers_.emplace(id, Watcher{options, std::move(sink)});
  return std::unique_ptr<WatchHandle>(new Handle(this, id));
}

void SqliteStore::unsubscribe(uint64_t id) {
  std::lock_guard write(write_mu_);
  watchers_.erase(id);
}

int64_t SqliteStore::revision() const {
  std::shared_lock lock(mu_);
  return revision_;
}

int64_t SqliteStore::compactedRevision() const {
  std::shared_lock lock(mu_);
  return compacted_revision_;
}

}  // namespace skiff
