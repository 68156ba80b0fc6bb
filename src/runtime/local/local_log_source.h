// LocalLogSource: the LogSource of the local backend, reading the log files the instance shims
// write under the drivers' root directories (see process_driver.h, runc_driver.h):
//   instances/<id>/logs/   the current run of a live instance
//   logs/<id>/             the logs of the last removed run: the previous run of an instance
//                          that was restarted, or the last run of a deleted one
// where <id> is "TENANT.INSTANCE", the driver id the NodeAgent gives an Instance.
//
// Each logs directory also holds instance.json (written by recordLogOwner() when the run
// starts), naming the application and component, so the logs of deleted instances can still be
// found by application until retention removes them. sweep() deletes kept logs once they
// are older than the retention (counted from when they were kept: the directory's last
// change); start() runs it periodically on its own thread until stop().
//
// What "current" means: the live run; for an instance waiting to restart after an exit (its
// state directory removed), the run that just ended. --previous is the kept run of an
// instance that runs again. A follow continues across restarts (the new run's lines follow
// the old one's) and ends once the Instance is deleted and its last run's file is read.
//
// Thread-safe: open() and instancesOf() read only the store and files; the sweeper thread
// shares nothing else with them.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "model/object.h"
#include "runtime/log_source.h"
#include "store/store.h"

namespace skiff::runtime {

class LocalLogSource final : public LogSource {
 public:
  struct Options {
    // The drivers' root directories (DATA/runtime, DATA/containers); an instance's logs are in
    // the one that has its directory. At least one.
    std::vector<std::string> runtime_dirs;
    std::chrono::seconds retention{std::chrono::hours(24)};
    // How often a follow looks whether its deleted instance is gone for good.
    std::chrono::milliseconds liveness_check{1000};
  };
  static constexpr const char* kOwnerFile = "instance.json";

  LocalLogSource(const Store& store, const Clock& clock, Options options);
  ~LocalLogSource() override;

  Result<std::unique_ptr<LogCursor>> open(const std::string& tenant, const std::string& instance,
                                          const LogQuery& query) override;
  Result<std::vector<LoggedInstance>> instancesOf(const std::string& tenant,
                                                  const std::string& application) override;
  std::chrono::seconds retention() const override { return options_.retention; }

  // Starts sweeping every `interval` (default: a tenth of the retention, between 1 s and 10 min).
  Status start(std::chrono::milliseconds interval = std::chrono::milliseconds(0));
  void stop();
  // Deletes the kept logs whose last change is more than the retention before `now`; returns
  // how many instances' logs were deleted.
  int sweep(std::chrono::system_clock::time_point now);

  std::string liveLogDir(const std::string& id) const;
  // The root directory holding the instance's logs (the first root when none does).
  std::string rootOf(const std::string& id) const;
  std::string keptLogDir(const std::string& id) const;

 private:
  // Constant after construction.
  const Store& store_;
  const Clock& clock_;
  const Options options_;

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
