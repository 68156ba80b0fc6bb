#include "runtime/local/log_search.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>

#include <re2/re2.h>

#include "common/files.h"
#include "runtime/local/log_files.h"
#include "runtime/local/log_reader.h"

namespace skiff::runtime {

namespace {

using std::chrono::milliseconds;
using std::chrono::system_clock;

constexpr size_t kTimestampBytes = 24;  // "2026-11-22T05:09:30.123Z"
constexpr size_t kBlockBytes = 1 << 20;
constexpr size_t kMaxAlternatives = 8;
constexpr int64_t kNoTime = std::numeric_limits<int64_t>::min();

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + ('a' - 'A')) : c; }

std::string lowered(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = lower(c);
  return out;
}

// ASCII lower-casing of a block, eight bytes at a time: for each byte below 0x80, the high bit
// of (b + 0x80 - 'A') says b >= 'A' and that of (b + 0x7F - 'Z') says b > 'Z'.
void lowerInto(const char* data, size_t n, std::string* out) {
  out->resize(n);
  char* o = out->data();
  constexpr uint64_t kOnes = 0x0101010101010101ULL;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t x;
    std::memcpy(&x, data + i, 8);
    const uint64_t low7 = x & (0x7F * kOnes);
    const uint64_t ge_a = low7 + (0x80 - 'A') * kOnes;
    const uint64_t gt_z = low7 + (0x7F - 'Z') * kOnes;
    const uint64_t upper = ~x & (ge_a ^ gt_z) & (0x80 * kOnes);
    x |= upper >> 2;
    std::memcpy(o + i, &x, 8);
  }
  for (; i < n; ++i) o[i] = lower(data[i]);
}

int64_t toMillis(system_clock::time_point t) {
  return std::chrono::duration_cast<milliseconds>(t.time_since_epoch()).count();
}

// A raw line "<timestamp> <stdout|stderr> <text>" taken apart without copying; a line in
// another form is all text, with no time.
struct RawLine {
  int64_t ms = kNoTime;
  bool is_stderr = false;
  std::string_view text;
};

RawLine splitRawLine(std::string_view raw) {
  RawLine line;
  line.text = raw;
  system_clock::time_point t;
  if (raw.size() <= kTimestampBytes || raw[kTimestampBytes] != ' ' ||
      !parseTimestampMillis(raw.substr(0, kTimestampBytes), &t))
    return line;
  line.ms = toMillis(t);
  std::string_view rest = raw.substr(kTimestampBytes + 1);
  for (std::string_view stream : {std::string_view("stdout"), std::string_view("stderr")}) {
    if (rest.substr(0, stream.size()) == stream &&
        (rest.size() == stream.size() || rest[stream.size()] == ' ')) {
      line.is_stderr = stream == "stderr";
      rest.remove_prefix(std::min(rest.size(), stream.size() + 1));
      break;
    }
  }
  line.text = rest;
  return line;
}

// The index just after the class that starts at p[i] == '[', or npos if it does not end.
size_t skipClass(std::string_view p, size_t i) {
  size_t j = i + 1;
  if (j < p.size() && p[j] == '^') ++j;
  for (; j < p.size(); ++j) {
    if (p[j] == '\\') {
      ++j;
    } else if (p[j] == ']') {
      return j + 1;
    }
  }
  return std::string_view::npos;
}

// The index just after the group that starts at p[i] == '(', or npos if it does not end.
size_t skipGroup(std::string_view p, size_t i) {
  int depth = 0;
  for (size_t j = i; j < p.size();) {
    if (p[j] == '\\') {
      j += 2;
    } else if (p[j] == '[') {
      j = skipClass(p, j);
      if (j == std::string_view::npos) return j;
    } else {
      if (p[j] == '(') ++depth;
      if (p[j] == ')' && --depth == 0) return j + 1;
      ++j;
    }
  }
  return std::string_view::npos;
}

