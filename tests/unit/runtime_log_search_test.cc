// Log search (runtime/local/log_search.h, log_index.h): the time index seeks across rotated
// files instead of reading them, substring and regular-expression matches (case-insensitive
// too) on the text only, the literals a regular expression requires, the newest `limit` lines
// and the truncated signal, several instances merged by time; LocalLogSource's search of kept
// and live runs and of the platform's logs; per-tenant retention by age and by size, oldest
// files first; and the CLI's export formats.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "cli/log_export.h"
#include "model/well_known.h"
#include "runtime/local/local_log_source.h"
#include "runtime/local/log_files.h"
#include "runtime/local/log_index.h"
#include "runtime/local/log_reader.h"
#include "runtime/local/log_search.h"
#include "store/sqlite_store.h"

namespace skiff::runtime {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::seconds;
using std::chrono::system_clock;

// 2026-11-22T05:09:30.000Z
system_clock::time_point at(int64_t seconds_after) {
  return system_clock::time_point(seconds(1795324170 + seconds_after));
}

std::vector<std::string> texts(const LogSearchResult& r) {
  std::vector<std::string> out;
  for (const auto& l : r.lines) out.push_back(l.line.text);
  return out;
}

class LogSearchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "skiff-log-search-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    root_ = tmpl;
  }
  void TearDown() override { fs::remove_all(root_); }

  std::unique_ptr<LogFileWriter> writer(const std::string& dir, LogLimits limits = {}) {
    auto w = LogFileWriter::open(dir, limits);
    EXPECT_TRUE(w.ok()) << w.status().toString();
    return std::move(w).value();
  }
  static void write(LogFileWriter& w, const std::string& text, int64_t second,
                    LogStream stream = LogStream::kStdout) {
    ASSERT_TRUE(w.append(stream, text + "\n", at(second)).isOk());
  }
  LogMatcher matcher(const std::string& pattern, bool regex = false, bool ignore_case = false) {
    auto m = LogMatcher::compile(pattern, regex, ignore_case);
    EXPECT_TRUE(m.ok()) << m.status().toString();
    return std::move(m).value();
  }
  LogSearchResult search(const std::vector<SearchedLog>& logs, LogSearchQuery query) {
    auto m = matcher(query.pattern, query.regex, query.ignore_case);
    return searchLogFiles(logs, m, query, index_);
  }

  std::string root_;
  LogIndexCache index_;
};

// Line i is "request i took N ms" (N = i % 1000), at(i); 200 bytes each with padding.
void writeRequests(LogFileWriter& w, int from, int to) {
  const std::string pad(150, '.');
  for (int i = from; i <= to; ++i)
    ASSERT_TRUE(w.append(LogStream::kStdout,
                         "request " + std::to_string(i) + " took " + std::to_string(i % 1000) +
                             " ms " + pad + "\n",
                         at(i))
                    .isOk());
}

TEST_F(LogSearchTest, ATimeRangeSeeksAcrossRotatedFilesInsteadOfReadingThem) {
  // 20000 lines of ~200 bytes in 512 KiB files: about 4 MB in 8 files.
  const std::string dir = root_ + "/web";
  {
    auto w = writer(dir, {512 << 10, 20});
    writeRequests(*w, 0, 19999);
  }
  ASSERT_GE(listLogFiles(dir).size(), 7u);
  uint64_t total = 0;
  for (const auto& f : listLogFiles(dir)) total += fs::file_size(f.path);

  LogSearchQuery q;
  q.since = at(12000);
  q.until = at(12010);
  const auto r = search({{"web-1", "web", {dir}}}, q);
  ASSERT_EQ(r.lines.size(), 10u);
  EXPECT_EQ(r.lines.front().line.text.substr(0, 13), "request 12000");
  EXPECT_EQ(r.lines.back().line.text.substr(0, 13), "request 12009");
  EXPECT_EQ(r.lines.front().line.time, at(12000));
  EXPECT_FALSE(r.truncated);
  // Ten lines' worth, plus at most a stride on each side: not the files.
  EXPECT_LT(r.scanned_bytes, 3u * LogIndexCache::kStride) << "of " << total;
  EXPECT_GT(index_.probes(), 0u);

  // The index is kept: the same search probes nothing new.
  const uint64_t probes = index_.probes();
  EXPECT_EQ(texts(search({{"web-1", "web", {dir}}}, q)), texts(r));
  EXPECT_EQ(index_.probes(), probes);

  // A range at a file's edge, and ones outside every file.
  q.since = at(0);
  q.until = at(3);
  EXPECT_EQ(search({{"web-1", "web", {dir}}}, q).lines.size(), 3u);
  q.since = at(19998);
  q.until = std::nullopt;
  EXPECT_EQ(search({{"web-1", "web", {dir}}}, q).lines.size(), 2u);
  q.since = at(30000);
  auto none = search({{"web-1", "web", {dir}}}, q);
  EXPECT_TRUE(none.lines.empty());
  EXPECT_LT(none.scanned_bytes, 2u * LogIndexCache::kStride);
  q.since = std::nullopt;
  q.until = at(-5);
  EXPECT_TRUE(search({{"web-1", "web", {dir}}}, q).lines.empty());
}

