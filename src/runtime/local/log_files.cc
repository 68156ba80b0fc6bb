#include "runtime/local/log_files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>

namespace skiff::runtime {

namespace {

Status ioError(const std::string& what, const std::string& path) {
  return internalError(what + " " + path + ": " + std::strerror(errno));
}

bool parseDigits(std::string_view text, size_t pos, size_t n, int* out) {
  if (pos + n > text.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (text[i] < '0' || text[i] > '9') return false;
    v = v * 10 + (text[i] - '0');
  }
  *out = v;
  return true;
}

}  // namespace

const char* streamName(LogStream stream) {
  return stream == LogStream::kStdout ? "stdout" : "stderr";
}

std::string formatTimestampMillis(std::chrono::system_clock::time_point t) {
  using namespace std::chrono;
  auto ms = duration_cast<milliseconds>(t.time_since_epoch()).count();
  time_t secs = static_cast<time_t>(ms / 1000);
  int millis = static_cast<int>(ms % 1000);
  if (millis < 0) {  // before 1970: floor, not truncate
    millis += 1000;
    secs -= 1;
  }
  struct tm tm_utc;
  gmtime_r(&secs, &tm_utc);
  char buf[64];  // room for any int the compiler cannot rule out
  snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm_utc.tm_year + 1900,
           tm_utc.tm_mon + 1, tm_utc.tm_mday, tm_utc.tm_hour, tm_utc.tm_min, tm_utc.tm_sec, millis);
  return buf;
}

bool parseTimestampMillis(std::string_view text, std::chrono::system_clock::time_point* out) {
  // YYYY-MM-DDTHH:MM:SS.mmmZ
  if (text.size() != 24 || text[4] != '-' || text[7] != '-' || text[10] != 'T' || text[13] != ':' ||
      text[16] != ':' || text[19] != '.' || text[23] != 'Z')
    return false;
  int year, mon, day, hour, min, sec, millis;
  if (!parseDigits(text, 0, 4, &year) || !parseDigits(text, 5, 2, &mon) ||
      !parseDigits(text, 8, 2, &day) || !parseDigits(text, 11, 2, &hour) ||
      !parseDigits(text, 14, 2, &min) || !parseDigits(text, 17, 2, &sec) ||
      !parseDigits(text, 20, 3, &millis))
    return false;
  if (mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 || min > 59 || sec > 60) return false;
  struct tm tm_utc {};
  tm_utc.tm_year = year - 1900;
  tm_utc.tm_mon = mon - 1;
  tm_utc.tm_mday = day;
  tm_utc.tm_hour = hour;
  tm_utc.tm_min = min;
  tm_utc.tm_sec = sec;
  time_t secs = timegm(&tm_utc);
  *out = std::chrono::system_clock::time_point(std::chrono::seconds(secs) +
                                               std::chrono::milliseconds(millis));
  return true;
}

Result<std::unique_ptr<LogFileWriter>> LogFileWriter::open(std::string dir, LogLimits limits) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return internalError("cannot create log directory " + dir + ": " + ec.message());
  if (limits.files < 1) limits.files = 1;
  std::string path = dir + "/" + kCurrentName;
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (fd < 0) return ioError("cannot open log file", path);
  struct stat st;
  int64_t size = fstat(fd, &st) == 0 ? st.st_size : 0;
  return std::unique_ptr<LogFileWriter>(new LogFileWriter(std::move(dir), limits, fd, size));
}

