// The embedded time-series store: Gorilla chunks, the two tiers, label matchers, the memory and
// series bounds, series expiry and snapshots.
#include <gtest/gtest.h>

#include <unistd.h>

#include <bit>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <thread>

#include "common/files.h"
#include "observe/chunk.h"
#include "observe/query.h"
#include "observe/tsdb.h"

namespace skiff::observe {
namespace {

constexpr int64_t kT0 = 1'700'000'000'000;  // a realistic epoch in milliseconds
constexpr int64_t kSec = 1000;

bool sameBits(double a, double b) {
  return std::bit_cast<uint64_t>(a) == std::bit_cast<uint64_t>(b);
}

void expectSameSamples(const std::vector<Sample>& got, const std::vector<Sample>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].t_ms, want[i].t_ms) << "sample " << i;
    EXPECT_TRUE(sameBits(got[i].v, want[i].v))
        << "sample " << i << ": " << got[i].v << " != " << want[i].v;
  }
}

// --- Chunk

TEST(ChunkTest, RoundTripsAwkwardValuesAndIntervals) {
  const double inf = std::numeric_limits<double>::infinity();
  const std::vector<double> values = {0,
                                      -0.0,
                                      1,
                                      1,
                                      1,
                                      -1.5,
                                      std::nan(""),
                                      std::nan(""),
                                      inf,
                                      -inf,
                                      1e308,
                                      std::numeric_limits<double>::denorm_min(),
                                      -123456.789,
                                      0.1,
                                      0.2,
                                      42,
                                      42,
                                      std::numeric_limits<double>::quiet_NaN(),
                                      3};
  // Irregular: 1 ms, jitter around 10 s, a repeat of the same delta, a gap of decades, and a
  // delta-of-delta in each encoding bucket.
  const std::vector<int64_t> gaps = {1,     10'000, 10'003, 9'997,   10'000,    10'000,
                                     8'000, 70'000, 1,      600'000, 5'000'000, 1'000'000'000'000,
                                     2,     2,      2,      65'536,  1'048'576, 1};
  std::vector<Sample> want;
  Chunk chunk;
  int64_t t = -5'000;  // before the epoch, to cover negative timestamps
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) t += gaps[i - 1];
    ASSERT_TRUE(chunk.append(t, values[i])) << i;
    want.push_back({t, values[i]});
  }
  expectSameSamples(chunk.samples(), want);
  EXPECT_EQ(chunk.minTime(), -5'000);
  EXPECT_EQ(chunk.maxTime(), t);
  EXPECT_EQ(chunk.count(), values.size());
}

