// Reading the gateway's metrics for release analysis: the Prometheus text format, histogram
// quantiles, and the recorder's windows over scrapes.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <thread>

#include "observe/prometheus_text.h"
#include "observe/revision_traffic.h"

namespace skiff::observe {
namespace {

TEST(PrometheusTextTest, ReadsSamplesWithLabelsAndEscapes) {
  auto samples = parsePrometheusText(
      "# HELP x help\n"
      "# TYPE x counter\n"
      "x_total{route=\"a/b\",note=\"say \\\"hi\\\"\\n\"} 12\n"
      "up 1 1700000000000\n"
      "h_bucket{le=\"+Inf\"} +Inf\n"
      "\n");
  ASSERT_TRUE(samples.ok()) << samples.status().message();
  ASSERT_EQ(samples->size(), 3u);
  EXPECT_EQ((*samples)[0].name, "x_total");
  EXPECT_EQ((*samples)[0].labels.at("route"), "a/b");
  EXPECT_EQ((*samples)[0].labels.at("note"), "say \"hi\"\n");
  EXPECT_EQ((*samples)[0].value, 12);
  EXPECT_EQ((*samples)[1].value, 1) << "a timestamp is dropped";
  EXPECT_TRUE(std::isinf((*samples)[2].value));
}

TEST(PrometheusTextTest, AMalformedLineIsNamed) {
  for (const char* bad : {"x{a=\"1\" 2\n", "x{a=1} 2\n", "x 1 2 3\n", "x abc\n", "{a=\"1\"} 2\n",
                          "x{a=\"\\q\"} 1\n"}) {
    auto samples = parsePrometheusText(std::string("ok 1\n") + bad);
    ASSERT_FALSE(samples.ok()) << bad;
    EXPECT_NE(samples.status().message().find("line 2"), std::string::npos)
        << samples.status().message();
  }
}

TEST(HistogramQuantileTest, InterpolatesWithinTheBucket) {
  // 100 requests: 90 under 10 ms, 10 between 10 and 100 ms.
  std::map<double, uint64_t> h = {{0.01, 90}, {0.1, 100}, {INFINITY, 100}};
  EXPECT_NEAR(histogramQuantile(0.99, h), 0.01 + 0.09 * 0.9, 1e-9);
  EXPECT_NEAR(histogramQuantile(0.5, h), 0.01 * 50 / 90, 1e-9);
  EXPECT_EQ(histogramQuantile(0.99, {}), 0);
  EXPECT_EQ(histogramQuantile(0.99, {{0.1, 0}, {INFINITY, 5}}), 0.1)
      << "beyond the last bound: that bound";
}

// The text the gateway would show after `ok` and `failed` answers of revision "2" and `stable`
// answers of revision "1" on route t/a/web/0.
std::string gatewayText(int stable, int ok, int failed) {
  std::string out;
  out += "skiff_gateway_responses_total{route=\"t/a/web/0\",revision=\"1\",class=\"2xx\"} " +
         std::to_string(stable) + "\n";
  out += "skiff_gateway_responses_total{route=\"t/a/web/0\",revision=\"2\",class=\"2xx\"} " +
         std::to_string(ok) + "\n";
  out += "skiff_gateway_responses_total{route=\"t/a/web/0\",revision=\"2\",class=\"5xx\"} " +
         std::to_string(failed) + "\n";
  out +=
      "skiff_gateway_request_duration_seconds_bucket{route=\"t/a/web/0\",revision=\"2\","
      "le=\"0.1\"} " +
      std::to_string(ok + failed) + "\n";
  out +=
      "skiff_gateway_request_duration_seconds_bucket{route=\"t/a/web/0\",revision=\"2\","
      "le=\"+Inf\"} " +
      std::to_string(ok + failed) + "\n";
  // Another application's route: not asked about, not kept.
  out += "skiff_gateway_responses_total{route=\"t/other/web/0\",revision=\"2\",class=\"5xx\"} 7\n";
  return out;
}

TEST(GatewayTrafficRecorderTest, WindowsAreDifferencesBetweenScrapes) {
  std::atomic<int> scrapes{0};
  GatewayTrafficRecorder recorder(
      [&]() -> Result<std::string> {
        const int n = scrapes++;
        // Each scrape: +100 stable, +90 ok and +10 failed canary answers.
        return gatewayText(100 * n, 90 * n, 10 * n);
      },
      std::chrono::milliseconds(20));
  recorder.start();
  // Nothing is scraped before somebody asks.
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(scrapes.load(), 0);
  RevisionComparison c = recorder.compare("t/a/web/", "2", std::chrono::seconds(60));
  EXPECT_EQ(c.revision.requests, 0u) << "no history yet";
  for (int i = 0; i < 200 && scrapes.load() < 5; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  c = recorder.compare("t/a/web/", "2", std::chrono::seconds(60));
  recorder.stop();
  ASSERT_GT(c.revision.requests, 0u);
  const uint64_t intervals = c.revision.requests / 100;
  EXPECT_EQ(c.revision.requests, intervals * 100);
  EXPECT_EQ(c.revision.errors, intervals * 10) << "5xx of revision 2 only";
  EXPECT_DOUBLE_EQ(c.revision.errorRate(), 0.1);
  EXPECT_EQ(c.others.requests, intervals * 100);
  EXPECT_EQ(c.others.errors, 0u) << "the other application's errors are not this route's";
  EXPECT_GT(c.revision.p99_seconds, 0);
  EXPECT_LE(c.revision.p99_seconds, 0.1);
}

}  // namespace
}  // namespace skiff::observe