std::string lastStderrLine(const std::string& log_file) {
  constexpr off_t kWindow = 8 * 1024;
  int fd = ::open(log_file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "";
  struct stat st;
  std::string tail;
  if (fstat(fd, &st) == 0) {
    const off_t from = std::max<off_t>(0, st.st_size - kWindow);
    tail.resize(static_cast<size_t>(st.st_size - from));
    ssize_t n = ::pread(fd, tail.data(), tail.size(), from);
    tail.resize(n > 0 ? static_cast<size_t>(n) : 0);
  }
  ::close(fd);
  const std::string_view marker = " stderr ";
  std::string_view rest = tail;
  while (!rest.empty()) {
    if (rest.back() == '\n') rest.remove_suffix(1);
    const size_t start = rest.rfind('\n') == std::string_view::npos ? 0 : rest.rfind('\n') + 1;
    std::string_view line = rest.substr(start);
    rest = rest.substr(0, start);
    // "<timestamp> stderr <text>": the timestamp holds no spaces.
    const size_t space = line.find(' ');
    if (space != std::string_view::npos && line.substr(space, marker.size()) == marker)
      return std::string(line.substr(space + marker.size()));
  }
  return "";
}

LogFileWriter::LogFileWriter(std::string dir, LogLimits limits, int fd, int64_t size)
    : dir_(std::move(dir)), limits_(limits), fd_(fd), size_(size) {}

LogFileWriter::~LogFileWriter() {
  if (fd_ >= 0) ::close(fd_);
}

Status LogFileWriter::append(LogStream stream, std::string_view data,
                             std::chrono::system_clock::time_point now) {
  std::string& partial = partial_[static_cast<int>(stream)];
  while (!data.empty()) {
    size_t nl = data.find('\n');
    if (nl == std::string_view::npos) {
      partial.append(data);
      data = {};
    } else {
      partial.append(data.substr(0, nl));
      data.remove_prefix(nl + 1);
      Status s = writeLine(stream, partial, now);
      partial.clear();
      if (!s.isOk()) return s;
    }
    while (partial.size() >= kMaxLineBytes) {
      Status s = writeLine(stream, std::string_view(partial).substr(0, kMaxLineBytes), now);
      partial.erase(0, kMaxLineBytes);
      if (!s.isOk()) return s;
    }
  }
  return Status::ok();
}

Status LogFileWriter::flush(std::chrono::system_clock::time_point now) {
  for (LogStream stream : {LogStream::kStdout, LogStream::kStderr}) {
    std::string& partial = partial_[static_cast<int>(stream)];
    if (partial.empty()) continue;
    Status s = writeLine(stream, partial, now);
    partial.clear();
    if (!s.isOk()) return s;
  }
  return Status::ok();
}

Status LogFileWriter::writeLine(LogStream stream, std::string_view text,
                                std::chrono::system_clock::time_point now) {
  std::string line = formatTimestampMillis(now);
  line += ' ';
  line += streamName(stream);
  line += ' ';
  line.append(text);
  line += '\n';
  if (size_ > 0 && size_ + static_cast<int64_t>(line.size()) > limits_.max_bytes) {
    Status s = rotate();
    if (!s.isOk()) return s;
  }
  size_t off = 0;
  while (off < line.size()) {
    ssize_t n = ::write(fd_, line.data() + off, line.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ioError("cannot write log file", currentPath());
    }
    off += static_cast<size_t>(n);
  }
  size_ += static_cast<int64_t>(line.size());
  return Status::ok();
}

Status LogFileWriter::rotate() {
  ::close(fd_);
  fd_ = -1;
  if (limits_.files <= 1) {
    // Nothing rotated is kept: start current.log over.
    ::unlink(currentPath().c_str());
  } else {
    ::unlink(rotatedPath(limits_.files - 1).c_str());
    for (int n = limits_.files - 2; n >= 1; --n)
      ::rename(rotatedPath(n).c_str(), rotatedPath(n + 1).c_str());  // ENOENT for gaps is fine
    if (::rename(currentPath().c_str(), rotatedPath(1).c_str()) != 0 && errno != ENOENT)
      return ioError("cannot rotate log file", currentPath());
  }
  fd_ = ::open(currentPath().c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (fd_ < 0) return ioError("cannot open log file", currentPath());
  size_ = 0;
  return Status::ok();
}

}  // namespace skiff::runtime