TEST(ChunkTest, RoundTripsRandomSeries) {
  std::mt19937_64 rng(7);
  for (int round = 0; round < 50; ++round) {
    Chunk chunk;
    std::vector<Sample> want;
    int64_t t = static_cast<int64_t>(rng() % 1'000'000'000'000);
    double v = 0;
    while (!chunk.full()) {
      t += 1 + static_cast<int64_t>(rng() % (round % 2 ? 100'000 : 20));
      switch (rng() % 4) {
        case 0:
          break;  // repeat
        case 1:
          v += 1;
          break;
        case 2:
          v = std::bit_cast<double>(rng());  // any bit pattern, NaNs included
          break;
        default:
          v = static_cast<double>(rng() % 1000) / 7;
      }
      ASSERT_TRUE(chunk.append(t, v));
      want.push_back({t, v});
    }
    expectSameSamples(chunk.samples(), want);
  }
}

TEST(ChunkTest, RefusesOlderOrEqualTimesAndTheHundredTwentyFirstSample) {
  Chunk chunk;
  ASSERT_TRUE(chunk.append(1000, 1));
  EXPECT_FALSE(chunk.append(1000, 2));
  EXPECT_FALSE(chunk.append(999, 2));
  for (int i = 1; i < Chunk::kMaxSamples; ++i) ASSERT_TRUE(chunk.append(1000 + i, i));
  EXPECT_TRUE(chunk.full());
  EXPECT_FALSE(chunk.append(5000, 1));
  EXPECT_EQ(chunk.count(), Chunk::kMaxSamples);
}

TEST(ChunkTest, CompressesRegularScrapes) {
  Chunk chunk;
  for (int i = 0; i < Chunk::kMaxSamples; ++i) ASSERT_TRUE(chunk.append(kT0 + i * 10'000, 7));
  // 128 bits for the first sample, 21 for the second (its 10 s delta in the 17-bit bucket and
  // an unchanged value), then 2 bits a sample: a constant at a constant interval.
  EXPECT_EQ(chunk.encoded().size(), (128u + 21 + 118 * 2 + 7) / 8);
  chunk.seal();
  EXPECT_EQ(chunk.bytes(), sizeof(Chunk) + chunk.encoded().size());
}

TEST(ChunkTest, FromEncodedContinuesWhereTheOriginalLeftOff) {
  Chunk original;
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(original.append(kT0 + i * 9'000 + i % 3, i * 1.5));
  auto copy = Chunk::fromEncoded(original.encoded(), original.count());
  ASSERT_TRUE(copy.ok()) << copy.status().message();
  for (int i = 50; i < 120; ++i) {
    ASSERT_TRUE(original.append(kT0 + i * 11'000, -i * 0.25));
    ASSERT_TRUE(copy->append(kT0 + i * 11'000, -i * 0.25));
  }
  EXPECT_EQ(copy->encoded(), original.encoded());
  expectSameSamples(copy->samples(), original.samples());
}

TEST(ChunkTest, FromEncodedRefusesDamagedBits) {
  Chunk chunk;
  for (int i = 0; i < 30; ++i) ASSERT_TRUE(chunk.append(kT0 + i * 10'000, i * 3.7));
  const std::string bits(chunk.encoded());
  for (size_t n = 0; n < bits.size(); ++n)
    EXPECT_FALSE(Chunk::fromEncoded(bits.substr(0, n), 30).ok()) << "truncated to " << n;
  // The spare bits of the last byte may read as a few more samples (each "same time step,
  // same value" takes two bits): a snapshot's checksum, not the chunk, catches a wrong count.
  EXPECT_FALSE(Chunk::fromEncoded(bits, 40).ok());
  EXPECT_FALSE(Chunk::fromEncoded(bits, 121).ok());
  // Flipped bits decode to something or are refused; they never read out of bounds.
  for (size_t i = 0; i < bits.size() * 8; ++i) {
    std::string damaged = bits;
    damaged[i / 8] = static_cast<char>(damaged[i / 8] ^ (1 << (i % 8)));
    auto c = Chunk::fromEncoded(damaged, 30);
    if (c.ok()) {
      EXPECT_EQ(c->samples().size(), 30u);
    }
  }
}

// --- LabelMatcher

TEST(LabelMatcherTest, EachOperatorAndAbsentLabels) {
  const Labels web = {{"app", "web"}, {"zone", "a"}};
  const Labels api = {{"app", "api"}};
  auto re = LabelMatcher::make("app", LabelMatcher::kRe, "w.*|x");
  auto nre = LabelMatcher::make("app", LabelMatcher::kNre, "w.*");
  ASSERT_TRUE(re.ok() && nre.ok());
  EXPECT_TRUE(LabelMatcher::equal("app", "web").matches(web));
  EXPECT_FALSE(LabelMatcher::equal("app", "web").matches(api));
  EXPECT_TRUE(LabelMatcher::notEqual("app", "web").matches(api));
  EXPECT_TRUE(re->matches(web));
  EXPECT_FALSE(re->matches(api));
  EXPECT_TRUE(nre->matches(api));
  EXPECT_FALSE(nre->matches(web));
  EXPECT_FALSE(LabelMatcher::make("app", LabelMatcher::kRe, "we")->matches(web))
      << "anchored at both ends";
  EXPECT_FALSE(LabelMatcher::make("app", LabelMatcher::kRe, "eb")->matches(web));
  EXPECT_TRUE(LabelMatcher::equal("zone", "").matches(api)) << "an absent label is \"\"";
  EXPECT_FALSE(LabelMatcher::notEqual("zone", "").matches(api));
  EXPECT_TRUE(LabelMatcher::make("zone", LabelMatcher::kRe, "a|")->matches(api));
}

TEST(LabelMatcherTest, BadRegularExpressionsAreErrors) {
  for (const std::string& bad :
       {std::string("("), std::string("[a-"), std::string("a{2,1}"), std::string("*"),
        std::string(100, '(') + "a" + std::string(100, ')'), std::string("(a)\\1"),
        std::string("((a{1000}){1000}){1000}"), std::string(5000, 'a')}) {
    auto m = LabelMatcher::make("app", LabelMatcher::kRe, bad);
    EXPECT_FALSE(m.ok()) << bad;
    if (!m.ok()) {
      EXPECT_EQ(m.status().code(), StatusCode::kBadRequest);
    }
  }
  // Numbers libstdc++ would overflow on (undefined behaviour) are refused before it sees them.
  auto backreference =
      LabelMatcher::make("app", LabelMatcher::kRe, "b\\\\\\7777777777777777777777");
  ASSERT_FALSE(backreference.ok());
  EXPECT_NE(backreference.status().message().find("backreference (\\7)"), std::string::npos)
      << backreference.status().message();
  auto count = LabelMatcher::make("app", LabelMatcher::kRe, "a{1,99999999999}");
  ASSERT_FALSE(count.ok());
  EXPECT_NE(count.status().message().find("more than nine digits"), std::string::npos);
  EXPECT_TRUE(LabelMatcher::make("app", LabelMatcher::kRe, "\\\\7|a{2,3}|[0-9]{4}").ok())
      << "an escaped backslash before a digit, and short counts, are fine";
  auto deep = LabelMatcher::make("app", LabelMatcher::kRe,
                                 std::string(33, '(') + "a" + std::string(33, ')'));
  ASSERT_FALSE(deep.ok());
  EXPECT_NE(deep.status().message().find("nests groups deeper than 32"), std::string::npos)
      << deep.status().message();
  EXPECT_TRUE(LabelMatcher::make("app", LabelMatcher::kRe,
                                 std::string(32, '(') + "a" + std::string(32, ')') + "[(((]")
                  .ok())
      << "32 levels are allowed, and a parenthesis in a class opens no group";
}

TEST(LabelMatcherTest, AVeryLongLabelValueDoesNotExhaustTheStack) {
  auto m = LabelMatcher::make("v", LabelMatcher::kRe, "(a|b)*x");
  ASSERT_TRUE(m.ok());
  EXPECT_TRUE(m->matches({{"v", std::string(1 << 20, 'a') + "x"}}));
  EXPECT_FALSE(m->matches({{"v", std::string(1 << 20, 'b')}}));
}

// --- TimeSeriesStore

TsdbOptions memoryOnly() {
  TsdbOptions o;
  o.raw_step = std::chrono::seconds(10);
  return o;
}

TEST(TimeSeriesStoreTest, SelectsSeriesByNameAndMatchersWithinTheInterval) {
  TimeSeriesStore store(memoryOnly());
  for (int i = 0; i < 10; ++i) {
    const int64_t t = kT0 + i * 10 * kSec;
    store.append("up", {{"app", "web"}, {"instance", "1"}}, t, 1);
    store.append("up", {{"app", "web"}, {"instance", "2"}}, t, 0);
    store.append("up", {{"app", "api"}, {"instance", "1"}}, t, 1);
    store.append("other", {{"app", "web"}}, t, 5);
  }
  auto web = store.select("up", {LabelMatcher::equal("app", "web")}, kT0, kT0 + 1000 * kSec);
  ASSERT_EQ(web.size(), 2u);
  EXPECT_EQ(web[0].name, "up");
  EXPECT_EQ(web[0].labels, (Labels{{"app", "web"}, {"instance", "1"}}));
  EXPECT_EQ(web[1].labels.at("instance"), "2");
  EXPECT_EQ(web[0].samples.size(), 10u);

  auto window = store.select("up", {}, kT0 + 20 * kSec, kT0 + 40 * kSec);
  ASSERT_EQ(window.size(), 3u);
  EXPECT_EQ(
      window[0].samples,
      (std::vector<Sample>{{kT0 + 20 * kSec, 1}, {kT0 + 30 * kSec, 1}, {kT0 + 40 * kSec, 1}}));
  EXPECT_TRUE(store.select("up", {}, kT0 + 1000 * kSec, kT0 + 2000 * kSec).empty());
  EXPECT_TRUE(store.select("nothing", {}, kT0, kT0 + 1000 * kSec).empty());
  EXPECT_EQ(store.names(), (std::vector<std::string>{"other", "up"}));

  const TsdbStats s = store.stats();
  EXPECT_EQ(s.series, 4u);
  EXPECT_EQ(s.samples, 40u);
  EXPECT_EQ(s.oldest_ms, kT0);
  EXPECT_EQ(s.newest_ms, kT0 + 90 * kSec);
}

TEST(TimeSeriesStoreTest, AppendBatchAddsEverySampleOfAScrape) {
  TimeSeriesStore store(memoryOnly());
  store.appendBatch({{"a", {}, 1}, {"b", {{"x", "1"}}, 2}, {"b", {{"x", "2"}}, 3}}, kT0);
  EXPECT_EQ(store.stats().series, 3u);
  auto b = store.select("b", {LabelMatcher::equal("x", "2")}, kT0, kT0);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0].samples, (std::vector<Sample>{{kT0, 3}}));
}

TEST(TimeSeriesStoreTest, TheLastSampleOfARawStepReplacesEarlierOnes) {
  TimeSeriesStore store(memoryOnly());  // raw_step 10 s
  const int64_t base = kT0;             // kT0 is a multiple of 10 s
  store.append("g", {}, base, 1);
  store.append("g", {}, base + 3 * kSec, 2);
  store.append("g", {}, base + 9'999, 3);
  store.append("g", {}, base + 10 * kSec, 4);
  store.append("g", {}, base + 25 * kSec, 5);
  auto s = store.select("g", {}, 0, INT64_MAX);
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].samples,
            (std::vector<Sample>{{base + 9'999, 3}, {base + 10 * kSec, 4}, {base + 25 * kSec, 5}}))
      << "each sample keeps its own timestamp";
  EXPECT_EQ(store.stats().samples, 3u);

  TsdbOptions every;
  every.raw_step = std::chrono::seconds(0);
  TimeSeriesStore all(every);
  for (int i = 0; i < 5; ++i) all.append("g", {}, base + i, i);
  EXPECT_EQ(all.select("g", {}, 0, INT64_MAX)[0].samples.size(), 5u) << "raw_step 0 keeps all";
}

TEST(TimeSeriesStoreTest, RefusesSamplesNotAfterTheSeriesNewest) {
  TimeSeriesStore store(memoryOnly());
  store.append("g", {}, kT0 + 20 * kSec, 1);
  store.append("g", {}, kT0 + 20 * kSec, 2);
  store.append("g", {}, kT0 + 5 * kSec, 3);
  store.append("g", {}, kT0 + 30 * kSec, 4);
  EXPECT_EQ(store.stats().out_of_order, 2u);
  EXPECT_EQ(store.select("g", {}, 0, INT64_MAX)[0].samples,
            (std::vector<Sample>{{kT0 + 20 * kSec, 1}, {kT0 + 30 * kSec, 4}}));
}

TEST(TimeSeriesStoreTest, RefusesSeriesBeyondTheLimit) {
  TsdbOptions o = memoryOnly();
  o.max_series = 3;
  TimeSeriesStore store(o);
  for (int i = 0; i < 5; ++i) store.append("m", {{"i", std::to_string(i)}}, kT0, i);
  store.append("m", {{"i", "0"}}, kT0 + 10 * kSec, 9);
  const TsdbStats s = store.stats();
  EXPECT_EQ(s.series, 3u);
  EXPECT_EQ(s.refused_series, 2u);
  EXPECT_EQ(s.samples, 4u) << "known series still take samples";
}

// Raw tier of an hour, rollup tier of a day; a counter going up by one a second, scraped every
// ten seconds for three hours.
TEST(TimeSeriesStoreTest, OlderDataIsAnsweredFromTheRollupTierStitchedToTheRawTier) {
  TsdbOptions o;
  o.raw_step = std::chrono::seconds(10);
  o.raw_retention = std::chrono::hours(1);
  o.rollup_step = std::chrono::seconds(60);
  o.rollup_retention = std::chrono::hours(24);
  TimeSeriesStore store(o);
  for (int64_t s = 0; s <= 3 * 3600; s += 10)
    store.append("c", {}, s * kSec, static_cast<double>(s));
  store.compact(3 * 3600 * kSec);

  // Raw chunks hold 120 samples (20 minutes); those ending before the cutoff (2 h) moved: the
  // first six, up to 7190 s. The rollup tier keeps the last sample of each minute, :50.
  auto all = store.select("c", {}, 0, 3 * 3600 * kSec);
  ASSERT_EQ(all.size(), 1u);
  const auto& samples = all[0].samples;
  ASSERT_EQ(samples.size(), 120u + 361u);
  for (size_t i = 0; i < samples.size(); ++i) {
    const int64_t want_t =
        i < 120 ? static_cast<int64_t>(i) * 60 + 50 : 7200 + static_cast<int64_t>(i - 120) * 10;
    ASSERT_EQ(samples[i].t_ms, want_t * kSec) << i;
    ASSERT_EQ(samples[i].v, static_cast<double>(want_t)) << i;
  }
  EXPECT_EQ(store.stats().oldest_ms, 50 * kSec);
  EXPECT_EQ(store.stats().samples, 120u + 361u);

  // A window across the seam gets both, in order.
  auto seam = store.select("c", {}, 7000 * kSec, 7230 * kSec);
  EXPECT_EQ(seam[0].samples, (std::vector<Sample>{{7010 * kSec, 7010},
                                                  {7070 * kSec, 7070},
                                                  {7130 * kSec, 7130},
                                                  {7190 * kSec, 7190},
                                                  {7200 * kSec, 7200},
                                                  {7210 * kSec, 7210},
                                                  {7220 * kSec, 7220},
                                                  {7230 * kSec, 7230}}));

  // rate() over rollup data: the counter still rises by one a second.
  auto rate = instantQuery(store, "rate(c[5m])", 3600 * kSec);
  ASSERT_TRUE(rate.ok()) << rate.status().message();
  ASSERT_EQ(rate->series.size(), 1u);
  EXPECT_DOUBLE_EQ(rate->series[0].samples[0].v, 1.0);
}

TEST(TimeSeriesStoreTest, RemovesSeriesThatStoppedReceivingSamples) {
  TsdbOptions o;
  o.raw_retention = std::chrono::hours(1);
  o.rollup_retention = std::chrono::hours(2);
  TimeSeriesStore store(o);
  const TsdbStats empty = store.stats();
  for (int64_t s = 0; s < 600; s += 10) {
    store.append("up", {{"instance", "gone"}}, s * kSec, 1);
    store.append("up", {{"instance", "kept"}}, s * kSec, 1);
    store.append("gone_metric", {{"instance", "gone"}}, s * kSec, 1);
  }
  for (int64_t s = 600; s < 4 * 3600; s += 10) {
    store.append("up", {{"instance", "kept"}}, s * kSec, 1);
    if (s % 3600 == 0) store.compact(s * kSec);
  }
  const int64_t now = 4 * 3600 * kSec;
  store.compact(now);
  EXPECT_EQ(store.stats().series, 1u);
  EXPECT_EQ(store.names(), (std::vector<std::string>{"up"}));
  auto up = store.select("up", {}, 0, now);
  ASSERT_EQ(up.size(), 1u);
  EXPECT_EQ(up[0].labels.at("instance"), "kept");
  EXPECT_EQ(up[0].samples.front().t_ms % (60 * kSec), 50 * kSec) << "from the rollup tier";

  store.compact(now + 3 * 3600 * kSec);
  const TsdbStats s = store.stats();
  EXPECT_EQ(s.series, 0u);
  EXPECT_EQ(s.samples, 0u);
  EXPECT_EQ(s.bytes, empty.bytes) << "index and chunks given back";
  EXPECT_TRUE(store.names().empty());
}

TEST(TimeSeriesStoreTest, MemoryStaysWithinTheBoundAndTheNewestDataIsKept) {
  TsdbOptions o;
  o.raw_step = std::chrono::seconds(10);
  o.max_bytes = 1 << 20;
  TimeSeriesStore store(o);
  std::mt19937_64 rng(1);
  constexpr int kSeries = 100;
  constexpr int kScrapes = 4000;  // random values take ~8-10 bytes a sample: ~4 MB in all
  size_t max_seen = 0;
  for (int i = 0; i < kScrapes; ++i) {
    std::vector<std::tuple<std::string, Labels, double>> scrape;
    for (int s = 0; s < kSeries; ++s)
      scrape.emplace_back("m", Labels{{"series", std::to_string(s)}},
                          std::bit_cast<double>(rng() >> 2));
    store.appendBatch(scrape, kT0 + i * 10 * kSec);
    max_seen = std::max(max_seen, store.stats().bytes);
  }
  const TsdbStats s = store.stats();
  EXPECT_LE(max_seen, o.max_bytes);
  EXPECT_GT(s.dropped_chunks, 0u);
  EXPECT_EQ(s.series, static_cast<size_t>(kSeries));
  EXPECT_EQ(s.newest_ms, kT0 + (kScrapes - 1) * 10 * kSec);
  const int64_t last = kT0 + (kScrapes - 1) * 10 * kSec;
  auto recent = store.select("m", {}, last - 600 * kSec, last);
  ASSERT_EQ(recent.size(), static_cast<size_t>(kSeries));
  for (const auto& series : recent) {
    EXPECT_EQ(series.samples.size(), 61u) << "the last ten minutes of every series are intact";
    EXPECT_EQ(series.samples.back().t_ms, last);
  }
  EXPECT_LT(s.oldest_ms, last - 600 * kSec);
  EXPECT_GT(s.oldest_ms, kT0) << "the oldest chunks went first";
}

TEST(TimeSeriesStoreTest, ConcurrentAppendsAndQueries) {
  TimeSeriesStore store(memoryOnly());
  std::thread writer([&] {
    for (int i = 0; i < 2000; ++i)
      store.appendBatch({{"a", {{"x", "1"}}, double(i)}, {"a", {{"x", "2"}}, double(i)}},
                        kT0 + i * 10 * kSec);
  });
  std::vector<std::thread> readers;
  for (int r = 0; r < 2; ++r) {
    readers.emplace_back([&] {
      for (int i = 0; i < 300; ++i) {
        auto series = store.select("a", {}, kT0, kT0 + 20000 * kSec);
        for (const auto& s : series)
          for (size_t j = 1; j < s.samples.size(); ++j)
            ASSERT_LT(s.samples[j - 1].t_ms, s.samples[j].t_ms);
        (void)store.stats();
      }
    });
  }
  writer.join();
  for (auto& r : readers) r.join();
  EXPECT_EQ(store.stats().samples, 4000u);
}

// --- snapshots

class SnapshotTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/skiff-tsdb-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  TsdbOptions options() const {
    TsdbOptions o;
    o.dir = dir_;
    o.raw_retention = std::chrono::hours(1);
    return o;
  }

  // Series with rollup and raw data, NaN and Inf values, open chunks and pending samples.
  void fill(TimeSeriesStore& store) const {
    for (int64_t s = 0; s <= 7200; s += 10) {
      store.append("c", {{"app", "web"}}, s * kSec, static_cast<double>(s));
      if (s % 30 == 0) store.append("g", {{"app", "web"}, {"pod", "p-1"}}, s * kSec, s % 7 * 0.5);
    }
    store.append("g", {{"app", "api"}}, 100 * kSec, std::nan(""));
    store.append("g", {{"app", "api"}}, 200 * kSec, std::numeric_limits<double>::infinity());
    store.compact(7200 * kSec);
  }

  std::vector<Series> everything(const TimeSeriesStore& store) const {
    std::vector<Series> out;
    for (const auto& name : store.names())
      for (auto& s : store.select(name, {}, INT64_MIN, INT64_MAX)) out.push_back(std::move(s));
    return out;
  }

  void expectSameContents(const TimeSeriesStore& a, const TimeSeriesStore& b) const {
    auto x = everything(a);
    auto y = everything(b);
    ASSERT_EQ(x.size(), y.size());
    for (size_t i = 0; i < x.size(); ++i) {
      EXPECT_EQ(x[i].name, y[i].name);
      EXPECT_EQ(x[i].labels, y[i].labels);
      expectSameSamples(x[i].samples, y[i].samples);
    }
  }

  // Without the fsyncs of writeFileAtomically: these tests write hundreds of damaged files.
  static void writeFile(const std::string& path, const std::string& contents) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << contents;
    ASSERT_TRUE(out.good()) << path;
  }

  std::string dir_;
};

TEST_F(SnapshotTest, OpenLoadsWhatSnapshotWrote) {
  TimeSeriesStore original(options());
  fill(original);
  ASSERT_TRUE(original.snapshot().isOk());

  auto loaded = TimeSeriesStore::open(options());
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  expectSameContents(original, **loaded);
  const TsdbStats a = original.stats(), b = (*loaded)->stats();
  EXPECT_EQ(a.series, b.series);
  EXPECT_EQ(a.samples, b.samples);
  EXPECT_EQ(a.oldest_ms, b.oldest_ms);
  EXPECT_EQ(a.newest_ms, b.newest_ms);
  EXPECT_GT(b.samples, 0u);

  // Open chunks and pending samples carry on, and old samples are still refused.
  for (TimeSeriesStore* store : {&original, loaded->get()}) {
    for (int64_t s = 7210; s <= 9000; s += 10)
      store->append("c", {{"app", "web"}}, s * kSec, static_cast<double>(s));
    store->append("c", {{"app", "web"}}, 10 * kSec, 1);
    store->compact(9000 * kSec);
  }
  expectSameContents(original, **loaded);
  EXPECT_EQ((*loaded)->stats().out_of_order, 1u);
}

TEST_F(SnapshotTest, AMissingSnapshotOpensEmptyAndAMemoryOnlyStoreCannotSnapshot) {
  auto store = TimeSeriesStore::open(options());
  ASSERT_TRUE(store.ok()) << store.status().message();
  EXPECT_EQ((*store)->stats().series, 0u);
  EXPECT_TRUE((*store)->snapshot().isOk());

  TimeSeriesStore memory(TsdbOptions{});
  EXPECT_FALSE(memory.snapshot().isOk());
}

TEST_F(SnapshotTest, ACorruptSnapshotIsAnErrorNamingTheFile) {
  TimeSeriesStore original(options());
  fill(original);
  ASSERT_TRUE(original.snapshot().isOk());
  const std::string path = original.snapshotPath();
  auto good = readWholeFile(path);
  ASSERT_TRUE(good.ok());

  auto expectRefused = [&](const std::string& contents, const std::string& what) {
    writeFile(path, contents);
    auto store = TimeSeriesStore::open(options());
    ASSERT_FALSE(store.ok()) << what;
    EXPECT_NE(store.status().message().find(path), std::string::npos) << store.status().message();
  };
  expectRefused("", "empty");
  expectRefused("not a snapshot at all", "garbage");
  for (size_t n = 0; n < good->size(); n += 1 + good->size() / 97)
    expectRefused(good->substr(0, n), "truncated to " + std::to_string(n));
  for (size_t i = 0; i < good->size(); i += 1 + good->size() / 101) {
    std::string damaged = *good;
    damaged[i] = static_cast<char>(damaged[i] ^ 0x10);
    expectRefused(damaged, "byte " + std::to_string(i) + " flipped");
  }
}

// The checksum catches damage; behind it, the decoder still checks every length and order, so
// a well-summed but inconsistent file is refused rather than trusted.
TEST_F(SnapshotTest, ADamagedSnapshotWithAValidChecksumNeverCrashes) {
  TimeSeriesStore original(options());
  for (int64_t s = 0; s <= 300; s += 10) original.append("c", {{"a", "b"}}, s * kSec, s * 1.5);
  ASSERT_TRUE(original.snapshot().isOk());
  auto good = readWholeFile(original.snapshotPath());
  ASSERT_TRUE(good.ok());
  auto fnv = [](std::string_view data) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (char c : data) h = (h ^ static_cast<uint8_t>(c)) * 0x100000001b3ull;
    return h;
  };
  const std::string body = good->substr(0, good->size() - 8);
  for (size_t i = 0; i < body.size(); ++i) {
    for (uint8_t flip : {0x01, 0x80, 0xff}) {
      std::string damaged = body;
      damaged[i] = static_cast<char>(damaged[i] ^ flip);
      const uint64_t sum = fnv(damaged);
      for (int b = 0; b < 8; ++b) damaged.push_back(static_cast<char>((sum >> (8 * b)) & 0xff));
      writeFile(original.snapshotPath(), damaged);
      auto store = TimeSeriesStore::open(options());
      if (!store.ok()) continue;
      // Whatever it loaded, it can take appends and answer queries.
      (*store)->append("c", {{"a", "b"}}, 400 * kSec, 1);
      (void)everything(**store);
    }
  }
}

}  // namespace
}  // namespace skiff::observe
