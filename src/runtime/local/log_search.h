// Log search over the files a LogFileWriter writes (log_files.h): which lines a query keeps
// (LogMatcher), and the newest matching lines of several logs (searchLogFiles()).
//
// How a search reads: each log's files are taken newest first; a file whose lines all lie
// outside the time range is skipped by its first line's time and the next file's, and in the
// others LogIndexCache (log_index.h) narrows the bytes to read to the range. Those bytes are
// read backwards in 1 MiB blocks, newest first, so a search that finds `limit` lines near the
// end stops there; within a block, candidate lines are found with memmem() on the pattern's
// literal (for a regular expression, a literal every match must contain, when one can be told;
// with ignore_case, on a lower-cased copy of the block), and only those lines are parsed and
// checked. Nothing holds more than a block of a file in memory.
//
// A LogMatcher is immutable once compiled and may be shared between threads; searchLogFiles()
// is thread-safe as its LogIndexCache is.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "runtime/local/log_index.h"
#include "runtime/log_source.h"

namespace re2 {
class RE2;
}

namespace skiff::runtime {

class LogMatcher {
 public:
  // Patterns longer than this are refused.
  static constexpr size_t kMaxPatternBytes = 1024;

  // kBadRequest, saying what is wrong, for a regular expression that does not compile. The
  // syntax is RE2's (as Go's regexp): matching takes time linear in the line, whatever the
  // pattern, so back-references and lookaround do not exist.
  static Result<LogMatcher> compile(const std::string& pattern, bool regex, bool ignore_case);

  bool matchesEverything() const { return pattern_.empty(); }
  bool ignoreCase() const { return ignore_case_; }
  // Whether a line whose text (without time and stream) is `text` matches.
  bool matches(std::string_view text) const;
  // False when no line of `lines` (whole lines, with their time and stream) can match: one pass
  // of the automaton over a block spares a call per line for a pattern with no telling literal.
  bool mayMatchIn(std::string_view lines) const;
  // Every matching line contains one of these (lower-cased when ignoring case); empty when
  // nothing can be told, and every line is a candidate.
  const std::vector<std::string>& literals() const { return literals_; }

 private:
  LogMatcher() = default;

  std::string pattern_;
  bool ignore_case_ = false;
  bool regex_ = false;
  std::shared_ptr<const re2::RE2> compiled_;  // immutable, shared by copies
  // The same pattern kept within a line, for mayMatchIn(); null for anchored patterns, whose ^
  // and $ mean the ends of a line's text, which a block does not show.
  std::shared_ptr<const re2::RE2> within_lines_;
  std::vector<std::string> literals_;
};

// Literals one of which every match of the regular expression `pattern` contains:
// the longest literal run of each top-level alternative; empty when some alternative has none
// that can be told without a full parse (the answer errs towards "none").
std::vector<std::string> requiredLiterals(std::string_view pattern);

// One log to search: the directories holding its files, oldest first (a kept run before the
// live one), and the names its lines carry.
struct SearchedLog {
  std::string instance;
  std::string component;
  std::vector<std::string> dirs;
};

// The newest lines of `logs` that `matcher` keeps, in [query.since, query.until), at most
// query.limit of them (and about query.max_bytes of text), merged oldest first.
LogSearchResult searchLogFiles(const std::vector<SearchedLog>& logs, const LogMatcher& matcher,
                               const LogSearchQuery& query, LogIndexCache& index);

}  // namespace skiff::runtime
