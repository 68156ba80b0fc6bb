// Unit tests of the CLI's table layout, ages and object references.
#include "cli/output.h"

#include <gtest/gtest.h>

#include "common/clock.h"
#include "model/kinds.h"

namespace skiff::cli {
namespace {

using std::chrono::seconds;

TEST(CliOutputTest, AgeUsesTheLargestWholeUnit) {
  EXPECT_EQ(formatAge(seconds(0)), "0s");
  EXPECT_EQ(formatAge(seconds(5)), "5s");
  EXPECT_EQ(formatAge(seconds(59)), "59s");
  EXPECT_EQ(formatAge(seconds(60)), "1m");
  EXPECT_EQ(formatAge(seconds(3 * 60 + 59)), "3m");
  EXPECT_EQ(formatAge(seconds(3599)), "59m");
  EXPECT_EQ(formatAge(seconds(2 * 3600)), "2h");
  EXPECT_EQ(formatAge(seconds(86399)), "23h");
  EXPECT_EQ(formatAge(seconds(4 * 86400 + 5)), "4d");
  EXPECT_EQ(formatAge(seconds(-30)), "0s");  // client clock behind the server's
}

TEST(CliOutputTest, AgeOfATimestamp) {
  std::chrono::system_clock::time_point created;
  ASSERT_TRUE(parseTimestamp("2026-01-02T03:04:05Z", &created));
  EXPECT_EQ(ageOf("2026-01-02T03:04:05Z", created + seconds(125)), "2m");
  EXPECT_EQ(ageOf("2026-01-02T03:04:05Z", created + std::chrono::hours(50)), "2d");
  EXPECT_EQ(ageOf("", created), "<unknown>");
  EXPECT_EQ(ageOf("yesterday", created), "<unknown>");
}

TEST(CliOutputTest, TableAlignsColumnsThreeSpacesApartWithoutTrailingSpaces) {
  Table t({"NAME", "READY", "AGE"});
  t.addRow({"shop", "True", "5s"});
  t.addRow({"a-much-longer-name", "-", "12m"});
  EXPECT_EQ(t.render(),
            "NAME                 READY   AGE\n"
            "shop                 True    5s\n"
            "a-much-longer-name   -       12m\n");
}

TEST(CliOutputTest, TableLineUsesWidthsOfRowsSoFar) {
  Table t({"NAME", "AGE"});
  t.addRow({"shop", "1s"});
  EXPECT_EQ(t.renderHeader(), "NAME   AGE\n");
  EXPECT_EQ(t.renderLine({"a-longer-name", "2s"}), "a-longer-name   2s\n");
}

TEST(CliOutputTest, ObjectReferences) {
  EXPECT_EQ(objectRef(*findKind("app"), "shop"), "application.skiff.dev/shop");
  EXPECT_EQ(objectRef(*findKind("Tenant"), "acme"), "tenant.skiff.dev/acme");
}

TEST(CliOutputTest, CellsAndLabels) {
  EXPECT_EQ(cellText(json()), "-");
  EXPECT_EQ(cellText(json("")), "-");
  EXPECT_EQ(cellText(json("x")), "x");
  EXPECT_EQ(cellText(json(3)), "3");
  EXPECT_EQ(formatLabels({}), "<none>");
  EXPECT_EQ(formatLabels({{"b", "2"}, {"a", "1"}}), "a=1,b=2");
}

}  // namespace
}  // namespace skiff::cli
