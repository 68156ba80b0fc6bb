// InstanceExecutor: runs a command inside a running instance, whatever backend runs it (the
// local drivers' exec, or the Kubernetes API's pod exec). The API's exec endpoint and the
// web terminal use it.
//
// Implementations are thread-safe.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "runtime/exec_session.h"

namespace skiff::runtime {

class InstanceExecutor {
 public:
  virtual ~InstanceExecutor() = default;
  // notFound when the instance does not run here; kInvalid when its driver cannot exec.
  virtual Result<std::unique_ptr<ExecSession>> exec(const std::string& tenant,
                                                    const std::string& instance,
                                                    const std::vector<std::string>& argv,
                                                    bool tty) = 0;
};

}  // namespace skiff::runtime
