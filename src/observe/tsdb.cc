#include "observe/tsdb.h"

#include <algorithm>
#include <bit>
#include <filesystem>
#include <mutex>
#include <queue>
#include <regex>
#include <shared_mutex>
#include <system_error>

#include "common/assert.h"
#include "common/files.h"

namespace skiff::observe {

// ---------------------------------------------------------------------------------------------
// LabelMatcher

namespace {

// Regular expressions come from users' queries. libstdc++ compiles them recursively and, by
// default, matches them by backtracking with recursion as deep as the subject; so: a bound on
// their length and nesting, and the polynomial (breadth-first) matcher, whose recursion is
// bounded by the expression rather than by a label value's length. libstdc++ also refuses
// automata of more than 100000 states (error_space), which bounds counted repetitions.
constexpr size_t kMaxRegexBytes = 2048;
constexpr int kMaxRegexNesting = 32;
#if defined(__GLIBCXX__)
constexpr auto kRegexFlags = std::regex::ECMAScript | std::regex_constants::__polynomial;
#else
constexpr auto kRegexFlags = std::regex::ECMAScript;
#endif

// What in a query's regular expression std::regex must not see, in one pass; empty: nothing.
// Groups nested deeper than kMaxRegexNesting. And since libstdc++ reads the digits of a
// backreference or of a repetition count into a long with no bound (signed overflow, found by
// fuzzing): backreferences, which RE2 (Prometheus' regular expressions) does not have either,
// and counts of more than nine digits.
std::string regexProblem(std::string_view re) {
  int depth = 0;
  bool in_class = false;
  size_t count_digits = 0;
  bool in_count = false;
  for (size_t i = 0; i < re.size(); ++i) {
    const char c = re[i];
    if (c == '\\') {
      if (i + 1 < re.size() && re[i + 1] >= '1' && re[i + 1] <= '9')
        return std::string("has a backreference (\\") + re[i + 1] + "), which is not supported";
      ++i;
      count_digits = 0;
      continue;
    }
    if (in_count) {
      count_digits = (c >= '0' && c <= '9') ? count_digits + 1 : 0;
      if (count_digits > 9) return "has a repetition count of more than nine digits";
      if (c == '}') in_count = false;
    }
    if (in_class) {
      if (c == ']') in_class = false;
    } else if (c == '[') {
      in_class = true;
    } else if (c == '(') {
      if (++depth > kMaxRegexNesting)
        return "nests groups deeper than " + std::to_string(kMaxRegexNesting);
    } else if (c == ')') {
      --depth;
    }
    if (c == '{') {
      in_count = true;
      count_digits = 0;
    }
  }
  return "";
}

}  // namespace

struct LabelMatcher::Compiled {
  std::regex re;
};

Result<LabelMatcher> LabelMatcher::make(std::string name, Op op, std::string value) {
  LabelMatcher m(std::move(name), op, std::move(value));
  if (op != kRe && op != kNre) return m;
  if (m.value_.size() > kMaxRegexBytes)
    return badRequest("the regular expression for label " + m.name_ + " is longer than " +
                      std::to_string(kMaxRegexBytes) + " bytes");
  const std::string what = "regular expression \"" + m.value_ + "\" for label " + m.name_;
  if (std::string problem = regexProblem(m.value_); !problem.empty())
    return badRequest(what + " " + problem);
  try {
    auto compiled = std::make_shared<Compiled>();
    compiled->re = std::regex(m.value_, kRegexFlags);
    m.regex_ = std::move(compiled);
  } catch (const std::regex_error& e) {
    return badRequest("invalid " + what + ": " + e.what());
  }
  return m;
}

LabelMatcher LabelMatcher::equal(std::string name, std::string value) {
  return LabelMatcher(std::move(name), kEq, std::move(value));
}

LabelMatcher LabelMatcher::notEqual(std::string name, std::string value) {
  return LabelMatcher(std::move(name), kNe, std::move(value));
}

bool LabelMatcher::matches(const Labels& labels) const {
  static const std::string kAbsent;
  auto it = labels.find(name_);
  const std::string& actual = it == labels.end() ? kAbsent : it->second;
  switch (op_) {
    case kEq:
      return actual == value_;
    case kNe:
      return actual != value_;
    case kRe:
      return std::regex_match(actual, regex_->re);
    case kNre:
      return !std::regex_match(actual, regex_->re);
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// Memory estimates and the in-memory series

namespace {

// A std::map node: colour, parent, left and right, before the value.
constexpr size_t kMapNodeBytes = 32;
constexpr int64_t kLowWatermarkPercent = 90;

size_t stringHeapBytes(const std::string& s) {
  return s.size() > 15 ? s.size() + 1 : 0;  // libstdc++ keeps up to 15 characters inline
}

int64_t floorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

// The samples of one series at one resolution: sealed chunks, an open head chunk and the
// pending sample, the latest, which a later one of the same step bucket replaces.
struct Tier {
  std::vector<Chunk> chunks;
  bool has_pending = false;
  Sample pending;

  bool empty() const { return chunks.empty() && !has_pending; }
  int64_t firstTime() const {
    if (!chunks.empty()) return chunks.front().minTime();
    return has_pending ? pending.t_ms : INT64_MAX;
  }
  int64_t lastTime() const {
    if (has_pending) return pending.t_ms;
    return chunks.empty() ? INT64_MIN : chunks.back().maxTime();
  }
  size_t sampleCount() const {
    size_t n = has_pending ? 1 : 0;
    for (const auto& c : chunks) n += c.count();
    return n;
  }
  // Memory beyond the Tier object: the chunk array's slots and the chunks' buffers.
  size_t heapBytes() const {
    size_t n = chunks.capacity() * sizeof(Chunk);
    for (const auto& c : chunks) n += c.bytes() - sizeof(Chunk);
    return n;
  }

  void collect(int64_t from, int64_t to, std::vector<Sample>& out) const {
    if (from > to) return;
    for (const auto& c : chunks) c.decode(from, to, out);
    if (has_pending && pending.t_ms >= from && pending.t_ms <= to) out.push_back(pending);
  }

  // Moves the pending sample into the head chunk; returns the change of heapBytes().
  int64_t commitPending() {
    const int64_t before = static_cast<int64_t>(chunks.capacity() * sizeof(Chunk));
    int64_t delta = 0;
    if (chunks.empty() || chunks.back().full()) {
      if (!chunks.empty()) {
        const size_t b = chunks.back().bytes();
        chunks.back().seal();
        delta -= static_cast<int64_t>(b - chunks.back().bytes());
      }
      chunks.emplace_back();
    }
    Chunk& head = chunks.back();
    const size_t b = head.bytes();
    const bool appended = head.append(pending.t_ms, pending.v);
    SKIFF_ASSERT(appended, "a tier's samples are in time order");
    delta += static_cast<int64_t>(head.bytes() - b);
    delta += static_cast<int64_t>(chunks.capacity() * sizeof(Chunk)) - before;
    has_pending = false;
    return delta;
  }

  struct Change {
    int64_t bytes = 0;
    int64_t samples = 0;
  };
  // Adds a sample after all others, keeping the last one per `step_ms` bucket (all when 0).
  Change add(Sample s, int64_t step_ms) {
    Change change;
    if (has_pending && step_ms > 0 &&
        floorDiv(s.t_ms, step_ms) == floorDiv(pending.t_ms, step_ms)) {
      pending = s;
      return change;
    }
    if (has_pending) change.bytes = commitPending();
    pending = s;
    has_pending = true;
    change.samples = 1;
    return change;
  }

  void releaseIfEmpty() {
    if (chunks.empty()) chunks.shrink_to_fit();
  }
};

struct MemSeries {
  Tier rollup;  // older than raw
  Tier raw;
  int64_t newest = INT64_MIN;  // newest sample ever appended; older ones are refused

  bool empty() const { return raw.empty() && rollup.empty(); }
  int64_t oldestChunkTime() const {
    if (!rollup.chunks.empty()) return rollup.chunks.front().minTime();
    return raw.chunks.empty() ? INT64_MAX : raw.chunks.front().minTime();
  }
  size_t heapBytes() const { return raw.heapBytes() + rollup.heapBytes(); }
  size_t sampleCount() const { return raw.sampleCount() + rollup.sampleCount(); }
};

using SeriesByLabels = std::map<Labels, MemSeries>;

size_t nameOverheadBytes(const std::string& name) {
  return kMapNodeBytes + sizeof(std::string) + sizeof(SeriesByLabels) + stringHeapBytes(name);
}

size_t seriesOverheadBytes(const Labels& labels) {
  size_t n = kMapNodeBytes + sizeof(Labels) + sizeof(MemSeries);
  for (const auto& [k, v] : labels)
    n += kMapNodeBytes + 2 * sizeof(std::string) + stringHeapBytes(k) + stringHeapBytes(v);
  return n;
}

// --- snapshot encoding: varints, fixed 64-bit little-endian words, length-prefixed strings,
// and an FNV-1a checksum of everything before it at the end.

constexpr std::string_view kSnapshotMagic = "SKIFFTSDB1\n";
constexpr const char* kSnapshotFile = "tsdb.snapshot";

void putVarint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

void putFixed64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

void putString(std::string& out, std::string_view s) {
  putVarint(out, s.size());
  out.append(s);
}

uint64_t fnv1a(std::string_view data) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (char c : data) {
    h ^= static_cast<uint8_t>(c);
    h *= 0x100000001b3ull;
  }
  return h;
}

class SnapshotReader {
 public:
  explicit SnapshotReader(std::string_view data) : data_(data) {}

  bool varint(uint64_t& v) {
    v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= data_.size()) return false;
      const uint8_t b = static_cast<uint8_t>(data_[pos_++]);
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) return true;
    }
    return false;
  }
  bool fixed64(uint64_t& v) {
    if (data_.size() - pos_ < 8) return false;
    v = 0;
    for (int i = 0; i < 8; ++i)
      v |= static_cast<uint64_t>(static_cast<uint8_t>(data_[pos_ + i])) << (8 * i);
    pos_ += 8;
    return true;
  }
  bool byte(uint8_t& b) {
    if (pos_ >= data_.size()) return false;
    b = static_cast<uint8_t>(data_[pos_++]);
    return true;
  }
  bool string(std::string_view& s) {
    uint64_t n;
    if (!varint(n) || n > data_.size() - pos_) return false;
    s = data_.substr(pos_, n);
    pos_ += n;
    return true;
  }
  size_t offset() const { return pos_; }
  bool atEnd() const { return pos_ == data_.size(); }

