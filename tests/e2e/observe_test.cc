// End-to-end tests of observability on the embedded runtime: the real server measures the
// example service's instances (cgroups, network) and routes (its gateway), answers queries,
// exposes /metrics to a real Prometheus (Debian's), and records events.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "e2e/harness.h"
#include "e2e/server_test.h"

namespace skiff::test {
namespace {

using nlohmann::json;

const std::string kApps = "/api/v1/tenants/default/applications";
const std::string kMetrics = "/api/v1/tenants/default/metrics";

std::string urlEncode(const std::string& text) {
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

json demo() {
  return {{"metadata", {{"name", "demo"}}},
          {"spec",
           {{"components",
             {{{"name", "web"},
               {"run", {{"command", "skiff-example"}, {"args", {"--name", "web"}}}},
               {"ports", {{{"name", "http"}, {"port", 8080}}}},
               {"resources", {{"cpu", "100m"}, {"memory", "64Mi"}}},
               {"health",
                {{"readiness",
                  {{"http", {{"path", "/healthz"}, {"port", "http"}}}, {"periodSeconds", 0.2}}}}},
               {"terminationGracePeriodSeconds", 2},
               {"routes", {{{"host", "demo.localhost"}, {"port", "http"}}}}}}}}}};
}

class ObserveTest : public ServerTest {
 protected:
  ObserveTest() : ServerTest({"--metrics-interval", "1s"}) {}
  // The result of an instant query in the default tenant (at `time`, when given).
  json query(const std::string& q, const std::string& time = "") {
    json answer = get(kMetrics + "?query=" + urlEncode(q) + (time.empty() ? "" : "&time=" + time));
    return answer.is_object() ? answer.value("result", json::array()) : json::array();
  }
  static double value(const json& result, size_t i = 0) {
    if (!result.is_array() || result.size() <= i) return -1;
    return std::stod(result[i]["value"][1].get<std::string>());
  }
  void deploy() {
    applyApplication(server_, demo());
    ASSERT_TRUE(eventually(
        [&] {
          auto r = httpRequest(server_.gatewayUrl(), "GET", "/", "", "application/json",
                               {{"Host", "demo.localhost"}});
          return r.status == 200;
        },
        std::chrono::seconds(30)));
  }
  std::string instanceName() {
    auto items = get("/api/v1/tenants/default/instances").value("items", json::array());
    return items.empty() ? "" : items[0]["metadata"].value("name", "");
  }
};

TEST_F(ObserveTest, InstanceAndRouteMetricsAreQueryableExposedAndShownByTop) {
  deploy();
  for (int i = 0; i < 50; ++i)
    ASSERT_EQ(httpRequest(server_.gatewayUrl(), "GET", "/", "", "application/json",
                          {{"Host", "demo.localhost"}})
                  .status,
              200);
  // Every answer the gateway gave, by class, under the application's labels.
  ASSERT_TRUE(eventually(
      [&] {
        return value(query(
                   "sum(skiff_gateway_responses_total{application=\"demo\",class=\"2xx\"})")) >= 50;
      },
      std::chrono::seconds(20)))
      << query("skiff_gateway_responses_total").dump();
  // The instance's own cgroups: its memory limit exactly, cpu and memory in use.
  ASSERT_TRUE(eventually([&] {
    return value(query("skiff_instance_memory_limit_bytes{application=\"demo\"}")) == 64 << 20;
  })) << query("skiff_instance_memory_limit_bytes").dump();
  EXPECT_GT(value(query("skiff_instance_cpu_usage_seconds_total{component=\"web\"}")), 0);
  EXPECT_GT(value(query("skiff_instance_memory_working_set_bytes{component=\"web\"}")), 0);
  EXPECT_EQ(value(query("skiff_instance_cpu_request_cores{component=\"web\"}")), 0.1);
  EXPECT_EQ(value(query("skiff_instance_ready{component=\"web\"}")), 1);
  // The latency histogram answers quantiles, once requests arrive between two collections.
  double p99 = 0;
  EXPECT_TRUE(eventually(
      [&] {
        httpRequest(server_.gatewayUrl(), "GET", "/", "", "application/json",
                    {{"Host", "demo.localhost"}});
        p99 = value(query(
            "histogram_quantile(0.99, sum by (le) "
            "(rate(skiff_gateway_request_duration_seconds_bucket{application=\"demo\"}[1m])))"));
        return p99 > 0;
      },
      std::chrono::seconds(20)));
  EXPECT_LT(p99, 5);

  // A range query: one point per step, for the seconds the instance has been measured.
  json range;
  EXPECT_TRUE(eventually(
      [&] {
        range = get(kMetrics + "?query=" + urlEncode("skiff_instance_ready{component=\"web\"}") +
                    "&start=" + std::to_string(time(nullptr) - 4) +
                    "&end=" + std::to_string(time(nullptr)) + "&step=1s");
        return range.value("resultType", "") == "matrix" && range["result"].size() == 1 &&
               range["result"][0]["values"].size() >= 3;
      },
      std::chrono::seconds(10)))
      << range.dump();

  // Bad queries and parameters name what is wrong and where.
  auto bad = httpRequest(server_.url(), "GET", kMetrics + "?query=" + urlEncode("sum(rate(x[1m])"));
  EXPECT_EQ(bad.status, 400) << bad.body;
  EXPECT_NE(bad.body.find("at 16: expected \\\")\\\", found end of query"), std::string::npos)
      << bad.body;
  bad = httpRequest(server_.url(), "GET", kMetrics + "?query=up&step=fast&start=1");
  EXPECT_EQ(bad.status, 400) << bad.body;
  EXPECT_NE(bad.body.find("step"), std::string::npos) << bad.body;

  // A tenant's queries see only its own series, whatever they ask for.
  EXPECT_EQ(httpRequest(server_.url(), "POST", "/api/v1/tenants",
                        R"({"metadata":{"name":"other"},"spec":{}})")
                .status,
            201);
  json other = json::parse(httpRequest(server_.url(), "GET",
                                       "/api/v1/tenants/other/metrics?query=" +
                                           urlEncode("skiff_instance_ready{tenant=\"default\"} or "
                                                     "skiff_instance_ready{tenant=~\".*\"}"))
                               .body,
                           nullptr, false);
  ASSERT_TRUE(other.is_object()) << other.dump();
  EXPECT_TRUE(other.value("result", json::array()).empty()) << other.dump();

  // /metrics: the latest value of every series, with the time it was measured.
  auto exposition = httpRequest(server_.url(), "GET", "/metrics");
  ASSERT_EQ(exposition.status, 200);
  EXPECT_NE(exposition.body.find("# TYPE skiff_instance_memory_limit_bytes gauge"),
            std::string::npos);
  EXPECT_NE(exposition.body.find("skiff_instance_memory_limit_bytes{application=\"demo\""),
            std::string::npos);
  EXPECT_NE(exposition.body.find("skiff_node_cpu_cores{node=\"local\"}"), std::string::npos);
  EXPECT_NE(exposition.body.find("skiff_metrics_source_up{source=\"gateway\"} 1 "),
            std::string::npos);

  // skiff top, over the same queries.
  const std::string instance = instanceName();
  auto top = runSkiff({"top", "instances"}, server_.url());
  ASSERT_EQ(top.exit_code, 0) << top.err;
  EXPECT_NE(top.out.find(instance), std::string::npos) << top.out;
  // cpu in millicores, memory against the 64Mi limit as a share.
  EXPECT_NE(top.out.find("m   "), std::string::npos) << top.out;
  EXPECT_NE(top.out.find("%"), std::string::npos) << top.out;
  auto apps = runSkiff({"top", "apps"}, server_.url());
  ASSERT_EQ(apps.exit_code, 0) << apps.err;
  EXPECT_NE(apps.out.find("demo"), std::string::npos) << apps.out;
  EXPECT_NE(apps.out.find("P99"), std::string::npos) << apps.out;
  auto wrong = runSkiff({"top", "nodes"}, server_.url());
  EXPECT_EQ(wrong.exit_code, 1);
  EXPECT_NE(wrong.err.find("\"apps\" or \"instances\""), std::string::npos) << wrong.err;
}

TEST_F(ObserveTest, EventsTellWhatHappenedToInstances) {
  deploy();
  const std::string instance = instanceName();
  auto reasons = [&] {
    std::map<std::string, int> seen;
    for (const auto& e :
         get("/api/v1/tenants/default/events?labelSelector=skiff.dev%2Fapplication%3Ddemo")
             .value("items", json::array()))
      seen[e["spec"].value("reason", "")] += e["spec"].value("count", 1);
    return seen;
  };
  ASSERT_TRUE(eventually([&] {
    return reasons().count("Started") && reasons().count("Scheduled");
  })) << get("/api/v1/tenants/default/events").dump();
  // A crash: its exit, then a second start aggregated into the same event.
  httpRequest(server_.gatewayUrl(), "POST", "/crash", "", "application/json",
              {{"Host", "demo.localhost"}});
  ASSERT_TRUE(eventually([&] { return reasons()["Started"] == 2 && reasons().count("Exited"); },
                         std::chrono::seconds(20)))
      << get("/api/v1/tenants/default/events").dump();
  auto events = runSkiff({"events", "demo"}, server_.url());
  ASSERT_EQ(events.exit_code, 0) << events.err;
  EXPECT_NE(events.out.find("Exited"), std::string::npos) << events.out;
  EXPECT_NE(events.out.find("exited with code 2"), std::string::npos) << events.out;
  EXPECT_NE(events.out.find("instance/" + instance), std::string::npos) << events.out;
  auto warnings = runSkiff({"events", "--type", "Warning"}, server_.url());
  ASSERT_EQ(warnings.exit_code, 0) << warnings.err;
  EXPECT_EQ(warnings.out.find("Started"), std::string::npos) << warnings.out;
  // Events are Skiff's to write.
  EXPECT_EQ(
      httpRequest(
          server_.url(), "POST", "/api/v1/tenants/default/events",
          R"({"metadata":{"name":"x"},"spec":{"object":{"kind":"Instance","name":"y"},"type":"Normal","reason":"Fake"}})")
          .status,
      405);
}

// Debian's Prometheus scrapes /metrics; its query answers what Skiff's does for the same time.
TEST_F(ObserveTest, PrometheusScrapesMetricsAndAgreesWithTheQueryApi) {
  deploy();
  for (int i = 0; i < 20; ++i)
    httpRequest(server_.gatewayUrl(), "GET", "/", "", "application/json",
                {{"Host", "demo.localhost"}});
  const std::string dir = dir_.path() + "/prometheus";
  std::filesystem::create_directories(dir);
  const std::string api = server_.url();
  const std::string target = api.substr(api.find("://") + 3);
  {
    std::ofstream token(dir + "/token");
    token << server_.adminToken();
    std::ofstream config(dir + "/prometheus.yml");
    config << "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
              "scrape_configs:\n"
              "- job_name: skiff\n"
              "  scheme: "
           << api.substr(0, api.find("://")) << "\n"
           << "  authorization: {credentials_file: " << dir << "/token}\n"
           << (server_.caFile().empty() ? ""
                                        : "  tls_config: {ca_file: " + server_.caFile() + "}\n")
           << "  static_configs: [{targets: ['" << target << "']}]\n";
  }
  ChildProcess prometheus;
  int port = 0;
  std::string prometheus_url;
  ASSERT_TRUE(eventually(
      [&] {
        port = freePort();
        prometheus.kill();
        prometheus.start({"prometheus", "--config.file=" + dir + "/prometheus.yml",
                          "--storage.tsdb.path=" + dir + "/data",
                          "--web.listen-address=127.0.0.1:" + std::to_string(port)},
                         dir + "/prometheus.log");
        prometheus_url = "http://127.0.0.1:" + std::to_string(port);
        return eventually(
            [&] { return httpRequest(prometheus_url, "GET", "/-/ready").status == 200; },
            std::chrono::seconds(15));
      },
      std::chrono::seconds(45)))
      << readFile(dir + "/prometheus.log");

  // The samples Prometheus holds, with the times Skiff measured them.
  const std::string metric = "skiff_gateway_responses_total{application=\"demo\",class=\"2xx\"}";
  json samples;
  ASSERT_TRUE(eventually(
      [&] {
        json r = json::parse(
            httpRequest(prometheus_url, "GET", "/api/v1/query?query=" + urlEncode(metric + "[30s]"),
                        "", "application/json", {{"Authorization", ""}})
                .body,
            nullptr, false);
        if (!r.is_object() || r["data"]["result"].empty()) return false;
        samples = r["data"]["result"][0]["values"];
        return samples.size() >= 2;
      },
      std::chrono::seconds(30)))
      << readFile(dir + "/prometheus.log");
  const json last = samples.back();
  char time[32];
  std::snprintf(time, sizeof time, "%.3f", last[0].get<double>());
  json ours = query(metric, time);
  ASSERT_EQ(ours.size(), 1u) << ours.dump();
  EXPECT_EQ(ours[0]["value"][1], last[1]) << ours.dump() << " vs " << last.dump();
  EXPECT_GE(std::stod(last[1].get<std::string>()), 20);
}

}  // namespace
}  // namespace skiff::test
