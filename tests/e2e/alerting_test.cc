// End-to-end tests of alerting: the real server (--metrics-interval 1s --alert-interval 1s)
// evaluates rules over what its real instances print and notifies real receivers in processes
// of their own — a webhook receiver (tests/e2e/alert_receiver.py, which checks the HMAC
// signature with the key the test gives it) and Debian's prometheus-alertmanager; a silence
// keeps a firing alert from being sent until it is deleted.
#include <fstream>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "e2e/harness.h"

namespace skiff::test {
namespace {

using nlohmann::json;

const std::string kTenantPath = "/api/v1/tenants/default";
const std::string kHmacKey = "e2e-hmac-key-0123456789";

class AlertingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_.start();
    ASSERT_TRUE(eventually([&] { return !server_.gatewayUrl().empty(); }));
    startReceiver();
  }

  void startReceiver() {
    const std::string port_file = dir_.path() + "/receiver.port";
    receiver_.start({"python3", sourceDir() + "/tests/e2e/alert_receiver.py", "--out",
                     received_path_, "--port-file", port_file, "--key", kHmacKey},
                    dir_.path() + "/receiver.log");
    std::string text;
    ASSERT_TRUE(eventually([&] {
      text = readFile(port_file);
      return !text.empty() && text.back() == '\n';
    })) << readFile(dir_.path() + "/receiver.log");
    receiver_url_ = "http://127.0.0.1:" + std::to_string(std::stoi(text));
  }

  void create(const std::string& plural, const json& doc) {
    auto r = httpRequest(server_.url(), "POST", kTenantPath + "/" + plural, doc.dump());
    ASSERT_EQ(r.status, 201) << r.body;
  }
  // A webhook Receiver "ops" signing with kHmacKey, kept in the Secret "hook".
  void createSignedReceiver() {
    create("secrets",
           {{"metadata", {{"name", "hook"}}}, {"spec", {{"data", {{"key", kHmacKey}}}}}});
    create(
        "receivers",
        {{"metadata", {{"name", "ops"}}},
         {"spec",
          {{"webhook",
            {{"url", receiver_url_ + "/hook"}, {"secret", {{"name", "hook"}, {"key", "key"}}}}}}}});
  }
  // What the webhook receiver got, in order.
  std::vector<json> received() {
    std::vector<json> out;
    std::istringstream lines(readFile(received_path_));
    for (std::string line; std::getline(lines, line);)
      if (!line.empty()) out.push_back(json::parse(line, nullptr, false));
    return out;
  }
  // The first notification received with `status` for the rule, or null.
  json notification(const std::string& rule, const std::string& status) {
    for (const json& r : received()) {
      const json& body = r["body"];
      if (body.is_object() && body.value("status", "") == status &&
          body["commonLabels"].value("alertname", "") == rule)
        return r;
    }
    return nullptr;
  }
  json alerts() {
    return json::parse(httpRequest(server_.url(), "GET", kTenantPath + "/alerts").body, nullptr,
                       false);
  }
  json alertOf(const std::string& rule) {
    json a = alerts();
    for (const json& item : a.value("items", json::array()))
      if (item.value("rule", "") == rule) return item;
    return nullptr;
  }

  TempDir dir_;
  ServerProcess server_{dir_.path(), {"--metrics-interval", "1s", "--alert-interval", "1s"}};
  ChildProcess receiver_;
  std::string receiver_url_;
  const std::string received_path_ = dir_.path() + "/received.jsonl";
};

