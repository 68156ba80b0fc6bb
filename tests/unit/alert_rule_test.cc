// Alert rules as admitted (model/validation.cc, alert::checkRuleQuery) and as the engine reads
// them (alert/rule.h), the built-in rules, and annotation templates (alert/template.h).
#include "alert/rule.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <limits>

#include "alert/template.h"
#include "model/validation.h"
#include "observe/query.h"

namespace skiff::alert {
namespace {

Result<Object> admit(const std::string& kind, json spec) {
  return admitObject({{"kind", kind}, {"metadata", {{"name", "r1"}}}, {"spec", std::move(spec)}},
                     {kind, "acme"});
}

std::vector<std::string> fieldsOf(const Result<Object>& r) {
  std::vector<std::string> out;
  for (const FieldError& f : r.status().fields()) out.push_back(f.path);
  return out;
}

bool has(const std::vector<std::string>& fields, const std::string& path) {
  return std::find(fields.begin(), fields.end(), path) != fields.end();
}

TEST(AlertRuleAdmission, FillsDefaultsAndNeedsExactlyOneCondition) {
  auto ok = admit("AlertRule", {{"log", {{"application", "shop"}, {"pattern", "timeout"}}},
                                {"receivers", {"ops"}}});
  ASSERT_TRUE(ok.ok()) << ok.status().toString();
  EXPECT_EQ(ok->spec["severity"], "warning");
  EXPECT_EQ(ok->spec["groupWait"], "5s");
  EXPECT_EQ(ok->spec["groupInterval"], "1m");
  EXPECT_EQ(ok->spec["repeatInterval"], "4h");
  EXPECT_EQ(ok->spec["groupBy"], json({"alertname", "application"}));
  EXPECT_EQ(ok->spec["log"]["window"], "5m");
  EXPECT_EQ(ok->spec["log"]["count"], 1);

  auto none = admit("AlertRule", json::object());
  ASSERT_FALSE(none.ok());
  EXPECT_TRUE(has(fieldsOf(none), "spec"));
  auto two = admit("AlertRule", {{"event", {{"reason", "OOMKilled"}}},
                                 {"metric", {{"query", "up"}, {"threshold", 1}}}});
  ASSERT_FALSE(two.ok());
  EXPECT_NE(two.status().toString().find("only one of metric, log or event"), std::string::npos)
      << two.status().toString();
  // Only a disabled rule (turning a built-in one off) may have no condition.
  EXPECT_TRUE(admit("AlertRule", {{"disabled", true}}).ok());
}

TEST(AlertRuleAdmission, ReportsBadFieldsWithTheirPaths) {
  auto bad = admit(
      "AlertRule",
      {{"log",
        {{"application", "shop"}, {"pattern", "(unclosed"}, {"regex", true}, {"window", "2h"}}},
       {"severity", "urgent"},
       {"for", "soon"},
       {"labels", {{"alertname", "x"}, {"bad-name", "y"}}},
       {"groupBy", {"application", "no-dash"}},
       {"groupInterval", "0s"}});
  ASSERT_FALSE(bad.ok());
  const auto fields = fieldsOf(bad);
  for (const char* path :
       {"spec.log.pattern", "spec.log.window", "spec.severity", "spec.for", "spec.labels.alertname",
        "spec.labels.bad-name", "spec.groupBy[1]", "spec.groupInterval"})
    EXPECT_TRUE(has(fields, path)) << bad.status().toString();
}

TEST(AlertRuleAdmission, TheQueryIsParsedByTheApiLayer) {
  const json spec = {{"metric", {{"query", "sum(rate(x[5m]) by"}, {"threshold", 1}}}};
  // The model admits it (it cannot parse queries) ...
  ASSERT_TRUE(admit("AlertRule", spec).ok());
  // ... and the API's admission step refuses it, naming the field and the position.
  Status s = checkRuleQuery(spec);
  ASSERT_EQ(s.code(), StatusCode::kInvalid);
  ASSERT_EQ(s.fields().size(), 1u);
  EXPECT_EQ(s.fields()[0].path, "spec.metric.query");
  EXPECT_NE(s.fields()[0].message.find("at "), std::string::npos) << s.fields()[0].message;
  EXPECT_TRUE(checkRuleQuery({{"metric", {{"query", "sum(up)"}, {"threshold", 1}}}}).isOk());
  Object rule;
  rule.metadata.name = "r";
  rule.spec = spec;
  EXPECT_FALSE(ruleFromObject(rule).ok());
}

TEST(ReceiverAdmission, ChecksTargetsAndHeaders) {
  EXPECT_TRUE(admit("Receiver", {{"webhook", {{"url", "https://hooks.example/x"}}}}).ok());
  auto two = admit("Receiver",
                   {{"webhook", {{"url", "http://a"}}}, {"alertmanager", {{"url", "http://b"}}}});
  EXPECT_FALSE(two.ok());
  auto bad = admit(
      "Receiver",
      {{"webhook",
        {{"url", "ftp://x"}, {"headers", {{"X-Skiff-Signature", "x"}, {"X-A", "a\r\nb: c"}}}}}});
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(has(fieldsOf(bad), "spec.webhook.url"));
  EXPECT_TRUE(has(fieldsOf(bad), "spec.webhook.headers.X-Skiff-Signature"));
  EXPECT_TRUE(has(fieldsOf(bad), "spec.webhook.headers.X-A"));
  auto mail = admit("Receiver", {{"email",
                                  {{"smarthost", "mail.example"},
                                   {"from", "a@b"},
                                   {"to", {"ops@example.com", "x\r\nBcc: y@z"}},
                                   {"password", {{"name", "smtp"}, {"key", "password"}}}}}});
  ASSERT_FALSE(mail.ok());
  EXPECT_TRUE(has(fieldsOf(mail), "spec.email.smarthost"));
  EXPECT_TRUE(has(fieldsOf(mail), "spec.email.to[1]"));
  EXPECT_TRUE(has(fieldsOf(mail), "spec.email.username"));
  auto defaults = admit("Receiver", {{"alertmanager", {{"url", "http://127.0.0.1:9093"}}}});
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults->spec["sendResolved"], true);
  EXPECT_EQ(defaults->spec["defaultRules"], false);
}

TEST(SilenceAdmission, NeedsMatchersAndAnOrderedWindow) {
  EXPECT_TRUE(admit("Silence", {{"matchers", {{"alertname", "HighErrorRate"}}},
                                {"endsAt", "2030-01-01T00:00:00Z"}})
                  .ok());
  auto bad = admit("Silence", {{"matchers", json::object()},
                               {"startsAt", "2030-01-02T00:00:00Z"},
                               {"endsAt", "2030-01-01T00:00:00Z"}});
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(has(fieldsOf(bad), "spec.matchers"));
  EXPECT_TRUE(has(fieldsOf(bad), "spec.endsAt"));
  auto garbled = admit("Silence", {{"matchers", {{"a", "b"}}}, {"endsAt", "tomorrow"}});
  ASSERT_FALSE(garbled.ok());
  EXPECT_TRUE(has(fieldsOf(garbled), "spec.endsAt"));
}

TEST(AlertRules, ReadsAnAdmittedObject) {
  auto admitted =
      admit("AlertRule", {{"metric", {{"query", "up"}, {"op", "<="}, {"threshold", 0.5}}},
                          {"for", "1m30s"},
                          {"groupWait", "0s"},
                          {"inhibits", {{"rules", {"b"}}, {"equal", {"application"}}}}});
  ASSERT_TRUE(admitted.ok());
  admitted->metadata.tenant = "acme";
  auto rule = ruleFromObject(*admitted);
  ASSERT_TRUE(rule.ok());
  EXPECT_EQ(rule->name, "r1");
  EXPECT_EQ(rule->tenant, "acme");
  EXPECT_EQ(rule->for_duration, std::chrono::seconds(90));
  EXPECT_EQ(rule->group_wait, std::chrono::milliseconds(0));
  const auto* m = std::get_if<MetricCondition>(&rule->condition);
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->op, CompareOp::kLe);
  EXPECT_EQ(m->threshold, 0.5);
  ASSERT_TRUE(rule->inhibits.has_value());
  EXPECT_EQ(rule->inhibits->rules, std::vector<std::string>{"b"});
}

