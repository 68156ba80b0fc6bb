// LogFileWriter: the per-instance log files a shim writes from its workload's stdout/stderr.
//
// Each line is written as "<RFC 3339 UTC time with milliseconds> <stream> <text>\n", e.g.
// "2026-11-22T05:09:30.123Z stdout hello", into DIR/current.log. When the next line would
// take current.log past LogLimits::max_bytes, the files shift (current.log -> current.log.1
// -> current.log.2 ...) and the oldest beyond LogLimits::files is deleted, so an instance
// never holds more than about files * max_bytes on disk.
//
// A LogFileWriter owns its open file. It is not thread-safe: the shim's single loop uses it.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"
#include "runtime/local/driver.h"

namespace skiff::runtime {

enum class LogStream { kStdout, kStderr };

const char* streamName(LogStream stream);

// "2026-11-22T05:09:30.123Z".
std::string formatTimestampMillis(std::chrono::system_clock::time_point t);
// Inverse of formatTimestampMillis; false if `text` is not in exactly that form.
bool parseTimestampMillis(std::string_view text, std::chrono::system_clock::time_point* out);

// The text of the last stderr line in `log_file` (a file LogFileWriter wrote), looking only at
// its final few KiB; empty if there is none. Used to say why a workload exited.
std::string lastStderrLine(const std::string& log_file);

class LogFileWriter {
 public:
  static constexpr const char* kCurrentName = "current.log";
  // A line longer than this is written in pieces, so a workload that never prints a newline
  // cannot make the shim buffer without bound.
  static constexpr size_t kMaxLineBytes = 16 * 1024;

  // Opens (appending to) DIR/current.log; `dir` is created if missing.
  static Result<std::unique_ptr<LogFileWriter>> open(std::string dir, LogLimits limits);
  ~LogFileWriter();
  LogFileWriter(const LogFileWriter&) = delete;
  LogFileWriter& operator=(const LogFileWriter&) = delete;

  // Adds bytes read from `stream` at `now`. Complete lines are written; a trailing partial
  // line waits (per stream) for its newline, for kMaxLineBytes, or for flush().
  Status append(LogStream stream, std::string_view data, std::chrono::system_clock::time_point now);
  // Writes any partial lines, each ended with a newline (at end of output).
  Status flush(std::chrono::system_clock::time_point now);

  std::string currentPath() const { return dir_ + "/" + kCurrentName; }
  // Path of the file rotated `n` times (n >= 1).
  std::string rotatedPath(int n) const { return currentPath() + "." + std::to_string(n); }

 private:
  LogFileWriter(std::string dir, LogLimits limits, int fd, int64_t size);
  Status writeLine(LogStream stream, std::string_view text,
                   std::chrono::system_clock::time_point now);
  Status rotate();

  // Constant after construction.
  const std::string dir_;
  const LogLimits limits_;
  // Mutable state of the single writer.
  int fd_ = -1;
  int64_t size_ = 0;        // bytes in current.log
  std::string partial_[2];  // per LogStream: bytes after the last newline
};

}  // namespace skiff::runtime
