#include "store/sqlite_store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <atomic>
#include <filesystem>
#include <mutex>
#include <random>
#include <thread>

namespace skiff {
namespace {

class SqliteStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("skiff-store-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    reopen();
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  void reopen(size_t history = 10000, size_t superseded_bytes = size_t{4} << 20) {
    store_.reset();
    SqliteStore::Options o;
    o.path = (dir_ / "skiff.db").string();
    o.history_events = history;
    o.history_superseded_bytes = superseded_bytes;
    auto s = SqliteStore::open(o);
    ASSERT_TRUE(s.ok()) << s.status().toString();
    store_ = std::move(s).value();
  }
  static Object app(const std::string& name, const std::string& tenant = "default",
                    json spec = {{"components", json::array()}}) {
    Object o;
    o.kind = "Application";
    o.metadata.name = name;
    o.metadata.tenant = tenant;
    o.spec = std::move(spec);
    return o;
  }

  std::filesystem::path dir_;
  std::unique_ptr<Store> store_;  // used through the interface, as its clients do
};

TEST_F(SqliteStoreTest, CreateAssignsIdentityAndRejectsDuplicates) {
  auto a = store_->create(app("shop"));
  ASSERT_TRUE(a.ok());
  EXPECT_EQ((*a)->metadata.generation, 1);
  EXPECT_EQ((*a)->resourceVersion(), 1);
  EXPECT_EQ((*a)->metadata.uid.size(), 36u);
  EXPECT_FALSE((*a)->metadata.created_at.empty());
  auto b = store_->create(app("shop"));
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().code(), StatusCode::kAlreadyExists);
  // Same name in another tenant is another object.
  EXPECT_TRUE(store_->create(app("shop", "acme")).ok());
  EXPECT_EQ(store_->revision(), 2);
}

TEST_F(SqliteStoreTest, UpdateChecksResourceVersionAndBumpsGenerationOnSpecChange) {
  auto a = store_->create(app("shop"));
  Object o = (*a)->object();
  o.metadata.labels["team"] = "x";
  auto labelled = store_->update(o);
  ASSERT_TRUE(labelled.ok());
  EXPECT_EQ((*labelled)->metadata.generation, 1) << "labels are not spec";
  EXPECT_EQ((*labelled)->resourceVersion(), 2);

  auto stale = store_->update(o);  // still carries resourceVersion 1
  ASSERT_FALSE(stale.ok());
  EXPECT_EQ(stale.status().code(), StatusCode::kConflict);

  o = (*labelled)->object();
  o.spec["cluster"] = "local";
  auto changed = store_->update(o);
  ASSERT_TRUE(changed.ok());
  EXPECT_EQ((*changed)->metadata.generation, 2);

  auto same = store_->update((*changed)->object());
  ASSERT_TRUE(same.ok());
  EXPECT_EQ((*same)->resourceVersion(), (*changed)->resourceVersion()) << "no-op writes nothing";
  EXPECT_EQ(store_->revision(), 3);
}

TEST_F(SqliteStoreTest, StatusUpdateLeavesSpecAndSpecUpdateLeavesStatus) {
  auto a = store_->create(app("shop"));
  Object o = (*a)->object();
  o.spec = {{"changed", true}};
  o.status = {{"phase", "Running"}};
  auto s = store_->update(o, {.status_only = true});
  ASSERT_TRUE(s.ok());
  EXPECT_EQ((*s)->object().status["phase"], "Running");
  EXPECT_EQ((*s)->object().spec, (*a)->object().spec);
  EXPECT_EQ((*s)->metadata.generation, 1);

  Object o2 = (*s)->object();
  o2.spec = {{"components", json::array({1})}};
  o2.status = json::object();
  auto t = store_->update(o2);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ((*t)->object().status["phase"], "Running");
}

TEST_F(SqliteStoreTest, DryRunWritesNothing) {
  auto dry = store_->create(app("shop"), /*dry_run=*/true);
  ASSERT_TRUE(dry.ok());
  EXPECT_EQ(store_->revision(), 0);
  EXPECT_FALSE(store_->get({"Application", "default", "shop"}).ok());
}

TEST_F(SqliteStoreTest, DeleteWithPrecondition) {
  auto a = store_->create(app("shop"));
  auto wrong = store_->remove((*a)->key(), 99);
  EXPECT_EQ(wrong.status().code(), StatusCode::kConflict);
  auto gone = store_->remove((*a)->key(), (*a)->resourceVersion());
  ASSERT_TRUE(gone.ok());
  EXPECT_EQ((*gone)->resourceVersion(), 2);
  EXPECT_EQ(store_->get((*a)->key()).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->remove((*a)->key()).status().code(), StatusCode::kNotFound);
}

TEST_F(SqliteStoreTest, ListFiltersByTenantAndSelectorSorted) {
  for (const char* n : {"b", "a", "c"}) {
    Object o = app(n);
    o.metadata.labels["tier"] = std::string(n) == "c" ? "db" : "web";
    ASSERT_TRUE(store_->create(o).ok());
  }
  ASSERT_TRUE(store_->create(app("z", "acme")).ok());
  ListOptions opts;
  opts.tenant = "default";
  ObjectList all = store_->list("Application", opts);
  ASSERT_EQ(all.items.size(), 3u);
  EXPECT_EQ(all.items[0]->metadata.name, "a");
  EXPECT_EQ(all.items[2]->metadata.name, "c");
  EXPECT_EQ(all.revision, 4);
  opts.selector = LabelSelector::parse("tier=web").value();
  EXPECT_EQ(store_->list("Application", opts).items.size(), 2u);
  EXPECT_EQ(store_->list("Application", {}).items.size(), 4u);
  EXPECT_EQ(store_->count("Application", "acme"), 1u);
  EXPECT_EQ(store_->list("Revision", {}).items.size(), 0u);
}

TEST_F(SqliteStoreTest, ListByNamePrefix) {
  for (const char* name : {"shop", "shop-1", "shop-2", "shopping-1", "sho", "tea-1"})
    ASSERT_TRUE(store_->create(app(name)).ok());
  ASSERT_TRUE(store_->create(app("shop-3", "acme")).ok());
  auto names = [](const ObjectList& l) {
    std::vector<std::string> out;
    for (const auto& o : l.items) out.push_back(o->metadata.tenant + "/" + o->metadata.name);
    return out;
  };
  ListOptions in_default;
  in_default.tenant = "default";
  in_default.name_prefix = "shop-";
  EXPECT_EQ(names(store_->list("Application", in_default)),
            (std::vector<std::string>{"default/shop-1", "default/shop-2"}));
  ListOptions everywhere;
  everywhere.name_prefix = "shop-";
  EXPECT_EQ(names(store_->list("Application", everywhere)),
            (std::vector<std::string>{"acme/shop-3", "default/shop-1", "default/shop-2"}));
  in_default.name_prefix = "zzz";
  EXPECT_TRUE(store_->list("Application", in_default).items.empty());
}

TEST_F(SqliteStoreTest, StatePersistsAcrossReopen) {
  auto a = store_->create(app("shop"));
  Object o = (*a)->object();
  o.spec["cluster"] = "local";
  ASSERT_TRUE(store_->update(o).ok());
  ASSERT_TRUE(store_->create(app("gone")).ok());
  ASSERT_TRUE(store_->remove({"Application", "default", "gone"}).ok());
  reopen();
  EXPECT_EQ(store_->revision(), 4);
  auto got = store_->get({"Application", "default", "shop"});
  ASSERT_TRUE(got.ok());
  EXPECT_EQ((*got)->object().spec["cluster"], "local");
  EXPECT_EQ((*got)->metadata.generation, 2);
  EXPECT_FALSE(store_->get({"Application", "default", "gone"}).ok());
  EXPECT_EQ(store_->create(app("next")).value()->resourceVersion(), 5);
}

// Writes of many more log pages than a checkpoint is made at: they reach the database file, and
// the log stays about as long as the checkpoint interval.
TEST_F(SqliteStoreTest, TheLogIsCheckpointedAtItsIntervalAndStaysThatShort) {
  const std::string big(3000, 'x');  // a commit writes a page of it twice (object, event)
  const int pages = 8 * SqliteStore::kCheckpointPages;
  for (int i = 0; i < pages / 2; ++i)
    ASSERT_TRUE(store_->create(app("app-" + std::to_string(i), "default", {{"note", big}})).ok());
  const uintmax_t header_bytes = 32, frame_bytes = 4096 + 24;  // SQLite's WAL format
  const uintmax_t longest_commit_pages = 16;
  EXPECT_LE(std::filesystem::file_size(dir_ / "skiff.db-wal"),
            header_bytes + (SqliteStore::kCheckpointPages + longest_commit_pages) * frame_bytes);
  EXPECT_GE(std::filesystem::file_size(dir_ / "skiff.db"), uintmax_t(pages / 2) * 4096);
}

struct Recorder {
  std::mutex mu;
  std::vector<std::pair<EventType, int64_t>> events;
  std::vector<std::string> names;
  WatchSink sink() {
    return [this](const WatchEvent& e) {
      std::lock_guard lock(mu);
      events.emplace_back(e.type, e.revision);
      names.push_back(e.object->metadata.name);
    };
  }
};

TEST_F(SqliteStoreTest, WatchDeliversInRevisionOrderAndResumes) {
  Recorder live;
  WatchOptions all;
  all.kind = "Application";
  all.from_revision = 0;
  auto handle = store_->watch(all, live.sink());
  ASSERT_TRUE(handle.ok());
  auto a = store_->create(app("a"));
  Object o = (*a)->object();
  o.spec["x"] = 1;
  ASSERT_TRUE(store_->update(o).ok());
  ASSERT_TRUE(store_->remove(o.key()).ok());
  ASSERT_EQ(live.events.size(), 3u);
  EXPECT_EQ(live.events[0], std::make_pair(EventType::kAdded, int64_t{1}));
  EXPECT_EQ(live.events[1], std::make_pair(EventType::kModified, int64_t{2}));
  EXPECT_EQ(live.events[2], std::make_pair(EventType::kDeleted, int64_t{3}));

  // Resuming from revision 1 replays exactly what came after it, even after a restart.
  handle->reset();
  reopen();
  Recorder resumed;
  WatchOptions from1 = all;
  from1.from_revision = 1;
  auto h2 = store_->watch(from1, resumed.sink());
  ASSERT_TRUE(h2.ok());
  ASSERT_EQ(resumed.events.size(), 2u);
  EXPECT_EQ(resumed.events[0].second, 2);
  EXPECT_EQ(resumed.events[1].first, EventType::kDeleted);
}

TEST_F(SqliteStoreTest, WatchWithoutRevisionStartsWithCurrentObjects) {
  ASSERT_TRUE(store_->create(app("a")).ok());
  ASSERT_TRUE(store_->create(app("b", "acme")).ok());
  Recorder r;
  WatchOptions w;
  w.kind = "Application";
  w.tenant = "acme";
  auto h = store_->watch(w, r.sink());
  ASSERT_TRUE(h.ok());
  ASSERT_EQ(r.names, std::vector<std::string>{"b"});
  ASSERT_TRUE(store_->create(app("c", "default")).ok());
  ASSERT_TRUE(store_->create(app("d", "acme")).ok());
  EXPECT_EQ(r.names, (std::vector<std::string>{"b", "d"})) << "other tenants are filtered out";
}

TEST_F(SqliteStoreTest, CompactedHistoryAnswersGone) {
  reopen(/*history=*/3);
  for (int i = 0; i < 6; ++i) ASSERT_TRUE(store_->create(app("a" + std::to_string(i))).ok());
  EXPECT_EQ(store_->compactedRevision(), 3);
  Recorder r;
  WatchOptions w;
  w.from_revision = 2;
  auto gone = store_->watch(w, r.sink());
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.status().code(), StatusCode::kGone);
  w.from_revision = 3;
  auto ok = store_->watch(w, r.sink());
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(r.events.size(), 3u);
  // The bound holds across a restart too.
  ok->reset();
  reopen(3);
  EXPECT_EQ(store_->compactedRevision(), 3);
}

