// LogSource: where the API reads the output of instances, whichever backend runs them.
//
// Each instance's log is a sequence of timestamped lines (its stdout and stderr). A LogCursor
// reads one instance's log from a starting point chosen by a LogQuery (the last N lines, the
// lines since a time, the current or the previous run) and, when following, keeps returning
// new lines as the instance writes them. instancesOf() says which instances of an application
// have logs: live ones, and deleted ones whose logs are still kept for retention.
//
// A LogSearcher finds the lines that match a pattern in a time range across many instances'
// logs (every run kept of each), and in the platform's own logs (the server's, the gateway's),
// answering the newest `limit` of them; a backend that keeps logs as files implements it with
// an index, so a time range seeks instead of reading everything.
//
// A LogSource and a LogSearcher are thread-safe; a LogCursor is used by one thread at a time
// and owns whatever it reads from (open files), released on destruction.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace skiff::runtime {

struct LogLine {
  std::chrono::system_clock::time_point time;
  bool is_stderr = false;
  std::string text;  // without the newline
};

struct LogQuery {
  // The run before the current one (after a restart), instead of the current one.
  bool previous = false;
  // Only lines written at or after this time.
  std::optional<std::chrono::system_clock::time_point> since{};
  // Only the last N lines (of those `since` selects).
  std::optional<int64_t> tail_lines{};
  // Keep returning new lines as they are written, also across restarts of the instance.
  bool follow = false;
};

class LogCursor {
 public:
  enum class State {
    kMore,  // more lines can be read at once
    kIdle,  // following: nothing new yet, read again later
    kEnd,   // no line will ever come
  };
  virtual ~LogCursor() = default;
  // Appends the lines available now to `out`, stopping once about `max_bytes` of text were
  // added. Only complete lines are returned: a line still being written waits for its end.
  virtual Result<State> read(std::vector<LogLine>* out, size_t max_bytes) = 0;
};

struct LoggedInstance {
  std::string name;
  std::string component;
  // An Instance object exists; otherwise the instance was deleted and only its logs remain.
  bool live = false;
};

class LogSource {
 public:
  virtual ~LogSource() = default;
  // A cursor over the log of `instance` in `tenant`. kNotFound when the instance neither
  // exists nor left logs behind, or when `query.previous` asks for a run it does not have.
  virtual Result<std::unique_ptr<LogCursor>> open(const std::string& tenant,
                                                  const std::string& instance,
                                                  const LogQuery& query) = 0;
  // The instances of `application` that exist or whose logs are kept, sorted by name.
  virtual Result<std::vector<LoggedInstance>> instancesOf(const std::string& tenant,
                                                          const std::string& application) = 0;
  // How long logs of deleted instances (and of earlier runs) are kept; for messages.
  virtual std::chrono::seconds retention() const = 0;
};

struct LogSearchQuery {
  // Lines whose text contains this (or, with `regex`, matches it: ECMAScript syntax); empty
  // keeps every line.
  std::string pattern;
  bool regex = false;
  bool ignore_case = false;
  // Lines written at or after `since` and before `until`.
  std::optional<std::chrono::system_clock::time_point> since{};
  std::optional<std::chrono::system_clock::time_point> until{};
  // At most this many lines, the newest ones, and at most about `max_bytes` of text.
  size_t limit = 1000;
  size_t max_bytes = 64 << 20;
  // A search still reading then stops with what it found (LogSearchResult::incomplete).
  std::optional<std::chrono::steady_clock::time_point> deadline{};
};

struct FoundLogLine {
  LogLine line;
  std::string instance;
  std::string component;
};

struct LogSearchResult {
  std::vector<FoundLogLine> lines;  // oldest first
  // More lines matched than `limit` (or `max_bytes`) let through: the oldest were left out.
  bool truncated = false;
  // The deadline passed before every line in range was read: older matches may be missing.
  bool incomplete = false;
  uint64_t scanned_bytes = 0;
  // Instances this searcher holds no logs of (e.g. a pod of a Kubernetes cluster): the caller
  // reads those through a LogSource.
  std::vector<std::string> not_searched;
};

class LogSearcher {
 public:
  virtual ~LogSearcher() = default;
  // Searches every run kept of each of `instances` (of `tenant`). kBadRequest when the query's
  // pattern is not a valid regular expression.
  virtual Result<LogSearchResult> search(const std::string& tenant,
                                         const std::vector<LoggedInstance>& instances,
                                         const LogSearchQuery& query) = 0;
  // The platform's own components whose logs searchPlatform() reads ("server", "gateway").
  virtual std::vector<std::string> platformComponents() const = 0;
  // Searches the logs of the platform's `components` (all of them when empty); each line's
  // instance and component are the component's name.
  virtual Result<LogSearchResult> searchPlatform(const std::vector<std::string>& components,
                                                 const LogSearchQuery& query) = 0;
};

}  // namespace skiff::runtime
