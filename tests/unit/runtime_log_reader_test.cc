// LogFileCursor: tail and since across rotated files, partial lines, following new lines
// through rotations and restarts; LocalLogSource: current/previous runs, the instances of an
// application (deleted ones included) and the retention sweep.
#include "runtime/local/log_reader.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "model/well_known.h"
#include "runtime/local/local_log_source.h"
#include "runtime/local/log_files.h"
#include "store/sqlite_store.h"

namespace skiff::runtime {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::system_clock;

// 2026-11-22T05:09:30.000Z
system_clock::time_point at(int64_t seconds_after) {
  return system_clock::time_point(std::chrono::seconds(1795324170 + seconds_after));
}

std::vector<std::string> texts(const std::vector<LogLine>& lines) {
  std::vector<std::string> out;
  for (const auto& l : lines) out.push_back(l.text);
  return out;
}

std::vector<std::string> numbered(int from, int to) {
  std::vector<std::string> out;
  for (int i = from; i <= to; ++i) out.push_back("line " + std::to_string(i));
  return out;
}

class LogReaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "skiff-log-reader-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    root_ = tmpl;
    dir_ = root_ + "/logs";
  }
  void TearDown() override { fs::remove_all(root_); }

  std::unique_ptr<LogFileWriter> writer(const std::string& dir, LogLimits limits = {}) {
    auto w = LogFileWriter::open(dir, limits);
    EXPECT_TRUE(w.ok()) << w.status().toString();
    return std::move(w).value();
  }
  // "line FROM" .. "line TO", one per second from at(FROM).
  void writeLines(LogFileWriter& w, int from, int to) {
    for (int i = from; i <= to; ++i)
      ASSERT_TRUE(w.append(LogStream::kStdout, "line " + std::to_string(i) + "\n", at(i)).isOk());
  }
  std::unique_ptr<LogFileCursor> cursor(LogFileCursor::Options options) {
    if (options.dir.empty()) options.dir = dir_;
    auto c = LogFileCursor::open(std::move(options));
    EXPECT_TRUE(c.ok()) << c.status().toString();
    return std::move(c).value();
  }
  // Reads until the cursor has nothing more at once; checks the state it ends in.
  static std::vector<std::string> readNow(LogCursor& c,
                                          LogCursor::State expect = LogCursor::State::kEnd) {
    std::vector<LogLine> lines;
    for (int i = 0; i < 1000; ++i) {
      auto state = c.read(&lines, 100);  // small: exercises resuming mid-file
      EXPECT_TRUE(state.ok()) << state.status().toString();
      if (!state.ok() || *state != LogCursor::State::kMore) {
        if (state.ok()) {
          EXPECT_EQ(*state, expect);
        }
        break;
      }
    }
    return texts(lines);
  }

  std::string root_;
  std::string dir_;
};

// About 2 lines per file ("2026-11-22T05:09:30.000Z stdout line 1\n" is 38 bytes).
constexpr LogLimits kSmallFiles{80, 4};

TEST_F(LogReaderTest, ListsRotatedFilesOldestFirst) {
  auto w = writer(dir_, kSmallFiles);
  writeLines(*w, 0, 9);
  std::ofstream(dir_ + "/instance.json") << "{}";
  auto files = listLogFiles(dir_);
  ASSERT_EQ(files.size(), 4u);
  EXPECT_EQ(files[0].path, dir_ + "/current.log.3");
  EXPECT_EQ(files[3].path, dir_ + "/current.log");
  EXPECT_TRUE(listLogFiles(root_ + "/missing").empty());
}

TEST_F(LogReaderTest, ReadsEveryLineAcrossRotatedFilesInOrder) {
  auto w = writer(dir_, kSmallFiles);
  writeLines(*w, 0, 9);
  // 4 files of 2 lines: lines 0 and 1 were rotated away.
  EXPECT_EQ(readNow(*cursor({})), numbered(2, 9));
  auto lines = std::vector<LogLine>();
  auto c = cursor({});
  ASSERT_TRUE(c->read(&lines, 1 << 20).ok());
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines[0].time, at(2));
  EXPECT_FALSE(lines[0].is_stderr);
}

TEST_F(LogReaderTest, TailCountsBackAcrossRotatedFiles) {
  auto w = writer(dir_, kSmallFiles);
  writeLines(*w, 0, 9);
  EXPECT_EQ(readNow(*cursor({.tail_lines = 5})), numbered(5, 9));
  EXPECT_EQ(readNow(*cursor({.tail_lines = 1})), numbered(9, 9));
  EXPECT_EQ(readNow(*cursor({.tail_lines = 0})), std::vector<std::string>{});
  EXPECT_EQ(readNow(*cursor({.tail_lines = 100})), numbered(2, 9));
}

TEST_F(LogReaderTest, TailOfALargeFileCrossesBlockBoundaries) {
  auto w = writer(dir_);
  writeLines(*w, 0, 4999);  // ~200 KiB, several read blocks
  ASSERT_GT(fs::file_size(dir_ + "/current.log"), 3 * LogFileCursor::kBlockBytes);
  EXPECT_EQ(readNow(*cursor({.tail_lines = 3})), numbered(4997, 4999));
  EXPECT_EQ(readNow(*cursor({.tail_lines = 2000})).size(), 2000u);
}

