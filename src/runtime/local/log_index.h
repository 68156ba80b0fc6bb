// LogIndexCache: a sparse time index of the log files a LogFileWriter writes (log_files.h), so
// that a search for a time range reads only the part of each file inside the range.
//
// For every kStride bytes of a file, an index knows (once asked) where the first line starting
// at or after that offset begins, and that line's time. Entries are filled lazily by the probes
// of binary searches: finding where a range starts in a 10 MiB file reads about 8 windows of a
// few KiB, not the file, and later searches of the same file reuse what was found. A log file
// only ever grows (current.log is appended to; a rotated file never changes again), so an entry
// once known stays true. The cache keys each file's index by device and inode, which rotation's
// renames and the move into the kept logs directory preserve; it compares the file's first
// bytes to notice an inode reused by a new file, and forgets the least recently used files past
// `max_files`.
//
// Thread-safe: each file's index has its own lock, held while its entries are probed.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>

namespace skiff::runtime {

class LogIndexCache {
 public:
  static constexpr off_t kStride = 64 * 1024;
  // Milliseconds since the epoch of a line; kNever stands for "no line here yet".
  static constexpr int64_t kNever = std::numeric_limits<int64_t>::max();

  // An open log file, as listed.
  struct File {
    int fd = -1;
    dev_t dev = 0;
    ino_t ino = 0;
    off_t size = 0;  // bytes to consider (what fstat said when the search began)
  };
  // [begin, end) holds every line of the file with a time in [since, until): both are line
  // starts (or `size`). Lines outside the range may remain at its edges, within a stride.
  struct Range {
    off_t begin = 0;
    off_t end = 0;
  };

  explicit LogIndexCache(size_t max_files = 4096) : max_files_(max_files) {}

  Range range(const File& file, std::optional<int64_t> since_ms, std::optional<int64_t> until_ms);
  // The time of the file's first line; nullopt when it has none yet or it has no timestamp.
  std::optional<int64_t> firstTime(const File& file);

  // Files indexed now, and windows read by probes so far (for tests and benchmarks).
  size_t files() const;
  uint64_t probes() const;

 private:
  struct Entry {
    off_t line = -1;  // -1: not known yet
    int64_t ms = 0;
  };
  struct FileIndex;
  std::shared_ptr<FileIndex> indexOf(const File& file);
  // Entry `k` of `index` (the first line at or after k * kStride), probing the file if unknown.
  // nullopt when the line there has no readable timestamp: the file cannot be indexed.
  std::optional<Entry> entry(FileIndex& index, const File& file, int64_t k);
  // The first line starting at or after `at` whose time reads, or {size, kNever} at the end.
  std::optional<Entry> probe(const File& file, off_t at);

  const size_t max_files_;
  mutable std::mutex mu_;
  std::map<std::pair<dev_t, ino_t>, std::shared_ptr<FileIndex>> files_;  // guarded by mu_
  uint64_t clock_ = 0;                                                   // guarded by mu_
  uint64_t probes_ = 0;                                                  // guarded by mu_
};

}  // namespace skiff::runtime
