// LocalExecutor: InstanceExecutor over this machine's drivers: the driver that runs the
// instance (id "TENANT.NAME", as the node agent names them) execs the command. Thread-safe as
// the drivers are.
#pragma once

#include <vector>

#include "runtime/instance_executor.h"
#include "runtime/local/driver.h"

namespace skiff::runtime {

class LocalExecutor final : public InstanceExecutor {
 public:
  // Null drivers are skipped (containers may be unavailable).
  explicit LocalExecutor(std::vector<Driver*> drivers) : drivers_(std::move(drivers)) {}

  Result<std::unique_ptr<ExecSession>> exec(const std::string& tenant, const std::string& instance,
                                            const std::vector<std::string>& argv,
                                            bool tty) override {
    const std::string id = tenant + "." + instance;
    for (Driver* driver : drivers_) {
      if (driver == nullptr) continue;
      // The driver that has it says whether it can run the command.
      if (driver->inspect(id).ok()) return driver->exec(id, argv, tty);
    }
    return notFound("instance \"" + instance + "\" of tenant \"" + tenant +
                    "\" is not running on this server");
  }

 private:
  const std::vector<Driver*> drivers_;
};

}  // namespace skiff::runtime
