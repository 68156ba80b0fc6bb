// The PromQL subset over the time-series store: parsing (errors with positions), selectors,
// functions, aggregations, operators, range queries and tenant confinement. Expected values are
// worked out by hand in the comments, as Prometheus computes them.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

#include "observe/query.h"
#include "observe/tsdb.h"

namespace skiff::observe {
namespace {

constexpr int64_t kT0 = 1'700'000'000'000;  // a multiple of ten seconds
constexpr int64_t kSec = 1000;

int64_t at(int64_t seconds) { return kT0 + seconds * kSec; }

class QueryTest : public ::testing::Test {
 protected:
  QueryTest() : store_(TsdbOptions{}) {}

  QueryResult instant(const std::string& query, int64_t t) {
    auto r = instantQuery(store_, query, t, options_);
    EXPECT_TRUE(r.ok()) << query << ": " << r.status().message();
    return r.ok() ? *r : QueryResult{};
  }

  // The single value of a query expected to give one series.
  double value(const std::string& query, int64_t t) {
    QueryResult r = instant(query, t);
    if (r.kind == QueryResult::kScalar) return r.scalar;
    EXPECT_EQ(r.series.size(), 1u) << query;
    return r.series.empty() ? std::nan("") : r.series[0].samples.at(0).v;
  }

  // label value of `label` -> value, for a vector result.
  std::map<std::string, double> byLabel(const std::string& query, int64_t t,
                                        const std::string& label) {
    QueryResult r = instant(query, t);
    EXPECT_EQ(r.kind, QueryResult::kVector) << query;
    std::map<std::string, double> out;
    for (const auto& s : r.series) {
      auto it = s.labels.find(label);
      out[it == s.labels.end() ? "" : it->second] = s.samples.at(0).v;
    }
    return out;
  }

  std::string error(const std::string& query) {
    auto r = instantQuery(store_, query, at(100), options_);
    EXPECT_FALSE(r.ok()) << query;
    return r.ok() ? "" : r.status().message();
  }