 private:
  std::string_view data_;
  size_t pos_ = 0;
};

void writeTier(std::string& out, const Tier& tier) {
  out.push_back(tier.has_pending ? 1 : 0);
  if (tier.has_pending) {
    putFixed64(out, static_cast<uint64_t>(tier.pending.t_ms));
    putFixed64(out, std::bit_cast<uint64_t>(tier.pending.v));
  }
  putVarint(out, tier.chunks.size());
  for (const auto& c : tier.chunks) {
    putVarint(out, c.count());
    putString(out, c.encoded());
  }
}

// Reads a tier and checks what appends rely on: chunks not empty, samples in time order.
Status readTier(SnapshotReader& in, Tier& tier) {
  uint8_t has_pending;
  if (!in.byte(has_pending) || has_pending > 1) return badRequest("bad pending flag");
  tier.has_pending = has_pending == 1;
  if (tier.has_pending) {
    uint64_t t, v;
    if (!in.fixed64(t) || !in.fixed64(v)) return badRequest("truncated pending sample");
    tier.pending = {static_cast<int64_t>(t), std::bit_cast<double>(v)};
  }
  uint64_t n;
  if (!in.varint(n)) return badRequest("truncated chunk count");
  int64_t last = INT64_MIN;
  bool any = false;
  for (uint64_t i = 0; i < n; ++i) {
    uint64_t count;
    std::string_view bits;
    if (!in.varint(count) || count == 0 || count > Chunk::kMaxSamples || !in.string(bits))
      return badRequest("bad chunk header");
    auto chunk = Chunk::fromEncoded(bits, static_cast<uint16_t>(count));
    if (!chunk.ok()) return chunk.status();
    if (any && chunk->minTime() <= last) return badRequest("chunks out of time order");
    last = chunk->maxTime();
    any = true;
    tier.chunks.push_back(std::move(chunk).value());
  }
  if (tier.has_pending && any && tier.pending.t_ms <= last)
    return badRequest("pending sample before the chunks' samples");
  return Status::ok();
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// The store

struct TimeSeriesStore::Impl {
  explicit Impl(TsdbOptions o)
      : options(std::move(o)),
        raw_step_ms(std::chrono::milliseconds(options.raw_step).count()),
        raw_retention_ms(std::chrono::milliseconds(options.raw_retention).count()),
        rollup_step_ms(std::chrono::milliseconds(options.rollup_step).count()),
        rollup_retention_ms(std::chrono::milliseconds(options.rollup_retention).count()) {}

  void appendLocked(const std::string& name, const Labels& labels, int64_t t_ms, double v);
  void evictLocked();
  std::string encodeLocked() const;
  Status decode(std::string_view data);
  void addBytes(int64_t delta) { bytes = static_cast<size_t>(static_cast<int64_t>(bytes) + delta); }

  // --- constant after construction
  const TsdbOptions options;
  const int64_t raw_step_ms, raw_retention_ms, rollup_step_ms, rollup_retention_ms;

  mutable std::shared_mutex mu;
  std::map<std::string, SeriesByLabels> index;  // guarded by mu
  size_t series_count = 0;                      // guarded by mu
  size_t samples = 0;                           // guarded by mu
  size_t bytes = 0;                             // guarded by mu
  size_t dropped_chunks = 0;                    // guarded by mu
  size_t refused_series = 0;                    // guarded by mu
  size_t out_of_order = 0;                      // guarded by mu

  std::mutex snapshot_mu;  // one snapshot() at a time: they share the temporary file
};

void TimeSeriesStore::Impl::appendLocked(const std::string& name, const Labels& labels,
                                         int64_t t_ms, double v) {
  MemSeries* series = nullptr;
  auto by_name = index.find(name);
  if (by_name != index.end()) {
    auto it = by_name->second.find(labels);
    if (it != by_name->second.end()) series = &it->second;
  }
  if (series == nullptr) {
    if (series_count >= options.max_series) {
      ++refused_series;
      return;
    }
    if (by_name == index.end()) {
      by_name = index.try_emplace(name).first;
      addBytes(static_cast<int64_t>(nameOverheadBytes(name)));
    }
    series = &by_name->second.try_emplace(labels).first->second;
    addBytes(static_cast<int64_t>(seriesOverheadBytes(labels)));
    ++series_count;
  }
  if (t_ms <= series->newest) {
    ++out_of_order;
    return;
  }
  series->newest = t_ms;
  const Tier::Change change = series->raw.add({t_ms, v}, raw_step_ms);
  addBytes(change.bytes);
  samples += static_cast<size_t>(change.samples);
}

void TimeSeriesStore::Impl::evictLocked() {
  if (bytes <= options.max_bytes) return;
  // Down to a low watermark, so that the pass over all series is paid once per tenth of the
  // bound rather than on every append at the bound.
  const size_t target =
      static_cast<size_t>(static_cast<int64_t>(options.max_bytes) * kLowWatermarkPercent / 100);
  using Candidate = std::pair<int64_t, MemSeries*>;
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> oldest;
  for (auto& [name, by_labels] : index)
    for (auto& [labels, series] : by_labels)
      if (int64_t t = series.oldestChunkTime(); t != INT64_MAX) oldest.emplace(t, &series);
  while (bytes > target && !oldest.empty()) {
    MemSeries* series = oldest.top().second;
    oldest.pop();
    Tier& tier = series->rollup.chunks.empty() ? series->raw : series->rollup;
    const size_t before = tier.heapBytes();
    samples -= tier.chunks.front().count();
    tier.chunks.erase(tier.chunks.begin());
    tier.releaseIfEmpty();
    addBytes(static_cast<int64_t>(tier.heapBytes()) - static_cast<int64_t>(before));
    ++dropped_chunks;
    if (int64_t t = series->oldestChunkTime(); t != INT64_MAX) oldest.emplace(t, series);
  }
}

TimeSeriesStore::TimeSeriesStore(TsdbOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}

TimeSeriesStore::~TimeSeriesStore() = default;

void TimeSeriesStore::append(const std::string& name, const Labels& labels, int64_t t_ms,
                             double v) {
  std::unique_lock lock(impl_->mu);
  impl_->appendLocked(name, labels, t_ms, v);
  impl_->evictLocked();
}

void TimeSeriesStore::appendBatch(
    const std::vector<std::tuple<std::string, Labels, double>>& samples, int64_t t_ms) {
  std::unique_lock lock(impl_->mu);
  for (const auto& [name, labels, v] : samples) {
    impl_->appendLocked(name, labels, t_ms, v);
    // Within the batch too: one scrape of many new series must not overshoot the bound.
    impl_->evictLocked();
  }
}

std::vector<Series> TimeSeriesStore::select(const std::string& name,
                                            const std::vector<LabelMatcher>& matchers,
                                            int64_t start_ms, int64_t end_ms) const {
  std::vector<Series> out;
  if (start_ms > end_ms) return out;
  std::shared_lock lock(impl_->mu);
  auto by_name = impl_->index.find(name);
  if (by_name == impl_->index.end()) return out;
  for (const auto& [labels, series] : by_name->second) {
    const Labels& of_series = labels;  // clang before 16 cannot capture a structured binding
    if (!std::all_of(matchers.begin(), matchers.end(),
                     [&](const LabelMatcher& m) { return m.matches(of_series); }))
      continue;
    Series s{name, labels, {}};
    // Rollup data stands in only for what the raw tier no longer holds.
    const int64_t raw_start = series.raw.firstTime();
    if (raw_start > start_ms)
      series.rollup.collect(start_ms, std::min(end_ms, raw_start - 1), s.samples);
    series.raw.collect(std::max(start_ms, raw_start), end_ms, s.samples);
    if (!s.samples.empty()) out.push_back(std::move(s));
  }
  return out;
}

std::vector<std::string> TimeSeriesStore::names() const {
  std::shared_lock lock(impl_->mu);
  std::vector<std::string> out;
  out.reserve(impl_->index.size());
  for (const auto& [name, by_labels] : impl_->index) out.push_back(name);
  return out;
}

TsdbStats TimeSeriesStore::stats() const {
  std::shared_lock lock(impl_->mu);
  TsdbStats s;
  s.series = impl_->series_count;
  s.samples = impl_->samples;
  s.bytes = impl_->bytes;
  s.dropped_chunks = impl_->dropped_chunks;
  s.refused_series = impl_->refused_series;
  s.out_of_order = impl_->out_of_order;
  int64_t oldest = INT64_MAX, newest = INT64_MIN;
  for (const auto& [name, by_labels] : impl_->index) {
    for (const auto& [labels, series] : by_labels) {
      oldest = std::min({oldest, series.rollup.firstTime(), series.raw.firstTime()});
      newest = std::max({newest, series.rollup.lastTime(), series.raw.lastTime()});
    }
  }
  if (oldest != INT64_MAX) {
    s.oldest_ms = oldest;
    s.newest_ms = newest;
  }
  return s;
}

void TimeSeriesStore::compact(int64_t now_ms) {
  std::unique_lock lock(impl_->mu);
  Impl& d = *impl_;
  const int64_t raw_cutoff = now_ms - d.raw_retention_ms;
  const int64_t rollup_cutoff = now_ms - d.rollup_retention_ms;
  for (auto name_it = d.index.begin(); name_it != d.index.end();) {
    SeriesByLabels& by_labels = name_it->second;
    for (auto it = by_labels.begin(); it != by_labels.end();) {
      MemSeries& series = it->second;
      // Most series have nothing due; skip them without counting their chunks.
      const bool raw_due = series.raw.chunks.empty()
                               ? series.raw.has_pending && series.raw.pending.t_ms < raw_cutoff
                               : series.raw.chunks.front().maxTime() < raw_cutoff;
      const bool rollup_due =
          series.rollup.chunks.empty()
              ? series.rollup.has_pending && series.rollup.pending.t_ms < rollup_cutoff
              : series.rollup.chunks.front().maxTime() < rollup_cutoff;
      if (!raw_due && !rollup_due) {
        ++it;
        continue;
      }
      const size_t bytes_before = series.heapBytes();
      const size_t samples_before = series.sampleCount();

      // Whole raw chunks past the raw retention move down, oldest first, then the pending sample
      // once nothing newer is left in the raw tier.
      size_t moved = 0;
      while (moved < series.raw.chunks.size() && series.raw.chunks[moved].maxTime() < raw_cutoff) {
        for (const Sample& s : series.raw.chunks[moved].samples())
          series.rollup.add(s, d.rollup_step_ms);
        ++moved;
      }
      series.raw.chunks.erase(series.raw.chunks.begin(), series.raw.chunks.begin() + moved);
      if (series.raw.chunks.empty() && series.raw.has_pending &&
          series.raw.pending.t_ms < raw_cutoff) {
        series.rollup.add(series.raw.pending, d.rollup_step_ms);
        series.raw.has_pending = false;
      }

      size_t expired = 0;
      while (expired < series.rollup.chunks.size() &&
             series.rollup.chunks[expired].maxTime() < rollup_cutoff)
        ++expired;
      series.rollup.chunks.erase(series.rollup.chunks.begin(),
                                 series.rollup.chunks.begin() + expired);
      if (series.rollup.chunks.empty() && series.rollup.has_pending &&
          series.rollup.pending.t_ms < rollup_cutoff)
        series.rollup.has_pending = false;
      series.raw.releaseIfEmpty();
      series.rollup.releaseIfEmpty();

      d.addBytes(static_cast<int64_t>(series.heapBytes()) - static_cast<int64_t>(bytes_before));
      d.samples = d.samples + series.sampleCount() - samples_before;
      if (series.empty()) {
        d.addBytes(-static_cast<int64_t>(seriesOverheadBytes(it->first)));
        --d.series_count;
        it = by_labels.erase(it);
      } else {
        ++it;
      }
    }
    if (by_labels.empty()) {
      d.addBytes(-static_cast<int64_t>(nameOverheadBytes(name_it->first)));
      name_it = d.index.erase(name_it);
    } else {
      ++name_it;
    }
  }
}

std::string TimeSeriesStore::snapshotPath() const {
  return impl_->options.dir + "/" + kSnapshotFile;
}

std::string TimeSeriesStore::Impl::encodeLocked() const {
  std::string out(kSnapshotMagic);
  putVarint(out, series_count);
  for (const auto& [name, by_labels] : index) {
    for (const auto& [labels, series] : by_labels) {
      putString(out, name);
      putVarint(out, labels.size());
      for (const auto& [k, v] : labels) {
        putString(out, k);
        putString(out, v);
      }
      putFixed64(out, static_cast<uint64_t>(series.newest));
      writeTier(out, series.rollup);
      writeTier(out, series.raw);
    }
  }
  putFixed64(out, fnv1a(out));
  return out;
}

Status TimeSeriesStore::Impl::decode(std::string_view data) {
  if (data.size() < kSnapshotMagic.size() + 8 ||
      data.substr(0, kSnapshotMagic.size()) != kSnapshotMagic)
    return badRequest("not a Skiff tsdb snapshot (bad header)");
  const std::string_view body = data.substr(0, data.size() - 8);
  SnapshotReader trailer(data.substr(data.size() - 8));
  uint64_t sum;
  if (!trailer.fixed64(sum) || sum != fnv1a(body)) return badRequest("checksum mismatch");

  SnapshotReader in(body.substr(kSnapshotMagic.size()));
  uint64_t n;
  if (!in.varint(n)) return badRequest("truncated series count");
  for (uint64_t i = 0; i < n; ++i) {
    const std::string where = "series " + std::to_string(i) + ": ";
    std::string_view name;
    uint64_t nlabels;
    if (!in.string(name) || !in.varint(nlabels)) return badRequest(where + "truncated header");
    Labels labels;
    for (uint64_t j = 0; j < nlabels; ++j) {
      std::string_view k, v;
      if (!in.string(k) || !in.string(v)) return badRequest(where + "truncated labels");
      labels.emplace(std::string(k), std::string(v));
    }
    MemSeries series;
    uint64_t newest;
    if (!in.fixed64(newest)) return badRequest(where + "truncated");
    if (Status st = readTier(in, series.rollup); !st.isOk())
      return badRequest(where + "rollup tier: " + st.message());
    if (Status st = readTier(in, series.raw); !st.isOk())
      return badRequest(where + "raw tier: " + st.message());
    if (!series.rollup.empty() && !series.raw.empty() &&
        series.rollup.lastTime() >= series.raw.firstTime())
      return badRequest(where + "rollup tier overlaps the raw tier");
    series.newest =
        std::max({static_cast<int64_t>(newest), series.rollup.lastTime(), series.raw.lastTime()});
    if (series.empty()) continue;

    auto& by_labels = index[std::string(name)];
    if (by_labels.count(labels) != 0) return badRequest(where + "appears twice");
    if (series_count >= options.max_series) {
      ++refused_series;
      if (by_labels.empty()) index.erase(std::string(name));
      continue;
    }
    samples += series.sampleCount();
    bytes += series.heapBytes() + seriesOverheadBytes(labels);
    if (by_labels.empty()) bytes += nameOverheadBytes(std::string(name));
    by_labels.emplace(std::move(labels), std::move(series));
    ++series_count;
  }
  if (!in.atEnd()) return badRequest("trailing bytes after the last series");
  return Status::ok();
}

Status TimeSeriesStore::snapshot() const {
  if (impl_->options.dir.empty())
    return Status(StatusCode::kInvalid, "the time-series store is memory-only (no dir)");
  std::lock_guard snapshot_lock(impl_->snapshot_mu);
  std::string data;
  {
    // Encoding copies the compressed chunks; the file is written without holding up appends.
    std::shared_lock lock(impl_->mu);
    data = impl_->encodeLocked();
  }
  return writeFileAtomically(snapshotPath(), data);
}

Result<std::unique_ptr<TimeSeriesStore>> TimeSeriesStore::open(TsdbOptions options) {
  auto store = std::make_unique<TimeSeriesStore>(std::move(options));
  const std::string& dir = store->impl_->options.dir;
  if (dir.empty()) return store;
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return unavailable("cannot create the tsdb directory " + dir + ": " + ec.message());
  const std::string path = store->snapshotPath();
  auto data = readWholeFile(path);
  if (!data.ok()) {
    if (data.status().code() == StatusCode::kNotFound) return store;
    return data.status();
  }
  Impl& impl = *store->impl_;
  if (Status st = impl.decode(*data); !st.isOk()) {
    return internalError("tsdb snapshot " + path + " is corrupt: " + st.message() +
                         "; move it aside to start with an empty store");
  }
  impl.evictLocked();
  return store;
}

}  // namespace skiff::observe
