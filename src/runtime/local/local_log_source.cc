#include "runtime/local/local_log_source.h"

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "common/files.h"
#include "model/formats.h"
#include "model/well_known.h"
#include "runtime/local/log_reader.h"
#include "runtime/local/log_search.h"
#include "runtime/local/shim.h"

namespace skiff::runtime {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

namespace {

bool isDirectory(const std::string& path) {
  std::error_code ec;
  return fs::is_directory(path, ec);
}

// When a kept logs directory was last changed: its rename into logs/ (or the last write into
// it while the run was live).
std::chrono::system_clock::time_point lastChange(const std::string& dir) {
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0) return {};
  const timespec& t = st.st_ctim.tv_sec > st.st_mtim.tv_sec ? st.st_ctim : st.st_mtim;
  return std::chrono::system_clock::time_point(std::chrono::seconds(t.tv_sec));
}

std::string retentionText(std::chrono::seconds retention) {
  const int64_t s = retention.count();
  if (s % 3600 == 0) return std::to_string(s / 3600) + "h";
  if (s % 60 == 0) return std::to_string(s / 60) + "m";
  return std::to_string(s) + "s";
}

// Ends a follow once the instance is deleted and its last run's files are read: a deleted
// instance's logs no longer grow. Checks the store at most every `liveness_check`.
class LocalLogCursor final : public LogCursor {
 public:
  LocalLogCursor(std::unique_ptr<LogFileCursor> files, const Store& store, const Clock& clock,
                 ObjectKey key, std::string instance_dir, milliseconds liveness_check)
      : files_(std::move(files)),
        store_(store),
        clock_(clock),
        key_(std::move(key)),
        instance_dir_(std::move(instance_dir)),
        liveness_check_(liveness_check) {}

  Result<State> read(std::vector<LogLine>* out, size_t max_bytes) override {
    auto state = files_->read(out, max_bytes);
    if (!state.ok() || *state != State::kIdle) return state;
    const auto now = clock_.monotonic();
    if (now - last_check_ < liveness_check_) return state;
    last_check_ = now;
    // The instance directory goes only after the run exited and its logs were moved, so
    // once both are gone everything it wrote was read above.
    if (!store_.get(key_).ok() && !isDirectory(instance_dir_)) return State::kEnd;
    return state;
  }

 private:
  std::unique_ptr<LogFileCursor> files_;
  const Store& store_;
  const Clock& clock_;
  const ObjectKey key_;
  const std::string instance_dir_;
  const milliseconds liveness_check_;
  std::chrono::steady_clock::time_point last_check_{};
};

}  // namespace

std::string logInstanceId(const std::string& tenant, const std::string& instance) {
  return tenant + "." + instance;
}

Status recordLogOwner(const std::string& log_dir, const Object& instance) {
  auto label = [&](const char* name) {
    auto it = instance.metadata.labels.find(name);
    return it == instance.metadata.labels.end() ? std::string() : it->second;
  };
  nlohmann::json owner = {{"tenant", instance.metadata.tenant},
                          {"instance", instance.metadata.name},
                          {"application", label(kApplicationLabel)},
                          {"component", label(kComponentLabel)}};
  return writeFileAtomically(log_dir + "/" + LocalLogSource::kOwnerFile, owner.dump() + "\n");
}

LocalLogSource::LocalLogSource(const Store& store, const Clock& clock, Options options)
    : store_(store), clock_(clock), options_(std::move(options)) {}

LocalLogSource::~LocalLogSource() { stop(); }

std::string LocalLogSource::rootOf(const std::string& id) const {
  for (const auto& root : options_.runtime_dirs)
    if (isDirectory(root + "/instances/" + id) || isDirectory(root + "/logs/" + id)) return root;
  return options_.runtime_dirs.front();
}

std::string LocalLogSource::liveLogDir(const std::string& id) const {
  return rootOf(id) + "/instances/" + id + "/" + kLogsDir;
}

std::string LocalLogSource::keptLogDir(const std::string& id) const {
  return rootOf(id) + "/logs/" + id;
}

Result<std::unique_ptr<LogCursor>> LocalLogSource::open(const std::string& tenant,
                                                        const std::string& instance,
                                                        const LogQuery& query) {
  const std::string id = logInstanceId(tenant, instance);
  const ObjectKey key{"Instance", tenant, instance};
  const bool exists = store_.get(key).ok();
  const std::string instance_dir = rootOf(id) + "/instances/" + id;
  const bool running = isDirectory(instance_dir);  // a run exists (it may have exited)
  const bool kept = isDirectory(keptLogDir(id));
  if (!exists && !running && !kept)
    return notFound("instance \"" + instance + "\" not found in tenant \"" + tenant +
                    "\", and no logs of it are kept (logs of deleted instances are kept for " +
                    retentionText(options_.retention) + ")");

  LogFileCursor::Options options;
  options.since = query.since;
  options.tail_lines = query.tail_lines;
  if (query.previous) {
    // The kept run is the previous one while a new run exists, and the last one while the
    // instance waits to restart; a deleted instance has no run after it.
    if (!kept || !exists)
      return notFound("instance \"" + instance + "\" has no previous run" +
                      (exists ? ": it has not been restarted (or that run's logs expired)"
                              : ": it was deleted; its last run's logs are shown without "
                                "previous"));
    options.dir = keptLogDir(id);
    auto files = LogFileCursor::open(std::move(options));
    if (!files.ok()) return files.status();
    return std::unique_ptr<LogCursor>(std::move(files).value());
  }
  options.dir = running || !kept ? liveLogDir(id) : keptLogDir(id);
  options.follow_dir = liveLogDir(id);
  options.follow = query.follow && exists;
  auto files = LogFileCursor::open(std::move(options));
  if (!files.ok()) return files.status();
  if (!query.follow) return std::unique_ptr<LogCursor>(std::move(files).value());
  return std::unique_ptr<LogCursor>(std::make_unique<LocalLogCursor>(
      std::move(files).value(), store_, clock_, key, instance_dir, options_.liveness_check));
}