TEST_F(AlertingTest, LogKeywordRuleFiresAndResolvesWithSignedNotifications) {
  createSignedReceiver();
  // The example service prints "GET /timeout 404" for every request to /timeout.
  applyApplication(
      server_,
      {{"metadata", {{"name", "demo"}}},
       {"spec",
        {{"components",
          {{{"name", "web"},
            {"run", {{"command", "skiff-example"}, {"args", {"--name", "web", "--access-log"}}}},
            {"ports", {{{"name", "http"}, {"port", 8080}}}},
            {"health",
             {{"readiness",
               {{"http", {{"path", "/healthz"}, {"port", "http"}}}, {"periodSeconds", 0.2}}}}},
            {"terminationGracePeriodSeconds", 2},
            {"routes", {{{"host", "demo.localhost"}, {"port", "http"}}}}}}}}}});
  auto get = [&](const std::string& path) {
    return httpRequest(server_.gatewayUrl(), "GET", path, "", "application/json",
                       {{"Host", "demo.localhost"}});
  };
  ASSERT_TRUE(eventually([&] { return get("/").status == 200; }, std::chrono::seconds(30)));
  create("alertrules",
         {{"metadata", {{"name", "timeouts"}}},
          {"spec",
           {{"log",
             {{"application", "demo"}, {"pattern", "timeout"}, {"count", 3}, {"window", "30s"}}},
            {"severity", "critical"},
            {"annotations", {{"summary", "{{ $value }} timeouts in demo"}}},
            {"groupWait", "0s"},
            {"groupInterval", "1s"},
            {"receivers", {"ops"}}}}});
  // Two are not enough.
  ASSERT_EQ(get("/timeout").status, 404);
  ASSERT_EQ(get("/timeout").status, 404);
  std::this_thread::sleep_for(std::chrono::seconds(3));
  EXPECT_TRUE(alertOf("timeouts").is_null()) << alerts().dump();
  EXPECT_TRUE(received().empty());
  ASSERT_EQ(get("/timeout").status, 404);

  json firing;
  ASSERT_TRUE(eventually([&] { return !(firing = notification("timeouts", "firing")).is_null(); },
                         std::chrono::seconds(15)))
      << alerts().dump() << "\n"
      << readFile(received_path_);
  EXPECT_EQ(firing["verified"], true) << firing.dump();
  EXPECT_EQ(firing["path"], "/hook");
  EXPECT_FALSE(firing["headers"].value("x-skiff-timestamp", "").empty());
  const json& alert = firing["body"]["alerts"][0];
  EXPECT_EQ(alert["labels"]["application"], "demo");
  EXPECT_EQ(alert["labels"]["severity"], "critical");
  EXPECT_EQ(alert["labels"]["tenant"], "default");
  EXPECT_EQ(alert["annotations"]["summary"], "3 timeouts in demo");
  EXPECT_EQ(firing["body"]["receiver"], "ops");

  // The API and the CLI show it firing; the rule's status counts it.
  json shown = alertOf("timeouts");
  ASSERT_TRUE(shown.is_object());
  EXPECT_EQ(shown["state"], "firing");
  EXPECT_EQ(shown["value"], 3);
  CommandResult cli = runSkiff({"alerts"}, server_.url());
  EXPECT_EQ(cli.exit_code, 0) << cli.err;
  EXPECT_NE(cli.out.find("timeouts"), std::string::npos) << cli.out;
  EXPECT_NE(cli.out.find("firing"), std::string::npos) << cli.out;
  EXPECT_TRUE(eventually([&] {
    json rule =
        json::parse(httpRequest(server_.url(), "GET", kTenantPath + "/alertrules/timeouts").body,
                    nullptr, false);
    return rule.is_object() && rule["status"].value("firing", 0) == 1;
  }));

  // No more timeouts: 30 s after the first, the count drops below 3 and it resolves.
  json resolved;
  ASSERT_TRUE(
      eventually([&] { return !(resolved = notification("timeouts", "resolved")).is_null(); },
                 std::chrono::seconds(45)))
      << alerts().dump() << "\n"
      << readFile(received_path_);
  EXPECT_EQ(resolved["verified"], true);
  EXPECT_EQ(resolved["body"]["alerts"][0]["status"], "resolved");
  EXPECT_NE(resolved["body"]["alerts"][0]["endsAt"], "0001-01-01T00:00:00Z");
  // Each state was told once.
  int firing_count = 0, resolved_count = 0;
  for (const json& r : received()) {
    firing_count += r["body"].value("status", "") == "firing";
    resolved_count += r["body"].value("status", "") == "resolved";
  }
  EXPECT_EQ(firing_count, 1);
  EXPECT_EQ(resolved_count, 1);
  json receiver = json::parse(
      httpRequest(server_.url(), "GET", kTenantPath + "/receivers/ops").body, nullptr, false);
  ASSERT_TRUE(eventually([&] {
    receiver = json::parse(httpRequest(server_.url(), "GET", kTenantPath + "/receivers/ops").body,
                           nullptr, false);
    return receiver["status"].value("deliveries", json::array()).size() == 2;
  })) << receiver.dump();
  EXPECT_EQ(receiver["status"]["deliveries"][0]["code"], 200);
  EXPECT_EQ(receiver["status"]["deliveries"][1]["status"], "resolved");
}

