// ExecHandler: POST /api/v1/tenants/{t}/instances/{name}/exec runs a command inside the
// instance and answers once it ends:
//   request  {"command": ["sh", "-c", "..."], "stdin": "...", "tty": false, "timeoutSeconds": 60}
//   answer   {"exitCode": 0, "stdout": "...", "stderr": "..."}   (with tty, all output in stdout)
// A command still running at the timeout is killed and answered with exitCode 137 and
// "timedOut": true. Output beyond 4 MiB per stream is dropped ("truncated": true). The RBAC
// resource is instances/exec (verb create).
//
// Thread-safe; each exec runs on the server's blocking pool.
#pragma once

#include "api/http.h"
#include "runtime/instance_executor.h"

namespace skiff {

class ExecHandler {
 public:
  explicit ExecHandler(runtime::InstanceExecutor& executor) : executor_(executor) {}

  static bool handles(const HttpRequest& request);
  HttpResponse handle(HttpRequest& request);

 private:
  runtime::InstanceExecutor& executor_;
};

}  // namespace skiff