// The longest run of literal characters that every match of `p`, an alternative without a
// top-level '|', must contain; empty when there is none (or `p` is not understood).
std::string longestRequiredRun(std::string_view p) {
  std::string best, run;
  auto cut = [&] {
    if (run.size() > best.size()) best = run;
    run.clear();
  };
  for (size_t i = 0; i < p.size();) {
    const char c = p[i];
    if (c == '\\') {
      if (i + 1 >= p.size()) return "";
      const char e = p[i + 1];
      i += 2;
      // \d, \w, \b, \1, \x41, \u0041, \cX ...: not one literal byte.
      if ((e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z') || (e >= '0' && e <= '9')) {
        cut();
      } else {
        run += e;
      }
    } else if (c == '(' || c == '[') {
      // A group or a class: what it holds is not one literal run.
      cut();
      i = c == '(' ? skipGroup(p, i) : skipClass(p, i);
      if (i == std::string_view::npos) return "";
    } else if (c == '*' || c == '?' || c == '{') {
      // The atom before may be absent ({0,...}) or repeated: it ends the run either way.
      bool optional = c != '{';
      if (c == '{') {
        const size_t close = p.find('}', i);
        if (close == std::string_view::npos) return "";
        const std::string_view body = p.substr(i + 1, close - i - 1);
        optional = body.empty() || body[0] < '1' || body[0] > '9';
        i = close + 1;
      } else {
        ++i;
      }
      if (optional && !run.empty()) run.pop_back();
      cut();
    } else if (c == '+' || c == '.' || c == '^' || c == '$' || c == ')' || c == ']' || c == '}') {
      cut();
      ++i;
    } else {
      run += c;
      ++i;
    }
  }
  cut();
  return best;
}

}  // namespace

std::vector<std::string> requiredLiterals(std::string_view pattern) {
  // ECMAScript's "[]" (nothing) and "[^]" (anything) are read differently elsewhere: no guess.
  if (pattern.find("[]") != std::string_view::npos || pattern.find("[^]") != std::string_view::npos)
    return {};
  // Split at top-level '|' (outside groups, classes and escapes).
  std::vector<std::string_view> alternatives;
  size_t start = 0;
  for (size_t i = 0; i < pattern.size();) {
    const char c = pattern[i];
    if (c == '\\') {
      i += 2;
    } else if (c == '[' || c == '(') {
      i = c == '[' ? skipClass(pattern, i) : skipGroup(pattern, i);
      if (i == std::string_view::npos) return {};
    } else {
      if (c == '|') {
        alternatives.push_back(pattern.substr(start, i - start));
        start = i + 1;
      }
      ++i;
    }
  }
  alternatives.push_back(pattern.substr(std::min(start, pattern.size())));
  if (alternatives.size() > kMaxAlternatives) return {};
  std::vector<std::string> out;
  for (std::string_view a : alternatives) {
    std::string literal = longestRequiredRun(a);
    if (literal.empty()) return {};
    out.push_back(std::move(literal));
  }
  // One literal inside another: the shorter one finds both.
  std::sort(out.begin(), out.end(),
            [](const std::string& a, const std::string& b) { return a.size() < b.size(); });
  std::vector<std::string> kept;
  for (auto& l : out) {
    bool covered = false;
    for (const auto& k : kept) covered = covered || l.find(k) != std::string::npos;
    if (!covered) kept.push_back(std::move(l));
  }
  return kept;
}

namespace {

// Whether `pattern` uses ^, $, \A or \z outside a character class ([^ ] is a negation).
bool anchored(std::string_view pattern) {
  bool in_class = false;
  for (size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (c == '\\') {
      if (i + 1 < pattern.size() && !in_class && (pattern[i + 1] == 'A' || pattern[i + 1] == 'z'))
        return true;
      ++i;
    } else if (in_class) {
      in_class = c != ']';
    } else if (c == '[') {
      in_class = true;
      // A ] first in a class (after an optional ^) is a literal, not its end.
      if (i + 1 < pattern.size() && pattern[i + 1] == '^') ++i;
      if (i + 1 < pattern.size() && pattern[i + 1] == ']') ++i;
    } else if (c == '^' || c == '$') {
      return true;
    }
  }
  return false;
}

}  // namespace