TEST_F(AlertingTest, PrometheusAlertmanagerReceivesTheAlert) {
  const std::string am_dir = dir_.path() + "/alertmanager";
  std::filesystem::create_directories(am_dir + "/data");
  {
    std::ofstream config(am_dir + "/alertmanager.yml");
    config << "route: {receiver: blackhole, group_wait: 0s}\nreceivers: [{name: blackhole}]\n";
  }
  ChildProcess alertmanager;
  std::string am_url;
  // The port may be taken between freePort() and the bind: try a few.
  for (int attempt = 0; attempt < 5 && am_url.empty(); ++attempt) {
    const int port = freePort();
    alertmanager.start(
        {"/usr/bin/prometheus-alertmanager", "--config.file=" + am_dir + "/alertmanager.yml",
         "--storage.path=" + am_dir + "/data",
         "--web.listen-address=127.0.0.1:" + std::to_string(port), "--cluster.listen-address="},
        am_dir + "/alertmanager.log");
    const std::string url = "http://127.0.0.1:" + std::to_string(port);
    if (eventually([&] { return httpRequest(url, "GET", "/-/ready").status == 200; }))
      am_url = url;
    else
      alertmanager.kill();
  }
  ASSERT_FALSE(am_url.empty()) << readFile(am_dir + "/alertmanager.log");

  create("receivers",
         {{"metadata", {{"name", "am"}}}, {"spec", {{"alertmanager", {{"url", am_url + "/"}}}}}});
  // Always true: vector(1) > 0.
  create("alertrules", {{"metadata", {{"name", "always-on"}}},
                        {"spec",
                         {{"metric", {{"query", "vector(1)"}, {"op", ">"}, {"threshold", 0}}},
                          {"labels", {{"team", "shop"}}},
                          {"annotations", {{"summary", "value {{ $value }}"}}},
                          {"groupWait", "0s"},
                          {"groupInterval", "2s"},
                          {"receivers", {"am"}}}}});
  json found;
  ASSERT_TRUE(eventually(
      [&] {
        json list = json::parse(httpRequest(am_url, "GET", "/api/v2/alerts").body, nullptr, false);
        for (const json& a : list.is_array() ? list : json::array())
          if (a["labels"].value("alertname", "") == "always-on") found = a;
        return !found.is_null();
      },
      std::chrono::seconds(15)))
      << readFile(am_dir + "/alertmanager.log");
  EXPECT_EQ(found["labels"]["team"], "shop");
  EXPECT_EQ(found["labels"]["tenant"], "default");
  EXPECT_EQ(found["annotations"]["summary"], "value 1");
  EXPECT_EQ(found["status"]["state"], "active");

  // Deleting the rule resolves the alert, and Alertmanager hears of it.
  ASSERT_EQ(httpRequest(server_.url(), "DELETE", kTenantPath + "/alertrules/always-on").status,
            200);
  EXPECT_TRUE(eventually(
      [&] {
        json list = json::parse(httpRequest(am_url, "GET", "/api/v2/alerts?active=true").body,
                                nullptr, false);
        for (const json& a : list.is_array() ? list : json::array())
          if (a["labels"].value("alertname", "") == "always-on") return false;
        return list.is_array();
      },
      std::chrono::seconds(15)));
}

TEST_F(AlertingTest, SilenceStopsTheNotificationUntilItIsDeleted) {
  createSignedReceiver();
  create("silences", {{"metadata", {{"name", "maintenance"}}},
                      {"spec",
                       {{"matchers", {{"alertname", "always-on"}}},
                        {"endsAt", "2099-01-01T00:00:00Z"},
                        {"comment", "planned work"}}}});
  create("alertrules", {{"metadata", {{"name", "always-on"}}},
                        {"spec",
                         {{"metric", {{"query", "vector(1)"}, {"threshold", 0}}},
                          {"groupWait", "0s"},
                          {"groupInterval", "1s"},
                          {"receivers", {"ops"}}}}});
  ASSERT_TRUE(eventually([&] {
    json a = alertOf("always-on");
    return a.is_object() && a["state"] == "firing" && a["silenced"] == true;
  })) << alerts().dump();
  // Several rounds and group intervals pass: nothing is sent.
  std::this_thread::sleep_for(std::chrono::seconds(4));
  EXPECT_TRUE(received().empty()) << readFile(received_path_);

  ASSERT_EQ(httpRequest(server_.url(), "DELETE", kTenantPath + "/silences/maintenance").status,
            200);
  json firing;
  ASSERT_TRUE(eventually([&] { return !(firing = notification("always-on", "firing")).is_null(); },
                         std::chrono::seconds(10)));
  EXPECT_EQ(firing["verified"], true);
  EXPECT_EQ(alertOf("always-on")["silenced"], false);
}

TEST_F(AlertingTest, BadRulesAreRefusedWithTheirFieldPaths) {
  auto r =
      httpRequest(server_.url(), "POST", kTenantPath + "/alertrules",
                  json{{"metadata", {{"name", "bad"}}},
                       {"spec", {{"metric", {{"query", "sum(rate(x[5m])"}, {"threshold", 1}}}}}}
                      .dump());
  EXPECT_EQ(r.status, 422) << r.body;
  EXPECT_NE(r.body.find("spec.metric.query"), std::string::npos) << r.body;
  r = httpRequest(server_.url(), "POST", kTenantPath + "/alertrules",
                  json{{"metadata", {{"name", "bad"}}},
                       {"spec",
                        {{"log", {{"application", "x"}, {"pattern", "("}, {"regex", true}}},
                         {"event", {{"reason", "OOMKilled"}}}}}}
                      .dump());
  EXPECT_EQ(r.status, 422) << r.body;
  EXPECT_NE(r.body.find("spec.log.pattern"), std::string::npos) << r.body;
  EXPECT_EQ(httpRequest(server_.url(), "GET", "/api/v1/tenants/nope/alerts").status, 404);
}

}  // namespace
}  // namespace skiff::test