Result<std::vector<LoggedInstance>> LocalLogSource::instancesOf(const std::string& tenant,
                                                                const std::string& application) {
  std::map<std::string, LoggedInstance> found;
  ListOptions list;
  list.tenant = tenant;
  auto selector = LabelSelector::parse(std::string(kApplicationLabel) + "=" + application);
  if (!selector.ok()) return selector.status();
  list.selector = std::move(selector).value();
  for (const auto& item : store_.list("Instance", list).items) {
    auto it = item->metadata.labels.find(kComponentLabel);
    found[item->metadata.name] = {item->metadata.name,
                                  it == item->metadata.labels.end() ? "" : it->second, true};
  }
  // Deleted instances: their kept logs name their application.
  const std::string prefix = tenant + ".";
  for (const auto& root : options_.runtime_dirs) {
    std::error_code ec;
    for (fs::directory_iterator it(root + "/logs", ec), end; !ec && it != end; it.increment(ec)) {
      const std::string id = it->path().filename().string();
      if (id.compare(0, prefix.size(), prefix) != 0) continue;
      auto text = readWholeFile(it->path().string() + "/" + kOwnerFile);
      if (!text.ok()) continue;
      auto owner = nlohmann::json::parse(*text, nullptr, false);
      if (!owner.is_object() || owner.value("tenant", "") != tenant ||
          owner.value("application", "") != application)
        continue;
      const std::string name = owner.value("instance", "");
      if (name.empty() || found.count(name)) continue;
      found[name] = {name, owner.value("component", ""), false};
    }
  }
  std::vector<LoggedInstance> out;
  for (auto& [name, instance] : found) out.push_back(std::move(instance));
  return out;
}

Result<LogSearchResult> LocalLogSource::search(const std::string& tenant,
                                               const std::vector<LoggedInstance>& instances,
                                               const LogSearchQuery& query) {
  auto matcher = LogMatcher::compile(query.pattern, query.regex, query.ignore_case);
  if (!matcher.ok()) return matcher.status();
  std::vector<SearchedLog> logs;
  std::vector<std::string> not_searched;
  for (const auto& instance : instances) {
    const std::string id = logInstanceId(tenant, instance.name);
    SearchedLog log{instance.name, instance.component, {}};
    // The kept run is the older one: the previous run of a live instance.
    for (const std::string& dir : {keptLogDir(id), liveLogDir(id)})
      if (isDirectory(dir)) log.dirs.push_back(dir);
    if (log.dirs.empty())
      not_searched.push_back(instance.name);
    else
      logs.push_back(std::move(log));
  }
  LogSearchResult result = searchLogFiles(logs, *matcher, query, index_);
  result.not_searched = std::move(not_searched);
  return result;
}

std::vector<std::string> LocalLogSource::platformComponents() const {
  std::vector<std::string> names;
  for (const auto& log : options_.platform_logs) names.push_back(log.name);
  return names;
}

Result<LogSearchResult> LocalLogSource::searchPlatform(const std::vector<std::string>& components,
                                                       const LogSearchQuery& query) {
  auto matcher = LogMatcher::compile(query.pattern, query.regex, query.ignore_case);
  if (!matcher.ok()) return matcher.status();
  std::vector<SearchedLog> logs;
  for (const auto& name : components) {
    if (std::none_of(options_.platform_logs.begin(), options_.platform_logs.end(),
                     [&](const PlatformLog& log) { return log.name == name; })) {
      std::string known;
      for (const auto& log : options_.platform_logs)
        known += (known.empty() ? "" : ", ") + log.name;
      return badRequest("the platform has no component \"" + name +
                        "\" with logs (it has: " + (known.empty() ? "none" : known) + ")");
    }
  }
  for (const auto& log : options_.platform_logs) {
    if (!components.empty() &&
        std::find(components.begin(), components.end(), log.name) == components.end())
      continue;
    logs.push_back({log.name, log.name, {log.dir}});
  }
  return searchLogFiles(logs, *matcher, query, index_);
}