TEST(AlertRules, BuiltinRulesParseAndCanBeReplacedByName) {
  const auto rules = builtinRules("acme");
  ASSERT_EQ(rules.size(), 4u);
  for (const Rule& r : rules) {
    EXPECT_TRUE(r.builtin);
    EXPECT_EQ(r.tenant, "acme");
    if (const auto* m = std::get_if<MetricCondition>(&r.condition)) {
      EXPECT_TRUE(observe::parseQuery(m->query).ok()) << r.name << ": " << m->query;
    }
  }
  EXPECT_TRUE(replacesBuiltin("crashloopbackoff", "CrashLoopBackOff"));
  EXPECT_TRUE(replacesBuiltin("higherrorrate", "HighErrorRate"));
  EXPECT_FALSE(replacesBuiltin("high-error-rate", "HighErrorRate"));
  EXPECT_FALSE(replacesBuiltin("crashloop", "CrashLoopBackOff"));
}

TEST(AlertRules, ComparesWithEachOperator) {
  EXPECT_TRUE(compare(2, CompareOp::kGt, 1));
  EXPECT_FALSE(compare(1, CompareOp::kGt, 1));
  EXPECT_TRUE(compare(1, CompareOp::kGe, 1));
  EXPECT_TRUE(compare(0, CompareOp::kLt, 1));
  EXPECT_TRUE(compare(1, CompareOp::kLe, 1));
  EXPECT_TRUE(compare(0, CompareOp::kEq, 0));
  EXPECT_TRUE(compare(3, CompareOp::kNe, 0));
}

TEST(AlertTemplates, ReplacesValueLabelsAndRule) {
  const std::map<std::string, std::string> labels = {{"application", "shop"}};
  EXPECT_EQ(expandTemplate("{{ $labels.application }} at {{$value}} ({{ $rule }})", labels, 0.0523,
                           "HighErrorRate"),
            "shop at 0.0523 (HighErrorRate)");
  EXPECT_EQ(expandTemplate("{{ $labels.missing }}|{{ $value }}", labels, 3, "r"), "|3");
  // Unknown expressions stay as written; an unclosed one too.
  EXPECT_EQ(expandTemplate("{{ .Foo }} and {{ $value", labels, 1, "r"), "{{ .Foo }} and {{ $value");
  EXPECT_EQ(formatValue(1.5e9), "1500000000");
  EXPECT_EQ(formatValue(0.123456), "0.1235");
  EXPECT_EQ(formatValue(std::numeric_limits<double>::infinity()), "+Inf");
}

}  // namespace
}  // namespace skiff::alert
