// Starting shims without an exec each.
//
// Exec'ing the skiff binary costs about 6 ms of dynamic loading and relocation (it links some
// thirty libraries), and forking a large, threaded server to do it more. A ShimLauncher
// instead keeps one helper process, `skiff shim --launcher` (the same binary, exec'd once),
// that forks each shim from itself: it is small and single-threaded, so its fork is cheap and
// the child can run runShim() at once. The fork comes before the request: a spare child,
// detached and waiting for its directory on a pipe, so that a start waits for no fork (a
// spare that died is replaced by a fork on the spot). Shims it starts are detached exactly as
// spawnShim()'s are (own session, nobody's child) and show `skiff shim --dir DIR` as their
// command line, so shimAlive() and `ps` see no difference; the launcher exits when its driver
// closes the channel, ending its unused spare, and its shims stay.
#pragma once

#include <sys/types.h>

#include <mutex>
#include <string>

#include "common/status.h"

namespace skiff::runtime {

class ShimLauncher {
 public:
  explicit ShimLauncher(std::string shim_binary);
  ~ShimLauncher();
  ShimLauncher(const ShimLauncher&) = delete;
  ShimLauncher& operator=(const ShimLauncher&) = delete;

  // Starts the shim of DIR through the launcher, starting the launcher first (again, if it
  // died). Falls back to spawnShim() when the launcher cannot be used. Thread-safe.
  Status spawn(const std::string& dir);

 private:
  Status startLocked();
  void stopLocked();
  Status requestLocked(const std::string& dir);

  const std::string shim_binary_;
  std::mutex mu_;
  int fd_ = -1;     // guarded by mu_: the launcher's end is its fd 3
  pid_t pid_ = -1;  // guarded by mu_
};

// The launcher's main loop (`skiff shim --launcher`): one directory per line on fd 3, answered
// "ok" or an error once the shim is forked; returns at end of input. `title` and `title_room`
// are the process's argv area, rewritten in each shim to its own command line.
int runShimLauncher(char* title, size_t title_room);

}  // namespace skiff::runtime