Result<LogMatcher> LogMatcher::compile(const std::string& pattern, bool regex, bool ignore_case) {
  if (pattern.size() > kMaxPatternBytes)
    return badRequest("the pattern is " + std::to_string(pattern.size()) + " bytes long; at most " +
                      std::to_string(kMaxPatternBytes) + " are allowed");
  LogMatcher m;
  m.pattern_ = pattern;
  m.ignore_case_ = ignore_case;
  m.regex_ = regex && !pattern.empty();
  if (!m.regex_) {
    if (!pattern.empty()) m.literals_ = {ignore_case ? lowered(pattern) : pattern};
    return m;
  }
  // RE2: a DFA where it can, time linear in the line whatever the pattern, memory bounded.
  RE2::Options options;
  options.set_case_sensitive(!ignore_case);
  options.set_log_errors(false);
  options.set_max_mem(8 << 20);
  auto compiled = std::make_shared<const RE2>(pattern, options);
  if (!compiled->ok())
    return badRequest("\"" + pattern +
                      "\" is not a valid regular expression: " + compiled->error() +
                      " (the syntax is RE2's, as Go's regexp: no back-references or lookaround)");
  m.compiled_ = std::move(compiled);
  if (!anchored(pattern)) {
    options.set_never_nl(true);
    auto within = std::make_shared<const RE2>(pattern, options);
    if (within->ok()) m.within_lines_ = std::move(within);
  }
  m.literals_ = requiredLiterals(pattern);
  if (ignore_case)
    for (auto& l : m.literals_) l = lowered(l);
  return m;
}

bool LogMatcher::mayMatchIn(std::string_view lines) const {
  if (!within_lines_) return true;
  return RE2::PartialMatch(re2::StringPiece(lines.data(), lines.size()), *within_lines_);
}

bool LogMatcher::matches(std::string_view text) const {
  if (pattern_.empty()) return true;
  if (regex_) return RE2::PartialMatch(re2::StringPiece(text.data(), text.size()), *compiled_);
  if (!ignore_case_) return text.find(pattern_) != std::string_view::npos;
  const std::string& needle = literals_.front();
  return std::search(text.begin(), text.end(), needle.begin(), needle.end(),
                     [](char a, char b) { return lower(a) == b; }) != text.end();
}

namespace {

struct Hit {
  int64_t ms = 0;
  bool is_stderr = false;
  std::string text;
};

// One file of a log, opened.
struct OpenFile {
  LogIndexCache::File file;
  std::optional<int64_t> first_ms;
  ~OpenFile() {
    if (file.fd >= 0) ::close(file.fd);
  }
  OpenFile() = default;
  OpenFile(OpenFile&& o) noexcept : file(o.file), first_ms(o.first_ms) { o.file.fd = -1; }
  OpenFile& operator=(OpenFile&&) = delete;
  OpenFile(const OpenFile&) = delete;
};

// The files of `dirs`, oldest first, each opened (so a rotation after this cannot move the
// bytes away), without the same file twice (a directory moved while it was listed).
std::vector<OpenFile> openLogFiles(const std::vector<std::string>& dirs) {
  std::vector<OpenFile> out;
  std::set<std::pair<dev_t, ino_t>> seen;
  for (const auto& dir : dirs) {
    for (const LogFileEntry& entry : listLogFiles(dir)) {
      OpenFile f;
      f.file.fd = ::open(entry.path.c_str(), O_RDONLY | O_CLOEXEC);
      if (f.file.fd < 0) continue;  // rotated away: its lines are in the next file listed
      struct stat st;
      if (::fstat(f.file.fd, &st) != 0 || !seen.insert({st.st_dev, st.st_ino}).second) continue;
      f.file.dev = st.st_dev;
      f.file.ino = st.st_ino;
      f.file.size = st.st_size;
      out.push_back(std::move(f));
    }
  }
  return out;
}

// Reads one log's files newest first and collects its newest matching lines.
class LogScan {
 public:
  LogScan(const LogMatcher& matcher, const LogSearchQuery& query, LogIndexCache& index,
          std::vector<char>& block, std::string& folded)
      : matcher_(matcher), index_(index), block_(block), folded_(folded) {
    if (query.since) since_ = toMillis(*query.since);
    if (query.until) until_ = toMillis(*query.until);
    deadline_ = query.deadline;
  }