std::map<std::string, LocalLogSource::Policy> LocalLogSource::policies() const {
  std::map<std::string, Policy> out;
  for (const auto& item : store_.list("Tenant", {}).items) {
    Policy policy{options_.retention, options_.max_bytes_per_tenant};
    const json logs = item->object().spec.value("logs", json::object());
    if (logs.is_object()) {
      if (auto it = logs.find("retention"); it != logs.end() && it->is_string())
        if (auto seconds = parseDurationSeconds(it->get<std::string>()); seconds)
          policy.retention = std::chrono::seconds(static_cast<int64_t>(*seconds));
      if (auto it = logs.find("maxBytes"); it != logs.end())
        if (auto bytes = parseMemoryBytes(*it)) policy.max_bytes = *bytes;
    }
    out[item->metadata.name] = policy;
  }
  return out;
}

namespace {

std::chrono::system_clock::time_point lastWrite(const struct stat& st) {
  return std::chrono::system_clock::time_point(std::chrono::seconds(st.st_mtim.tv_sec) +
                                               std::chrono::nanoseconds(st.st_mtim.tv_nsec));
}

bool hasLogFiles(const std::string& dir) { return !listLogFiles(dir).empty(); }

}  // namespace

int LocalLogSource::sweep(std::chrono::system_clock::time_point now) {
  const std::map<std::string, Policy> tenants = policies();
  auto policyOf = [&](const std::string& id) {
    auto it = tenants.find(id.substr(0, id.find('.')));
    return it != tenants.end() ? it->second
                               : Policy{options_.retention, options_.max_bytes_per_tenant};
  };
  struct File {
    std::string path;
    int64_t bytes = 0;
    std::chrono::system_clock::time_point written;
    bool deletable = false;  // not the file a live run writes
  };
  std::map<std::string, std::vector<File>> by_tenant;
  std::vector<fs::path> expired;
  auto collect = [&](const std::string& dir, const std::string& id, bool live) {
    const Policy policy = policyOf(id);
    const std::vector<LogFileEntry> files = listLogFiles(dir);
    for (size_t i = 0; i < files.size(); ++i) {
      struct stat st;
      if (::stat(files[i].path.c_str(), &st) != 0) continue;
      File f{files[i].path, st.st_size, lastWrite(st), !live || i + 1 < files.size()};
      // A live run's rotated files age like kept logs.
      if (live && f.deletable && f.written + policy.retention < now) {
        ::unlink(f.path.c_str());
        continue;
      }
      by_tenant[id.substr(0, id.find('.'))].push_back(std::move(f));
    }
  };
  for (const auto& root : options_.runtime_dirs) {
    std::error_code ec;
    for (fs::directory_iterator it(root + "/logs", ec), end; !ec && it != end; it.increment(ec)) {
      const std::string id = it->path().filename().string();
      if (lastChange(it->path().string()) + policyOf(id).retention < now)
        expired.push_back(it->path());
      else
        collect(it->path().string(), id, false);
    }
    for (fs::directory_iterator it(root + "/instances", ec), end; !ec && it != end;
         it.increment(ec)) {
      const std::string id = it->path().filename().string();
      collect(it->path().string() + "/" + kLogsDir, id, true);
    }
  }
  // Over its size: the oldest files go first.
  std::set<std::string> emptied;
  for (auto& [tenant, files] : by_tenant) {
    auto it = tenants.find(tenant);
    const int64_t max_bytes =
        it != tenants.end() ? it->second.max_bytes : options_.max_bytes_per_tenant;
    if (max_bytes <= 0) continue;
    int64_t total = 0;
    for (const auto& f : files) total += f.bytes;
    std::stable_sort(files.begin(), files.end(),
                     [](const File& a, const File& b) { return a.written < b.written; });
    for (const auto& f : files) {
      if (total <= max_bytes) break;
      if (!f.deletable || ::unlink(f.path.c_str()) != 0) continue;
      total -= f.bytes;
      emptied.insert(fs::path(f.path).parent_path().string());
    }
  }
  for (const auto& dir : emptied) {
    // A kept run with no file left goes whole (its instance.json would list it for nothing).
    if (dir.find("/instances/") == std::string::npos && !hasLogFiles(dir)) expired.push_back(dir);
  }
  int deleted = 0;
  for (const auto& dir : expired) {
    std::error_code rm;
    fs::remove_all(dir, rm);
    if (!rm) ++deleted;
  }
  return deleted;
}

Status LocalLogSource::start(milliseconds interval) {
  if (sweeper_.joinable()) return Status::ok();
  if (interval <= milliseconds(0))
    interval =
        std::clamp<milliseconds>(std::chrono::duration_cast<milliseconds>(options_.retention) / 10,
                                 std::chrono::seconds(1), std::chrono::minutes(10));
  sweeper_ = std::thread([this, interval] {
    std::unique_lock lock(mu_);
    while (!stopping_) {
      lock.unlock();
      sweep(clock_.now());
      lock.lock();
      wake_.wait_for(lock, interval, [this] { return stopping_; });
    }
  });
  return Status::ok();
}

void LocalLogSource::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (sweeper_.joinable()) sweeper_.join();
}

}  // namespace skiff::runtime
