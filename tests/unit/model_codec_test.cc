// Decoding of JSON and YAML documents and YAML output (model/codec.h).
#include "model/codec.h"

#include <gtest/gtest.h>

#include <string>

namespace skiff {
namespace {

json decodeYaml(const std::string& text) {
  auto doc = decodeDocument(text, "application/yaml");
  EXPECT_TRUE(doc.ok()) << doc.status().toString() << "\n" << text;
  return doc.ok() ? *doc : json();
}

std::string yamlError(const std::string& text) {
  auto doc = decodeDocument(text, "application/yaml");
  EXPECT_FALSE(doc.ok()) << "decoded " << (doc.ok() ? doc->dump() : "") << " from\n" << text;
  if (doc.ok()) return "";
  EXPECT_EQ(doc.status().code(), StatusCode::kBadRequest);
  return doc.status().message();
}

std::string jsonError(const std::string& text) {
  auto doc = decodeDocument(text, "application/json");
  EXPECT_FALSE(doc.ok()) << "decoded " << (doc.ok() ? doc->dump() : "");
  if (doc.ok()) return "";
  EXPECT_EQ(doc.status().code(), StatusCode::kBadRequest);
  return doc.status().message();
}

TEST(ModelCodecTest, YamlPlainScalarsFollowTheCoreSchema) {
  json doc = decodeYaml(
      "a: null\nb: ~\nc:\nd: true\ne: False\nf: 0x1F\ng: 0o17\nh: -12\ni: +3\nj: 1.5e3\n"
      "k: .5\nl: hello world\nm: 1.2.3\nn: 012\no: yes\np: 0x\nq: -.5\n");
  EXPECT_TRUE(doc["a"].is_null());
  EXPECT_TRUE(doc["b"].is_null());
  EXPECT_TRUE(doc["c"].is_null());
  EXPECT_EQ(doc["d"], true);
  EXPECT_EQ(doc["e"], false);
  EXPECT_EQ(doc["f"], 31);
  EXPECT_EQ(doc["g"], 15);
  EXPECT_EQ(doc["h"], -12);
  EXPECT_EQ(doc["i"], 3);
  EXPECT_TRUE(doc["j"].is_number_float());
  EXPECT_EQ(doc["j"], 1500.0);
  EXPECT_EQ(doc["k"], 0.5);
  EXPECT_EQ(doc["l"], "hello world");
  EXPECT_EQ(doc["m"], "1.2.3");
  EXPECT_EQ(doc["n"], 12);
  EXPECT_EQ(doc["o"], "yes");  // YAML 1.1's booleans are strings in 1.2
  EXPECT_EQ(doc["p"], "0x");
  EXPECT_EQ(doc["q"], -0.5);
}

TEST(ModelCodecTest, QuotedAndTaggedScalarsAreStrings) {
  json doc =
      decodeYaml("a: '123'\nb: \"true\"\nc: !!str 42\nd: \"null\"\ne: !!int 7\nf: !!float 2\n");
  EXPECT_EQ(doc["a"], "123");
  EXPECT_EQ(doc["b"], "true");
  EXPECT_EQ(doc["c"], "42");
  EXPECT_EQ(doc["d"], "null");
  EXPECT_EQ(doc["e"], 7);
  EXPECT_EQ(doc["f"], 2);
  EXPECT_NE(yamlError("a: !!int abc\n").find("cannot be read as !!int"), std::string::npos);
  EXPECT_NE(yamlError("a: !custom 1\n").find("unsupported tag"), std::string::npos);
}

TEST(ModelCodecTest, LargeIntegersKeepTheirValue) {
  json doc =
      decodeYaml("a: 18446744073709551615\nb: -9223372036854775808\nc: 99999999999999999999\n");
  EXPECT_EQ(doc["a"].get<uint64_t>(), 18446744073709551615ull);
  EXPECT_EQ(doc["b"].get<int64_t>(), INT64_MIN);
  EXPECT_TRUE(doc["c"].is_number_float());
}

TEST(ModelCodecTest, NonFiniteNumbersAreRejected) {
  EXPECT_NE(yamlError("x: .nan\n").find("cannot be represented in JSON"), std::string::npos);
  EXPECT_NE(yamlError("x: -.inf\n").find("line 1, column 4"), std::string::npos);
  EXPECT_NE(yamlError("x: 1e400\n").find("out of range"), std::string::npos);
  EXPECT_NE(yamlError("x: 0x1FFFFFFFFFFFFFFFFF\n").find("does not fit in 64 bits"),
            std::string::npos);
}

TEST(ModelCodecTest, DuplicateKeysAreRejectedWithTheirPlace) {
  std::string yaml = yamlError("metadata:\n  name: a\n  name: b\n");
  EXPECT_NE(yaml.find("line 3, column 3"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("duplicate key \"name\" in metadata"), std::string::npos) << yaml;
  std::string js = jsonError(R"({"spec": {"components": [{"name": "a", "name": "b"}]}})");
  EXPECT_NE(js.find("duplicate key \"name\" in spec.components[0]"), std::string::npos) << js;
}

TEST(ModelCodecTest, KeysMustBeScalarsAndNotNull) {
  EXPECT_NE(yamlError("? [a, b]\n: 1\n").find("a mapping key must be a string, got a sequence"),
            std::string::npos);
  EXPECT_NE(yamlError("{a: 1}: 1\n").find("got a mapping"), std::string::npos);
  EXPECT_NE(yamlError("~: 1\n").find("got null"), std::string::npos);
  // Scalar keys keep their text.
  json doc = decodeYaml("8080: http\ntrue: yes\n");
  EXPECT_EQ(doc["8080"], "http");
  EXPECT_EQ(doc["true"], "yes");
}

TEST(ModelCodecTest, NestingDeeperThan64IsRejected) {
  std::string ok_flow = std::string(64, '[') + std::string(64, ']');
  EXPECT_TRUE(decodeDocument(ok_flow, "application/yaml").ok());
  EXPECT_TRUE(decodeDocument(ok_flow, "application/json").ok());
  std::string deep_flow = std::string(65, '[') + std::string(65, ']');
  EXPECT_NE(yamlError(deep_flow).find("nesting is deeper than 64 levels"), std::string::npos);
  EXPECT_NE(jsonError(deep_flow).find("nesting is deeper than 64 levels"), std::string::npos);
  std::string block;
  for (int i = 0; i < 65; ++i) block += "- ";
  EXPECT_NE(yamlError(block + "x\n").find("nesting is deeper than 64"), std::string::npos);
  // Far deeper input must fail the same way, not exhaust the stack.
  std::string huge(200000, '[');
  EXPECT_FALSE(decodeDocument(huge, "application/yaml").ok());
  EXPECT_FALSE(decodeDocument(huge, "application/json").ok());
  std::string mapping;
  for (int i = 0; i < 100; ++i) mapping += std::string(i * 2, ' ') + "k:\n";
  EXPECT_NE(yamlError(mapping).find("nesting is deeper than 64"), std::string::npos);
}

TEST(ModelCodecTest, AliasBombsAreCapped) {
  std::string bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n";
  for (char c = 'b'; c <= 'j'; ++c)
    bomb += std::string(1, c) + ": &" + c + " [" + std::string("*") + char(c - 1) + ", *" +
            char(c - 1) + ", *" + char(c - 1) + ", *" + char(c - 1) + ", *" + char(c - 1) + ", *" +
            char(c - 1) + ", *" + char(c - 1) + ", *" + char(c - 1) + ", *" + char(c - 1) + ", *" +
            char(c - 1) + "]\n";
  EXPECT_NE(yamlError(bomb).find("expands to more than"), std::string::npos);
  // Ordinary aliases still work.
  json doc = decodeYaml("base: &b {cpu: 1}\nweb: *b\nname: &n web\nkeyed: {*n : 1}\n");
  EXPECT_EQ(doc["web"], (json{{"cpu", 1}}));
  EXPECT_EQ(doc["keyed"]["web"], 1);
}

TEST(ModelCodecTest, LongStringAliasesAreCappedByBytes) {
  std::string text = "a: &a " + std::string(60000, 'x') + "\nb: [";
  for (int i = 0; i < 400; ++i) text += "*a, ";
  text += "*a]\n";
  EXPECT_NE(yamlError(text).find("MiB"), std::string::npos);
}

// yaml-cpp 0.7 loops forever on a stray flow indicator at the top level (found by fuzzing).
TEST(ModelCodecTest, StrayFlowIndicatorsAreRejected) {
  EXPECT_NE(yamlError(",na\n").find("line 1, column 1: unexpected \",\" outside a flow"),
            std::string::npos);
  EXPECT_FALSE(decodeDocument("- a\n]", "application/yaml").ok());
  EXPECT_FALSE(decodeDocuments("a: 1\n---\n}\n").ok());
}

TEST(ModelCodecTest, InvalidUtf8InYamlIsRejected) {
  EXPECT_NE(yamlError("a: \"\xff\xfe\"\n").find("UTF-8"), std::string::npos);
}

TEST(ModelCodecTest, JsonErrorsSayWhere) {
  std::string e = jsonError("{\n  \"a\": 1,\n  \"b\": }\n");
  EXPECT_NE(e.find("line 3"), std::string::npos) << e;
  EXPECT_FALSE(decodeDocument(R"({"a":1} x)", "application/json").ok());
  EXPECT_FALSE(decodeDocument("{} {}", "application/json").ok());
}

TEST(ModelCodecTest, SyntaxIsSniffedWithoutContentType) {
  auto j = decodeDocument(R"({"a": [1, 2]})");
  ASSERT_TRUE(j.ok());
  EXPECT_EQ((*j)["a"], json::array({1, 2}));
  auto y = decodeDocument("a: [1, 2]\n");
  ASSERT_TRUE(y.ok());
  EXPECT_EQ(*y, *j);
  auto bad = decodeDocument("{}", "text/plain");
  EXPECT_EQ(bad.status().code(), StatusCode::kUnsupportedMediaType);
}

TEST(ModelCodecTest, OneDocumentOnly) {
  EXPECT_EQ(decodeYaml("---\na: 1\n---\n"), (json{{"a", 1}}));
  EXPECT_NE(yamlError("a: 1\n---\nb: 2\n").find("single YAML document"), std::string::npos);
  EXPECT_NE(yamlError("# nothing\n").find("empty"), std::string::npos);
}

TEST(ModelCodecTest, DecodeDocumentsSplitsStreams) {
  auto yaml = decodeDocuments("---\na: 1\n---\n---\nb: 2\n...\n");
  ASSERT_TRUE(yaml.ok()) << yaml.status().toString();
  ASSERT_EQ(yaml->size(), 2u);
  EXPECT_EQ((*yaml)[1], (json{{"b", 2}}));
  auto array = decodeDocuments(R"([{"a": 1}, {"b": 2}])");
  ASSERT_TRUE(array.ok());
  EXPECT_EQ(array->size(), 2u);
  auto single = decodeDocuments(R"({"a": 1})");
  ASSERT_TRUE(single.ok());
  EXPECT_EQ(single->size(), 1u);
  EXPECT_FALSE(decodeDocuments(R"([{"a": 1}, 2])").ok());
  EXPECT_FALSE(decodeDocuments("a: 1\n---\na: 1\na: 2\n").ok());
}

TEST(ModelCodecTest, ToYamlIsBlockStyleInKeyOrder) {
  json value = json::parse(R"({"metadata": {"name": "shop"}, "spec": {"components": [
      {"name": "web", "ports": [{"name": "http", "port": 8080}], "args": []}]}})");
  EXPECT_EQ(toYaml(value),
            "metadata:\n"
            "  name: shop\n"
            "spec:\n"
            "  components:\n"
            "  - args: []\n"
            "    name: web\n"
            "    ports:\n"
            "    - name: http\n"
            "      port: 8080\n");
}