  TimeSeriesStore store_;
  QueryOptions options_;
};

TEST_F(QueryTest, SelectorsWithEachMatcherOperator) {
  store_.append("requests", {{"app", "web"}, {"instance", "1"}}, at(0), 10);
  store_.append("requests", {{"app", "web"}, {"instance", "2"}}, at(0), 20);
  store_.append("requests", {{"app", "api"}, {"instance", "1"}}, at(0), 30);

  QueryResult web = instant("requests{app=\"web\"}", at(0));
  ASSERT_EQ(web.kind, QueryResult::kVector);
  ASSERT_EQ(web.series.size(), 2u);
  EXPECT_EQ(web.series[0].name, "requests") << "a selector keeps the metric name";
  EXPECT_EQ(web.series[0].labels, (Labels{{"app", "web"}, {"instance", "1"}}));
  EXPECT_EQ(web.series[0].samples, (std::vector<Sample>{{at(0), 10}}));
  EXPECT_EQ(web.series[1].samples[0].v, 20);

  EXPECT_EQ(value("requests{app!=\"web\"}", at(0)), 30);
  EXPECT_EQ(instant("requests{app=~\"w.*\"}", at(0)).series.size(), 2u);
  EXPECT_EQ(instant("requests{app=~\"w\"}", at(0)).series.size(), 0u) << "fully anchored";
  EXPECT_EQ(value("requests{app!~\"w.*\"}", at(0)), 30);
  EXPECT_EQ(value("requests{app='web', instance!=`1`,}", at(0)), 20);
  EXPECT_EQ(instant("requests{zone=\"\"}", at(0)).series.size(), 3u);
  EXPECT_EQ(instant("requests{zone!=\"\"}", at(0)).series.size(), 0u);
  EXPECT_EQ(instant("nothing", at(0)).series.size(), 0u);
}

TEST_F(QueryTest, InstantSelectorsLookBackFiveMinutes) {
  store_.append("g", {}, at(100), 5);
  EXPECT_EQ(value("g", at(100)), 5);
  EXPECT_EQ(value("g", at(400) - 1), 5);
  EXPECT_TRUE(instant("g", at(400)).series.empty()) << "(t - 5m, t]: stale after five minutes";
  EXPECT_TRUE(instant("g", at(100) - 1).series.empty()) << "nothing from the future";

  store_.append("g", {}, at(200), 6);
  EXPECT_EQ(value("g", at(250)), 6) << "the latest sample";
  options_.lookback = std::chrono::seconds(30);
  EXPECT_TRUE(instant("g", at(250)).series.empty());
}

// A counter scraped every 10 s: 0 10 20 30, reset, 5 15 25 at 0..60 s.
TEST_F(QueryTest, RateAndIncreaseHandleCounterResets) {
  const double counts[] = {0, 10, 20, 30, 5, 15, 25};
  for (int i = 0; i < 7; ++i) store_.append("c", {{"app", "web"}}, at(i * 10), counts[i]);
  // Window (0 s, 60 s]: 10 20 30 5 15 25. Change 25 - 10 = 15, plus the 30 lost in the reset:
  // 45 over the 50 s sampled. The first sample is 10 s from the window's start (under 1.1 times
  // the 10 s average interval; the zero point, 50 * 10 / 45 = 11.1 s back, is further), the last
  // at its end: extrapolated to 60 s, 45 * 60 / 50 = 54; rate 54 / 60 = 0.9.
  EXPECT_NEAR(value("increase(c[1m])", at(60)), 54, 1e-9);
  EXPECT_NEAR(value("rate(c[1m])", at(60)), 0.9, 1e-9);
  EXPECT_EQ(instant("rate(c[1m])", at(60)).series[0].name, "") << "functions drop the name";
  EXPECT_EQ(instant("rate(c[1m])", at(60)).series[0].labels, (Labels{{"app", "web"}}));
  // irate: the last two samples; across the reset the counter counts from zero.
  EXPECT_NEAR(value("irate(c[1m])", at(60)), 1.0, 1e-9);
  EXPECT_NEAR(value("irate(c[1m])", at(40)), 0.5, 1e-9);
  // A window of one sample has no rate.
  EXPECT_TRUE(instant("rate(c[10s])", at(60)).series.empty());

  // Without a reset, from zero: 0 10 .. 60 at 1/s. The zero point limits extrapolation.
  for (int i = 0; i <= 6; ++i) store_.append("d", {}, at(i * 10), i * 10);
  EXPECT_NEAR(value("rate(d[1m])", at(60)), 1.0, 1e-9);
  EXPECT_NEAR(value("increase(d[1m])", at(60)), 60, 1e-9);
  // delta() of a gauge: 60 - 10 over 50 s, extrapolated to 60 s.
  EXPECT_NEAR(value("delta(d[1m])", at(60)), 60, 1e-9);
}

TEST_F(QueryTest, OverTimeFunctions) {
  const double g[] = {3, 1, 4, 1, 5, 9};
  for (int i = 0; i < 6; ++i) store_.append("g", {}, at(i * 10), g[i]);
  EXPECT_DOUBLE_EQ(value("avg_over_time(g[1m])", at(50)), 23.0 / 6);
  EXPECT_EQ(value("min_over_time(g[1m])", at(50)), 1);
  EXPECT_EQ(value("max_over_time(g[1m])", at(50)), 9);
  EXPECT_EQ(value("sum_over_time(g[1m])", at(50)), 23);
  EXPECT_EQ(value("count_over_time(g[1m])", at(50)), 6);
  EXPECT_EQ(value("last_over_time(g[1m])", at(50)), 9);
  EXPECT_EQ(value("avg_over_time(g[30s])", at(50)), 5) << "(20 s, 50 s]: 1 5 9";
  EXPECT_EQ(value("max_over_time(g[1m30s])", at(50)), 9);
}

TEST_F(QueryTest, AggregationsByAndWithoutInEitherPosition) {
  store_.append("mem", {{"app", "web"}, {"instance", "1"}}, at(0), 1);
  store_.append("mem", {{"app", "web"}, {"instance", "2"}}, at(0), 2);
  store_.append("mem", {{"app", "api"}, {"instance", "1"}}, at(0), 4);
  store_.append("mem", {{"app", "api"}, {"instance", "2"}}, at(0), 8);
  store_.append("mem", {{"instance", "3"}}, at(0), 16);

  const std::map<std::string, double> by_app = {{"", 16}, {"api", 12}, {"web", 3}};
  EXPECT_EQ(byLabel("sum by (app) (mem)", at(0), "app"), by_app);
  EXPECT_EQ(byLabel("sum(mem) by (app)", at(0), "app"), by_app);
  EXPECT_EQ(byLabel("sum without (instance) (mem)", at(0), "app"), by_app);
  EXPECT_EQ(byLabel("sum(mem) without (instance)", at(0), "app"), by_app);

  QueryResult r = instant("sum by (app) (mem)", at(0));
  ASSERT_EQ(r.series.size(), 3u);
  EXPECT_EQ(r.series[0].labels, Labels{}) << "sorted by labels; no app, no label";
  EXPECT_EQ(r.series[1].labels, (Labels{{"app", "api"}}));
  EXPECT_EQ(r.series[2].labels, (Labels{{"app", "web"}}));
  EXPECT_EQ(r.series[2].name, "");

  EXPECT_EQ(value("sum(mem)", at(0)), 31);
  EXPECT_DOUBLE_EQ(value("avg(mem)", at(0)), 6.2);
  EXPECT_EQ(value("min(mem)", at(0)), 1);
  EXPECT_EQ(value("max(mem)", at(0)), 16);
  EXPECT_EQ(value("count(mem)", at(0)), 5);
  EXPECT_EQ(byLabel("count by (instance) (mem)", at(0), "instance"),
            (std::map<std::string, double>{{"1", 2}, {"2", 2}, {"3", 1}}));
  EXPECT_EQ(byLabel("max by (app) (mem)", at(0), "app"),
            (std::map<std::string, double>{{"", 16}, {"api", 8}, {"web", 2}}));
  EXPECT_EQ(byLabel("avg without (app) (mem)", at(0), "instance"),
            (std::map<std::string, double>{{"1", 2.5}, {"2", 5}, {"3", 16}}));
  EXPECT_EQ(value("sum(sum by (app) (mem))", at(0)), 31);
}

// Buckets of web: 50 requests under 0.1 s, 30 more under 0.5 s, 15 more under 1 s, 5 beyond;
// of api: 10 under 1 s.
TEST_F(QueryTest, HistogramQuantileInterpolatesWithinTheBucket) {
  const std::pair<const char*, double> web[] = {{"0.1", 50}, {"0.5", 80}, {"1", 95}, {"+Inf", 100}};
  for (const auto& [le, n] : web)
    store_.append("lat_bucket", {{"app", "web"}, {"le", le}}, at(0), n);
  // Not buckets: ignored.
  store_.append("lat_bucket", {{"app", "web"}, {"le", "NaN"}}, at(0), 1000);
  store_.append("lat_bucket", {{"app", "web"}, {"le", "fast"}}, at(0), 1000);
  store_.append("lat_bucket", {{"app", "api"}, {"le", "1"}}, at(0), 10);
  store_.append("lat_bucket", {{"app", "api"}, {"le", "+Inf"}}, at(0), 10);

  // web p90: rank 90 falls in (0.5, 1], which holds 15 of which 10 are needed:
  // 0.5 + 0.5 * 10 / 15. api p90: rank 9 of 10 in (0, 1]: 0.9.
  auto p90 = byLabel("histogram_quantile(0.9, lat_bucket)", at(0), "app");
  ASSERT_EQ(p90.size(), 2u);
  EXPECT_NEAR(p90["web"], 0.5 + 0.5 * 10 / 15, 1e-12);
  EXPECT_NEAR(p90["api"], 0.9, 1e-12);
  QueryResult r = instant("histogram_quantile(0.9, lat_bucket)", at(0));
  EXPECT_EQ(r.series[1].labels, (Labels{{"app", "web"}})) << "le and the name dropped";
  EXPECT_EQ(r.series[1].name, "");

  EXPECT_NEAR(value("histogram_quantile(0.5, lat_bucket{app=\"web\"})", at(0)), 0.1, 1e-12);
  EXPECT_EQ(value("histogram_quantile(0.99, lat_bucket{app=\"web\"})", at(0)), 1)
      << "in the +Inf bucket: the highest finite bound";
  // Both apps summed per bound: 50 80 105 110. p50: rank 55 in (0.1, 0.5]: 0.1 + 0.4 * 5 / 30.
  EXPECT_NEAR(value("histogram_quantile(0.5, sum by (le) (lat_bucket))", at(0)), 0.1 + 0.4 * 5 / 30,
              1e-12);
  EXPECT_TRUE(
      std::isnan(value("histogram_quantile(0.5, lat_bucket{le!=\"+Inf\", app=\"web\"})", at(0))))
      << "no +Inf bucket";
  EXPECT_EQ(value("histogram_quantile(2, lat_bucket{app=\"api\"})", at(0)),
            std::numeric_limits<double>::infinity());
}

TEST_F(QueryTest, BinaryOperatorsMatchSeriesOneToOne) {
  store_.append("errors", {{"app", "web"}}, at(0), 5);
  store_.append("errors", {{"app", "api"}}, at(0), 0);
  store_.append("errors", {{"app", "db"}}, at(0), 3);
  store_.append("requests", {{"app", "web"}}, at(0), 50);
  store_.append("requests", {{"app", "api"}}, at(0), 0);
  store_.append("requests", {{"app", "x"}}, at(0), 10);

  auto ratio = byLabel("errors / requests", at(0), "app");
  ASSERT_EQ(ratio.size(), 2u) << "db and x have no partner";
  EXPECT_DOUBLE_EQ(ratio["web"], 0.1);
  EXPECT_TRUE(std::isnan(ratio["api"])) << "0 / 0";
  EXPECT_EQ(instant("errors / requests", at(0)).series[0].name, "");
  EXPECT_EQ(value("errors{app=\"web\"} / 0", at(0)), std::numeric_limits<double>::infinity());
  EXPECT_EQ(value("-errors{app=\"web\"} / 0", at(0)), -std::numeric_limits<double>::infinity());
  EXPECT_EQ(byLabel("10 - requests", at(0), "app"),
            (std::map<std::string, double>{{"api", 10}, {"web", -40}, {"x", 0}}));
  EXPECT_EQ(byLabel("requests * 2 + errors", at(0), "app"),
            (std::map<std::string, double>{{"api", 0}, {"web", 105}}));

  // Comparisons filter, keeping the series as they are; with bool they give 0 or 1.
  QueryResult big = instant("requests > 5", at(0));
  ASSERT_EQ(big.series.size(), 2u);
  EXPECT_EQ(big.series[0].name, "requests");
  EXPECT_EQ(big.series[0].samples[0].v, 50);
  EXPECT_EQ(byLabel("5 < requests", at(0), "app"),
            (std::map<std::string, double>{{"web", 50}, {"x", 10}}));
  EXPECT_EQ(byLabel("requests == 0", at(0), "app"), (std::map<std::string, double>{{"api", 0}}));
  EXPECT_EQ(byLabel("requests > bool 5", at(0), "app"),
            (std::map<std::string, double>{{"api", 0}, {"web", 1}, {"x", 1}}));
  EXPECT_EQ(byLabel("errors > requests / 100", at(0), "app"),
            (std::map<std::string, double>{{"web", 5}}));

  // Set operations match on labels too.
  QueryResult either = instant("errors or requests", at(0));
  ASSERT_EQ(either.series.size(), 4u);
  EXPECT_EQ(either.series[3].name, "requests");
  EXPECT_EQ(either.series[3].labels.at("app"), "x");
  EXPECT_EQ(byLabel("errors and requests", at(0), "app"),
            (std::map<std::string, double>{{"api", 0}, {"web", 5}}));
  EXPECT_EQ(byLabel("errors unless requests", at(0), "app"),
            (std::map<std::string, double>{{"db", 3}}));
}

TEST_F(QueryTest, ScalarArithmeticAndPrecedence) {
  EXPECT_EQ(value("1 + 2 * 3", at(0)), 7);
  EXPECT_EQ(value("(1 + 2) * 3", at(0)), 9);
  EXPECT_EQ(value("-2 ^ 2", at(0)), -4);
  EXPECT_EQ(value("2 ^ 3 ^ 2", at(0)), 512);
  EXPECT_EQ(value("10 - 4 - 3", at(0)), 3);
  EXPECT_EQ(value("7 % 4", at(0)), 3);
  EXPECT_EQ(value("- - 1", at(0)), 1);
  EXPECT_EQ(value("1e3 + 0x10 + .5", at(0)), 1016.5);
  EXPECT_EQ(value("1 / 0", at(0)), std::numeric_limits<double>::infinity());
  EXPECT_TRUE(std::isnan(value("0 / 0", at(0))));
  EXPECT_TRUE(std::isnan(value("NaN", at(0))));
  EXPECT_EQ(value("-Inf", at(0)), -std::numeric_limits<double>::infinity());
  EXPECT_EQ(value("1 > bool 2", at(0)), 0);
  EXPECT_EQ(value("2 >= bool 2", at(0)), 1);
  EXPECT_EQ(value("time()", at(0)), kT0 / 1000.0);
  EXPECT_EQ(value("scalar(vector(3)) * 2 # a comment", at(0)), 6);
  EXPECT_EQ(instant("1 + 1", at(0)).kind, QueryResult::kScalar);
}

TEST_F(QueryTest, ParsedQueriesPrintInCanonicalForm) {
  const std::pair<const char*, const char*> cases[] = {
      {"sum(rate(x{a=\"b\"}[5m])) by (app)", "sum by (app) (rate(x{a=\"b\"}[5m]))"},
      {"1 + 2 * 3", "(1 + (2 * 3))"},
      {"a / b > bool 0.5", "((a / b) > bool 0.5)"},
      {"rate(x[90s])", "rate(x[1m30s])"},
      {"-x", "-x"},
      {"count without (pod, le) (up{job=~'a|b', x!~\"y\"})",
       "count without (pod, le) (up{job=~\"a|b\", x!~\"y\"})"},
      {"x or y and z", "(x or (y and z))"},
      {"(-1) ^ 2 + (-x) ^ 2 + -x ^ 2", "((((-1) ^ 2) + ((-x) ^ 2)) + -(x ^ 2))"},
      {"histogram_quantile(0.99, sum by (le) (rate(h_bucket[1h])))",
       "histogram_quantile(0.99, sum by (le) (rate(h_bucket[1h])))"},
  };
  for (const auto& [query, canonical] : cases) {
    auto e = parseQuery(query);
    ASSERT_TRUE(e.ok()) << query << ": " << e.status().message();
    EXPECT_EQ((*e)->toString(), canonical);
    auto again = parseQuery((*e)->toString());
    ASSERT_TRUE(again.ok()) << canonical;
    EXPECT_EQ((*again)->toString(), canonical);
  }
}

TEST_F(QueryTest, ParseErrorsNameThePositionAndWhatWasExpected) {
  const std::pair<std::string, std::string> cases[] = {
      {"sum(rate(x[5m])", "at 16: expected \")\", found end of query"},
      {"x{a=\"b\"", "at 8: expected \",\" or \"}\", found end of query"},
      {"x{a~\"b\"}", "at 4: unexpected character \"~\""},
      {"rate(x)", "at 6: expected a range selector such as x[5m] as argument 1 of rate()"},
      {"x[5m]",
       "at 1: a range selector such as x[5m] is only allowed as the argument of a "
       "function"},
      {"x[5m] + 1", "at 1: a range selector"},
      {"foo(x)", "at 1: unknown function \"foo\""},
      {"x{a=~\"(\"}", "at 6: invalid regular expression"},
      {"1 > 2", "at 3: a comparison of two scalars needs bool"},
      {"x + ", "at 5: expected an expression, found end of query"},
      {"x[5]", "at 3: expected a duration such as 5m, found number 5"},
      {"x * 5m", "at 5: a duration belongs in a range selector"},
      {"{a=\"b\"}", "at 1: expected a metric name"},
      {"x{a=\"b", "at 5: unterminated string"},
      {"x{a=\"\\q\"}", "at 6: unknown escape \\q"},
      {"x / on(a) y", "at 5: vector matching with on is not supported"},
      {"sum by (app x)", "at 13: expected \",\" or \")\", found identifier \"x\""},
      {"rate(x[5m], 1)", "at 14: rate() takes 1 argument, not 2"},
      {"x y", "at 3: expected an operator or the end of the query, found identifier \"y\""},
      {"histogram_quantile(x, y)", "at 20: expected a scalar as argument 1"},
      {"sum(1)", "at 5: expected an instant vector to aggregate with sum(), found a scalar"},
      {"1 and x", "at 3: \"and\" needs vectors on both sides"},
      {"x[1.5m]", "at 3: malformed number"},
      {"x[0s]", "at 3: a range must be longer than 0s"},
      {"x{a=1}", "at 5: expected a quoted label value, found number 1"},
      {"sum x", "at 5: expected \"(\", found identifier \"x\""},
      {"", "at 1: expected an expression, found end of query"},
      {std::string(1000, '(') + "x" + std::string(1000, ')'), "nests too deeply"},
      {"x[99999999999999y]", "is too long"},
  };
  for (const auto& [query, message] : cases) {
    auto e = parseQuery(query);
    ASSERT_FALSE(e.ok()) << query;
    EXPECT_EQ(e.status().code(), StatusCode::kBadRequest);
    EXPECT_NE(e.status().message().find(message), std::string::npos)
        << query << "\n  got: " << e.status().message() << "\n  want: " << message;
  }
}

TEST_F(QueryTest, RangeQueriesGiveASamplePerStep) {
  for (int s = 0; s <= 600; s += 10) store_.append("c", {{"app", "web"}}, at(s), s);
  store_.append("late", {}, at(200), 1);

  auto r = rangeQuery(store_, "rate(c[1m])", at(120), at(300), 60 * kSec);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->kind, QueryResult::kMatrix);
  ASSERT_EQ(r->series.size(), 1u);
  ASSERT_EQ(r->series[0].samples.size(), 4u);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(r->series[0].samples[i].t_ms, at(120 + 60 * i));
    EXPECT_NEAR(r->series[0].samples[i].v, 1.0, 1e-9);
  }