TEST_F(LogSearchTest, TheIndexRangeBoundsEveryLineInRange) {
  const std::string dir = root_ + "/one";
  {
    auto w = writer(dir, {100 << 20, 1});
    writeRequests(*w, 0, 9999);  // ~2 MB in one file
  }
  const std::string path = dir + "/current.log";
  int fd = ::open(path.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  struct stat st;
  ASSERT_EQ(fstat(fd, &st), 0);
  const LogIndexCache::File file{fd, st.st_dev, st.st_ino, st.st_size};
  std::ifstream in(path);
  std::vector<off_t> starts;  // of each line
  off_t offset = 0;
  for (std::string line; std::getline(in, line);) {
    starts.push_back(offset);
    offset += static_cast<off_t>(line.size()) + 1;
  }
  ASSERT_EQ(starts.size(), 10000u);
  const int64_t base = std::chrono::duration_cast<milliseconds>(at(0).time_since_epoch()).count();
  for (int since : {0, 1, 327, 5000, 9998, 9999}) {
    for (int until : {since + 1, since + 7, 10000}) {
      const auto r = index_.range(file, base + since * 1000, base + until * 1000);
      EXPECT_LE(r.begin, starts[since]) << since;
      EXPECT_GT(r.begin + 2 * LogIndexCache::kStride, starts[since]) << since;
      const off_t end = until < 10000 ? starts[until] : st.st_size;
      EXPECT_GE(r.end, end) << until;
      EXPECT_LT(r.end, end + 2 * LogIndexCache::kStride) << until;
    }
  }
  EXPECT_EQ(index_.firstTime(file), base);
  ::close(fd);
}

TEST_F(LogSearchTest, SubstringAndRegularExpressionsMatchTheTextOnly) {
  const std::string dir = root_ + "/api";
  {
    auto w = writer(dir);
    write(*w, "GET /orders 200 12ms", 0);
    write(*w, "upstream timeout after 3000ms", 1, LogStream::kStderr);
    write(*w, "GET /health 200 1ms", 2);
    write(*w, "retrying: Timeout After 500ms", 3);
    write(*w, "timed out", 4);
    write(*w, "POST /orders 201 40ms", 5);
  }
  const std::vector<SearchedLog> logs = {{"api-1", "api", {dir}}};
  LogSearchQuery q;
  q.pattern = "timeout";
  auto r = search(logs, q);
  EXPECT_EQ(texts(r), std::vector<std::string>{"upstream timeout after 3000ms"});
  EXPECT_TRUE(r.lines[0].line.is_stderr);
  EXPECT_EQ(r.lines[0].instance, "api-1");
  EXPECT_EQ(r.lines[0].component, "api");
  EXPECT_EQ(r.lines[0].line.time, at(1));

  q.ignore_case = true;
  EXPECT_EQ(texts(search(logs, q)), (std::vector<std::string>{"upstream timeout after 3000ms",
                                                              "retrying: Timeout After 500ms"}));

  // Folding is ASCII's only, whatever the bytes around.
  {
    auto w = writer(root_ + "/folding");
    write(*w, "\xc3\x89T\xc3\xa9 [@`{] DeadLOCK Z\x7f", 0);
  }
  q.pattern = "\xc3\x89t\xc3\xa9 [@`{] deadlock z\x7f";
  EXPECT_EQ(search({{"f", "f", {root_ + "/folding"}}}, q).lines.size(), 1u);
  q.pattern = "\xc3\xa9t";
  EXPECT_TRUE(search({{"f", "f", {root_ + "/folding"}}}, q).lines.empty());

  // The time and stream are not the text: "stderr" and "2026" are in no line's text.
  q = {};
  q.pattern = "stderr";
  EXPECT_TRUE(search(logs, q).lines.empty());
  q.pattern = "2026";
  EXPECT_TRUE(search(logs, q).lines.empty());

  q = {};
  q.regex = true;
  q.pattern = "^GET /\\w+ 200 \\d+ms$";
  EXPECT_EQ(texts(search(logs, q)),
            (std::vector<std::string>{"GET /orders 200 12ms", "GET /health 200 1ms"}));
  q.pattern = "time(out|d)";
  EXPECT_EQ(texts(search(logs, q)),
            (std::vector<std::string>{"upstream timeout after 3000ms", "timed out"}));
  q.pattern = "(GET|POST) /orders";
  EXPECT_EQ(search(logs, q).lines.size(), 2u);
  q.pattern = "^\\d";  // no literal: every line is a candidate
  EXPECT_TRUE(search(logs, q).lines.empty());
  q.pattern = "timeout after \\d{4}ms";
  q.ignore_case = true;
  EXPECT_EQ(texts(search(logs, q)), std::vector<std::string>{"upstream timeout after 3000ms"});
  q.pattern = "TIMEOUT AFTER \\d+MS";
  EXPECT_EQ(search(logs, q).lines.size(), 2u);

  // Nothing but a time range: every line.
  q = {};
  q.since = at(4);
  EXPECT_EQ(texts(search(logs, q)),
            (std::vector<std::string>{"timed out", "POST /orders 201 40ms"}));
}

TEST_F(LogSearchTest, TheNewestLinesUpToTheLimitAndWhetherMoreMatched) {
  const std::string a = root_ + "/a", b = root_ + "/b";
  {
    auto wa = writer(a, {300, 50});  // a few lines a file: the newest span several files
    auto wb = writer(b);
    for (int i = 0; i < 20; ++i) {
      write(*wa, "tick a" + std::to_string(i), 2 * i);
      write(*wb, "tick b" + std::to_string(i), 2 * i + 1);
    }
  }
  const std::vector<SearchedLog> logs = {{"a", "web", {a}}, {"b", "web", {b}}};
  LogSearchQuery q;
  q.pattern = "tick";
  q.limit = 3;
  auto r = search(logs, q);
  EXPECT_EQ(texts(r), (std::vector<std::string>{"tick b18", "tick a19", "tick b19"}));
  EXPECT_EQ(r.lines[0].instance, "b");
  EXPECT_EQ(r.lines[1].instance, "a");
  EXPECT_TRUE(r.truncated);
  q.limit = 40;
  r = search(logs, q);
  EXPECT_EQ(r.lines.size(), 40u);
  EXPECT_FALSE(r.truncated);
  EXPECT_EQ(r.lines.front().line.text, "tick a0");
  for (size_t i = 1; i < r.lines.size(); ++i)
    EXPECT_LE(r.lines[i - 1].line.time, r.lines[i].line.time) << "newest last";
  q.limit = 39;
  r = search(logs, q);
  EXPECT_TRUE(r.truncated);
  EXPECT_EQ(r.lines.front().line.text, "tick b0");
  // A byte budget truncates as well.
  q.limit = 1000;
  q.max_bytes = 20;
  r = search(logs, q);
  EXPECT_EQ(r.lines.size(), 2u);
  EXPECT_TRUE(r.truncated);
  EXPECT_FALSE(r.incomplete);
  // Past its deadline a search stops, saying so.
  q.max_bytes = 1 << 20;
  q.deadline = std::chrono::steady_clock::now();
  r = search(logs, q);
  EXPECT_TRUE(r.incomplete);
  EXPECT_TRUE(r.lines.empty());
}

TEST_F(LogSearchTest, AnIncompleteLastLineIsNotFoundYet) {
  const std::string dir = root_ + "/p";
  {
    auto w = writer(dir);
    write(*w, "done one", 0);
  }
  // The writer is in the middle of a line (as another process may be when a search reads).
  std::ofstream(dir + "/current.log", std::ios::app)
      << formatTimestampMillis(at(1)) << " stdout done two, still writi";
  LogSearchQuery q;
  q.pattern = "done";
  EXPECT_EQ(texts(search({{"p", "p", {dir}}}, q)), std::vector<std::string>{"done one"});
  std::ofstream(dir + "/current.log", std::ios::app) << "ng\n";
  EXPECT_EQ(texts(search({{"p", "p", {dir}}}, q)),
            (std::vector<std::string>{"done one", "done two, still writing"}));
}

TEST(LogMatcherTest, RequiredLiteralsOfRegularExpressions) {
  using L = std::vector<std::string>;
  EXPECT_EQ(requiredLiterals("timeout"), L{"timeout"});
  EXPECT_EQ(requiredLiterals("time(out|d) after"), L{" after"});
  EXPECT_EQ(requiredLiterals("timeout|refused"), (L{"timeout", "refused"}));
  EXPECT_EQ(requiredLiterals("\\d+ms"), L{"ms"});
  EXPECT_EQ(requiredLiterals("x{2}abc"), L{"abc"});
  EXPECT_EQ(requiredLiterals("abcd?"), L{"abc"});
  EXPECT_EQ(requiredLiterals("ab{0,3}"), L{"a"});
  EXPECT_EQ(requiredLiterals("[Tt]imeout"), L{"imeout"});
  EXPECT_EQ(requiredLiterals("(foo)?bar"), L{"bar"});
  EXPECT_EQ(requiredLiterals("a\\.b"), L{"a.b"});
  EXPECT_EQ(requiredLiterals("err|e"), L{"e"});
  EXPECT_TRUE(requiredLiterals(".*").empty());
  EXPECT_TRUE(requiredLiterals("a|.*").empty());
  EXPECT_TRUE(requiredLiterals("[]a").empty());
  EXPECT_TRUE(requiredLiterals("(unclosed").empty());
}

// A block is ruled out only when no line of it can match: never across lines, never for a
// pattern anchored to a line's text (which a block's raw lines do not start with).
TEST(LogMatcherTest, ABlockIsRuledOutOnlyWhenNoLineCanMatch) {
  const std::string block =
      "2026-11-22T05:09:30.123Z O GET /a 200 12ms\n2026-11-22T05:09:31.000Z O done\n";
  auto slow = LogMatcher::compile("[^ ]+ [^ ]+ \\d{3} \\d{4,}ms", true, false);
  ASSERT_TRUE(slow.ok());
  EXPECT_FALSE(slow->mayMatchIn(block));
  EXPECT_TRUE(slow->mayMatchIn(block + "2026-11-22T05:09:32.000Z O GET /b 500 1234ms\n"));
  auto across = LogMatcher::compile("12ms\\s+2026", true, false);
  ASSERT_TRUE(across.ok());
  EXPECT_FALSE(across->mayMatchIn(block));
  auto anchored = LogMatcher::compile("^GET", true, false);
  ASSERT_TRUE(anchored.ok());
  EXPECT_TRUE(anchored->mayMatchIn(block));  // cannot tell from raw lines: every line checked
  EXPECT_TRUE(anchored->matches("GET /a 200 12ms"));
  auto folded = LogMatcher::compile("get /A", true, true);
  ASSERT_TRUE(folded.ok());
  EXPECT_TRUE(folded->mayMatchIn(block));
}

TEST(LogMatcherTest, BadPatternsAreRefusedWithTheReason) {
  auto bad = LogMatcher::compile("time(out", true, false);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kBadRequest);
  EXPECT_NE(bad.status().message().find("not a valid regular expression"), std::string::npos);
  auto backref = LogMatcher::compile("(a)\\1", true, false);
  ASSERT_FALSE(backref.ok());
  EXPECT_NE(backref.status().message().find("back-references"), std::string::npos);
  EXPECT_FALSE(LogMatcher::compile(std::string(2000, 'a'), false, false).ok());
  // Not a regular expression: taken as it is.
  auto literal = LogMatcher::compile("time(out", false, false);
  ASSERT_TRUE(literal.ok());
  EXPECT_TRUE(literal->matches("a time(out here"));
  // Linear time: a pattern that makes backtracking engines explode answers at once.
  auto nested = LogMatcher::compile("(a+)+$", true, false);
  ASSERT_TRUE(nested.ok());
  EXPECT_FALSE(nested->matches(std::string(16000, 'a') + "b"));
  EXPECT_TRUE(nested->matches("baaa"));
  EXPECT_FALSE(LogMatcher::compile("a)(b", true, false).ok());
}

