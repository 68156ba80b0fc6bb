#include "audit/audit_log.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common/clock.h"

namespace skiff {

namespace {

using nlohmann::json;

// The chain starts from a fixed value, so the first entry is covered like every other.
constexpr const char* kGenesis = "0000000000000000000000000000000000000000000000000000000000000000";

std::string sha256Hex(const std::string& data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha256(), nullptr);
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < length; ++i) {
    out += kHex[digest[i] >> 4];
    out += kHex[digest[i] & 15];
  }
  return out;
}

// The hash of an entry: over "prev" and every field but "hash", in the canonical (sorted-key)
// serialisation nlohmann produces.
std::string entryHash(json entry) {
  entry.erase("hash");
  return sha256Hex(entry.dump());
}

std::string millisTimestamp(std::chrono::system_clock::time_point t) {
  const auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count() % 1000;
  std::string base = formatTimestamp(t);  // "2026-12-01T21:00:00Z"
  char frac[8];
  std::snprintf(frac, sizeof frac, ".%03lldZ", static_cast<long long>(millis));
  return base.substr(0, base.size() - 1) + frac;
}

}  // namespace

Result<std::unique_ptr<AuditLog>> AuditLog::open(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return internalError("cannot create the audit directory " + dir + ": " + ec.message());
  const std::string path = dir + "/" + kFileName;
  // Continue the chain from the last complete line; a torn last line (a crash mid-write) is
  // cut off so that the next entry starts on a line of its own.
  int64_t seq = 0;
  std::string last_hash = kGenesis;
  {
    std::ifstream in(path, std::ios::binary);
    std::string line, last;
    int64_t good_bytes = 0, bytes = 0;
    while (std::getline(in, line)) {
      const bool complete = !in.eof();
      bytes += static_cast<int64_t>(line.size()) + (complete ? 1 : 0);
      if (!complete) break;
      good_bytes = bytes;
      last = line;
    }
    if (::truncate(path.c_str(), good_bytes) != 0 && errno != ENOENT)
      return internalError("cannot repair " + path + ": " + std::strerror(errno));
    if (!last.empty()) {
      json entry = json::parse(last, nullptr, false);
      if (!entry.is_object() || !entry.contains("hash") || !entry.contains("seq"))
        return internalError("the last line of " + path + " is not an audit entry");
      seq = entry["seq"].get<int64_t>();
      last_hash = entry["hash"].get<std::string>();
    }
  }
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return internalError("cannot open " + path + ": " + std::strerror(errno));
  return std::unique_ptr<AuditLog>(new AuditLog(path, fd, seq, std::move(last_hash)));
}

AuditLog::AuditLog(std::string path, int fd, int64_t seq, std::string last_hash)
    : path_(std::move(path)), fd_(fd), seq_(seq), last_hash_(std::move(last_hash)) {}

AuditLog::~AuditLog() { ::close(fd_); }

Status AuditLog::append(const AuditEntry& e, bool durable) {
  json entry = {{"time", millisTimestamp(e.time)}, {"user", e.user},     {"verb", e.verb},
                {"resource", e.resource},          {"status", e.status}, {"source", e.source}};
  if (!e.groups.empty()) entry["groups"] = e.groups;
  if (!e.tenant.empty()) entry["tenant"] = e.tenant;
  if (!e.name.empty()) entry["name"] = e.name;
  if (!e.reason.empty()) entry["reason"] = e.reason;
  if (!e.request_id.empty()) entry["requestId"] = e.request_id;
  {
    std::lock_guard lock(mu_);
    entry["seq"] = seq_ + 1;
    entry["prev"] = last_hash_;
    const std::string hash = entryHash(entry);
    entry["hash"] = hash;
    const std::string line = entry.dump() + "\n";
    // One write of a whole line: O_APPEND keeps lines from interleaving.
    if (::write(fd_, line.data(), line.size()) != static_cast<ssize_t>(line.size()))
      return internalError("cannot append to " + path_ + ": " + std::strerror(errno));
    ++seq_;
    last_hash_ = hash;
  }
  if (durable && ::fdatasync(fd_) != 0)
    return internalError("cannot sync " + path_ + ": " + std::strerror(errno));
  return Status::ok();
}

Result<std::vector<std::string>> AuditLog::query(const AuditQuery& q) const {
  std::ifstream in(path_, std::ios::binary);
  if (!in) return internalError("cannot read " + path_);
  const std::string since = q.since ? millisTimestamp(*q.since) : "";
  std::deque<std::string> matches;
  for (std::string line; std::getline(in, line);) {
    json entry = json::parse(line, nullptr, false);
    if (!entry.is_object()) continue;
    if (!q.user.empty() && entry.value("user", "") != q.user) continue;
    if (!q.tenant.empty() && entry.value("tenant", "") != q.tenant) continue;
    // Timestamps of one format compare as strings.
    if (!since.empty() && entry.value("time", "") < since) continue;
    matches.push_back(std::move(line));
    if (matches.size() > q.limit) matches.pop_front();
  }
  return std::vector<std::string>(matches.begin(), matches.end());
}

Result<AuditVerification> AuditLog::verify() const {
  std::ifstream in(path_, std::ios::binary);
  if (!in) return internalError("cannot read " + path_);
  AuditVerification v;
  std::string prev = kGenesis;
  int64_t line_number = 0;
  auto broken = [&](std::string problem) {
    v.intact = false;
    v.broken_at_line = line_number;
    v.problem = std::move(problem);
    return v;
  };
  for (std::string line; std::getline(in, line);) {
    ++line_number;
    json entry = json::parse(line, nullptr, false);
    if (!entry.is_object() || !entry["hash"].is_string() || !entry["prev"].is_string() ||
        !entry["seq"].is_number_integer())
      return broken("not an audit entry");
    if (entry["seq"].get<int64_t>() != line_number)
      return broken("entry has seq " + std::to_string(entry["seq"].get<int64_t>()) + ", expected " +
                    std::to_string(line_number) + " (an entry was removed)");
    if (entry["prev"].get<std::string>() != prev)
      return broken("entry does not follow the one before it (an entry was removed or replaced)");
    const std::string hash = entry["hash"].get<std::string>();
    if (entryHash(entry) != hash) return broken("entry was modified after it was written");
    prev = hash;
    ++v.entries;
  }
  v.head_hash = prev;
  return v;
}

}  // namespace skiff