  auto raw = rangeQuery(store_, "c", at(0), at(25), 5 * kSec);
  ASSERT_TRUE(raw.ok());
  EXPECT_EQ(raw->series[0].name, "c");
  EXPECT_EQ(raw->series[0].samples,
            (std::vector<Sample>{
                {at(0), 0}, {at(5), 0}, {at(10), 10}, {at(15), 10}, {at(20), 20}, {at(25), 20}}));

  // Only the steps where a series has a value.
  auto late = rangeQuery(store_, "late", at(0), at(600), 100 * kSec);
  ASSERT_TRUE(late.ok());
  ASSERT_EQ(late->series.size(), 1u);
  EXPECT_EQ(late->series[0].samples,
            (std::vector<Sample>{{at(200), 1}, {at(300), 1}, {at(400), 1}}))
      << "at 500 s the sample is five minutes old: stale";

  auto scalar = rangeQuery(store_, "1 + 1", at(0), at(20), 10 * kSec);
  ASSERT_TRUE(scalar.ok());
  ASSERT_EQ(scalar->series.size(), 1u);
  EXPECT_EQ(scalar->series[0].labels, Labels{});
  EXPECT_EQ(scalar->series[0].samples, (std::vector<Sample>{{at(0), 2}, {at(10), 2}, {at(20), 2}}));
}

