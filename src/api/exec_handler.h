// ExecHandler: runs commands inside instances, at /api/v1/tenants/{t}/instances/{name}/exec.
//
// POST runs a command to its end and answers once:
//   request  {"command": ["sh", "-c", "..."], "stdin": "...", "tty": false, "timeoutSeconds": 60}
//   answer   {"exitCode": 0, "stdout": "...", "stderr": "..."}   (with tty, all output in stdout)
// A command still running at the timeout is killed and answered with exitCode 137 and
// "timedOut": true. Output beyond 4 MiB per stream is dropped ("truncated": true).
//
// GET with a WebSocket upgrade (subprotocol v1.exec.skiff.dev, api/exec_stream.h) runs it
// interactively: ?command=ARG (repeated, one per argument), &tty=true|false, &stdin=true|false.
// The command is started before the upgrade is answered, so an instance that is missing or
// cannot exec gets the usual JSON error; each session is then pumped on a thread of its own,
// at most `max_sessions` at once (503 beyond).
//
// Either way the RBAC resource is instances/exec (verb create), checked by the Gatekeeper
// before the handler (and so before any upgrade).
//
// Thread-safe. One-shot commands run on the server's blocking pool. Destroying the handler
// ends the sessions still open (as if their users left) and waits for them.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <set>

#include "api/http.h"
#include "api/websocket_channel.h"
#include "runtime/instance_executor.h"

namespace skiff {

class ExecHandler {
 public:
  explicit ExecHandler(runtime::InstanceExecutor& executor, int max_sessions = 64)
      : executor_(executor), max_sessions_(max_sessions) {}
  ~ExecHandler();

  static bool handles(const HttpRequest& request);
  HttpResponse handle(HttpRequest& request);

 private:
  HttpResponse runToEnd(HttpRequest& request, const std::string& tenant,
                        const std::string& instance);
  HttpResponse openSession(HttpRequest& request, const std::string& tenant,
                           const std::string& instance);
  // Counts a session in, unless the limit is reached or the handler is going away.
  bool admit(const std::shared_ptr<WebSocketChannel>& channel);
  void release(const std::shared_ptr<WebSocketChannel>& channel);

  // Constant after construction.
  runtime::InstanceExecutor& executor_;
  const int max_sessions_;

  std::mutex mu_;
  std::condition_variable released_;
  std::set<std::shared_ptr<WebSocketChannel>> sessions_;  // guarded by mu_: those running
  bool stopping_ = false;                                 // guarded by mu_
};

}  // namespace skiff