class LocalLogSearchTest : public LogSearchTest {
 protected:
  void SetUp() override {
    LogSearchTest::SetUp();
    SqliteStore::Options o;
    o.path = root_ + "/skiff.db";
    auto s = SqliteStore::open(o);
    ASSERT_TRUE(s.ok()) << s.status().toString();
    store_ = std::move(s).value();
    LocalLogSource::Options options;
    options.runtime_dirs = {root_ + "/runtime"};
    options.retention = std::chrono::hours(1);
    options.liveness_check = milliseconds(0);
    options.platform_logs = {{"server", root_ + "/logs/server"},
                             {"gateway", root_ + "/gateway/logs"}};
    source_ = std::make_unique<LocalLogSource>(*store_, SystemClock::instance(), options);
  }
  void tenant(const std::string& name, const json& logs) {
    Object t;
    t.kind = "Tenant";
    t.metadata.name = name;
    if (!logs.is_null()) t.spec["logs"] = logs;
    ASSERT_TRUE(store_->create(t, false).ok());
  }
  Object instance(const std::string& tenant, const std::string& name) {
    Object o;
    o.kind = "Instance";
    o.metadata.tenant = tenant;
    o.metadata.name = name;
    o.metadata.labels[kApplicationLabel] = "shop";
    o.metadata.labels[kComponentLabel] = "web";
    o.spec = {{"application", "shop"}, {"component", "web"}};
    return o;
  }
  // A file of `bytes` bytes at `path`, last written `age` ago.
  static void file(const std::string& path, size_t bytes, std::chrono::seconds age) {
    fs::create_directories(fs::path(path).parent_path());
    std::ofstream(path) << std::string(bytes, 'x');
    const auto when = system_clock::now() - age;
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(when.time_since_epoch());
    timespec times[2];
    times[0].tv_sec = times[1].tv_sec = ns.count() / 1000000000;
    times[0].tv_nsec = times[1].tv_nsec = ns.count() % 1000000000;
    ASSERT_EQ(utimensat(AT_FDCWD, path.c_str(), times, 0), 0);
  }
  static bool exists(const std::string& path) { return fs::exists(path); }

