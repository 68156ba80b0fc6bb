// LogFileWriter: line prefixes, partial lines, long lines and size-based rotation; reading
// back the last stderr line.
#include "runtime/local/log_files.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace skiff::runtime {
namespace {

using std::chrono::milliseconds;
using std::chrono::system_clock;

class LogFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "skiff-logs-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  static std::string read(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  // 2026-11-22T05:09:30.123Z
  static system_clock::time_point at(int64_t millis_after = 0) {
    return system_clock::time_point(std::chrono::seconds(1795324170) + milliseconds(123) +
                                    milliseconds(millis_after));
  }

  std::string dir_;
};

TEST(LogTimestampTest, FormatsUtcWithMillisecondsAndParsesBack) {
  auto t = system_clock::time_point(std::chrono::seconds(1795324170) + milliseconds(7));
  EXPECT_EQ(formatTimestampMillis(t), "2026-11-22T05:09:30.007Z");
  system_clock::time_point parsed;
  ASSERT_TRUE(parseTimestampMillis("2026-11-22T05:09:30.007Z", &parsed));
  EXPECT_EQ(parsed, t);
  EXPECT_FALSE(parseTimestampMillis("2026-11-22T05:09:30Z", &parsed));
  EXPECT_FALSE(parseTimestampMillis("2026-13-22T05:09:30.007Z", &parsed));
  EXPECT_FALSE(parseTimestampMillis("2026-11-22T05:09:30.0a7Z", &parsed));
}

TEST_F(LogFilesTest, PrefixesEachLineWithTimeAndStream) {
  auto log = LogFileWriter::open(dir_, LogLimits{});
  ASSERT_TRUE(log.ok()) << log.status().toString();
  ASSERT_TRUE((*log)->append(LogStream::kStdout, "hello\nwor", at()).isOk());
  ASSERT_TRUE((*log)->append(LogStream::kStderr, "oops\n", at(1)).isOk());
  ASSERT_TRUE((*log)->append(LogStream::kStdout, "ld\n\n", at(2)).isOk());
  EXPECT_EQ(read((*log)->currentPath()),
            "2026-11-22T05:09:30.123Z stdout hello\n"
            "2026-11-22T05:09:30.124Z stderr oops\n"
            "2026-11-22T05:09:30.125Z stdout world\n"
            "2026-11-22T05:09:30.125Z stdout \n");
}

TEST_F(LogFilesTest, FlushWritesPartialLinesWithANewline) {
  auto log = LogFileWriter::open(dir_, LogLimits{});
  ASSERT_TRUE(log.ok());
  ASSERT_TRUE((*log)->append(LogStream::kStderr, "no newline", at()).isOk());
  EXPECT_EQ(read((*log)->currentPath()), "");
  ASSERT_TRUE((*log)->flush(at(5)).isOk());
  EXPECT_EQ(read((*log)->currentPath()), "2026-11-22T05:09:30.128Z stderr no newline\n");
}

TEST_F(LogFilesTest, SplitsOverlongLines) {
  auto log = LogFileWriter::open(dir_, LogLimits{});
  ASSERT_TRUE(log.ok());
  std::string big(LogFileWriter::kMaxLineBytes + 10, 'x');
  ASSERT_TRUE((*log)->append(LogStream::kStdout, big, at()).isOk());
  ASSERT_TRUE((*log)->flush(at()).isOk());
  std::string prefix = "2026-11-22T05:09:30.123Z stdout ";
  EXPECT_EQ(read((*log)->currentPath()), prefix + std::string(LogFileWriter::kMaxLineBytes, 'x') +
                                             "\n" + prefix + std::string(10, 'x') + "\n");
}

TEST_F(LogFilesTest, RotatesBySizeAndKeepsTheConfiguredNumberOfFiles) {
  // Each line is 32 bytes of prefix + 8 of text + newline = 41; two fit in 100 bytes.
  LogLimits limits{.max_bytes = 100, .files = 3};
  auto log = LogFileWriter::open(dir_, limits);
  ASSERT_TRUE(log.ok());
  for (int i = 0; i < 9; ++i) {
    std::string line = "line-00" + std::to_string(i) + "\n";
    ASSERT_TRUE((*log)->append(LogStream::kStdout, line, at()).isOk());
  }
  std::string p = "2026-11-22T05:09:30.123Z stdout ";
  EXPECT_EQ(read((*log)->currentPath()), p + "line-008\n");
  EXPECT_EQ(read((*log)->rotatedPath(1)), p + "line-006\n" + p + "line-007\n");
  EXPECT_EQ(read((*log)->rotatedPath(2)), p + "line-004\n" + p + "line-005\n");
  EXPECT_FALSE(std::filesystem::exists((*log)->rotatedPath(3)));
  for (const auto& entry : std::filesystem::directory_iterator(dir_))
    EXPECT_LE(std::filesystem::file_size(entry.path()), 100u) << entry.path();
}

TEST_F(LogFilesTest, ReopeningAppendsAndCountsTheExistingSize) {
  LogLimits limits{.max_bytes = 100, .files = 2};
  {
    auto log = LogFileWriter::open(dir_, limits);
    ASSERT_TRUE(log.ok());
    ASSERT_TRUE((*log)->append(LogStream::kStdout, "line-001\nline-002\n", at()).isOk());
  }
  auto log = LogFileWriter::open(dir_, limits);
  ASSERT_TRUE(log.ok());
  ASSERT_TRUE((*log)->append(LogStream::kStdout, "line-003\n", at()).isOk());
  std::string p = "2026-11-22T05:09:30.123Z stdout ";
  EXPECT_EQ(read((*log)->rotatedPath(1)), p + "line-001\n" + p + "line-002\n");
  EXPECT_EQ(read((*log)->currentPath()), p + "line-003\n");
}

TEST_F(LogFilesTest, OneFileMeansStartingOver) {
  LogLimits limits{.max_bytes = 50, .files = 1};
  auto log = LogFileWriter::open(dir_, limits);
  ASSERT_TRUE(log.ok());
  ASSERT_TRUE((*log)->append(LogStream::kStdout, "line-001\nline-002\n", at()).isOk());
  EXPECT_EQ(read((*log)->currentPath()), "2026-11-22T05:09:30.123Z stdout line-002\n");
  EXPECT_FALSE(std::filesystem::exists((*log)->rotatedPath(1)));
}

TEST_F(LogFilesTest, LastStderrLineSaysWhyAWorkloadExited) {
  auto log = LogFileWriter::open(dir_, LogLimits{});
  ASSERT_TRUE(log.ok()) << log.status().toString();
  EXPECT_EQ(lastStderrLine((*log)->currentPath()), "");
  ASSERT_TRUE((*log)->append(LogStream::kStderr, "first problem\n", at()).isOk());
  ASSERT_TRUE((*log)->append(LogStream::kStderr, "cannot listen: in use\n", at(1)).isOk());
  ASSERT_TRUE((*log)->append(LogStream::kStdout, "a stderr lookalike\nbye\n", at(2)).isOk());
  EXPECT_EQ(lastStderrLine((*log)->currentPath()), "cannot listen: in use");
  // Only the file's tail is read: a stderr line buried under lots of stdout is not found.
  ASSERT_TRUE((*log)->append(LogStream::kStdout, std::string(9000, 'x') + "\n", at(3)).isOk());
  EXPECT_EQ(lastStderrLine((*log)->currentPath()), "");
  EXPECT_EQ(lastStderrLine(dir_ + "/missing.log"), "");
}

}  // namespace
}  // namespace skiff::runtime