TEST_F(LogReaderTest, SinceSkipsOlderLinesAndCombinesWithTail) {
  auto w = writer(dir_, kSmallFiles);
  writeLines(*w, 0, 9);
  EXPECT_EQ(readNow(*cursor({.since = at(6) + milliseconds(500)})), numbered(7, 9));
  EXPECT_EQ(readNow(*cursor({.since = at(6)})), numbered(6, 9));
  EXPECT_EQ(readNow(*cursor({.since = at(-100)})), numbered(2, 9));
  EXPECT_EQ(readNow(*cursor({.since = at(100)})), std::vector<std::string>{});
  // The last 2 of those since 4, and all 3 since 7 when asking for 5.
  EXPECT_EQ(readNow(*cursor({.since = at(4), .tail_lines = 2})), numbered(8, 9));
  EXPECT_EQ(readNow(*cursor({.since = at(7), .tail_lines = 5})), numbered(7, 9));
}

TEST_F(LogReaderTest, APartialLastLineWaitsForItsEnd) {
  auto w = writer(dir_);
  writeLines(*w, 0, 1);
  w.reset();
  std::ofstream(dir_ + "/current.log", std::ios::app) << "2026-11-22T05:09:32.000Z stdout half";
  EXPECT_EQ(readNow(*cursor({})), numbered(0, 1));
  EXPECT_EQ(readNow(*cursor({.tail_lines = 1})), numbered(1, 1));

  auto follow = cursor({.follow = true});
  EXPECT_EQ(readNow(*follow, LogCursor::State::kIdle), numbered(0, 1));
  std::ofstream(dir_ + "/current.log", std::ios::app) << " and rest\n";
  EXPECT_EQ(readNow(*follow, LogCursor::State::kIdle), std::vector<std::string>{"half and rest"});
}

TEST_F(LogReaderTest, FollowSeesNewLinesAndEveryRotation) {
  auto w = writer(dir_, LogLimits{80, 10});
  writeLines(*w, 0, 2);
  auto follow = cursor({.tail_lines = 1, .follow = true});
  EXPECT_EQ(readNow(*follow, LogCursor::State::kIdle), numbered(2, 2));
  EXPECT_EQ(readNow(*follow, LogCursor::State::kIdle), std::vector<std::string>{});

  writeLines(*w, 3, 3);  // rotates: current.log is renamed and recreated
  EXPECT_EQ(readNow(*follow, LogCursor::State::kIdle), numbered(3, 3));
  // Several rotations between two reads: nothing lost, nothing twice.
  writeLines(*w, 4, 12);
  EXPECT_EQ(readNow(*follow, LogCursor::State::kIdle), numbered(4, 12));
  writeLines(*w, 13, 13);
  EXPECT_EQ(readNow(*follow, LogCursor::State::kIdle), numbered(13, 13));
}

TEST_F(LogReaderTest, FollowContinuesIntoTheNextRunAfterARestart) {
  auto w = writer(dir_);
  writeLines(*w, 0, 1);
  auto follow = cursor({.follow = true});
  EXPECT_EQ(readNow(*follow, LogCursor::State::kIdle), numbered(0, 1));
  // The run ends: a last line, then its logs are moved away for retention.
  writeLines(*w, 2, 2);
  w.reset();
  fs::rename(dir_, root_ + "/kept");
  EXPECT_EQ(readNow(*follow, LogCursor::State::kIdle), numbered(2, 2));
  EXPECT_EQ(readNow(*follow, LogCursor::State::kIdle), std::vector<std::string>{});
  // The restarted run writes a new current.log in the same place.
  auto next = writer(dir_);
  writeLines(*next, 3, 4);
  EXPECT_EQ(readNow(*follow, LogCursor::State::kIdle), numbered(3, 4));
}

TEST_F(LogReaderTest, StartsInKeptLogsAndFollowsWhereTheNextRunWrites) {
  const std::string kept = root_ + "/kept";
  auto old_run = writer(kept, kSmallFiles);
  writeLines(*old_run, 0, 5);
  old_run.reset();
  auto follow = cursor({.dir = kept, .follow_dir = dir_, .tail_lines = 3, .follow = true});
  EXPECT_EQ(readNow(*follow, LogCursor::State::kIdle), numbered(3, 5));
  auto w = writer(dir_);
  writeLines(*w, 6, 7);
  EXPECT_EQ(readNow(*follow, LogCursor::State::kIdle), numbered(6, 7));
}

TEST_F(LogReaderTest, ForeignLinesKeepTheirText) {
  fs::create_directories(dir_);
  std::ofstream(dir_ + "/current.log") << "2026-11-22T05:09:30.000Z stderr oops\nno prefix\n";
  auto c = cursor({});
  std::vector<LogLine> lines;
  ASSERT_TRUE(c->read(&lines, 1000).ok());
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_TRUE(lines[0].is_stderr);
  EXPECT_EQ(lines[0].text, "oops");
  EXPECT_EQ(lines[1].text, "no prefix");
  EXPECT_EQ(lines[1].time, lines[0].time);
}

