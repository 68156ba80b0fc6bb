// Which tags auto-deploy follows: globs and semver ranges, and the newest of several.
#include "image/tag_pattern.h"

#include <gtest/gtest.h>

namespace skiff::image {
namespace {

TagPattern pattern(const std::string& text) {
  auto p = TagPattern::parse(text);
  EXPECT_TRUE(p.ok()) << p.status().message();
  return p.ok() ? *p : *TagPattern::parse("*");
}

TEST(TagPatternTest, GlobsMatchByText) {
  TagPattern p = pattern("1.4.*");
  EXPECT_TRUE(p.matches("1.4.0"));
  EXPECT_TRUE(p.matches("1.4.12"));
  EXPECT_FALSE(p.matches("1.5.0"));
  EXPECT_FALSE(p.matches("v1.4.0"));
  EXPECT_EQ(p.newest({"1.4.2", "1.4.10", "1.5.0", "1.4.9"}), "1.4.10") << "by version, not text";
  EXPECT_TRUE(pattern("release-*").matches("release-2026-12-01"));
}

TEST(TagPatternTest, SemverRanges) {
  EXPECT_EQ(pattern("^1.4").newest({"1.3.9", "1.4.0", "1.9.3", "2.0.0"}), "1.9.3");
  EXPECT_EQ(pattern("~1.4.2").newest({"1.4.1", "1.4.7", "1.5.0"}), "1.4.7");
  EXPECT_EQ(pattern(">=1.4.0 <2").newest({"v1.8.0", "2.0.0", "1.2.0"}), "v1.8.0");
  EXPECT_EQ(pattern("1.x").newest({"1.2.3", "1.10.0", "0.9.0", "2.0.0"}), "1.10.0");
  EXPECT_EQ(pattern("^0.4").newest({"0.4.9", "0.5.0"}), "0.4.9");
  EXPECT_FALSE(pattern("^1.4").matches("1.5.0-rc.1")) << "no pre-release unless asked for";
  EXPECT_FALSE(pattern("^1.4").matches("latest"));
  EXPECT_EQ(pattern("^1.4").newest({"latest", "main"}), std::nullopt);
}

TEST(TagPatternTest, NewerOrdersVersionsThenText) {
  EXPECT_TRUE(TagPattern::newer("1.10.0", "1.9.0"));
  EXPECT_TRUE(TagPattern::newer("1.0.0", "1.0.0-rc.1"));
  EXPECT_TRUE(TagPattern::newer("1.0.0", "nightly")) << "a version beats a name";
  EXPECT_FALSE(TagPattern::newer("1.4.0", "1.4.0"));
}

TEST(TagPatternTest, BadPatternsSayWhy) {
  for (const char* bad : {"", ">=one", "^1.2.3.4", "a/b*", "1.4 <x.y"}) {
    auto p = TagPattern::parse(bad);
    EXPECT_FALSE(p.ok()) << bad;
    if (!p.ok()) {
      EXPECT_NE(p.status().message().find("tag pattern"), std::string::npos);
    }
  }
}

}  // namespace
}  // namespace skiff::image
