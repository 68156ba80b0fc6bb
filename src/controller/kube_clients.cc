#include "controller/kube_clients.h"

#include "common/clock.h"

namespace skiff {

std::string KubeCluster::expired(std::chrono::system_clock::time_point now) const {
  if (!expiry || expiry->at > now) return "";
  return "the " + expiry->what + " expired at " + formatTimestamp(expiry->at) +
         ": get new credentials and run `skiff cluster add` again";
}

Result<KubeCluster> KubeClients::get(const std::string& name) {
  auto stored = store_.get({"Cluster", "", name});
  if (!stored.ok()) {
    if (stored.status().code() == StatusCode::kNotFound)
      return notFound("cluster \"" + name + "\" does not exist (skiff cluster ls)");
    return stored.status();
  }
  std::lock_guard<std::mutex> lock(mu_);
  Entry& entry = entries_[name];
  if (entry.cluster.client && entry.resource_version == (*stored)->resourceVersion())
    return entry.cluster;
  const json spec = (*stored)->object().spec;
  kube::ClusterAccess access;
  access.server = spec.value("server", "");
  access.ca_pem = spec.value("caData", "");
  access.token = spec.value("token", "");
  access.client_certificate_pem = spec.value("clientCertificate", "");
  access.client_key_pem = spec.value("clientKey", "");
  entry.cluster.client = std::make_shared<kube::Client>(std::move(access));
  entry.cluster.namespace_prefix = spec.value("namespacePrefix", "skiff-");
  entry.cluster.expiry =
      kube::credentialExpiry(spec.value("clientCertificate", ""), spec.value("token", ""));
  entry.resource_version = (*stored)->resourceVersion();
  return entry.cluster;
}

std::vector<std::string> KubeClients::names() const {
  std::vector<std::string> out;
  for (const auto& c : store_.list("Cluster", ListOptions{}).items) out.push_back(c->metadata.name);
  return out;
}

}  // namespace skiff
