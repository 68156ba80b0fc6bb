// Unit tests of the CLI's unified diff: exact output, including hunk header numbers, as
// GNU `diff -u` prints them.
#include "cli/unified_diff.h"

#include <string>

#include <gtest/gtest.h>

namespace skiff::cli {
namespace {

std::string diff(const std::string& a, const std::string& b, int context = 3) {
  return unifiedDiff(a, b, {"live/x", "merged/x", context});
}

// "1\n2\n...\nn\n"
std::string numbered(int n) {
  std::string out;
  for (int i = 1; i <= n; ++i) out += std::to_string(i) + "\n";
  return out;
}

TEST(CliUnifiedDiffTest, IdenticalTextsHaveNoDiff) {
  EXPECT_EQ(diff("", ""), "");
  EXPECT_EQ(diff("a\nb\n", "a\nb\n"), "");
}

TEST(CliUnifiedDiffTest, ReplacedLineInTheMiddleShowsThreeLinesOfContext) {
  std::string b = numbered(10);
  b.replace(b.find("5\n"), 2, "five\n");
  EXPECT_EQ(diff(numbered(10), b),
            "--- live/x\n+++ merged/x\n"
            "@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+five\n 6\n 7\n 8\n");
}

TEST(CliUnifiedDiffTest, InsertionIntoEmptyTextCountsFromZero) {
  EXPECT_EQ(diff("", "a\nb\n"), "--- live/x\n+++ merged/x\n@@ -0,0 +1,2 @@\n+a\n+b\n");
}

TEST(CliUnifiedDiffTest, DeletionOfEverything) {
  EXPECT_EQ(diff("a\n", ""), "--- live/x\n+++ merged/x\n@@ -1 +0,0 @@\n-a\n");
}

TEST(CliUnifiedDiffTest, PureInsertionNamesTheLineBefore) {
  // Inserting after line 5 of 10: the new side starts at 3, the old side has 6 context lines.
  std::string b = "1\n2\n3\n4\n5\nnew\n6\n7\n8\n9\n10\n";
  EXPECT_EQ(diff(numbered(10), b),
            "--- live/x\n+++ merged/x\n@@ -3,6 +3,7 @@\n 3\n 4\n 5\n+new\n 6\n 7\n 8\n");
}

TEST(CliUnifiedDiffTest, PureDeletionAtTheStart) {
  EXPECT_EQ(diff(numbered(6), "2\n3\n4\n5\n6\n"),
            "--- live/x\n+++ merged/x\n@@ -1,4 +1,3 @@\n-1\n 2\n 3\n 4\n");
}

TEST(CliUnifiedDiffTest, DistantChangesMakeSeparateHunks) {
  std::string b = numbered(20);
  b.replace(b.find("2\n"), 2, "two\n");
  b.replace(b.find("\n19\n") + 1, 3, "nineteen\n");
  EXPECT_EQ(diff(numbered(20), b),
            "--- live/x\n+++ merged/x\n"
            "@@ -1,5 +1,5 @@\n 1\n-2\n+two\n 3\n 4\n 5\n"
            "@@ -16,5 +16,5 @@\n 16\n 17\n 18\n-19\n+nineteen\n 20\n");
}

TEST(CliUnifiedDiffTest, ChangesWhoseContextsOverlapShareOneHunk) {
  // Changes at lines 3 and 9: six unchanged lines between them, exactly 2 * context.
  std::string b = numbered(12);
  b.replace(b.find("3\n"), 2, "c\n");
  b.replace(b.find("\n9\n") + 1, 2, "i\n");
  EXPECT_EQ(diff(numbered(12), b),
            "--- live/x\n+++ merged/x\n"
            "@@ -1,12 +1,12 @@\n 1\n 2\n-3\n+c\n 4\n 5\n 6\n 7\n 8\n-9\n+i\n 10\n 11\n 12\n");
}

TEST(CliUnifiedDiffTest, ChangesOneLineFurtherApartSplit) {
  // Seven unchanged lines between changes at 2 and 10: the contexts no longer touch.
  std::string b = numbered(12);
  b.replace(b.find("2\n"), 2, "b\n");
  b.replace(b.find("\n10\n") + 1, 3, "j\n");
  EXPECT_EQ(diff(numbered(12), b),
            "--- live/x\n+++ merged/x\n"
            "@@ -1,5 +1,5 @@\n 1\n-2\n+b\n 3\n 4\n 5\n"
            "@@ -7,6 +7,6 @@\n 7\n 8\n 9\n-10\n+j\n 11\n 12\n");
}

TEST(CliUnifiedDiffTest, RemovedLinesPrecedeAddedOnesInAChange) {
  EXPECT_EQ(diff("a\nb\nc\n", "x\ny\nc\n"),
            "--- live/x\n+++ merged/x\n@@ -1,3 +1,3 @@\n-a\n-b\n+x\n+y\n c\n");
}

TEST(CliUnifiedDiffTest, MissingFinalNewlineIsAChangeAndIsMarked) {
  EXPECT_EQ(
      diff("a\nb\n", "a\nb"),
      "--- live/x\n+++ merged/x\n@@ -1,2 +1,2 @@\n a\n-b\n+b\n\\ No newline at end of file\n");
}

TEST(CliUnifiedDiffTest, ZeroContext) {
  EXPECT_EQ(diff("a\nb\nc\n", "a\nB\nc\n", 0), "--- live/x\n+++ merged/x\n@@ -2 +2 @@\n-b\n+B\n");
}

TEST(CliUnifiedDiffTest, ShortestScriptKeepsCommonLines) {
  // A naive "replace everything" diff would be correct but useless; the common lines stay.
  std::string d = diff("a\nb\nc\nd\ne\n", "b\nc\nX\nd\ne\nf\n");
  EXPECT_EQ(d, "--- live/x\n+++ merged/x\n@@ -1,5 +1,6 @@\n-a\n b\n c\n+X\n d\n e\n+f\n");
}

}  // namespace
}  // namespace skiff::cli
