// ServiceController against a Network that records what it is asked (the CniNetwork itself is
// tested as root in network tests and end to end): which components get a service, and that an
// application moved to a Kubernetes cluster loses its services here.
#include "runtime/local/service_controller.h"

#include <gtest/gtest.h>

#include <map>

#include "temp_store.h"

namespace skiff::runtime {
namespace {

using nlohmann::json;

class RecordingNetwork final : public network::Network {
 public:
  std::map<std::string, std::vector<network::ServicePort>> services_;  // "tenant|key"

  Result<network::Attachment> attach(const std::string&, const std::string&,
                                     const std::vector<network::PortMapping>&) override {
    return unavailable("not used");
  }
  Status detach(const std::string&) override { return Status::ok(); }
  Result<std::string> setService(const std::string& tenant, const std::string& key,
                                 const std::string&,
                                 const std::vector<network::ServicePort>& ports) override {
    services_[tenant + "|" + key] = ports;
    return std::string("10.96.0.10");
  }
  Status removeService(const std::string& tenant, const std::string& key) override {
    services_.erase(tenant + "|" + key);
    return Status::ok();
  }
  Result<std::string> serviceAddress(const std::string&, const std::string&) override {
    return std::string("10.96.0.10");
  }
  Result<std::vector<std::string>> services(const std::string& tenant) override {
    std::vector<std::string> keys;
    for (const auto& [k, ports] : services_)
      if (k.rfind(tenant + "|", 0) == 0) keys.push_back(k.substr(tenant.size() + 1));
    return keys;
  }
  Status cleanupOrphans(const std::set<std::string>&) override { return Status::ok(); }
  Status shutdownAll() override { return Status::ok(); }
};

class ServiceControllerTest : public ::testing::Test {
 protected:
  void SetUp() override { controller_ = std::make_unique<ServiceController>(*store_, network_); }
  void TearDown() override { controller_.reset(); }
  // "web" runs an image with a port, "worker" an image without one, "cli" a command.
  static json spec(const std::string& cluster) {
    return {
        {"cluster", cluster},
        {"components",
         {{{"name", "web"}, {"image", "r/web:1"}, {"ports", {{{"name", "http"}, {"port", 80}}}}},
          {{"name", "worker"}, {"image", "r/worker:1"}},
          {{"name", "cli"},
           {"run", {{"command", "/bin/cli"}}},
           {"ports", {{{"name", "http"}, {"port", 81}}}}}}}};
  }
  void reconcile() { ASSERT_TRUE(controller_->reconcile(key_).ok()); }

  const ObjectKey key_{"Application", "acme", "shop"};
  RecordingNetwork network_;
  testing::TempStore store_{"svc"};
  std::unique_ptr<ServiceController> controller_;
};

TEST_F(ServiceControllerTest, ContainerComponentsWithPortsGetAServiceUntilTheAppMovesToACluster) {
  Object app;
  app.kind = "Application";
  app.metadata.name = "shop";
  app.metadata.tenant = "acme";
  app.spec = spec("local");
  auto created = store_->create(app);
  ASSERT_TRUE(created.ok());
  reconcile();
  ASSERT_EQ(network_.services_.size(), 1u);
  ASSERT_TRUE(network_.services_.count("acme|shop/web"));
  EXPECT_EQ(network_.services_["acme|shop/web"][0].port, 80);
  EXPECT_TRUE(network_.services_["acme|shop/web"][0].endpoints.empty()) << "no ready instance";

  Object moved = (*created)->object();
  moved.spec = spec("prod");
  auto on_cluster = store_->update(moved);
  ASSERT_TRUE(on_cluster.ok());
  reconcile();
  EXPECT_TRUE(network_.services_.empty()) << "its Services are the cluster's";

  Object back = (*on_cluster)->object();
  back.spec = spec("local");
  ASSERT_TRUE(store_->update(back).ok());
  reconcile();
  EXPECT_TRUE(network_.services_.count("acme|shop/web"));
  ASSERT_TRUE(store_->remove(key_, std::nullopt).ok());
  reconcile();
  EXPECT_TRUE(network_.services_.empty());
}

}  // namespace
}  // namespace skiff::runtime