TEST_F(SqliteStoreTest, TheEventsTableIsTrimmedInBatchesAndTheHistoryStaysExact) {
  reopen(/*history=*/10);
  for (int i = 0; i < 600; ++i) ASSERT_TRUE(store_->create(app("a" + std::to_string(i))).ok());
  reopen(10);
  EXPECT_EQ(store_->compactedRevision(), 590);
  Recorder r;
  WatchOptions w;
  w.from_revision = 589;
  EXPECT_EQ(store_->watch(w, r.sink()).status().code(), StatusCode::kGone);
  w.from_revision = 590;
  ASSERT_TRUE(store_->watch(w, r.sink()).ok());
  EXPECT_EQ(r.events.size(), 10u);
  store_.reset();
  // On disk: the history and fewer than a batch (256) of older events.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir_ / "skiff.db").string().c_str(), &db), SQLITE_OK);
  sqlite3_stmt* count = nullptr;
  ASSERT_EQ(
      sqlite3_prepare_v2(db, "SELECT count(*), min(revision) FROM events", -1, &count, nullptr),
      SQLITE_OK);
  ASSERT_EQ(sqlite3_step(count), SQLITE_ROW);
  EXPECT_GE(sqlite3_column_int64(count, 0), 10);
  EXPECT_LT(sqlite3_column_int64(count, 0), 10 + 256);
  EXPECT_LE(sqlite3_column_int64(count, 1), 591);
  sqlite3_finalize(count);
  sqlite3_close(db);
}

