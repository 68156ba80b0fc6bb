// The alerting engine end to end inside one process (alert/alerting_service.h): rules,
// receivers and silences in a real store, metrics in a real time series, logs from a fake log
// source, HTTP answered by a fake, time injected. Checks what reaches the receiver (signed),
// what status says, tenant confinement, built-in rules, and retries of a failing receiver.
#include "alert/alerting_service.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <mutex>
#include <thread>

#include "manual_clock.h"
#include "model/validation.h"
#include "observe/tsdb.h"
#include "store/sqlite_store.h"

namespace skiff::alert {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

using testing::ManualClock;

// Logs held in memory: each instance's lines; a cursor returns those since its start, then
// those appended later.
class FakeLogs final : public runtime::LogSource {
 public:
  void add(const std::string& instance, TimePoint t, const std::string& text) {
    std::lock_guard lock(mu_);
    lines_[instance].push_back({t, false, text});
  }
  Result<std::unique_ptr<runtime::LogCursor>> open(const std::string&, const std::string& instance,
                                                   const runtime::LogQuery& query) override {
    std::lock_guard lock(mu_);
    if (lines_.count(instance) == 0) return notFound(instance);
    ++opened_;
    return std::unique_ptr<runtime::LogCursor>(
        std::make_unique<Cursor>(this, instance, query.since.value_or(TimePoint{})));
  }
  Result<std::vector<runtime::LoggedInstance>> instancesOf(const std::string&,
                                                           const std::string& app) override {
    std::lock_guard lock(mu_);
    std::vector<runtime::LoggedInstance> out;
    for (const auto& [name, lines] : lines_)
      if (name.rfind(app + "-", 0) == 0) out.push_back({name, "web", true});
    return out;
  }
  std::chrono::seconds retention() const override { return std::chrono::hours(24); }
  int opened() {
    std::lock_guard lock(mu_);
    return opened_;
  }

 private:
  class Cursor final : public runtime::LogCursor {
   public:
    Cursor(FakeLogs* logs, std::string instance, TimePoint since)
        : logs_(logs), instance_(std::move(instance)), since_(since) {}
    Result<State> read(std::vector<runtime::LogLine>* out, size_t) override {
      std::lock_guard lock(logs_->mu_);
      const auto& lines = logs_->lines_[instance_];
      for (; next_ < lines.size(); ++next_)
        if (lines[next_].time >= since_) out->push_back(lines[next_]);
      return State::kIdle;
    }

