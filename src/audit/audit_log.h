// AuditLog: the append-only record of who did what through the API. Every mutating request
// and every denied request becomes one JSON line in DIR/audit.log holding the time, user,
// groups, tenant, verb, resource, object name, result (HTTP status and reason), source address
// and request id. Each line also holds "seq", "prev" (the previous line's hash) and "hash",
// the SHA-256 of "prev" and the line's other fields, so an edited, removed or reordered
// entry breaks the chain from that point on; verify() finds where.
//
// Nothing from request bodies is recorded, so no secret can reach the audit trail.
// Durability: entries of mutating requests are fdatasync'ed before append() returns; entries
// of denied reads are written without waiting (the next sync carries them).
//
// Thread-safe: appends are serialised by a mutex; queries read the file.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace skiff {

struct AuditEntry {
  std::chrono::system_clock::time_point time;
  std::string user;  // empty: unauthenticated
  std::vector<std::string> groups;
  std::string tenant;    // empty: platform scope
  std::string verb;      // "create", "delete", "login", ...
  std::string resource;  // "applications", "instances/log", ...
  std::string name;      // the object, when one is addressed
  int status = 0;        // the HTTP status answered
  std::string reason;    // "Forbidden", "AlreadyExists", ... ; empty on success
  std::string source;    // the client's address
  std::string request_id;
};

struct AuditQuery {
  std::string user;    // empty: any
  std::string tenant;  // empty: any
  std::optional<std::chrono::system_clock::time_point> since;
  size_t limit = 1000;  // the newest `limit` matching entries
};

struct AuditVerification {
  bool intact = true;
  int64_t entries = 0;
  // The newest entry's hash: recorded elsewhere (a ticket, a log shipper), it also exposes a
  // removal of the newest entries, which the chain alone cannot show.
  std::string head_hash;
  // When not intact: the line number (1-based) where the chain first breaks, and why.
  int64_t broken_at_line = 0;
  std::string problem;
};

class AuditLog {
 public:
  static constexpr const char* kFileName = "audit.log";

  // Opens DIR/audit.log (creating DIR and the file, mode 0600), continuing its chain.
  static Result<std::unique_ptr<AuditLog>> open(const std::string& dir);
  ~AuditLog();
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  Status append(const AuditEntry& entry, bool durable);
  // Matching entries, oldest first, as JSON lines' objects serialised (one per element).
  Result<std::vector<std::string>> query(const AuditQuery& query) const;
  // Recomputes the whole chain.
  Result<AuditVerification> verify() const;

  std::string path() const { return path_; }

 private:
  AuditLog(std::string path, int fd, int64_t seq, std::string last_hash);

  const std::string path_;
  const int fd_;
  std::mutex mu_;
  int64_t seq_;            // guarded by mu_: the last entry's seq
  std::string last_hash_;  // guarded by mu_
};

}  // namespace skiff