  std::unique_ptr<SqliteStore> store_;
  std::unique_ptr<LocalLogSource> source_;
};

TEST_F(LocalLogSearchTest, SearchesKeptAndLiveRunsAndThePlatformsLogs) {
  const std::string live = source_->liveLogDir("default.shop-web-1");
  const std::string kept = source_->keptLogDir("default.shop-web-1");
  {
    auto previous = writer(kept);
    write(*previous, "boot failed: timeout", 0);
    auto current = writer(live);
    write(*current, "boot ok after timeout", 10);
    auto server = writer(root_ + "/logs/server");
    write(*server, "info skiff server listening, timeout 5s", 5);
  }
  auto found =
      source_->search("default", {{"shop-web-1", "web", true}, {"shop-web-9", "web", true}},
                      {.pattern = "timeout"});
  ASSERT_TRUE(found.ok()) << found.status().toString();
  EXPECT_EQ(texts(*found),
            (std::vector<std::string>{"boot failed: timeout", "boot ok after timeout"}));
  EXPECT_EQ(found->not_searched, std::vector<std::string>{"shop-web-9"});

  auto bad =
      source_->search("default", {{"shop-web-1", "web", true}}, {.pattern = "(", .regex = true});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kBadRequest);

  EXPECT_EQ(source_->platformComponents(), (std::vector<std::string>{"server", "gateway"}));
  auto platform = source_->searchPlatform({}, {.pattern = "listening"});
  ASSERT_TRUE(platform.ok());
  ASSERT_EQ(platform->lines.size(), 1u);
  EXPECT_EQ(platform->lines[0].instance, "server");
  EXPECT_TRUE(source_->searchPlatform({"gateway"}, {.pattern = "listening"})->lines.empty());
  auto unknown = source_->searchPlatform({"db"}, {});
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("server, gateway"), std::string::npos);
}

