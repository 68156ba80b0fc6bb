#include "e2e/kube_fixture.h"

#include <filesystem>

namespace skiff::test {

using nlohmann::json;

void KubeFixture::SetUp() {
  if (!KubeControlPlane::available())
    GTEST_SKIP() << "no Kubernetes control plane: run scripts/kube-control-plane build";
  cluster_ = std::make_unique<KubeControlPlane>(dir_.path());
  ASSERT_FALSE(cluster_->url().empty());
  const std::string server_dir = dir_.path() + "/skiff";
  std::filesystem::create_directories(server_dir);
  server_ = std::make_unique<ServerProcess>(server_dir);
  server_->start();
  url_ = server_->url();
}

json KubeFixture::get(const std::string& path) {
  HttpResult r = httpRequest(url_, "GET", path);
  return r.status == 200 ? json::parse(r.body) : json();
}

json KubeFixture::kube(const std::string& path) {
  auto r = cluster_->api("GET", path);
  return r.status == 200 ? json::parse(r.body) : json();
}

void KubeFixture::addClusterAndTenant(const std::string& cluster, const std::string& tenant) {
  CommandResult added =
      runSkiff({"cluster", "add", cluster, "--kubeconfig", cluster_->kubeconfig()}, url_);
  ASSERT_EQ(added.exit_code, 0) << added.err;
  ASSERT_EQ(
      httpRequest(url_, "POST", "/api/v1/tenants", json{{"metadata", {{"name", tenant}}}}.dump())
          .status,
      201);
}

bool KubeFixture::reasonBecomes(const std::string& path, const std::string& type,
                                const std::string& reason, std::chrono::seconds timeout) {
  return eventually([&] { return condition(get(path), type).value("reason", "") == reason; },
                    timeout);
}

json condition(const json& object, const std::string& type) {
  if (!object.is_object()) return json::object();
  for (const auto& c : object.value("status", json::object()).value("conditions", json::array()))
    if (c.value("type", "") == type) return c;
  return json::object();
}

}  // namespace skiff::test