TEST_F(QueryTest, RangeQueriesRefuseMoreThanElevenThousandPoints) {
  store_.append("c", {}, at(0), 1);
  EXPECT_TRUE(rangeQuery(store_, "c", at(0), at(10999), kSec).ok());
  auto r = rangeQuery(store_, "c", at(0), at(11000), kSec);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("11001 points per series, over the limit of 11000"),
            std::string::npos)
      << r.status().message();
  EXPECT_FALSE(rangeQuery(store_, "c", at(0), at(10), 0).ok());
  EXPECT_FALSE(rangeQuery(store_, "c", at(10), at(0), kSec).ok());
  EXPECT_FALSE(instantQuery(store_, "c", std::numeric_limits<int64_t>::min()).ok());
}

TEST_F(QueryTest, AQueryLoadingTooManySamplesIsRefused) {
  for (int s = 0; s < 100; s += 10) store_.append("c", {}, at(s), s);
  options_.max_samples = 5;
  auto r = instantQuery(store_, "sum_over_time(c[10m])", at(100), options_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kTooLarge);
}

// tenant "a" has x{app=1} = 1 and x{app=2} = 2; tenant "b" has x{app=1} = 100.
TEST_F(QueryTest, AConfinedQueryOnlySeesItsTenantsSeries) {
  store_.append("x", {{"tenant", "a"}, {"app", "1"}}, at(0), 1);
  store_.append("x", {{"tenant", "a"}, {"app", "2"}}, at(0), 2);
  store_.append("x", {{"tenant", "b"}, {"app", "1"}}, at(0), 100);
  store_.append("y", {{"tenant", "b"}}, at(0), 7);
  EXPECT_EQ(value("sum(x)", at(0)), 103) << "unconfined";

  options_.confine = {LabelMatcher::equal("tenant", "a")};
  EXPECT_TRUE(instant("x{tenant=\"b\"}", at(0)).series.empty());
  EXPECT_TRUE(instant("x{tenant!=\"a\"}", at(0)).series.empty());
  EXPECT_TRUE(instant("y", at(0)).series.empty());
  EXPECT_TRUE(instant("x{tenant=\"\"}", at(0)).series.empty());
  EXPECT_EQ(instant("x{tenant=~\".*\"}", at(0)).series.size(), 2u);
  EXPECT_EQ(instant("x{tenant=~\".*\"} or x{tenant=\"b\"} or y", at(0)).series.size(), 2u);
  EXPECT_EQ(value("sum(x)", at(0)), 3);
  EXPECT_EQ(value("count(x{tenant=~\"a|b\"})", at(0)), 2);
  EXPECT_EQ(byLabel("sum by (tenant) (x)", at(0), "tenant"),
            (std::map<std::string, double>{{"a", 3}}));
  EXPECT_EQ(byLabel("x{tenant=\"a\"} + x{tenant=\"b\"} or x", at(0), "app"),
            (std::map<std::string, double>{{"1", 1}, {"2", 2}}));
  EXPECT_TRUE(std::isnan(value("scalar(x{tenant=\"b\"})", at(0))));

  auto range = rangeQuery(store_, "x", at(0), at(60), 30 * kSec, options_);
  ASSERT_TRUE(range.ok());
  ASSERT_EQ(range->series.size(), 2u);
  for (const auto& s : range->series) EXPECT_EQ(s.labels.at("tenant"), "a");

  auto parsed = parseQuery("sum(x{tenant=\"b\"})");
  ASSERT_TRUE(parsed.ok());
  auto r = instantQuery(store_, **parsed, at(0), options_);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->series.empty());
}

