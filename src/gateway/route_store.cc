#include "gateway/route_store.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

namespace skiff::gateway {
namespace {

// The journal is folded into routes.json once it is larger than this and than the table.
constexpr uint64_t kMinJournalBytes = uint64_t{1} << 20;

Status ioError(const std::string& what, const std::string& path) {
  return Status(StatusCode::kUnavailable, what + " " + path + ": " + std::strerror(errno));
}

}  // namespace

Result<std::shared_ptr<const RouteTable>> RouteStore::load() {
  auto text = readWholeFile(tablePath());
  if (!text.ok()) {
    if (text.status().code() != StatusCode::kNotFound) return text.status();
    table_bytes_ = 0;
    journal_bytes_ = 0;
    (void)::unlink(journalPath().c_str());  // deltas of no table
    return std::shared_ptr<const RouteTable>(std::make_shared<RouteTable>());
  }
  auto table = parseRouteTable(std::string_view(*text));
  if (!table.ok())
    return Status(StatusCode::kInternal,
                  tablePath() + " is not a valid route table: " + table.status().toString());
  table_bytes_ = text->size();
  journal_bytes_ = 0;
  auto journal = readWholeFile(journalPath());
  if (!journal.ok()) {
    if (journal.status().code() == StatusCode::kNotFound) return table;
    return journal.status();
  }
  std::shared_ptr<const RouteTable> current = *table;
  size_t start = 0;
  for (size_t end; (end = journal->find('\n', start)) != std::string::npos; start = end + 1) {
    auto delta = nlohmann::json::parse(std::string_view(*journal).substr(start, end - start),
                                       nullptr, /*allow_exceptions=*/false);
    // A delta older than routes.json is in it already (a crash between writing the table and
    // emptying the journal).
    if (delta.is_object() && delta.value("baseVersion", uint64_t{0}) < current->version() &&
        delta.value("version", uint64_t{0}) <= current->version())
      continue;
    auto next = applyRouteDelta(*current, delta);
    if (!next.ok()) {
      // Served as far as it goes; the control plane sends the whole table when it next
      // publishes, since its delta will not fit this version.
      spdlog::warn("gateway: {} stops applying at byte {}: {}", journalPath(), start,
                   next.status().toString());
      break;
    }
    current = std::move(next).value();
  }
  journal_bytes_ = start;
  if (start < journal->size() && ::truncate(journalPath().c_str(), static_cast<off_t>(start)) != 0)
    return ioError("cannot cut the torn end of", journalPath());
  return current;
}

Status RouteStore::save(const RouteTable& table) {
  if (Status s = writeFileAtomically(tablePath(), table.json()); !s.isOk()) return s;
  table_bytes_ = table.json().size();
  // The new table holds everything the journal did.
  if (::truncate(journalPath().c_str(), 0) != 0 && errno != ENOENT)
    return ioError("cannot empty", journalPath());
  journal_bytes_ = 0;
  return Status::ok();
}

Status RouteStore::append(std::string_view delta, const RouteTable& result) {
  // Without a routes.json (a delta to the empty table of a new gateway) the journal would have
  // nothing to apply to.
  if (table_bytes_ == 0 || journal_bytes_ + delta.size() > std::max(kMinJournalBytes, table_bytes_))
    return save(result);
  int fd = ::open(journalPath().c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return ioError("cannot open", journalPath());
  std::string line(delta);
  line += '\n';
  const bool written = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
  const bool synced = written && ::fdatasync(fd) == 0;
  const int err = errno;
  ::close(fd);
  errno = err;
  if (!written || !synced) {
    // A partial line would be cut off at the next load, with the lines after it: start afresh.
    (void)::truncate(journalPath().c_str(), static_cast<off_t>(journal_bytes_));
    return ioError(written ? "cannot sync" : "cannot append to", journalPath());
  }
  journal_bytes_ += line.size();
  return Status::ok();
}

}  // namespace skiff::gateway
