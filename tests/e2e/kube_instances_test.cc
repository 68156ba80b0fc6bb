// End-to-end test of the instances of an application on a real control plane (kube_cluster.h):
// its pods show as Instances (`skiff get instances`, with their node, and gone after a
// scale-down and after the application's deletion), `skiff logs` prints what the pods' log
// says through the API server, and `skiff exec` runs a command through the pod exec endpoint,
// printing its output, all through the real skiff binary.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <memory>

#include "e2e/harness.h"
#include "e2e/kube_fixture.h"

namespace skiff::test {
namespace {

using nlohmann::json;

const std::string kApps = "/api/v1/tenants/acme/applications";

json shop(int replicas) {
  return {{"metadata", {{"name", "shop"}}},
          {"spec",
           {{"cluster", "test"},
            {"components",
             {{{"name", "web"}, {"image", "registry.example/web:1"}, {"replicas", replicas}}}}}}};
}

class KubeInstancesTest : public KubeFixture {
 protected:
  // The Instances of tenant acme, as `skiff get instances -o json` lists them.
  json instances(const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {"get", "instances", "-n", "acme", "-o", "json"};
    args.insert(args.end(), extra.begin(), extra.end());
    CommandResult r = runSkiff(args, url_);
    if (r.exit_code != 0) return json();
    json parsed = json::parse(r.out, nullptr, false);
    return parsed.is_object() ? parsed.value("items", json::array()) : json();
  }
};

TEST_F(KubeInstancesTest, PodsAreInstancesWithLogsAndExec) {
  addClusterAndTenant("test", "acme");
  ASSERT_EQ(httpRequest(url_, "POST", kApps, shop(2).dump()).status, 201);

  // Both pods, as ready Instances on kwok's nodes, found by the labels of any Instance.
  json items;
  auto ready_count = [&](size_t n) {
    items = instances({"-l", "skiff.dev/application=shop,skiff.dev/component=web"});
    if (!items.is_array() || items.size() != n) return false;
    for (const auto& i : items)
      if (!i["status"].value("ready", false)) return false;
    return true;
  };
  ASSERT_TRUE(eventually([&] { return ready_count(2); }, std::chrono::seconds(60))) << items;
  for (const auto& i : items) {
    EXPECT_EQ(i["metadata"]["labels"]["skiff.dev/cluster"], "test");
    EXPECT_EQ(i["spec"]["application"], "shop");
    EXPECT_EQ(i["spec"]["revision"], 1);
    EXPECT_EQ(i["spec"]["node"].get<std::string>().rfind("kwok-node-", 0), 0u) << i;
    EXPECT_EQ(i["status"]["phase"], "Running");
    EXPECT_EQ(i["status"]["cluster"], "test");
    EXPECT_EQ(i["status"]["pod"]["namespace"], "skiff-acme");
    // The pod is the Instance: same name, as the API server has it.
    const std::string name = i["metadata"]["name"];
    EXPECT_EQ(cluster_->api("GET", "/api/v1/namespaces/skiff-acme/pods/" + name).status, 200);
  }
  // The table shows them as it shows local instances.
  CommandResult table = runSkiff({"get", "instances", "-n", "acme"}, url_);
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_NE(table.out.find("shop"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("Running"), std::string::npos) << table.out;

  // Logs: what kwok serves for every pod, through the API server.
  CommandResult logs = runSkiff({"logs", "shop/web", "-n", "acme"}, url_);
  ASSERT_EQ(logs.exit_code, 0) << logs.err;
  EXPECT_NE(logs.out.find("hello from kwok"), std::string::npos) << logs.out;
  const std::string first = items[0]["metadata"]["name"];
  CommandResult one = runSkiff(
      {"logs", "shop/web", "-n", "acme", "--instance", first, "--timestamps", "--tail", "1"}, url_);
  ASSERT_EQ(one.exit_code, 0) << one.err;
  EXPECT_NE(one.out.find("Z hello from kwok\n"), std::string::npos) << one.out;
  EXPECT_EQ(one.out.find("[" + first + "]"), std::string::npos) << one.out;  // a single instance

  // Exec: the command's output and exit code, through the pod exec endpoint (kwok runs it).
  CommandResult exec = runSkiff(
      {"exec", "shop/web", "-n", "acme", "--", "sh", "-c", "echo out; echo err >&2"}, url_);
  EXPECT_EQ(exec.exit_code, 0) << exec.err;
  EXPECT_EQ(exec.out, "out\n");
  EXPECT_NE(exec.err.find("err"), std::string::npos) << exec.err;
  // Interactive, with input. (kwok's exec never closes the command's input, so the command
  // reads a line rather than to the end.)
  CommandResult interactive = runSkiff({"exec", "-i", "shop/web/" + first, "-n", "acme", "--", "sh",
                                        "-c", "read line; echo got $line"},
                                       url_, "typed\n");
  EXPECT_EQ(interactive.exit_code, 0) << interactive.err;
  EXPECT_EQ(interactive.out, "got typed\n");
  CommandResult failing =
      runSkiff({"exec", "shop/web", "-n", "acme", "--", "sh", "-c", "exit 3"}, url_);
  EXPECT_NE(failing.exit_code, 0);

  // A scale-down removes the Instance of the pod that goes; deletion removes the rest.
  ASSERT_EQ(httpRequest(url_, "PUT", kApps + "/shop",
                        [&] {
                          json app = json::parse(httpRequest(url_, "GET", kApps + "/shop").body);
                          app["spec"]["components"][0]["replicas"] = 1;
                          return app.dump();
                        }())
                .status,
            200);
  ASSERT_TRUE(eventually([&] { return ready_count(1); }, std::chrono::seconds(60))) << items;
  ASSERT_EQ(httpRequest(url_, "DELETE", kApps + "/shop").status, 200);
  EXPECT_TRUE(eventually(
      [&] {
        items = instances();
        return items.is_array() && items.empty();
      },
      std::chrono::seconds(60)))
      << items;
}

}  // namespace
}  // namespace skiff::test