class LocalLogSourceTest : public LogReaderTest {
 protected:
  void SetUp() override {
    LogReaderTest::SetUp();
    SqliteStore::Options o;
    o.path = root_ + "/skiff.db";
    auto s = SqliteStore::open(o);
    ASSERT_TRUE(s.ok()) << s.status().toString();
    store_ = std::move(s).value();
    source_ = std::make_unique<LocalLogSource>(
        *store_, SystemClock::instance(),
        LocalLogSource::Options{{root_ + "/runtime"}, std::chrono::hours(1), milliseconds(0)});
  }
  Object instance(const std::string& name, const std::string& component) {
    Object o;
    o.kind = "Instance";
    o.metadata.tenant = "default";
    o.metadata.name = name;
    o.metadata.labels[kApplicationLabel] = "shop";
    o.metadata.labels[kComponentLabel] = component;
    o.spec = {{"application", "shop"}, {"component", component}};
    return o;
  }
  // A run of `o` that wrote lines FROM..TO into its live logs directory.
  void run(const Object& o, int from, int to) {
    const std::string dir = source_->liveLogDir("default." + o.metadata.name);
    auto w = writer(dir);
    writeLines(*w, from, to);
    ASSERT_TRUE(recordLogOwner(dir, o).isOk());
  }
  // What ProcessDriver::remove() does with the logs of an exited run.
  void removeRun(const std::string& name) {
    const std::string id = "default." + name;
    fs::create_directories(root_ + "/runtime/logs");
    fs::remove_all(source_->keptLogDir(id));
    fs::rename(source_->liveLogDir(id), source_->keptLogDir(id));
    fs::remove_all(root_ + "/runtime/instances/" + id);
  }
  std::vector<std::string> read(const std::string& name, LogQuery query = {}) {
    auto c = source_->open("default", name, query);
    EXPECT_TRUE(c.ok()) << c.status().toString();
    return c.ok() ? readNow(**c) : std::vector<std::string>{};
  }

  std::unique_ptr<SqliteStore> store_;
  std::unique_ptr<LocalLogSource> source_;
};

TEST_F(LocalLogSourceTest, CurrentAndPreviousRuns) {
  Object web = instance("shop-web-1-aaaaa", "web");
  ASSERT_TRUE(store_->create(web, false).ok());
  run(web, 0, 2);
  EXPECT_EQ(read(web.metadata.name), numbered(0, 2));
  auto none = source_->open("default", web.metadata.name, {.previous = true});
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().code(), StatusCode::kNotFound);
  EXPECT_NE(none.status().message().find("has no previous run"), std::string::npos);

  // Exited and waiting to restart: the run that ended is what there is.
  removeRun(web.metadata.name);
  EXPECT_EQ(read(web.metadata.name), numbered(0, 2));
  // Restarted: the new run is current, the kept one previous.
  run(web, 3, 4);
  EXPECT_EQ(read(web.metadata.name), numbered(3, 4));
  EXPECT_EQ(read(web.metadata.name, {.previous = true}), numbered(0, 2));

  auto missing = source_->open("default", "nope", {});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("\"nope\""), std::string::npos);
}

TEST_F(LocalLogSourceTest, DeletedInstancesStayListedUntilTheSweepExpiresThem) {
  Object web = instance("shop-web-1-aaaaa", "web");
  Object db = instance("shop-db-0", "db");
  for (const Object* o : {&web, &db}) {
    ASSERT_TRUE(store_->create(*o, false).ok());
    run(*o, 0, 1);
  }
  auto listed = source_->instancesOf("default", "shop");
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0].name, "shop-db-0");
  EXPECT_EQ((*listed)[0].component, "db");
  EXPECT_TRUE((*listed)[0].live);

  // The application is deleted: its instances go, their logs stay.
  removeRun(web.metadata.name);
  ASSERT_TRUE(store_->remove(web.key(), std::nullopt).ok());
  listed = source_->instancesOf("default", "shop");
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[1].name, web.metadata.name);
  EXPECT_EQ((*listed)[1].component, "web");
  EXPECT_FALSE((*listed)[1].live);
  EXPECT_EQ(read(web.metadata.name), numbered(0, 1));
  EXPECT_TRUE(source_->instancesOf("default", "other")->empty());

  // A follow of a deleted instance ends once its files are read.
  auto follow = source_->open("default", web.metadata.name, {.follow = true});
  ASSERT_TRUE(follow.ok());
  EXPECT_EQ(readNow(**follow), numbered(0, 1));

  EXPECT_EQ(source_->sweep(system_clock::now()), 0);
  EXPECT_EQ(source_->sweep(system_clock::now() + std::chrono::hours(2)), 1);
  EXPECT_EQ(source_->instancesOf("default", "shop")->size(), 1u);
  EXPECT_FALSE(source_->open("default", web.metadata.name, {}).ok());
  // Live runs are not the sweep's to delete.
  EXPECT_EQ(read(db.metadata.name), numbered(0, 1));
}

}  // namespace
}  // namespace skiff::runtime