  // Up to `want` newest hits of the files, newest first, none older than `floor`.
  void run(std::vector<OpenFile>& files, size_t want, size_t max_bytes, int64_t floor) {
    want_ = want;
    max_bytes_ = max_bytes;
    floor_ = floor;
    for (auto& f : files) f.first_ms = index_.firstTime(f.file);
    for (size_t i = files.size(); i-- > 0 && !done_;) {
      // Every line of file i is at most as new as the next file's first line.
      std::optional<int64_t> upper;
      if (i + 1 < files.size()) upper = files[i + 1].first_ms;
      if (upper && ((since_ && *upper < *since_) || *upper < floor_)) break;
      if (until_ && files[i].first_ms && *files[i].first_ms >= *until_) continue;
      const auto range = index_.range(files[i].file, since_, until_);
      scanBackwards(files[i].file.fd, range.begin, range.end);
    }
  }

  std::vector<Hit>& hits() { return newest_first_; }
  bool full() const { return full_; }
  bool incomplete() const { return incomplete_; }
  uint64_t scanned() const { return scanned_; }

 private:
  void scanBackwards(int fd, off_t begin, off_t end) {
    off_t hi = end;
    while (hi > begin && !done_) {
      if (deadline_ && std::chrono::steady_clock::now() >= *deadline_) {
        incomplete_ = true;
        done_ = true;
        return;
      }
      const off_t lo = std::max<off_t>(begin, hi - static_cast<off_t>(kBlockBytes));
      // One byte before `lo` tells whether `lo` starts a line.
      const off_t from = lo > begin ? lo - 1 : lo;
      const size_t want = static_cast<size_t>(hi - from);
      if (block_.size() < want) block_.resize(want);
      const ssize_t n = preadFully(fd, block_.data(), want, from);
      if (n <= 0) return;
      scanned_ += static_cast<uint64_t>(n);
      std::string_view data(block_.data(), static_cast<size_t>(n));
      size_t first = 0;
      if (lo > begin) {
        const size_t nl = data.find('\n');
        if (nl == std::string_view::npos) {
          // Inside one line longer than a block (never written by LogFileWriter): skipped.
          hi = lo;
          continue;
        }
        first = nl + 1;
      }
      scanBlock(data, first);
      hi = from + static_cast<off_t>(first);
    }
  }

  // The complete lines of data[first..]: the candidates found, checked, the matches kept.
  void scanBlock(std::string_view data, size_t first) {
    const size_t last_nl = data.rfind('\n');
    if (last_nl == std::string_view::npos || last_nl < first) return;
    const size_t end = last_nl + 1;
    if (!matcher_.mayMatchIn(data.substr(first, end - first))) return;
    std::string_view hay = data;
    if (matcher_.ignoreCase() && !matcher_.literals().empty()) {
      lowerInto(data.data(), end, &folded_);
      hay = folded_;
    }
    const auto& literals = matcher_.literals();
    std::vector<size_t> next(literals.size(), 0);  // next occurrence of each literal
    std::vector<bool> known(literals.size(), false);
    std::vector<Hit> found;
    for (size_t pos = first; pos < end;) {
      size_t cand = pos;
      if (!literals.empty()) {
        cand = std::string_view::npos;
        for (size_t k = 0; k < literals.size(); ++k) {
          if (!known[k] || (next[k] != std::string_view::npos && next[k] < pos)) {
            const void* at =
                memmem(hay.data() + pos, end - pos, literals[k].data(), literals[k].size());
            next[k] = at == nullptr
                          ? std::string_view::npos
                          : static_cast<size_t>(static_cast<const char*>(at) - hay.data());
            known[k] = true;
          }
          cand = std::min(cand, next[k]);
        }
        if (cand == std::string_view::npos) break;
      }
      size_t line_start = pos;
      if (cand > pos) {
        const void* nl = memrchr(data.data() + pos, '\n', cand - pos);
        if (nl != nullptr)
          line_start = static_cast<size_t>(static_cast<const char*>(nl) - data.data()) + 1;
      }
      const size_t line_end = data.find('\n', cand);
      pos = line_end + 1;
      const RawLine line = splitRawLine(data.substr(line_start, line_end - line_start));
      if (line.ms != kNoTime) {
        if (since_ && line.ms < *since_) continue;
        if (until_ && line.ms >= *until_) continue;
        if (line.ms < floor_) continue;
      }
      if (!matcher_.matches(line.text)) continue;
      found.push_back({line.ms, line.is_stderr, std::string(line.text)});
    }
    // Newest first, as many as are still wanted.
    for (size_t i = found.size(); i-- > 0;) {
      if (newest_first_.size() >= want_ || bytes_ >= max_bytes_) {
        full_ = true;
        done_ = true;
        break;
      }
      bytes_ += found[i].text.size();
      newest_first_.push_back(std::move(found[i]));
    }
    // A block whose oldest line is older than the floor ends the search of this log.
    const int64_t oldest_ms = firstTimeOf(data.substr(first));
    if (oldest_ms != kNoTime && oldest_ms < floor_) done_ = true;
  }

