#include "runtime/local/log_index.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "common/files.h"
#include "runtime/local/log_files.h"

namespace skiff::runtime {

namespace {

constexpr size_t kTimestampBytes = 24;  // "2026-11-22T05:09:30.123Z"
constexpr size_t kWindowBytes = 4096;
// Lines without a timestamp a probe steps over before it gives up on the file.
constexpr int kMaxForeignLines = 64;

std::optional<int64_t> timeAt(int fd, off_t at, off_t size) {
  if (at + static_cast<off_t>(kTimestampBytes) > size) return std::nullopt;
  char buf[kTimestampBytes];
  if (preadFully(fd, buf, sizeof buf, at) != static_cast<ssize_t>(sizeof buf)) return std::nullopt;
  std::chrono::system_clock::time_point t;
  if (!parseTimestampMillis(std::string_view(buf, sizeof buf), &t)) return std::nullopt;
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

// The offset just after the first newline at or after `from`, or -1 if none before `size`.
off_t nextLineStart(int fd, off_t from, off_t size) {
  char buf[kWindowBytes];
  while (from < size) {
    const size_t want = static_cast<size_t>(std::min<off_t>(sizeof buf, size - from));
    ssize_t n = preadFully(fd, buf, want, from);
    if (n <= 0) return -1;
    if (const void* nl = std::memchr(buf, '\n', static_cast<size_t>(n)))
      return from + (static_cast<const char*>(nl) - buf) + 1;
    from += n;
  }
  return -1;
}

}  // namespace

struct LogIndexCache::FileIndex {
  std::mutex mu;
  // Constant after creation: the file's first bytes, which tell a reused inode apart.
  std::string stamp;
  uint64_t last_use = 0;       // guarded by the cache's mu_
  std::vector<Entry> entries;  // guarded by mu; entry k is for offset k * kStride
  off_t size = 0;              // guarded by mu; the largest size seen
  bool unindexable = false;    // guarded by mu
};

std::shared_ptr<LogIndexCache::FileIndex> LogIndexCache::indexOf(const File& file) {
  std::string stamp(kTimestampBytes, '\0');
  if (file.size < static_cast<off_t>(kTimestampBytes) ||
      preadFully(file.fd, stamp.data(), stamp.size(), 0) != static_cast<ssize_t>(stamp.size()))
    return nullptr;
  std::lock_guard lock(mu_);
  auto& slot = files_[{file.dev, file.ino}];
  if (slot == nullptr || slot->stamp != stamp) {
    slot = std::make_shared<FileIndex>();
    slot->stamp = std::move(stamp);
  }
  slot->last_use = ++clock_;
  std::shared_ptr<FileIndex> found = slot;
  if (files_.size() > max_files_) {
    // Forget the least recently used half: cheaper than ordering every use.
    std::vector<uint64_t> uses;
    for (const auto& [key, index] : files_) uses.push_back(index->last_use);
    std::nth_element(uses.begin(), uses.begin() + uses.size() / 2, uses.end());
    const uint64_t cut = uses[uses.size() / 2];
    std::erase_if(files_, [cut](const auto& kv) { return kv.second->last_use < cut; });
  }
  return found;
}

std::optional<LogIndexCache::Entry> LogIndexCache::probe(const File& file, off_t at) {
  {
    std::lock_guard lock(mu_);
    ++probes_;
  }
  off_t line = at == 0 ? 0 : nextLineStart(file.fd, at - 1, file.size);
  for (int skipped = 0; skipped <= kMaxForeignLines; ++skipped) {
    if (line < 0) return Entry{file.size, kNever};
    if (auto ms = timeAt(file.fd, line, file.size)) return Entry{line, *ms};
    // The line has no timestamp yet (still being written: the end), or none at all.
    if (line + static_cast<off_t>(kTimestampBytes) > file.size) return Entry{file.size, kNever};
    line = nextLineStart(file.fd, line, file.size);
  }
  return std::nullopt;
}

std::optional<LogIndexCache::Entry> LogIndexCache::entry(FileIndex& index, const File& file,
                                                         int64_t k) {
  const off_t at = static_cast<off_t>(k) * kStride;
  if (static_cast<size_t>(k) < index.entries.size() && index.entries[k].line >= 0 &&
      index.entries[k].line + static_cast<off_t>(kTimestampBytes) <= file.size)
    return index.entries[k];
  auto found = probe(file, at);
  if (!found) return std::nullopt;
  // "Nothing yet" at the end of a growing file is not kept: the file may grow.
  if (found->ms != kNever) {
    if (index.entries.size() <= static_cast<size_t>(k)) index.entries.resize(k + 1);
    index.entries[k] = *found;
  }
  return found;
}

LogIndexCache::Range LogIndexCache::range(const File& file, std::optional<int64_t> since_ms,
                                          std::optional<int64_t> until_ms) {
  const Range whole{0, file.size};
  if (!since_ms && !until_ms) return whole;
  std::shared_ptr<FileIndex> index = indexOf(file);
  if (index == nullptr) return whole;
  std::lock_guard lock(index->mu);
  if (file.size < index->size) {
    // Shorter than before: not the file that was indexed (a writer never truncates).
    index->entries.clear();
    index->unindexable = false;
  }
  index->size = std::max(index->size, file.size);
  if (index->unindexable) return whole;
  const int64_t strides = (file.size + kStride - 1) / kStride;
  Range r = whole;
  bool ok = true;
  auto at = [&](int64_t k) -> Entry {
    auto e = entry(*index, file, k);
    if (!e) ok = false;
    return e.value_or(Entry{0, 0});
  };
  if (since_ms) {
    // The last entry older than `since`: every line before it is older still.
    int64_t lo = 0, hi = strides - 1, best = -1;
    while (ok && lo <= hi) {
      const int64_t mid = lo + (hi - lo) / 2;
      if (at(mid).ms < *since_ms) {
        best = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    if (ok && best >= 0) r.begin = at(best).line;
  }
  if (until_ms && ok) {
    // The first entry at or after `until`: every line from it on is too new.
    int64_t lo = 0, hi = strides - 1, best = -1;
    while (ok && lo <= hi) {
      const int64_t mid = lo + (hi - lo) / 2;
      if (at(mid).ms >= *until_ms) {
        best = mid;
        hi = mid - 1;
      } else {
        lo = mid + 1;
      }
    }
    if (ok && best >= 0) r.end = std::min(file.size, at(best).line);
  }
  if (!ok) {
    index->unindexable = true;
    return whole;
  }
  r.begin = std::min(r.begin, r.end);
  return r;
}

std::optional<int64_t> LogIndexCache::firstTime(const File& file) {
  std::shared_ptr<FileIndex> index = indexOf(file);
  if (index == nullptr) return std::nullopt;
  std::lock_guard lock(index->mu);
  auto e = entry(*index, file, 0);
  if (!e || e->ms == kNever) return std::nullopt;
  return e->ms;
}

size_t LogIndexCache::files() const {
  std::lock_guard lock(mu_);
  return files_.size();
}

uint64_t LogIndexCache::probes() const {
  std::lock_guard lock(mu_);
  return probes_;
}

}  // namespace skiff::runtime