TEST_F(LocalLogSearchTest, ATenantOverItsSizeLosesItsOldestFilesFirst) {
  tenant("acme", {{"maxBytes", "1000"}});
  tenant("beta", nullptr);  // no size limit
  const std::string runtime = root_ + "/runtime";
  // acme: a kept run (two files), and a live run with a rotated file and the file it writes.
  file(runtime + "/logs/acme.old/current.log.1", 400, std::chrono::minutes(50));
  file(runtime + "/logs/acme.old/current.log", 400, std::chrono::minutes(40));
  file(runtime + "/logs/acme.old/instance.json", 10, std::chrono::minutes(40));
  file(runtime + "/instances/acme.new/logs/current.log.1", 400, std::chrono::minutes(30));
  file(runtime + "/instances/acme.new/logs/current.log", 500, std::chrono::hours(5));
  file(runtime + "/logs/beta.big/current.log", 5000, std::chrono::minutes(1));
  ::utimensat(AT_FDCWD, (runtime + "/logs/acme.old").c_str(), nullptr, 0);

  // 1700 bytes over 1000: the kept run's two files go (oldest first) and the dir with them;
  // the live current.log, though oldest of all, is being written and stays.
  EXPECT_EQ(source_->sweep(system_clock::now()), 1);
  EXPECT_FALSE(exists(runtime + "/logs/acme.old"));
  EXPECT_TRUE(exists(runtime + "/instances/acme.new/logs/current.log.1"));
  EXPECT_TRUE(exists(runtime + "/instances/acme.new/logs/current.log"));
  EXPECT_TRUE(exists(runtime + "/logs/beta.big/current.log"));

  // Still over (900 + 100 more): the rotated file goes next.
  file(runtime + "/instances/acme.new/logs/current.log.2", 200, std::chrono::minutes(20));
  EXPECT_EQ(source_->sweep(system_clock::now()), 0);
  EXPECT_FALSE(exists(runtime + "/instances/acme.new/logs/current.log.1"));
  EXPECT_TRUE(exists(runtime + "/instances/acme.new/logs/current.log.2"));
  EXPECT_TRUE(exists(runtime + "/instances/acme.new/logs/current.log"));
}