TEST_F(SqliteStoreTest, HistoryHoldsBoundedBytesOfVersionsThatAreNoLongerCurrent) {
  // About 4.5 KB per version (a note of its own that packs to 4 KB, dictionary or not, and the
  // metadata): 20 KB holds four versions no object has any more.
  reopen(/*history=*/1000, /*superseded_bytes=*/20 << 10);
  std::mt19937 random(7);
  auto big = [&] {
    const std::string digits = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_";
    std::string note(5300, ' ');
    for (char& c : note) c = digits[random() % digits.size()];
    return json{{"components", json::array()}, {"note", note}};
  };
  // Current versions cost the history nothing: twenty objects, nothing compacted.
  for (int i = 0; i < 20; ++i)
    ASSERT_TRUE(store_->create(app("a" + std::to_string(i), "default", big())).ok());
  EXPECT_EQ(store_->compactedRevision(), 0);

  // Ten versions of one object: the oldest events go once the replaced versions pass 20 KB.
  auto shop = store_->create(app("shop", "default", big()));  // revision 21
  ASSERT_TRUE(shop.ok());
  for (int i = 0; i < 9; ++i) {
    Object o = (*shop)->object();
    o.spec = big();
    o.spec["round"] = i;
    shop = store_->update(o);
    ASSERT_TRUE(shop.ok());
  }
  const int64_t compacted = store_->compactedRevision();
  EXPECT_GT(compacted, 21) << "events of the replaced versions were compacted";
  EXPECT_LT(compacted, 30) << "the latest version's event stays";
  EXPECT_GE(compacted, 25) << "at most four replaced versions stay (26 to 29)";
  Recorder r;
  WatchOptions w;
  w.from_revision = compacted - 1;
  EXPECT_EQ(store_->watch(w, r.sink()).status().code(), StatusCode::kGone);
  w.from_revision = compacted;
  auto resumed = store_->watch(w, r.sink());
  ASSERT_TRUE(resumed.ok());
  EXPECT_EQ(r.events.back().second, 30);
  resumed->reset();

  // A deletion leaves its last version to the history alone; a restart keeps the same bound.
  ASSERT_TRUE(store_->remove(ObjectKey{"Application", "default", "shop"}, std::nullopt).ok());
  EXPECT_GT(store_->compactedRevision(), compacted);
  const int64_t before_restart = store_->compactedRevision();
  reopen(1000, 20 << 10);
  EXPECT_GE(store_->compactedRevision(), before_restart);
  EXPECT_EQ(store_->revision(), 31);
}

