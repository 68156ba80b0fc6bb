#include "runtime/local/local_log_source.h"

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "common/files.h"
#include "model/well_known.h"
#include "runtime/local/log_reader.h"
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

int LocalLogSource::sweep(std::chrono::system_clock::time_point now) {
  int deleted = 0;
  std::vector<fs::path> expired;
  for (const auto& root : options_.runtime_dirs) {
    std::error_code ec;
    for (fs::directory_iterator it(root + "/logs", ec), end; !ec && it != end; it.increment(ec))
      if (lastChange(it->path().string()) + options_.retention < now) expired.push_back(it->path());
  }
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