   private:
    FakeLogs* logs_;
    const std::string instance_;
    const TimePoint since_;
    size_t next_ = 0;
  };
  std::mutex mu_;
  std::map<std::string, std::vector<runtime::LogLine>> lines_;
  int opened_ = 0;
};

class AlertingServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ =
        std::filesystem::temp_directory_path() / ("skiff-alerting-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    SqliteStore::Options o;
    o.path = (dir_ / "skiff.db").string();
    store_ = std::move(SqliteStore::open(o)).value();
    observe::TsdbOptions t;
    t.raw_step = seconds(0);
    series_ = std::make_unique<observe::TimeSeriesStore>(t);
    AlertingService::Options options;
    // The loop's own first round runs at start(); the test's rounds are the rest.
    options.interval = std::chrono::hours(1);
    options.retry.first_backoff = milliseconds(1);
    options.status_every = seconds(0);
    options.send = [this](const net::ClientRequest& r) -> Result<net::ClientResponse> {
      std::lock_guard lock(mu_);
      requests_.push_back(r);
      if (answer_ == 0) return unavailable("cannot connect to " + r.url);
      net::ClientResponse response;
      response.status = answer_;
      return response;
    };
    service_ = std::make_unique<AlertingService>(*store_, *series_, logs_, clock_, options);
    service_->start();
  }
  void TearDown() override {
    service_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  void create(const std::string& kind, const std::string& name, json spec) {
    auto object = admitObject({{"kind", kind}, {"metadata", {{"name", name}}}, {"spec", spec}},
                              {kind, "acme"});
    ASSERT_TRUE(object.ok()) << object.status().toString();
    ASSERT_TRUE(store_->create(std::move(object).value()).ok());
  }
  void sample(const std::string& tenant, const std::string& app, double v) {
    series_->append(
        "skiff_test_load", {{"tenant", tenant}, {"application", app}},
        std::chrono::duration_cast<milliseconds>(clock_.now().time_since_epoch()).count(), v);
  }
  // One evaluation, then waits for what it sent.
  void round() {
    service_->evaluateOnce();
    for (int i = 0; i < 5000 && service_->pendingDeliveries() > 0; ++i)
      std::this_thread::sleep_for(milliseconds(1));
  }
  std::vector<net::ClientRequest> requests() {
    std::lock_guard lock(mu_);
    return requests_;
  }
  json alerts() { return service_->alerts("acme")["items"]; }
  json status(const std::string& kind, const std::string& name) {
    return store_->get({kind, "acme", name}).value()->object().status;
  }
  static std::string header(const net::ClientRequest& r, const std::string& name) {
    for (const auto& [k, v] : r.headers)
      if (k == name) return v;
    return "";
  }

  std::filesystem::path dir_;
  ManualClock clock_{"2027-01-15T08:00:00Z"};
  std::unique_ptr<Store> store_;
  std::unique_ptr<observe::TimeSeriesStore> series_;
  FakeLogs logs_;
  std::unique_ptr<AlertingService> service_;
  std::mutex mu_;
  std::vector<net::ClientRequest> requests_;
  int answer_ = 200;  // 0: connection refused
};

TEST_F(AlertingServiceTest, MetricRuleFiresAfterForIsSignedAndResolves) {
  create("Secret", "hook", {{"data", {{"key", "k3y"}}}});
  create("Receiver", "ops",
         {{"webhook",
           {{"url", "http://hooks.test/alerts"},
            {"secret", {{"name", "hook"}, {"key", "key"}}},
            {"headers", {{"X-Team", "shop"}}}}}});
  create("AlertRule", "high-load",
         {{"metric", {{"query", "skiff_test_load"}, {"op", ">"}, {"threshold", 1}}},
          {"for", "10s"},
          {"groupWait", "0s"},
          {"receivers", {"ops"}},
          {"annotations", {{"summary", "{{ $labels.application }} at {{ $value }}"}}}});
  sample("acme", "shop", 5);
  sample("other", "shop", 9);  // another tenant's series: never this tenant's alert
  round();
  ASSERT_EQ(alerts().size(), 1u) << alerts().dump();
  EXPECT_EQ(alerts()[0]["state"], "pending");
  EXPECT_EQ(alerts()[0]["value"], 5);
  EXPECT_TRUE(requests().empty());

  clock_.advance(seconds(10));
  sample("acme", "shop", 6);
  round();
  EXPECT_EQ(alerts()[0]["state"], "firing");
  ASSERT_EQ(requests().size(), 1u);
  const net::ClientRequest sent = requests()[0];
  EXPECT_EQ(sent.url, "http://hooks.test/alerts");
  EXPECT_EQ(header(sent, "X-Skiff-Signature"), signatureOf(sent.body, "k3y"));
  EXPECT_EQ(header(sent, "X-Skiff-Timestamp"), "1800000010");
  EXPECT_EQ(header(sent, "X-Team"), "shop");
  const json body = json::parse(sent.body);
  EXPECT_EQ(body["status"], "firing");
  ASSERT_EQ(body["alerts"].size(), 1u);
  EXPECT_EQ(body["alerts"][0]["labels"]["application"], "shop");
  EXPECT_EQ(body["alerts"][0]["labels"]["tenant"], "acme");
  EXPECT_EQ(body["alerts"][0]["annotations"]["summary"], "shop at 6");
  json rule_status = status("AlertRule", "high-load");
  EXPECT_EQ(rule_status["firing"], 1);
  EXPECT_EQ(rule_status["lastEvaluation"], "2027-01-15T08:00:10Z");
  json deliveries = status("Receiver", "ops")["deliveries"];
  ASSERT_EQ(deliveries.size(), 1u);
  EXPECT_EQ(deliveries[0]["ok"], true);
  EXPECT_EQ(deliveries[0]["code"], 200);
  EXPECT_EQ(deliveries[0]["status"], "firing");

  // Still firing: nothing new to say.
  clock_.advance(seconds(5));
  sample("acme", "shop", 6);
  round();
  EXPECT_EQ(requests().size(), 1u);
  // Below the threshold: resolved, told at the group interval (1m after the last notice).
  clock_.advance(seconds(5));
  sample("acme", "shop", 0);
  round();
  EXPECT_EQ(alerts()[0]["state"], "resolved");
  EXPECT_EQ(requests().size(), 1u);
  clock_.advance(seconds(50));
  sample("acme", "shop", 0);
  round();
  ASSERT_EQ(requests().size(), 2u);
  EXPECT_EQ(json::parse(requests()[1].body)["status"], "resolved");
  EXPECT_EQ(status("AlertRule", "high-load")["firing"], 0);
}

TEST_F(AlertingServiceTest, LogRuleCountsMatchesInItsWindow) {
  create("Receiver", "ops", {{"webhook", {{"url", "http://hooks.test/"}}}});
  create("AlertRule", "timeouts",
         {{"log",
           {{"application", "shop"},
            {"pattern", "time(d)? ?out"},
            {"regex", true},
            {"count", 3},
            {"window", "30s"}}},
          {"groupWait", "0s"},
          {"groupInterval", "1s"},
          {"receivers", {"ops"}}});
  const TimePoint t0 = clock_.now();
  logs_.add("shop-web-1", t0 - seconds(60), "timeout long ago");  // before the window
  logs_.add("shop-web-1", t0 - seconds(1), "GET /a timeout");
  logs_.add("shop-web-2", t0, "GET /b timed out");
  logs_.add("blog-web-1", t0, "timeout elsewhere");
  round();
  EXPECT_TRUE(alerts().empty()) << alerts().dump();
  clock_.advance(seconds(2));
  logs_.add("shop-web-1", clock_.now(), "ok");
  logs_.add("shop-web-1", clock_.now(), "another timeout");
  round();
  ASSERT_EQ(alerts().size(), 1u);
  EXPECT_EQ(alerts()[0]["state"], "firing");
  EXPECT_EQ(alerts()[0]["value"], 3);
  EXPECT_EQ(alerts()[0]["labels"]["application"], "shop");
  ASSERT_EQ(requests().size(), 1u);
  // Lines are read once: more rounds count nothing twice, and cursors are kept.
  const int opened = logs_.opened();
  clock_.advance(seconds(1));
  round();
  EXPECT_EQ(alerts()[0]["value"], 3);
  EXPECT_EQ(logs_.opened(), opened);
  // The window moves past the first match: resolved.
  clock_.advance(seconds(28));
  round();
  EXPECT_EQ(alerts()[0]["state"], "resolved");
  ASSERT_EQ(requests().size(), 2u);
  EXPECT_EQ(json::parse(requests()[1].body)["status"], "resolved");
}

TEST_F(AlertingServiceTest, BuiltinRulesReachDefaultReceiversAndCanBeTurnedOff) {
  create("Application", "shop",
         {{"components", {{{"name", "web"}, {"run", {{"command", "true"}}}}}}});
  create("Receiver", "oncall",
         {{"webhook", {{"url", "http://oncall.test/"}}}, {"defaultRules", true}});
  create("Receiver", "quiet", {{"webhook", {{"url", "http://quiet.test/"}}}});
  Object event;
  event.kind = "Event";
  event.metadata.tenant = "acme";
  event.metadata.name = "shop-web-1-crash";
  event.spec = {{"object", {{"kind", "Instance"}, {"name", "shop-web-1"}}},
                {"application", "shop"},
                {"component", "web"},
                {"type", "Warning"},
                {"reason", "CrashLoopBackOff"},
                {"count", 4},
                {"lastAt", formatTimestamp(clock_.now())}};
  ASSERT_TRUE(store_->create(event).ok());
  round();  // fires (for: 0), the group waits 5s
  ASSERT_EQ(alerts().size(), 1u);
  EXPECT_EQ(alerts()[0]["rule"], "CrashLoopBackOff");
  EXPECT_EQ(alerts()[0]["builtin"], true);
  EXPECT_EQ(alerts()[0]["value"], 4);
  clock_.advance(seconds(5));
  round();
  ASSERT_EQ(requests().size(), 1u);
  EXPECT_EQ(requests()[0].url, "http://oncall.test/");
  // Five minutes after the event, the condition no longer holds.
  clock_.advance(std::chrono::minutes(6));
  round();
  EXPECT_EQ(alerts()[0]["state"], "resolved");

  // An AlertRule of the built-in rule's name, disabled, turns it off.
  create("AlertRule", "crashloopbackoff", {{"disabled", true}});
  event.spec["lastAt"] = formatTimestamp(clock_.now());
  event.metadata.name = "shop-web-2-crash";
  ASSERT_TRUE(store_->create(event).ok());
  round();
  EXPECT_TRUE(alerts().empty()) << alerts().dump();
  EXPECT_EQ(status("AlertRule", "crashloopbackoff")["conditions"][0]["reason"], "Disabled");
}

TEST_F(AlertingServiceTest, FailingReceiverIsRetriedLoggedAndToldAgain) {
  answer_ = 503;
  create("Receiver", "ops", {{"webhook", {{"url", "http://down.test/"}}}});
  create("AlertRule", "high-load",
         {{"metric", {{"query", "skiff_test_load"}, {"threshold", 1}}},
          {"groupWait", "0s"},
          {"groupInterval", "10s"},
          {"receivers", {"ops"}}});
  sample("acme", "shop", 5);
  round();
  EXPECT_EQ(requests().size(), 5u);  // five attempts
  json deliveries = status("Receiver", "ops")["deliveries"];
  ASSERT_EQ(deliveries.size(), 1u);
  EXPECT_EQ(deliveries[0]["ok"], false);
  EXPECT_EQ(deliveries[0]["attempts"], 5);
  EXPECT_EQ(deliveries[0]["code"], 503);
  // The receiver recovers: the alert, never delivered, is sent at the next flush.
  answer_ = 200;
  clock_.advance(seconds(10));
  sample("acme", "shop", 5);
  round();  // hears of the failure
  clock_.advance(seconds(10));
  sample("acme", "shop", 5);
  round();
  ASSERT_GE(requests().size(), 6u);
  EXPECT_EQ(status("Receiver", "ops")["deliveries"].back()["ok"], true);
}

TEST_F(AlertingServiceTest, SilenceHoldsBackAndABrokenRuleSaysWhy) {
  create("Receiver", "ops", {{"webhook", {{"url", "http://hooks.test/"}}}});
  create("AlertRule", "high-load",
         {{"metric", {{"query", "skiff_test_load"}, {"threshold", 1}}},
          {"groupWait", "0s"},
          {"receivers", {"ops"}}});
  create("Silence", "maintenance",
         {{"matchers", {{"alertname", "high-load"}}},
          {"endsAt", formatTimestamp(clock_.now() + std::chrono::minutes(10))}});
  sample("acme", "shop", 5);
  round();
  EXPECT_EQ(alerts()[0]["state"], "firing");
  EXPECT_EQ(alerts()[0]["silenced"], true);
  EXPECT_TRUE(requests().empty());

  // Written past admission (as an older server might have): the status says what is wrong.
  Object broken;
  broken.kind = "AlertRule";
  broken.metadata.tenant = "acme";
  broken.metadata.name = "broken";
  broken.spec = {{"metric", {{"query", "sum("}, {"threshold", 1}}}};
  ASSERT_TRUE(store_->create(broken).ok());
  round();
  json s = status("AlertRule", "broken");
  EXPECT_NE(s.value("error", "").find("spec.metric.query"), std::string::npos) << s.dump();
  EXPECT_EQ(s["conditions"][0]["status"], "False");
  EXPECT_EQ(s["conditions"][0]["reason"], "EvaluationFailed");
}

TEST_F(AlertingServiceTest, AMissingSigningSecretIsADeliveryErrorNotAnUnsignedRequest) {
  create("Receiver", "ops",
         {{"webhook",
           {{"url", "http://hooks.test/"}, {"secret", {{"name", "absent"}, {"key", "key"}}}}}});
  create("AlertRule", "high-load",
         {{"metric", {{"query", "skiff_test_load"}, {"threshold", 1}}},
          {"groupWait", "0s"},
          {"receivers", {"ops"}}});
  sample("acme", "shop", 5);
  round();
  EXPECT_TRUE(requests().empty());
  json deliveries = status("Receiver", "ops")["deliveries"];
  ASSERT_EQ(deliveries.size(), 1u);
  EXPECT_EQ(deliveries[0]["ok"], false);
  EXPECT_EQ(deliveries[0]["error"], "secret \"absent\" not found in tenant \"acme\"");
}

}  // namespace
}  // namespace skiff::alert
