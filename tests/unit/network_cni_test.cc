// CNI invocation without real plugins: configuration lists, what each plugin receives, chaining
// order, results and errors. Plugins are replaced by a fake exec that records the calls.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/command.h"
#include "runtime/local/network/cni.h"

namespace skiff::runtime::network {
namespace {

using Json = nlohmann::json;

CniConfigList twoPlugins() {
  auto list = CniConfigList::fromJson(Json::parse(R"({
    "cniVersion": "1.0.0", "name": "net1",
    "plugins": [
      {"type": "bridge", "bridge": "br0", "ipam": {"type": "host-local"}},
      {"type": "portmap", "capabilities": {"portMappings": true, "bandwidth": false}}
    ]})"));
  EXPECT_TRUE(list.ok()) << list.status().toString();
  return *list;
}

TEST(NetworkCniTest, ConfigListIsValidated) {
  EXPECT_TRUE(twoPlugins().plugins.size() == 2);
  auto no_version =
      CniConfigList::fromJson(Json::parse(R"({"name":"n","plugins":[{"type":"x"}]})"));
  EXPECT_EQ(no_version.status().code(), StatusCode::kInvalid);
  auto bad_name = CniConfigList::fromJson(
      Json::parse(R"({"cniVersion":"1.0.0","name":"-x","plugins":[{"type":"x"}]})"));
  EXPECT_EQ(bad_name.status().code(), StatusCode::kInvalid);
  auto no_type = CniConfigList::fromJson(
      Json::parse(R"({"cniVersion":"1.0.0","name":"n","plugins":[{"bridge":"b"}]})"));
  ASSERT_FALSE(no_type.ok());
  EXPECT_EQ(no_type.status().fields().at(0).path, "plugins[0].type");
  auto empty =
      CniConfigList::fromJson(Json::parse(R"({"cniVersion":"1.0.0","name":"n","plugins":[]})"));
  EXPECT_FALSE(empty.ok());
}

TEST(NetworkCniTest, PluginConfigCarriesNameVersionCapabilitiesAndPrevResult) {
  CniConfigList list = twoPlugins();
  CniRuntime runtime;
  runtime.capabilities = {{"portMappings", Json::array({{{"hostPort", 8080}}})},
                          {"bandwidth", {{"rate", 1}}},
                          {"dns", Json::object()}};
  Json first = CniPlugins::pluginConfig(list, 0, runtime, nullptr);
  EXPECT_EQ(first["name"], "net1");
  EXPECT_EQ(first["cniVersion"], "1.0.0");
  EXPECT_EQ(first["bridge"], "br0");
  EXPECT_FALSE(first.contains("prevResult"));
  EXPECT_FALSE(first.contains("runtimeConfig"));  // declares no capabilities

  Json prev = {{"cniVersion", "1.0.0"}, {"ips", Json::array()}};
  Json second = CniPlugins::pluginConfig(list, 1, runtime, &prev);
  EXPECT_EQ(second["prevResult"], prev);
  // Only the capabilities it declares as true.
  EXPECT_EQ(second["runtimeConfig"], Json({{"portMappings", Json::array({{{"hostPort", 8080}}})}}));
}

TEST(NetworkCniTest, EnvironmentFollowsTheSpec) {
  CniPlugins plugins({.plugin_dirs = {"/a", "/b"}, .timeout = std::chrono::seconds(1), .exec = {}});
  CniRuntime runtime{.container_id = "c1",
                     .netns = "/run/netns/x",
                     .ifname = "eth0",
                     .args = {{"K", "V"}, {"A", "B"}},
                     .capabilities = Json::object()};
  auto env = plugins.pluginEnv("ADD", runtime);
  auto has = [&](const std::string& e) {
    return std::find(env.begin(), env.end(), e) != env.end();
  };
  EXPECT_TRUE(has("CNI_COMMAND=ADD"));
  EXPECT_TRUE(has("CNI_CONTAINERID=c1"));
  EXPECT_TRUE(has("CNI_NETNS=/run/netns/x"));
  EXPECT_TRUE(has("CNI_IFNAME=eth0"));
  EXPECT_TRUE(has("CNI_PATH=/a:/b"));
  EXPECT_TRUE(has("CNI_ARGS=K=V;A=B"));
}

TEST(NetworkCniTest, ParsesResults) {
  auto r = CniResult::fromJson(Json::parse(R"({
    "cniVersion": "1.0.0",
    "interfaces": [{"name": "skiffbr0", "mac": "aa:bb"},
                   {"name": "veth1", "mac": "cc:dd"},
                   {"name": "eth0", "mac": "ee:ff", "sandbox": "/run/netns/x"}],
    "ips": [{"address": "10.213.0.2/24", "gateway": "10.213.0.1", "interface": 2}],
    "routes": [{"dst": "0.0.0.0/0"}], "dns": {}})"));
  ASSERT_TRUE(r.ok()) << r.status().toString();
  ASSERT_EQ(r->interfaces.size(), 3u);
  EXPECT_EQ(r->interfaces[2].sandbox, "/run/netns/x");
  ASSERT_EQ(r->ips.size(), 1u);
  EXPECT_EQ(r->ips[0].interface, 2);
  EXPECT_EQ(r->containerIpv4(),
            std::make_pair(std::string("10.213.0.2"), std::string("10.213.0.1")));

  // 0.4.0 with "version", and 0.2.0's ip4.
  auto v04 = CniResult::fromJson(
      Json::parse(R"({"cniVersion":"0.4.0","ips":[{"version":"4","address":"10.0.0.5/16"}]})"));
  ASSERT_TRUE(v04.ok());
  EXPECT_EQ(v04->containerIpv4().first, "10.0.0.5");
  auto v02 = CniResult::fromJson(
      Json::parse(R"({"cniVersion":"0.2.0","ip4":{"ip":"10.1.2.3/24","gateway":"10.1.2.1"}})"));
  ASSERT_TRUE(v02.ok());
  EXPECT_EQ(v02->containerIpv4().second, "10.1.2.1");

  auto bad_index =
      CniResult::fromJson(Json::parse(R"({"ips":[{"address":"10.0.0.5/16","interface":3}]})"));
  EXPECT_FALSE(bad_index.ok());
  EXPECT_FALSE(CniResult::fromJson(Json::parse("[1]")).ok());
}

TEST(NetworkCniTest, ErrorsCarryThePluginsMessage) {
  Status s =
      cniError("bridge", "ADD",
               {1, R"({"cniVersion":"1.0.0","code":11,"msg":"busy","details":"later"})", ""});
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_NE(s.message().find("bridge ADD failed: busy: later"), std::string::npos) << s.message();
  Status invalid = cniError("x", "ADD", {1, R"({"code":7,"msg":"bad config"})", ""});
  EXPECT_EQ(invalid.code(), StatusCode::kInvalid);
  Status raw = cniError("x", "DEL", {2, "", "panic: oops\n"});
  EXPECT_EQ(raw.code(), StatusCode::kInternal);
  EXPECT_NE(raw.message().find("panic: oops"), std::string::npos);
}

struct Call {
  std::string plugin;
  std::string command;
  Json config;
};

CniPlugins fakePlugins(std::vector<Call>* calls, std::string failing = "") {
  return CniPlugins(
      {.plugin_dirs = {"/bin"},
       .timeout = std::chrono::seconds(1),
       .exec = [calls, failing](const std::string& path, const std::vector<std::string>& env,
                                const std::string& in) -> Result<CommandOutput> {
         std::string command;
         for (const auto& e : env)
           if (e.rfind("CNI_COMMAND=", 0) == 0) command = e.substr(12);
         Json config = Json::parse(in);
         calls->push_back({path.substr(path.rfind('/') + 1), command, config});
         if (config["type"] == failing) {
           return CommandOutput{1, R"({"code":5,"msg":"cannot do it"})", ""};
         }
         // Each fake plugin adds an interface named after itself to what it received.
         Json result = config.value("prevResult", Json{{"cniVersion", "1.0.0"}});
         result["interfaces"].push_back({{"name", config["type"]}});
         return CommandOutput{0, result.dump(), ""};
       }});
}

CniConfigList fakeList() {
  // Plugins named after programs that exist in /bin, so findPlugin() succeeds.
  return *CniConfigList::fromJson(Json::parse(R"({"cniVersion":"1.0.0","name":"n",
      "plugins":[{"type":"true"},{"type":"false"},{"type":"echo"}]})"));
}

TEST(NetworkCniTest, AddChainsInOrderAndDelRunsInReverse) {
  std::vector<Call> calls;
  CniPlugins plugins = fakePlugins(&calls);
  CniRuntime runtime{.container_id = "c",
                     .netns = "/n",
                     .ifname = "eth0",
                     .args = {},
                     .capabilities = Json::object()};
  auto added = plugins.add(fakeList(), runtime);
  ASSERT_TRUE(added.ok()) << added.status().toString();
  ASSERT_EQ(calls.size(), 3u);
  EXPECT_EQ(calls[0].plugin, "true");
  EXPECT_FALSE(calls[0].config.contains("prevResult"));
  EXPECT_EQ(calls[1].config["prevResult"]["interfaces"].size(), 1u);
  EXPECT_EQ(calls[2].config["prevResult"]["interfaces"].size(), 2u);
  ASSERT_EQ(added->interfaces.size(), 3u);
  EXPECT_EQ(added->interfaces[2].name, "echo");

  calls.clear();
  ASSERT_TRUE(plugins.del(fakeList(), runtime, added->raw).isOk());
  ASSERT_EQ(calls.size(), 3u);
  EXPECT_EQ(calls[0].plugin, "echo");
  EXPECT_EQ(calls[2].plugin, "true");
  for (const auto& c : calls) {
    EXPECT_EQ(c.command, "DEL");
    EXPECT_EQ(c.config["prevResult"], added->raw);  // the cached ADD result, for every plugin
  }
}

TEST(NetworkCniTest, AddStopsAtTheFirstErrorDelGoesOn) {
  std::vector<Call> calls;
  CniPlugins plugins = fakePlugins(&calls, "false");
  CniRuntime runtime{.container_id = "c",
                     .netns = "/n",
                     .ifname = "eth0",
                     .args = {},
                     .capabilities = Json::object()};
  auto added = plugins.add(fakeList(), runtime);
  ASSERT_FALSE(added.ok());
  EXPECT_NE(added.status().message().find("cannot do it"), std::string::npos);
  EXPECT_EQ(calls.size(), 2u);

  calls.clear();
  Status del = plugins.del(fakeList(), runtime, std::nullopt);
  EXPECT_FALSE(del.isOk());
  EXPECT_EQ(calls.size(), 3u);
}

TEST(NetworkCniTest, MissingPluginSaysWhatToInstall) {
  CniPlugins plugins(
      {.plugin_dirs = {"/nonexistent"}, .timeout = std::chrono::seconds(1), .exec = {}});
  auto found = plugins.findPlugin("bridge");
  ASSERT_FALSE(found.ok());
  EXPECT_NE(found.status().message().find("containernetworking-plugins"), std::string::npos);
  EXPECT_FALSE(plugins.findPlugin("../bin/sh").ok());
}

TEST(NetworkCommandTest, RunsWithStdinAndCapturesOutput) {
  auto r = runCommand(
      {"cat"},
      {.env = {}, .stdin_data = std::string(200000, 'x'), .timeout = std::chrono::seconds(10)});
  ASSERT_TRUE(r.ok()) << r.status().toString();
  EXPECT_EQ(r->exit_code, 0);
  EXPECT_EQ(r->out.size(), 200000u);

  auto failed = runChecked({"sh", "-c", "echo nope >&2; exit 3"});
  ASSERT_FALSE(failed.ok());
  EXPECT_NE(failed.status().message().find("nope"), std::string::npos);
}

TEST(NetworkCommandTest, KillsAProgramPastItsDeadline) {
  auto start = std::chrono::steady_clock::now();
  auto r = runCommand({"sleep", "10"},
                      {.env = {}, .stdin_data = "", .timeout = std::chrono::milliseconds(200)});
  EXPECT_FALSE(r.ok());
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  // A program that exits without reading its input does not hurt us (no SIGPIPE).
  auto quick = runCommand(
      {"true"},
      {.env = {}, .stdin_data = std::string(1 << 20, 'x'), .timeout = std::chrono::seconds(5)});
  EXPECT_TRUE(quick.ok());
}

TEST(NetworkCommandTest, UnknownProgramIsAnError) {
  EXPECT_FALSE(runCommand({"/nonexistent/program"}).ok());
}

}  // namespace
}  // namespace skiff::runtime::network
