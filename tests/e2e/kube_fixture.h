// The setting of every end-to-end test of the kubernetes backend: a real control plane
// (kube_cluster.h) and a real `skiff server`, with helpers to read both. Tests skip where the
// control plane's binaries are not built.
#pragma once

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <memory>
#include <string>

#include "e2e/harness.h"
#include "e2e/kube_cluster.h"

namespace skiff::test {

class KubeFixture : public ::testing::Test {
 protected:
  void SetUp() override;

  // GETs of Skiff's API and of the API server's; null unless the answer is 200.
  nlohmann::json get(const std::string& path);
  nlohmann::json kube(const std::string& path);
  // `skiff cluster add NAME` from the control plane's kubeconfig, then tenant `tenant`.
  void addClusterAndTenant(const std::string& cluster, const std::string& tenant);
  // Whether the condition `type` of the object at `path` comes to have `reason` in time.
  bool reasonBecomes(const std::string& path, const std::string& type, const std::string& reason,
                     std::chrono::seconds timeout = std::chrono::seconds(30));

  TempDir dir_;
  std::unique_ptr<KubeControlPlane> cluster_;
  std::unique_ptr<ServerProcess> server_;  // destroyed before the cluster
  std::string url_;
};

// The condition `type` of an object's status; an empty object when it has none.
nlohmann::json condition(const nlohmann::json& object, const std::string& type);

}  // namespace skiff::test
