// The alert state machine (alert/alert_state.h) and the notifier's decisions
// (alert/notifier.h): pending and `for`, firing and resolving; grouping, groupWait,
// groupInterval and repeatInterval; deduplication; silences in and out of their window;
// inhibition; resolved notifications; built-in rules to default receivers; Alertmanager's
// re-posts. Time is an argument throughout.
#include <gtest/gtest.h>

#include "alert/alert_state.h"
#include "alert/notifier.h"

namespace skiff::alert {
namespace {

using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

const TimePoint kT0 = TimePoint(seconds(1'800'000'000));

Rule rule(const std::string& name, milliseconds for_duration = milliseconds(0)) {
  Rule r;
  r.tenant = "acme";
  r.name = name;
  r.severity = "critical";
  r.for_duration = for_duration;
  r.receivers = {"ops"};
  r.group_wait = seconds(5);
  r.group_interval = minutes(1);
  r.repeat_interval = minutes(10);
  r.annotations = {{"summary", "{{ $labels.application }} is at {{ $value }}"}};
  r.condition = MetricCondition{"x", CompareOp::kGt, 1};
  return r;
}

ActiveSeries series(const std::string& app, double value) {
  return {{{"application", app}}, value};
}

TEST(RuleAlerts, PendingUntilForThenFiringThenResolved) {
  const Rule r = rule("HighLoad", seconds(30));
  RuleAlerts alerts;
  alerts.update(r, {series("shop", 5)}, kT0);
  ASSERT_EQ(alerts.alerts().size(), 1u);
  Alert a = alerts.alerts()[0];
  EXPECT_EQ(a.state, AlertState::kPending);
  EXPECT_EQ(a.active_at, kT0);
  EXPECT_EQ(a.labels.at("alertname"), "HighLoad");
  EXPECT_EQ(a.labels.at("severity"), "critical");
  EXPECT_EQ(a.labels.at("tenant"), "acme");
  EXPECT_EQ(a.labels.at("application"), "shop");
  EXPECT_EQ(a.annotations.at("summary"), "shop is at 5");

  alerts.update(r, {series("shop", 6)}, kT0 + seconds(29));
  EXPECT_EQ(alerts.alerts()[0].state, AlertState::kPending);
  alerts.update(r, {series("shop", 7)}, kT0 + seconds(30));
  a = alerts.alerts()[0];
  EXPECT_EQ(a.state, AlertState::kFiring);
  EXPECT_EQ(a.fired_at, kT0 + seconds(30));
  EXPECT_EQ(a.active_at, kT0);
  EXPECT_EQ(a.value, 7);
  EXPECT_EQ(a.annotations.at("summary"), "shop is at 7");
  const std::string fingerprint = a.fingerprint;

  alerts.update(r, {}, kT0 + seconds(40));
  a = alerts.alerts()[0];
  EXPECT_EQ(a.state, AlertState::kResolved);
  EXPECT_EQ(a.resolved_at, kT0 + seconds(40));
  EXPECT_EQ(a.fingerprint, fingerprint);
  // Holding again starts over as a new pending alert.
  alerts.update(r, {series("shop", 9)}, kT0 + seconds(50));
  a = alerts.alerts()[0];
  EXPECT_EQ(a.state, AlertState::kPending);
  EXPECT_EQ(a.active_at, kT0 + seconds(50));
}

TEST(RuleAlerts, PendingThatStopsHoldingNeverFiresAndResolvedExpire) {
  const Rule r = rule("HighLoad", seconds(30));
  RuleAlerts alerts(minutes(15));
  alerts.update(r, {series("shop", 5)}, kT0);
  alerts.update(r, {}, kT0 + seconds(10));
  EXPECT_TRUE(alerts.alerts().empty());

  const Rule now = rule("Now");  // for: 0 fires at once
  alerts.update(now, {series("a", 2), series("b", 3)}, kT0);
  EXPECT_EQ(alerts.count(AlertState::kFiring), 2u);
  alerts.update(now, {series("b", 3)}, kT0 + seconds(5));
  EXPECT_EQ(alerts.count(AlertState::kFiring), 1u);
  EXPECT_EQ(alerts.count(AlertState::kResolved), 1u);
  alerts.update(now, {series("b", 3)}, kT0 + minutes(16));
  EXPECT_EQ(alerts.alerts().size(), 1u);  // the resolved one is gone
}

TEST(RuleAlerts, FingerprintsDependOnEveryLabel) {
  EXPECT_EQ(fingerprintOf({{"a", "1"}}), fingerprintOf({{"a", "1"}}));
  EXPECT_NE(fingerprintOf({{"a", "1"}}), fingerprintOf({{"a", "2"}}));
  EXPECT_NE(fingerprintOf({{"a", "1,b=2"}}), fingerprintOf({{"a", "1"}, {"b", "2"}}));
  EXPECT_EQ(fingerprintOf({{"a", "1"}}).size(), 16u);
}

// A world of one tenant: rules, their alerts (via RuleAlerts) and the receivers.
class NotifierTest : public ::testing::Test {
 protected:
  void SetUp() override {
    rules_ = {rule("HighLoad")};
    receivers_ = {{"acme", "ops", true, false, false}};
  }
  // Evaluates rule `index` with `active` at `t`, then ticks the notifier.
  std::vector<Notification> step(TimePoint t, const std::vector<ActiveSeries>& active,
                                 size_t index = 0) {
    states_[rules_[index].name].update(rules_[index], active, t);
    return tick(t);
  }
  std::vector<Notification> tick(TimePoint t) {
    std::vector<Alert> all;
    for (auto& [name, s] : states_)
      for (Alert& a : s.alerts()) all.push_back(a);
    return notifier_.tick(all, rules_, silences_, receivers_, t);
  }
  static std::vector<std::string> states(const Notification& n) {
    std::vector<std::string> out;
    for (const Alert& a : n.alerts)
      out.push_back(a.labels.at("application") + ":" + alertStateName(a.state));
    return out;
  }

  std::vector<Rule> rules_;
  std::vector<ReceiverRoute> receivers_;
  std::vector<Silence> silences_;
  std::map<std::string, RuleAlerts> states_;
  Notifier notifier_;
};

TEST_F(NotifierTest, GroupWaitsThenSendsOnceAndRepeatsAfterRepeatInterval) {
  EXPECT_TRUE(step(kT0, {series("shop", 5)}).empty());  // groupWait 5s
  EXPECT_TRUE(step(kT0 + seconds(4), {series("shop", 5)}).empty());
  auto sent = step(kT0 + seconds(5), {series("shop", 5)});
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].receiver, "ops");
  EXPECT_EQ(sent[0].group_labels, (Labels{{"alertname", "HighLoad"}, {"application", "shop"}}));
  EXPECT_TRUE(sent[0].firing());
  EXPECT_EQ(states(sent[0]), std::vector<std::string>{"shop:firing"});
  // The same state is not sent again at the next group intervals ...
  for (int i = 1; i < 10; ++i)
    EXPECT_TRUE(step(kT0 + seconds(5) + minutes(i), {series("shop", 5)}).empty()) << i;
  // ... until the repeat interval (10m) has passed.
  auto repeat = step(kT0 + seconds(5) + minutes(10), {series("shop", 5)});
  ASSERT_EQ(repeat.size(), 1u);
  EXPECT_EQ(states(repeat[0]), std::vector<std::string>{"shop:firing"});
}

TEST_F(NotifierTest, GroupsByLabelsAndSendsChangesAtTheGroupInterval) {
  rules_[0].group_by = {"alertname"};
  step(kT0, {series("a", 5)});
  auto first = step(kT0 + seconds(5), {series("a", 5)});
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(states(first[0]), std::vector<std::string>{"a:firing"});
  // A second alert of the group waits for the group interval, then both are sent together.
  EXPECT_TRUE(step(kT0 + seconds(20), {series("a", 5), series("b", 5)}).empty());
  auto second = step(kT0 + seconds(65), {series("a", 5), series("b", 5)});
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(states(second[0]), (std::vector<std::string>{"a:firing", "b:firing"}));
  EXPECT_EQ(second[0].commonLabels().count("application"), 0u);
  EXPECT_EQ(second[0].commonLabels().at("alertname"), "HighLoad");
}

TEST_F(NotifierTest, ResolvedIsSentOnceWhenAsked) {
  step(kT0, {series("shop", 5)});
  ASSERT_EQ(step(kT0 + seconds(5), {series("shop", 5)}).size(), 1u);
  EXPECT_TRUE(step(kT0 + seconds(30), {}).empty());  // waits for the group interval
  auto resolved = step(kT0 + seconds(65), {});
  ASSERT_EQ(resolved.size(), 1u);
  EXPECT_FALSE(resolved[0].firing());
  EXPECT_EQ(states(resolved[0]), std::vector<std::string>{"shop:resolved"});
  EXPECT_EQ(resolved[0].alerts[0].resolved_at, kT0 + seconds(30));
  for (int i = 2; i < 20; ++i) EXPECT_TRUE(step(kT0 + seconds(5) + minutes(i), {}).empty()) << i;
  EXPECT_EQ(notifier_.groups(), 0u);
}

TEST_F(NotifierTest, ResolvedIsNotSentWithoutSendResolved) {
  receivers_[0].send_resolved = false;
  step(kT0, {series("shop", 5)});
  ASSERT_EQ(step(kT0 + seconds(5), {series("shop", 5)}).size(), 1u);
  for (int i = 1; i < 5; ++i) EXPECT_TRUE(step(kT0 + seconds(5) + minutes(i), {}).empty());
}

TEST_F(NotifierTest, PendingAlertsAreNotSent) {
  rules_[0].for_duration = minutes(2);
  for (int i = 0; i < 12; ++i)
    EXPECT_TRUE(step(kT0 + seconds(10 * i), {series("shop", 5)}).empty());
  step(kT0 + seconds(120), {series("shop", 5)});  // fires: the group begins, waits 5s
  EXPECT_EQ(step(kT0 + seconds(125), {series("shop", 5)}).size(), 1u);
}

TEST_F(NotifierTest, SilenceHoldsBackOnlyWithinItsWindowAndTheAlertIsSentAfter) {
  Silence s;
  s.tenant = "acme";
  s.matchers = {{"alertname", "HighLoad"}, {"application", "shop"}};
  s.starts_at = kT0 - seconds(1);
  s.ends_at = kT0 + minutes(3);
  silences_ = {s};
  step(kT0, {series("shop", 5), series("blog", 5)});
  auto sent = step(kT0 + seconds(5), {series("shop", 5), series("blog", 5)});
  // Only the unsilenced application's group is notified.
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(states(sent[0]), std::vector<std::string>{"blog:firing"});
  for (int i = 1; i < 3; ++i)
    EXPECT_TRUE(
        step(kT0 + seconds(5) + minutes(i), {series("shop", 5), series("blog", 5)}).empty());
  // The silence has ended and shop still fires: it is sent at its group's next flush.
  auto after = step(kT0 + seconds(5) + minutes(3), {series("shop", 5), series("blog", 5)});
  ASSERT_EQ(after.size(), 1u);
  EXPECT_EQ(states(after[0]), std::vector<std::string>{"shop:firing"});

  // A silence that has not begun holds nothing back.
  NotifierTest::SetUp();
  states_.clear();
  notifier_ = Notifier();
  s.starts_at = kT0 + minutes(10);
  s.ends_at = kT0 + minutes(20);
  silences_ = {s};
  step(kT0, {series("shop", 5)});
  EXPECT_EQ(step(kT0 + seconds(5), {series("shop", 5)}).size(), 1u);
}

TEST_F(NotifierTest, SilencedAlertThatResolvesIsNotAnnounced) {
  step(kT0, {series("shop", 5)});
  ASSERT_EQ(step(kT0 + seconds(5), {series("shop", 5)}).size(), 1u);
  Silence s;
  s.tenant = "acme";
  s.matchers = {{"alertname", "HighLoad"}};
  s.starts_at = kT0;
  s.ends_at = kT0 + minutes(30);
  silences_ = {s};
  EXPECT_TRUE(step(kT0 + seconds(65), {series("shop", 5)}).empty());
  EXPECT_TRUE(notifier_.suppressed().silenced.size() == 1);
  EXPECT_TRUE(step(kT0 + seconds(125), {}).empty());
}

TEST_F(NotifierTest, InhibitionHoldsBackTheNamedRulesWithEqualLabels) {
  Rule down = rule("AppDown");
  down.inhibits = Inhibition{{"HighLoad"}, {"application"}};
  rules_.push_back(down);
  // AppDown fires for shop: HighLoad of shop is held back, HighLoad of blog is not.
  step(kT0, {series("shop", 1)}, 1);
  step(kT0, {series("shop", 5), series("blog", 5)}, 0);
  auto sent = tick(kT0 + seconds(5));
  std::vector<std::string> got;
  for (const auto& n : sent) got.push_back(n.rule + "/" + states(n)[0]);
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<std::string>{"AppDown/shop:firing", "HighLoad/blog:firing"}));
  EXPECT_EQ(notifier_.suppressed().inhibited.size(), 1u);
  // AppDown resolves: HighLoad of shop is news now.
  step(kT0 + seconds(30), {}, 1);
  step(kT0 + seconds(30), {series("shop", 5), series("blog", 5)}, 0);
  auto later = tick(kT0 + seconds(65));
  bool shop_load = false;
  for (const auto& n : later)
    if (n.rule == "HighLoad" && states(n) == std::vector<std::string>{"shop:firing"})
      shop_load = true;
  EXPECT_TRUE(shop_load);
}

