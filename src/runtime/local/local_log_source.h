// LocalLogSource: the LogSource of the local backend, reading the log files the instance shims
// write under the drivers' root directories (see process_driver.h, runc_driver.h):
//   instances/<id>/logs/   the current run of a live instance
//   logs/<id>/             the logs of the last removed run: the previous run of an instance
//                          that was restarted, or the last run of a deleted one
// where <id> is "TENANT.INSTANCE", the driver id the NodeAgent gives an Instance.
//
// Each logs directory also holds instance.json (written by recordLogOwner() when the run
// starts), naming the application and component, so the logs of deleted instances can still be
// found by application until retention removes them.
//
// Retention is per tenant: the Tenant's spec.logs.retention (default: Options::retention) and
// spec.logs.maxBytes (default: Options::max_bytes_per_tenant; 0 is no limit). sweep() deletes
// kept logs older than the retention (counted from when they were kept: the directory's last
// change) and rotated files of live runs last written longer ago than that; then, for a tenant
// whose logs take more than its maxBytes, it deletes files oldest first (by last write) until
// they fit. The file a live run writes (current.log) is never deleted. start() runs sweep()
// periodically on its own thread until stop().
//
// It is also the LogSearcher of the local backend (log_search.h): an instance's kept run and
// live run are searched as one log, and the platform's own logs (Options::platform_logs, written
// by platform_log_sink.h) are searched the same way.
//
// What "current" means: the live run; for an instance waiting to restart after an exit (its
// state directory removed), the run that just ended. --previous is the kept run of an
// instance that runs again. A follow continues across restarts (the new run's lines follow
// the old one's) and ends once the Instance is deleted and its last run's file is read.
//
// Thread-safe: open(), instancesOf() and search() read only the store and files (and the
// thread-safe index cache); the sweeper thread shares nothing else with them.
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "model/object.h"
#include "runtime/local/log_index.h"
#include "runtime/log_source.h"
#include "store/store.h"

namespace skiff::runtime {

class LocalLogSource final : public LogSource, public LogSearcher {
 public:
  // One of the platform's own logs: its name ("server") and the directory of its files.
  struct PlatformLog {
    std::string name;
    std::string dir;
  };
  struct Options {
    // The drivers' root directories (DATA/runtime, DATA/containers); an instance's logs are in
    // the one that has its directory. At least one.
    std::vector<std::string> runtime_dirs;
    std::chrono::seconds retention{std::chrono::hours(24)};
    // How often a follow looks whether its deleted instance is gone for good.
    std::chrono::milliseconds liveness_check{1000};
    // The most a tenant's instance logs may take on disk unless its spec says; 0: no limit.
    int64_t max_bytes_per_tenant = 0;
    std::vector<PlatformLog> platform_logs{};
  };
  static constexpr const char* kOwnerFile = "instance.json";

  LocalLogSource(const Store& store, const Clock& clock, Options options);
  ~LocalLogSource() override;

  Result<std::unique_ptr<LogCursor>> open(const std::string& tenant, const std::string& instance,
                                          const LogQuery& query) override;
  Result<std::vector<LoggedInstance>> instancesOf(const std::string& tenant,
                                                  const std::string& application) override;
  std::chrono::seconds retention() const override { return options_.retention; }

  Result<LogSearchResult> search(const std::string& tenant,
                                 const std::vector<LoggedInstance>& instances,
                                 const LogSearchQuery& query) override;
  std::vector<std::string> platformComponents() const override;
  Result<LogSearchResult> searchPlatform(const std::vector<std::string>& components,
                                         const LogSearchQuery& query) override;

  // Starts sweeping every `interval` (default: a tenth of the retention, between 1 s and 10 min).
  Status start(std::chrono::milliseconds interval = std::chrono::milliseconds(0));
  void stop();
  // Applies each tenant's retention at `now` (see above); returns how many kept instances' logs
  // were deleted whole.
  int sweep(std::chrono::system_clock::time_point now);

  std::string liveLogDir(const std::string& id) const;
  // The root directory holding the instance's logs (the first root when none does).
  std::string rootOf(const std::string& id) const;
  std::string keptLogDir(const std::string& id) const;

 private:
  // Constant after construction.
  struct Policy {
    std::chrono::seconds retention;
    int64_t max_bytes;  // 0: no limit
  };
  // Each tenant's retention, from its spec and the defaults.
  std::map<std::string, Policy> policies() const;

  const Store& store_;
  const Clock& clock_;
  const Options options_;
  LogIndexCache index_;  // thread-safe

  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;  // guarded by mu_
  std::thread sweeper_;
};

// The driver id of an Instance: "TENANT.NAME" (as NodeAgent names the instances it starts).
std::string logInstanceId(const std::string& tenant, const std::string& instance);

// Writes `log_dir`/instance.json: the tenant, name, application and component of `instance`.
Status recordLogOwner(const std::string& log_dir, const Object& instance);

}  // namespace skiff::runtime
