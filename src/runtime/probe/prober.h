// Prober: runs the health probes (readiness, liveness, startup) of local instances, with
// Kubernetes' semantics, and reports when an instance's thresholded health changes.
//
// One Prober runs every probe on a single thread with one Asio io_context: HTTP and TCP probes
// are non-blocking connects/reads under a deadline, exec probes are child processes (spawned
// into their own process group, killed as a group on timeout) whose exit is awaited through a
// pidfd, so no probe ever blocks the loop and no thread is created per probe.
//
// A probe's health starts unknown. It becomes healthy after `success_threshold` consecutive
// successes and unhealthy after `failure_threshold` consecutive failures; the callback is
// called for the first determination and then only when the health flips. What "unknown"
// means is the caller's business, as in Kubernetes: a readiness probe keeps the instance out
// of routing until it is healthy, a liveness probe does not restart it before it is unhealthy.
//
// Thread-safety: add() and remove() may be called from any thread, including from inside a
// callback. Callbacks run on the prober's thread, one at a time, and must not block. After
// remove(id) returns (when called outside a callback) no further callback for that
// registration runs. stop() must not be called from a callback.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common/status.h"

namespace skiff::runtime {

enum class ProbeKind { kHttp, kTcp, kExec };

struct ProbeSpec {
  ProbeKind kind = ProbeKind::kHttp;

  // http and tcp: where to connect. A name is resolved on each attempt, as Kubernetes does.
  std::string host = "127.0.0.1";
  int port = 0;

  // http only. Only "http" is supported; the request is `GET path` with Host set to
  // host:port unless `headers` names one.
  std::string scheme = "http";
  std::string path = "/";
  std::vector<std::pair<std::string, std::string>> headers;

  // exec only: the command, looked up in PATH when argv[0] has no '/'. It runs with the
  // prober's environment, stdio on /dev/null; success is exit code 0.
  std::vector<std::string> argv;

  std::chrono::milliseconds initial_delay{0};
  std::chrono::milliseconds period{10000};  // from the start of one attempt to the next
  std::chrono::milliseconds timeout{1000};  // bounds a whole attempt, connect included
  int success_threshold = 1;
  int failure_threshold = 3;
};

// Checks a spec; field paths are relative to the probe ("port", "period", ...).
Status validateProbeSpec(const ProbeSpec& spec);

// A change of a probe's thresholded health.
struct ProbeResult {
  std::string id;
  uint64_t handle = 0;  // the registration that produced it (see Prober::add)
  bool healthy = false;
  int consecutive_successes = 0;
  int consecutive_failures = 0;
  // What the last attempt saw, e.g. "HTTP GET http://127.0.0.1:8080/healthz: 503",
  // "dial tcp 127.0.0.1:9: connection refused", "exec [true]: exit code 0".
  std::string message;
};

using ProbeCallback = std::function<void(const ProbeResult&)>;

class Prober {
 public:
  Prober();
  // Stops the prober if it is running.
  ~Prober();
  Prober(const Prober&) = delete;
  Prober& operator=(const Prober&) = delete;

  // Starts the prober's thread. Probes added before start() begin then.
  Status start();
  // Refuses new probes, cancels attempts in flight (killing exec probes' processes and
  // reaping them) and joins the thread. No callback runs after stop() returns. Idempotent.
  void stop();

  // Starts probing `id` (after spec.initial_delay). Adding an id that is already probed
  // replaces that probe: its state is dropped and the new one determines health afresh.
  // Returns a handle that identifies this registration in its ProbeResults, so a caller can
  // tell late results of a replaced probe apart. Fails on an invalid spec or after stop().
  Result<uint64_t> add(const std::string& id, ProbeSpec spec, ProbeCallback callback);
  // Stops probing `id`; a no-op for an unknown id.
  void remove(const std::string& id);

 private:
  struct Probe;  // one registration
  struct Loop;   // the io_context, the attempts and the callbacks that run on it

  // Marks `probe` removed, cancels its attempt in flight and waits for a callback of it that
  // is running on the loop (unless called from the loop itself).
  void retire(const std::shared_ptr<Probe>& probe);

  // Constant after construction.
  std::unique_ptr<Loop> loop_;

  std::mutex mu_;  // guards the members below
  std::map<std::string, std::shared_ptr<Probe>> probes_;
  uint64_t next_handle_ = 1;
  bool started_ = false;
  bool stopped_ = false;
  std::thread thread_;
};

}  // namespace skiff::runtime