TEST_F(LocalLogSearchTest, RetentionByAgeIsEachTenantsOwn) {
  tenant("acme", {{"retention", "10m"}});
  tenant("beta", nullptr);  // the server's default: 1h
  const std::string runtime = root_ + "/runtime";
  file(runtime + "/logs/acme.a/current.log", 10, std::chrono::minutes(20));
  file(runtime + "/logs/beta.b/current.log", 10, std::chrono::minutes(20));
  file(runtime + "/instances/acme.c/logs/current.log.1", 10, std::chrono::minutes(20));
  file(runtime + "/instances/acme.c/logs/current.log", 10, std::chrono::minutes(20));
  const auto now = system_clock::now();
  // Kept directories age from when they were kept (their last change: now); files by write.
  EXPECT_EQ(source_->sweep(now + std::chrono::minutes(11)), 1);
  EXPECT_FALSE(exists(runtime + "/logs/acme.a"));
  EXPECT_TRUE(exists(runtime + "/logs/beta.b"));
  EXPECT_FALSE(exists(runtime + "/instances/acme.c/logs/current.log.1"));
  EXPECT_TRUE(exists(runtime + "/instances/acme.c/logs/current.log"));
  EXPECT_EQ(source_->sweep(now + std::chrono::minutes(61)), 1);
  EXPECT_FALSE(exists(runtime + "/logs/beta.b"));
}

}  // namespace
}  // namespace skiff::runtime

namespace skiff::cli {
namespace {

TEST(LogExportTest, TextAndJsonLines) {
  const json found = {{"time", "2026-11-22T05:09:30.123Z"},
                      {"instance", "shop-web-1"},
                      {"component", "web"},
                      {"stream", "stderr"},
                      {"line", "upstream \"timeout\""}};
  EXPECT_EQ(exportLogLine(found, LogExportFormat::kText),
            "2026-11-22T05:09:30.123Z [shop-web-1] upstream \"timeout\"\n");
  EXPECT_EQ(exportLogLine(found, LogExportFormat::kJson),
            "{\"time\":\"2026-11-22T05:09:30.123Z\",\"instance\":\"shop-web-1\","
            "\"component\":\"web\",\"stream\":\"stderr\",\"line\":\"upstream \\\"timeout\\\"\"}\n");
  json no_stream = found;
  no_stream.erase("stream");
  EXPECT_EQ(json::parse(exportLogLine(no_stream, LogExportFormat::kJson)),
            json({{"time", "2026-11-22T05:09:30.123Z"},
                  {"instance", "shop-web-1"},
                  {"component", "web"},
                  {"line", "upstream \"timeout\""}}));
  EXPECT_EQ(logExportFormat("out.jsonl", ""), LogExportFormat::kJson);
  EXPECT_EQ(logExportFormat("out.json", ""), LogExportFormat::kJson);
  EXPECT_EQ(logExportFormat("out.txt", ""), LogExportFormat::kText);
  EXPECT_EQ(logExportFormat("out.jsonl", "text"), LogExportFormat::kText);
  EXPECT_EQ(logExportFormat("out.log", "json"), LogExportFormat::kJson);
}

}  // namespace
}  // namespace skiff::cli