  static int64_t firstTimeOf(std::string_view lines) {
    const size_t nl = lines.find('\n');
    return splitRawLine(lines.substr(0, nl == std::string_view::npos ? lines.size() : nl)).ms;
  }

  const LogMatcher& matcher_;
  LogIndexCache& index_;
  std::vector<char>& block_;
  std::string& folded_;
  std::optional<int64_t> since_, until_;
  std::optional<std::chrono::steady_clock::time_point> deadline_;
  bool incomplete_ = false;
  size_t want_ = 0;
  size_t max_bytes_ = 0;
  int64_t floor_ = kNoTime;
  std::vector<Hit> newest_first_;
  size_t bytes_ = 0;
  bool full_ = false;  // stopped with more matches left
  bool done_ = false;
  uint64_t scanned_ = 0;
};

}  // namespace

LogSearchResult searchLogFiles(const std::vector<SearchedLog>& logs, const LogMatcher& matcher,
                               const LogSearchQuery& query, LogIndexCache& index) {
  struct Tagged {
    Hit hit;
    size_t log;
    size_t order;  // within its log, oldest first
  };
  LogSearchResult result;
  const size_t limit = std::max<size_t>(query.limit, 1);
  std::vector<char> block;
  std::string folded;
  std::vector<Tagged> all;
  // The (limit+1)-th newest time found so far: an older line can no longer be shown, and more
  // matches than the limit are already known.
  int64_t floor = kNoTime;
  for (size_t l = 0; l < logs.size(); ++l) {
    std::vector<OpenFile> files = openLogFiles(logs[l].dirs);
    LogScan scan(matcher, query, index, block, folded);
    scan.run(files, limit + 1, query.max_bytes + 1, floor);
    result.scanned_bytes += scan.scanned();
    auto& hits = scan.hits();
    for (size_t i = 0; i < hits.size(); ++i) {
      all.push_back({std::move(hits[i]), l, hits.size() - i});
    }
    if (scan.full()) result.truncated = true;
    if (scan.incomplete()) result.incomplete = true;
    if (all.size() > limit) {
      std::vector<int64_t> times;
      times.reserve(all.size());
      for (const auto& t : all) times.push_back(t.hit.ms);
      std::nth_element(times.begin(), times.begin() + limit, times.end(), std::greater<>());
      floor = std::max(floor, times[limit]);
    }
  }
  std::stable_sort(all.begin(), all.end(), [](const Tagged& a, const Tagged& b) {
    if (a.hit.ms != b.hit.ms) return a.hit.ms < b.hit.ms;
    if (a.log != b.log) return a.log < b.log;
    return a.order < b.order;
  });
  size_t first = all.size() > limit ? all.size() - limit : 0;
  if (first > 0) result.truncated = true;
  // Keep within max_bytes, dropping the oldest.
  size_t kept_bytes = 0;
  size_t cut = all.size();
  while (cut > first && kept_bytes + all[cut - 1].hit.text.size() <= query.max_bytes) {
    kept_bytes += all[cut - 1].hit.text.size();
    --cut;
  }
  if (cut > first) result.truncated = true;
  first = cut;
  for (size_t i = first; i < all.size(); ++i) {
    auto& t = all[i];
    FoundLogLine line;
    line.line.time = system_clock::time_point(milliseconds(t.hit.ms == kNoTime ? 0 : t.hit.ms));
    line.line.is_stderr = t.hit.is_stderr;
    line.line.text = std::move(t.hit.text);
    line.instance = logs[t.log].instance;
    line.component = logs[t.log].component;
    result.lines.push_back(std::move(line));
  }
  return result;
}

}  // namespace skiff::runtime
