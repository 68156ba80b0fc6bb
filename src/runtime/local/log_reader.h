// LogFileCursor: reads the log files a LogFileWriter writes (DIR/current.log and its rotated
// predecessors current.log.1, .2, ...; see log_files.h), oldest line first.
//
// Where it starts: `tail_lines` counts newlines backwards from the end of current.log and on
// into rotated files, reading fixed-size blocks, so the last lines of a large log cost what
// they hold, not the whole file; `since` skips whole files whose first line is older, then
// drops the older lines of the file it starts in (the writer's timestamps only grow, so what
// follows is newer). Lines are returned only once complete: a line without its newline yet is
// held back until the writer ends it.
//
// Following: the cursor keeps its current file open and reads on from its offset. When the
// file stops being DIR/current.log (rotated: renamed to current.log.1 and recreated; or the
// whole directory moved away when the instance was removed), it reads the old file to its end
// (the writer closes a file before renaming it), then the files of the directory that are
// newer than it, oldest first, and goes on with the new current.log. A directory that
// disappears and comes back (a restarted instance writes a new current.log) is therefore
// followed into the new run. `follow_dir` lets a cursor start in one directory (the logs kept
// from a removed run) and follow another (where the next run writes).
//
// Not thread-safe: one caller at a time. It owns one open file descriptor.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "runtime/log_source.h"

namespace skiff::runtime {

// One file of a log directory, as seen when it was listed.
struct LogFileEntry {
  std::string path;
  dev_t dev = 0;
  ino_t ino = 0;
};

// The log files in `dir`, oldest first: current.log.N, ..., current.log.1, current.log.
// Empty when the directory does not exist.
std::vector<LogFileEntry> listLogFiles(const std::string& dir);

// Splits "<timestamp> <stdout|stderr> <text>". A line not in that form (never written by a
// LogFileWriter) comes back as text with `fallback_time`.
LogLine parseLogLine(std::string_view raw, std::chrono::system_clock::time_point fallback_time);

class LogFileCursor final : public LogCursor {
 public:
  struct Options {
    std::string dir{};         // where reading starts
    std::string follow_dir{};  // where new lines are looked for; empty: `dir`
    std::optional<std::chrono::system_clock::time_point> since{};
    std::optional<int64_t> tail_lines{};
    bool follow = false;
  };
  // Block size for reading backwards and forwards.
  static constexpr size_t kBlockBytes = 64 * 1024;

  static Result<std::unique_ptr<LogFileCursor>> open(Options options);
  ~LogFileCursor() override;
  LogFileCursor(const LogFileCursor&) = delete;
  LogFileCursor& operator=(const LogFileCursor&) = delete;

  Result<State> read(std::vector<LogLine>* out, size_t max_bytes) override;

 private:
  explicit LogFileCursor(Options options);
  // Positions the cursor where the query starts.
  Status seekStart();
  // Switches to `entry` at `offset`; false if the file is gone or is no longer that file.
  bool openFile(const LogFileEntry& entry, off_t offset);
  void closeFile();
  // Reads the open file from offset_ to its end (or until `budget` bytes were added);
  // returns whether it reached the end.
  Result<bool> drain(std::vector<LogLine>* out, size_t* budget);
  void emit(std::string_view raw, std::vector<LogLine>* out, size_t* budget);

  // Constant after construction.
  const Options options_;
  // The directory listed for the files after the open one: options_.dir until the initial
  // read has caught up with it, then follow_dir.
  std::string listing_dir_;
  bool caught_up_ = false;
  int fd_ = -1;
  dev_t dev_ = 0;
  ino_t ino_ = 0;
  off_t offset_ = 0;
  std::string partial_;  // bytes of the open file after its last newline
  std::chrono::system_clock::time_point last_time_{};
};

}  // namespace skiff::runtime