TEST_F(SqliteStoreTest, ConcurrentWritersGetUniqueRevisionsAndWatchSeesAllInOrder) {
  Recorder r;
  WatchOptions w;
  w.from_revision = 0;
  auto h = store_->watch(w, r.sink());
  ASSERT_TRUE(h.ok());
  constexpr int kThreads = 4, kPerThread = 50;
  std::atomic<int> conflicts{0};
  ASSERT_TRUE(store_->create(app("shared")).ok());
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        ASSERT_TRUE(store_->create(app("t" + std::to_string(t) + "-" + std::to_string(i))).ok());
        // Optimistic updates of one object: exactly one writer wins each version.
        auto cur = store_->get({"Application", "default", "shared"});
        Object o = (*cur)->object();
        o.spec["n"] = t * 1000 + i;
        if (!store_->update(o).ok()) ++conflicts;
      }
    });
  }
  for (auto& t : threads) t.join();
  const int64_t total = store_->revision();
  ASSERT_EQ(static_cast<int64_t>(r.events.size()), total);
  for (size_t i = 0; i < r.events.size(); ++i) EXPECT_EQ(r.events[i].second, int64_t(i + 1));
  auto shared = store_->get({"Application", "default", "shared"});
  EXPECT_EQ((*shared)->metadata.generation, 1 + kThreads * kPerThread - conflicts.load());
}

