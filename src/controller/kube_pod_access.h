// Logs and exec of the Instances that mirror pods of Kubernetes clusters (kube_pod_mirror.h),
// through each cluster's API server; every other Instance is the local runtime's, and its
// LogSource or InstanceExecutor is asked instead. So the API's log and exec endpoints serve
// both backends the same way.
//
// KubeLogSource reads the pod's log (GET .../pods/{pod}/log, with timestamps, which become the
// lines' times): a plain read at once, a follow streamed by a thread of its own that ends
// with the stream, or at the next line after its cursor was dropped. KubeExecutor runs the
// command through the pod's exec endpoint (kube/pod_exec.h).
//
// Thread-safe.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "controller/kube_clients.h"
#include "runtime/instance_executor.h"
#include "runtime/log_source.h"
#include "store/store.h"

namespace skiff {

// Where a mirrored Instance's pod is: its cluster, namespace, pod and container.
struct PodLocation {
  std::string cluster, ns, pod, container;
};
// The pod `instance` mirrors; nullopt for an Instance of the local runtime.
std::optional<PodLocation> podOf(const Object& instance);

// Splits a line of a log read with timestamps=true ("2026-11-22T05:09:30.123456789Z text");
// a line without a readable time keeps all its text and gets `fallback` as its time.
runtime::LogLine podLogLine(std::string_view line, std::chrono::system_clock::time_point fallback);

class KubeLogSource final : public runtime::LogSource {
 public:
  KubeLogSource(const Store& store, KubeClients& clients, runtime::LogSource& local)
      : store_(store), clients_(clients), local_(local) {}

  Result<std::unique_ptr<runtime::LogCursor>> open(const std::string& tenant,
                                                   const std::string& instance,
                                                   const runtime::LogQuery& query) override;
  // The local source lists every Instance of the store, mirrored ones included.
  Result<std::vector<runtime::LoggedInstance>> instancesOf(
      const std::string& tenant, const std::string& application) override {
    return local_.instancesOf(tenant, application);
  }
  std::chrono::seconds retention() const override { return local_.retention(); }

 private:
  const Store& store_;
  KubeClients& clients_;
  runtime::LogSource& local_;
};

class KubeExecutor final : public runtime::InstanceExecutor {
 public:
  KubeExecutor(const Store& store, KubeClients& clients, runtime::InstanceExecutor& local)
      : store_(store), clients_(clients), local_(local) {}

  Result<std::unique_ptr<runtime::ExecSession>> exec(const std::string& tenant,
                                                     const std::string& instance,
                                                     const std::vector<std::string>& argv,
                                                     bool tty) override;

 private:
  const Store& store_;
  KubeClients& clients_;
  runtime::InstanceExecutor& local_;
};

}  // namespace skiff
