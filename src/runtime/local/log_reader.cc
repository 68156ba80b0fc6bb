#include "runtime/local/log_reader.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "runtime/local/log_files.h"

namespace skiff::runtime {

namespace {

using std::chrono::system_clock;

constexpr size_t kTimestampBytes = 24;  // "2026-11-22T05:09:30.123Z"
// A line longer than this (never written by LogFileWriter, which splits at 16 KiB) is returned
// in pieces rather than buffered without bound.
constexpr size_t kMaxPartialBytes = 1 << 20;

// -1 for current.log, N for current.log.N, -2 for anything else.
long rotationIndex(const char* name) {
  const std::string_view current = LogFileWriter::kCurrentName;
  std::string_view n = name;
  if (n.substr(0, current.size()) != current) return -2;
  n.remove_prefix(current.size());
  if (n.empty()) return -1;
  if (n[0] != '.' || n.size() < 2 || n.size() > 9) return -2;
  long v = 0;
  for (char c : n.substr(1)) {
    if (c < '0' || c > '9') return -2;
    v = v * 10 + (c - '0');
  }
  return v >= 1 ? v : -2;
}

ssize_t preadFully(int fd, char* buf, size_t n, off_t at) {
  for (;;) {
    ssize_t r = ::pread(fd, buf, n, at);
    if (r < 0 && errno == EINTR) continue;
    return r;
  }
}

// The time of the first line of `path`, if it has a well-formed one.
std::optional<system_clock::time_point> firstLineTime(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  char buf[kTimestampBytes];
  ssize_t n = preadFully(fd, buf, sizeof buf, 0);
  ::close(fd);
  system_clock::time_point t;
  if (n != static_cast<ssize_t>(sizeof buf) ||
      !parseTimestampMillis(std::string_view(buf, sizeof buf), &t))
    return std::nullopt;
  return t;
}

struct Position {
  size_t file = 0;
  off_t offset = 0;
  bool operator<(const Position& o) const {
    return file != o.file ? file < o.file : offset < o.offset;
  }
};

// Where the last `lines` complete lines of `files` start: counts newlines backwards, block by
// block, from the end of the newest file into older ones. Bytes after the newest file's last
// newline are a line still being written and do not count.
Position tailStart(const std::vector<LogFileEntry>& files, int64_t lines) {
  std::vector<char> block(LogFileCursor::kBlockBytes);
  int64_t ends_seen = 0;
  for (size_t i = files.size(); i-- > 0;) {
    int fd = ::open(files[i].path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    struct stat st;
    off_t end = ::fstat(fd, &st) == 0 ? st.st_size : 0;
    while (end > 0) {
      const off_t from = std::max<off_t>(0, end - static_cast<off_t>(block.size()));
      ssize_t n = preadFully(fd, block.data(), static_cast<size_t>(end - from), from);
      if (n <= 0) break;
      for (ssize_t k = n; k-- > 0;) {
        if (block[static_cast<size_t>(k)] != '\n') continue;
        if (ends_seen == lines) {
          ::close(fd);
          return {i, from + k + 1};
        }
        ++ends_seen;
      }
      end = from;
    }
    ::close(fd);
  }
  return {0, 0};
}

}  // namespace

std::vector<LogFileEntry> listLogFiles(const std::string& dir) {
  std::vector<std::pair<long, std::string>> named;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (dirent* e = ::readdir(d)) {
      const long index = rotationIndex(e->d_name);
      if (index != -2) named.emplace_back(index, e->d_name);
    }
    ::closedir(d);
  }
  // Oldest first: the highest rotation index, down to current.log (-1).
  std::sort(named.begin(), named.end(), [](const auto& a, const auto& b) { return a > b; });
  std::vector<LogFileEntry> files;
  for (const auto& [index, name] : named) {
    LogFileEntry entry;
    entry.path = dir + "/" + name;
    struct stat st;
    if (::stat(entry.path.c_str(), &st) != 0) continue;  // rotated away while we looked
    entry.dev = st.st_dev;
    entry.ino = st.st_ino;
    files.push_back(std::move(entry));
  }
  return files;
}

LogLine parseLogLine(std::string_view raw, system_clock::time_point fallback_time) {
  LogLine line;
  if (raw.size() > kTimestampBytes && raw[kTimestampBytes] == ' ' &&
      parseTimestampMillis(raw.substr(0, kTimestampBytes), &line.time)) {
    std::string_view rest = raw.substr(kTimestampBytes + 1);
    for (const char* stream : {"stdout", "stderr"}) {
      const std::string_view s = stream;
      if (rest.substr(0, s.size()) == s && (rest.size() == s.size() || rest[s.size()] == ' ')) {
        line.is_stderr = s == "stderr";
        rest.remove_prefix(std::min(rest.size(), s.size() + 1));
        break;
      }
    }
    line.text = std::string(rest);
    return line;
  }
  line.time = fallback_time;
  line.text = std::string(raw);
  return line;
}

Result<std::unique_ptr<LogFileCursor>> LogFileCursor::open(Options options) {
  std::unique_ptr<LogFileCursor> cursor(new LogFileCursor(std::move(options)));
  if (Status s = cursor->seekStart(); !s.isOk()) return s;
  return cursor;
}

LogFileCursor::LogFileCursor(Options options)
    : options_(std::move(options)), listing_dir_(options_.dir) {}

LogFileCursor::~LogFileCursor() { closeFile(); }

Status LogFileCursor::seekStart() {
  // A rotation between listing and opening moves the files; look again (a few times).
  for (int attempt = 0; attempt < 5; ++attempt) {
    const std::vector<LogFileEntry> files = listLogFiles(options_.dir);
    if (files.empty()) return Status::ok();  // nothing yet: read() takes the first file
    Position start;
    if (options_.since) {
      // The newest file that begins before `since` holds the first line to show; if none
      // does, every line is new enough.
      for (size_t i = files.size(); i-- > 0;) {
        auto first = firstLineTime(files[i].path);
        if (first && *first < *options_.since) {
          start = {i, 0};
          break;
        }
      }
    }
    if (options_.tail_lines) start = std::max(start, tailStart(files, *options_.tail_lines));
    if (openFile(files[start.file], start.offset)) return Status::ok();
  }
  return unavailable("the log files in " + options_.dir +
                     " kept changing while being opened; try again");
}

bool LogFileCursor::openFile(const LogFileEntry& entry, off_t offset) {
  int fd = ::open(entry.path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  struct stat st;
  if (::fstat(fd, &st) != 0 || st.st_dev != entry.dev || st.st_ino != entry.ino) {
    ::close(fd);
    return false;
  }
  closeFile();
  fd_ = fd;
  dev_ = st.st_dev;
  ino_ = st.st_ino;
  offset_ = offset;
  partial_.clear();
  return true;
}

void LogFileCursor::closeFile() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

void LogFileCursor::emit(std::string_view raw, std::vector<LogLine>* out, size_t* budget) {
  LogLine line = parseLogLine(raw, last_time_);
  last_time_ = line.time;
  if (options_.since && line.time < *options_.since) return;
  *budget -= std::min(*budget, line.text.size() + 1);
  out->push_back(std::move(line));
}

Result<bool> LogFileCursor::drain(std::vector<LogLine>* out, size_t* budget) {
  std::vector<char> block(kBlockBytes);
  while (*budget > 0) {
    ssize_t n = preadFully(fd_, block.data(), block.size(), offset_);
    if (n < 0) return internalError("cannot read the log file: " + std::string(strerror(errno)));
    if (n == 0) return true;
    offset_ += n;
    std::string_view data(block.data(), static_cast<size_t>(n));
    for (size_t nl; (nl = data.find('\n')) != std::string_view::npos;) {
      if (partial_.empty()) {
        emit(data.substr(0, nl), out, budget);
      } else {
        partial_.append(data.substr(0, nl));
        emit(partial_, out, budget);
        partial_.clear();
      }
      data.remove_prefix(nl + 1);
    }
    partial_.append(data);
    if (partial_.size() > kMaxPartialBytes) {
      emit(partial_, out, budget);
      partial_.clear();
    }
  }
  return false;
}

Result<LogCursor::State> LogFileCursor::read(std::vector<LogLine>* out, size_t max_bytes) {
  size_t budget = std::max<size_t>(max_bytes, 1);
  const std::string& follow_dir = options_.follow_dir.empty() ? options_.dir : options_.follow_dir;
  // Each pass moves to a newer file; a bound keeps a directory that churns faster than it can
  // be read from holding the caller here.
  for (int pass = 0; pass < 64; ++pass) {
    if (fd_ >= 0) {
      auto done = drain(out, &budget);
      if (!done.ok()) return done.status();
      if (!*done) return State::kMore;
    }
    const std::vector<LogFileEntry> files = listLogFiles(listing_dir_);
    std::optional<size_t> ours;
    for (size_t i = 0; i < files.size(); ++i)
      if (fd_ >= 0 && files[i].dev == dev_ && files[i].ino == ino_) ours = i;
    const size_t next = ours ? *ours + 1 : 0;
    if (next >= files.size()) {
      // Read up to the end of the newest file there is.
      if (!caught_up_) {
        caught_up_ = true;
        if (listing_dir_ != follow_dir) {
          listing_dir_ = follow_dir;
          continue;
        }
      }
      return options_.follow ? State::kIdle : State::kEnd;
    }
    if (fd_ >= 0) {
      // The open file is no longer current.log, so its writer has closed it: read what it
      // wrote between our last read and the rotation, and end its last line.
      auto done = drain(out, &budget);
      if (!done.ok()) return done.status();
      if (!*done) return State::kMore;
      if (!partial_.empty()) {
        emit(partial_, out, &budget);
        partial_.clear();
      }
    }
    if (!openFile(files[next], 0)) continue;  // it moved again: list again
  }
  return State::kMore;
}

}  // namespace skiff::runtime