TEST_F(NotifierTest, BuiltinRulesGoToDefaultReceiversOnly) {
  rules_[0].builtin = true;
  rules_[0].receivers.clear();
  receivers_ = {{"acme", "ops", true, false, false},
                {"acme", "oncall", true, true, false},
                {"other", "theirs", true, true, false}};
  step(kT0, {series("shop", 5)});
  auto sent = step(kT0 + seconds(5), {series("shop", 5)});
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].receiver, "oncall");
}

TEST_F(NotifierTest, AlertmanagerIsSentFiringAlertsAtEveryGroupInterval) {
  receivers_[0].alertmanager = true;
  step(kT0, {series("shop", 5)});
  ASSERT_EQ(step(kT0 + seconds(5), {series("shop", 5)}).size(), 1u);
  EXPECT_EQ(step(kT0 + seconds(65), {series("shop", 5)}).size(), 1u);
  EXPECT_EQ(step(kT0 + seconds(125), {series("shop", 5)}).size(), 1u);
}

TEST_F(NotifierTest, DeletedRuleResolvesItsAlertsAndForgetResends) {
  step(kT0, {series("shop", 5)});
  auto first = step(kT0 + seconds(5), {series("shop", 5)});
  ASSERT_EQ(first.size(), 1u);
  // The delivery failed: the alert is news again at the next flush.
  notifier_.forget(first[0].group_key);
  EXPECT_EQ(step(kT0 + seconds(65), {series("shop", 5)}).size(), 1u);
  // The rule is deleted: its alert is no longer given and is announced resolved.
  states_.clear();
  auto gone = tick(kT0 + seconds(125));
  ASSERT_EQ(gone.size(), 1u);
  EXPECT_EQ(states(gone[0]), std::vector<std::string>{"shop:resolved"});
}

TEST_F(NotifierTest, ZeroGroupWaitSendsOnTheFirstTick) {
  rules_[0].group_wait = milliseconds(0);
  EXPECT_EQ(step(kT0, {series("shop", 5)}).size(), 1u);
}

}  // namespace
}  // namespace skiff::alert