TEST_F(SqliteStoreTest, HistoryAfterReopenSharesCurrentSnapshots) {
  auto a = store_->create(app("shop"));
  Object o = (*a)->object();
  o.status = {{"phase", "Running"}};
  ASSERT_TRUE(store_->update(o, {.status_only = true}).ok());
  reopen();
  std::vector<StoredObjectPtr> seen;
  WatchOptions w;
  w.from_revision = 0;
  auto h = store_->watch(w, [&](const WatchEvent& e) { seen.push_back(e.object); });
  ASSERT_TRUE(h.ok());
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0]->resourceVersion(), 1);
  EXPECT_EQ(seen[1].get(), store_->get({"Application", "default", "shop"}).value().get());
}

TEST_F(SqliteStoreTest, DerivedWritesCommitInOrderAndACleanCloseKeepsThemAll) {
  Store& derived = store_->derived();
  ASSERT_TRUE(store_->create(app("shop")).ok());
  auto status = derived.create(app("shop-1"));
  ASSERT_TRUE(status.ok());
  EXPECT_EQ((*status)->resourceVersion(), 2) << "one revision order for both kinds of write";
  Object o = (*status)->object();
  o.status["phase"] = "Ready";
  UpdateOptions status_only;
  status_only.status_only = true;
  ASSERT_TRUE(derived.update(o, status_only).ok());
  EXPECT_EQ(derived.get(o.key()).value()->object().status["phase"], "Ready")
      << "reads are the store's";
  reopen();
  EXPECT_EQ(store_->revision(), 3) << "closed cleanly: nothing to skip";
  EXPECT_EQ(store_->get(o.key()).value()->object().status["phase"], "Ready");
  EXPECT_EQ(store_->create(app("next")).value()->resourceVersion(), 4);
}

TEST_F(SqliteStoreTest, AfterAnUncleanStopRevisionsThatMayBeLostAreNeitherReusedNorResumable) {
  ASSERT_TRUE(store_->create(app("shop")).ok());
  // The disk as a machine crash could leave it: the durable write, none of the derived ones
  // that follow (copied while the store is open, so it was not closed cleanly either).
  const auto crashed = dir_ / "crashed";
  std::filesystem::create_directories(crashed);
  for (const char* file : {"skiff.db", "skiff.db-wal"})
    std::filesystem::copy_file(dir_ / file, crashed / file);
  Recorder watcher;
  WatchOptions all;
  all.from_revision = 0;
  auto live = store_->watch(all, watcher.sink());
  ASSERT_TRUE(live.ok());
  ASSERT_TRUE(store_->derived().create(app("shop-1")).ok());
  ASSERT_TRUE(store_->derived().create(app("shop-2")).ok());
  ASSERT_EQ(watcher.events.back().second, 3) << "the watcher saw revisions 2 and 3";
  live->reset();

  store_.reset();
  SqliteStore::Options o;
  o.path = (crashed / "skiff.db").string();
  auto reopened = SqliteStore::open(o);
  ASSERT_TRUE(reopened.ok()) << reopened.status().toString();
  store_ = std::move(reopened).value();
  EXPECT_TRUE(store_->get({"Application", "default", "shop"}).ok());
  EXPECT_FALSE(store_->get({"Application", "default", "shop-1"}).ok());
  // The next change is not a second revision 2 or 3 for the watcher.
  const int64_t next = store_->create(app("after")).value()->resourceVersion();
  EXPECT_GT(next, 1001);
  for (int64_t from : {2, 3, 1001}) {
    WatchOptions resume;
    resume.from_revision = from;
    auto gone = store_->watch(resume, watcher.sink());
    ASSERT_FALSE(gone.ok()) << from;
    EXPECT_EQ(gone.status().code(), StatusCode::kGone) << from;
  }
  // What is on disk still resumes, and so does a list's revision from before the change.
  for (int64_t from : {int64_t{1}, next - 1}) {
    Recorder resumed;
    WatchOptions resume;
    resume.from_revision = from;
    auto ok = store_->watch(resume, resumed.sink());
    ASSERT_TRUE(ok.ok()) << from << ": " << ok.status().toString();
    ASSERT_EQ(resumed.names, std::vector<std::string>{"after"}) << from;
  }
}

}  // namespace
}  // namespace skiff