TEST(ModelCodecTest, ToYamlQuotesStringsThatWouldChangeType) {
  EXPECT_EQ(toYaml(json{{"a", "true"}}), "a: \"true\"\n");
  EXPECT_EQ(toYaml(json{{"a", "123"}}), "a: \"123\"\n");
  EXPECT_EQ(toYaml(json{{"a", ""}}), "a: \"\"\n");
  EXPECT_EQ(toYaml(json{{"a", "null"}}), "a: \"null\"\n");
  EXPECT_EQ(toYaml(json{{"a", "x: y"}}), "a: \"x: y\"\n");
  EXPECT_EQ(toYaml(json{{"a", "- x"}}), "a: \"- x\"\n");
  EXPECT_EQ(toYaml(json{{"a", "line\nbreak"}}), "a: \"line\\nbreak\"\n");
  EXPECT_EQ(toYaml(json{{"a", "registry:5000/web:1.2"}}), "a: registry:5000/web:1.2\n");
  EXPECT_EQ(toYaml(json{{"a", 1.0}}), "a: 1.0\n");
  EXPECT_EQ(toYaml(json{{"a", nullptr}}), "a: null\n");
  EXPECT_EQ(toYaml(json::array()), "[]\n");
}

TEST(ModelCodecTest, ToYamlRoundTripsEveryValue) {
  const char* documents[] = {
      R"({"a": [1, -2, 3.25, 1e300, -0.0, 18446744073709551615, -9223372036854775808]})",
      R"({"": "", " lead": "trail ", "#c": "a #b", "k:": "v:", "- x": "? y", "&a": "*b"})",
      R"({"s": ["true", "False", "~", "null", "0x1F", "0o7", "1e3", ".inf", "-.NaN", "12", "+1"]})",
      R"({"u": "\u00e9\u2028\u0085\u0001\u007f\t\r\n\"\\ \ud83d\ude00 \ufeff"})",
      R"([[1, [2, [3, []]]], {}, [{}], [{"a": {"b": [{"c": null}]}}]])",
      R"({"nested": {"list": [[["x"]]], "obj": {"x": {"y": {}}}}})",
      R"("just a string")",
      "42",
      "null",
      "true",
      "[]",
      "{}",
      R"({"a": "...", "b": "---", "c": "--- x", "d": "%YAML", "e": "@x", "f": "`x", "g": "!x"})",
      R"({"multi": "first line\n  indented\n\ttabbed\n", "cr": "a\rb", "sp": "a  b"})",
  };
  for (const char* text : documents) {
    json value = json::parse(text);
    std::string yaml = toYaml(value);
    auto back = decodeDocument(yaml, "application/yaml");
    ASSERT_TRUE(back.ok()) << back.status().toString() << "\n" << yaml;
    EXPECT_EQ(*back, value) << yaml;
  }
  json long_key = {{std::string(3000, 'k'), {{"x", 1}}}, {"b", json::array({1})}};
  auto back = decodeDocument(toYaml(long_key), "application/yaml");
  ASSERT_TRUE(back.ok()) << back.status().toString();
  EXPECT_EQ(*back, long_key);
}

}  // namespace
}  // namespace skiff