// Random sequences of query fragments: every one parses or is refused, evaluates without
// crashing, and prints to text that parses to the same text.
TEST_F(QueryTest, ArbitraryInputIsParsedOrRefusedNeverCrashes) {
  for (int s = 0; s <= 300; s += 10) {
    store_.append("x", {{"a", "b"}, {"le", s % 20 ? "1" : "+Inf"}}, at(s), s);
    store_.append("y", {{"a", "c"}}, at(s), -s);
  }
  const char* fragments[] = {"x",
                             "y",
                             "{",
                             "}",
                             "(",
                             ")",
                             "[",
                             "]",
                             "5m",
                             "1",
                             "+",
                             "-",
                             "*",
                             "/",
                             "^",
                             ">",
                             "==",
                             "bool",
                             "sum",
                             "by",
                             "rate",
                             "histogram_quantile",
                             ",",
                             "a=\"b\"",
                             "=~",
                             "\".*\"",
                             "or",
                             "and",
                             "unless",
                             "0.5",
                             "Inf",
                             "NaN",
                             "without",
                             "count",
                             "le",
                             " ",
                             "avg_over_time",
                             "time()",
                             "'",
                             "#",
                             "\\",
                             "!~",
                             "%"};
  std::mt19937 rng(42);
  for (int i = 0; i < 50000; ++i) {
    std::string query;
    const int n = 1 + static_cast<int>(rng() % 12);
    for (int j = 0; j < n; ++j) query += fragments[rng() % std::size(fragments)];
    auto e = parseQuery(query);
    if (!e.ok()) {
      EXPECT_EQ(e.status().message().rfind("at ", 0), 0u) << query << ": " << e.status().message();
      continue;
    }
    const std::string text = (*e)->toString();
    auto again = parseQuery(text);
    ASSERT_TRUE(again.ok()) << query << " printed as " << text << ": " << again.status().message();
    EXPECT_EQ((*again)->toString(), text) << query;
    (void)instantQuery(store_, **e, at(300));
    (void)rangeQuery(store_, **e, at(0), at(300), 60 * kSec);
  }
}

}  // namespace
}  // namespace skiff::observe
