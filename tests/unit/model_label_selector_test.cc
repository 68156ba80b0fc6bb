// Label selectors (model/label_selector.h): Kubernetes' syntax and matching semantics.
#include "model/label_selector.h"

#include <gtest/gtest.h>

namespace skiff {
namespace {

using Labels = std::map<std::string, std::string>;
using Op = LabelSelector::Op;

LabelSelector parsed(const std::string& text) {
  auto s = LabelSelector::parse(text);
  EXPECT_TRUE(s.ok()) << text << ": " << s.status().toString();
  return s.ok() ? *s : LabelSelector();
}

TEST(ModelLabelSelectorTest, ParsesEveryOperator) {
  LabelSelector s =
      parsed("app=shop, tier != db,env in (b, a),zone notin (x),key ,!gone, version==2");
  const auto& r = s.requirements();
  ASSERT_EQ(r.size(), 7u);
  EXPECT_EQ(r[0].key, "app");
  EXPECT_EQ(r[0].op, Op::kEquals);
  EXPECT_EQ(r[0].values, std::vector<std::string>{"shop"});
  EXPECT_EQ(r[1].op, Op::kNotEquals);
  EXPECT_EQ(r[1].values, std::vector<std::string>{"db"});
  EXPECT_EQ(r[2].op, Op::kIn);
  EXPECT_EQ(r[2].values, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(r[3].op, Op::kNotIn);
  EXPECT_EQ(r[4].key, "key");
  EXPECT_EQ(r[4].op, Op::kExists);
  EXPECT_EQ(r[5].key, "gone");
  EXPECT_EQ(r[5].op, Op::kNotExists);
  EXPECT_EQ(r[6].op, Op::kEquals);
  EXPECT_EQ(r[6].values, std::vector<std::string>{"2"});
}

TEST(ModelLabelSelectorTest, EmptySelectsEverything) {
  LabelSelector s = parsed("  ");
  EXPECT_TRUE(s.empty());
  EXPECT_TRUE(s.matches({}));
  EXPECT_TRUE(s.matches({{"a", "b"}}));
}

TEST(ModelLabelSelectorTest, MatchesLikeKubernetes) {
  struct Case {
    const char* selector;
    Labels labels;
    bool matches;
  };
  const Case cases[] = {
      {"app=shop", {{"app", "shop"}}, true},
      {"app=shop", {{"app", "blog"}}, false},
      {"app=shop", {}, false},
      {"app!=shop", {}, true},  // an absent label is "not equal"
      {"app!=shop", {{"app", "shop"}}, false},
      {"env in (a,b)", {{"env", "b"}}, true},
      {"env in (a,b)", {}, false},
      {"env notin (a,b)", {}, true},
      {"env notin (a,b)", {{"env", "a"}}, false},
      {"env notin (a,b)", {{"env", "c"}}, true},
      {"key", {{"key", ""}}, true},
      {"key", {}, false},
      {"!key", {}, true},
      {"!key", {{"key", "x"}}, false},
      {"app=shop,tier=web", {{"app", "shop"}, {"tier", "web"}}, true},
      {"app=shop,tier=web", {{"app", "shop"}, {"tier", "db"}}, false},
      {"app=", {{"app", ""}}, true},
      {"env in (a,)", {{"env", ""}}, true},
      {"example.com/owner=team-a", {{"example.com/owner", "team-a"}}, true},
  };
  for (const auto& c : cases)
    EXPECT_EQ(parsed(c.selector).matches(c.labels), c.matches) << c.selector;
}

TEST(ModelLabelSelectorTest, ErrorsNameTheTerm) {
  struct Case {
    const char* selector;
    const char* message;
  };
  const Case cases[] = {
      {"app=shop,", "invalid label selector: empty term (stray ',')"},
      {"env in (a,b", "invalid label selector term \"env in (a,b\": missing ')'"},
      {"env in a,b)", "invalid label selector: unbalanced ')' in \"env in a,b)\""},
      {"env in ()", "invalid label selector term \"env in ()\": the list of values is empty"},
      {"env within (a)",
       "invalid label selector term \"env within (a)\": expected =, ==, !=, in or notin after "
       "the key, got \"within\""},
      {"env in a",
       "invalid label selector term \"env in a\": expected a parenthesized list of "
       "values, like (a,b)"},
      {"=shop", "invalid label selector term \"=shop\": the label key is missing"},
      {"Bad Key=x",
       "invalid label selector term \"Bad Key=x\": expected =, ==, !=, in or notin after the "
       "key, got \"Key=x\""},
      {"-app=x",
       "invalid label selector term \"-app=x\": invalid label key \"-app\": the name \"-app\" "
       "must be 1-63 characters of letters, digits, '-', '_' and '.', starting and ending with "
       "a letter or digit"},
      {"app=a b",
       "invalid label selector term \"app=a b\": invalid label value \"a b\": must be at most 63 "
       "characters of letters, digits, '-', '_' and '.', starting and ending with a letter or "
       "digit (or empty)"},
      {"Example.com/app=x",
       "invalid label selector term \"Example.com/app=x\": invalid label key "
       "\"Example.com/app\": the prefix \"Example.com\" must be a DNS subdomain (lowercase "
       "dot-separated DNS labels, at most 253 characters)"},
      {"env in ((a))", "invalid label selector: nested '(' in \"env in ((a))\""},
  };
  for (const auto& c : cases) {
    auto s = LabelSelector::parse(c.selector);
    ASSERT_FALSE(s.ok()) << c.selector;
    EXPECT_EQ(s.status().code(), StatusCode::kBadRequest);
    EXPECT_EQ(s.status().message(), c.message) << c.selector;
  }
}

}  // namespace
}  // namespace skiff
