// KubeClients: the API client of each Cluster in the store, made when first asked for and
// made again when the Cluster object changes (new credentials, another server). Shared by the
// controllers of the kubernetes backend.
//
// Thread-safe.
#pragma once

#include <map>
#include <memory>
#include <mutex>

#include "kube/client.h"
#include "kube/credentials.h"
#include "store/store.h"

namespace skiff {

struct KubeCluster {
  std::shared_ptr<kube::Client> client;
  std::string namespace_prefix;
  std::optional<kube::CredentialExpiry> expiry;  // of the credentials the client uses
  // "the client certificate expired at ...: ..." once they have expired; empty before.
  std::string expired(std::chrono::system_clock::time_point now) const;
};

class KubeClients {
 public:
  explicit KubeClients(const Store& store) : store_(store) {}

  // kNotFound naming the cluster when no Cluster has that name.
  Result<KubeCluster> get(const std::string& name);
  // The names of every Cluster in the store.
  std::vector<std::string> names() const;

 private:
  struct Entry {
    int64_t resource_version = 0;
    KubeCluster cluster;
  };
  const Store& store_;
  std::mutex mu_;
  std::map<std::string, Entry> entries_;  // guarded by mu_
};

}  // namespace skiff
