// config.json generation for the runc driver, the container user's resolution against an
// image's /etc/passwd and /etc/group, and the /etc files a container gets.
#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "runtime/local/oci_bundle.h"

namespace skiff::runtime {
namespace {

using Json = nlohmann::json;

OciBundleConfig sampleConfig() {
  OciBundleConfig c;
  c.argv = {"/bin/server", "--port", "8080"};
  c.env = {"PATH=/usr/bin:/bin", "MODE=prod"};
  c.cwd = "/srv";
  c.user = {.uid = 1000, .gid = 1000, .additional_gids = {2000}};
  c.rootfs = "/data/instances/web-1/bundle/rootfs";
  c.read_only_root = true;
  c.hostname = "web-1";
  c.netns_path = "/run/netns/skiff-web-1";
  c.cgroups_path = "skiff/web-1-0badf00d";
  c.limits = {.cpu_millis = 250, .memory_bytes = 64 << 20, .pids = 100};
  c.mounts = {{"/data/instances/web-1/etc/hosts", "/etc/hosts", true},
              {"/data/volumes/db", "/var/lib/db", false}};
  return c;
}

bool hasNamespace(const Json& linux, const std::string& type) {
  for (const Json& ns : linux["namespaces"])
    if (ns["type"] == type) return true;
  return false;
}

TEST(OciBundleTest, ProcessRootAndHostname) {
  Json j = Json::parse(ociConfigJson(sampleConfig()));
  EXPECT_EQ(j["ociVersion"], "1.0.2-dev");
  const Json& p = j["process"];
  EXPECT_EQ(p["terminal"], false);
  EXPECT_EQ(p["args"], Json({"/bin/server", "--port", "8080"}));
  EXPECT_EQ(p["env"], Json({"PATH=/usr/bin:/bin", "MODE=prod"}));
  EXPECT_EQ(p["cwd"], "/srv");
  EXPECT_EQ(p["user"]["uid"], 1000);
  EXPECT_EQ(p["user"]["gid"], 1000);
  EXPECT_EQ(p["user"]["additionalGids"], Json({2000}));
  EXPECT_EQ(p["noNewPrivileges"], true);
  EXPECT_EQ(j["root"]["path"], "/data/instances/web-1/bundle/rootfs");
  EXPECT_EQ(j["root"]["readonly"], true);
  EXPECT_EQ(j["hostname"], "web-1");
}

TEST(OciBundleTest, DockerDefaultCapabilitiesOnly) {
  Json j = Json::parse(ociConfigJson(sampleConfig()));
  const Json& caps = j["process"]["capabilities"];
  for (const char* set : {"bounding", "effective", "permitted"}) {
    std::vector<std::string> names = caps[set].get<std::vector<std::string>>();
    EXPECT_EQ(names.size(), 14u) << set;
    for (const char* wanted : {"CAP_CHOWN", "CAP_NET_BIND_SERVICE", "CAP_SETUID", "CAP_KILL"})
      EXPECT_NE(std::find(names.begin(), names.end(), wanted), names.end()) << set << wanted;
    for (const char* unwanted : {"CAP_SYS_ADMIN", "CAP_NET_ADMIN", "CAP_SYS_PTRACE"})
      EXPECT_EQ(std::find(names.begin(), names.end(), unwanted), names.end()) << unwanted;
  }
  EXPECT_FALSE(caps.contains("ambient"));
}

TEST(OciBundleTest, NamespacesJoinTheGivenNetworkNamespace) {
  Json j = Json::parse(ociConfigJson(sampleConfig()));
  for (const char* type : {"pid", "mount", "uts", "ipc", "network"})
    EXPECT_TRUE(hasNamespace(j["linux"], type)) << type;
  for (const Json& ns : j["linux"]["namespaces"])
    if (ns["type"] == "network") {
      EXPECT_EQ(ns["path"], "/run/netns/skiff-web-1");
    }

  OciBundleConfig own = sampleConfig();
  own.netns_path.clear();
  Json k = Json::parse(ociConfigJson(own));
  for (const Json& ns : k["linux"]["namespaces"]) EXPECT_FALSE(ns.contains("path"));
}

TEST(OciBundleTest, LimitsBecomeCgroupResources) {
  Json j = Json::parse(ociConfigJson(sampleConfig()));
  const Json& linux = j["linux"];
  EXPECT_EQ(linux["cgroupsPath"], "skiff/web-1-0badf00d");
  const Json& r = linux["resources"];
  EXPECT_EQ(r["cpu"]["period"], 100000);
  EXPECT_EQ(r["cpu"]["quota"], 25000);
  EXPECT_EQ(r["memory"]["limit"], 64 << 20);
  EXPECT_EQ(r["memory"]["swap"], 64 << 20);  // no swap beyond the limit
  EXPECT_EQ(r["pids"]["limit"], 100);
  EXPECT_EQ(r["devices"], Json::parse(R"([{"allow": false, "access": "rwm"}])"));

  OciBundleConfig unlimited = sampleConfig();
  unlimited.limits = {};
  Json u = Json::parse(ociConfigJson(unlimited));
  EXPECT_FALSE(u["linux"]["resources"].contains("cpu"));
  EXPECT_FALSE(u["linux"]["resources"].contains("memory"));
  EXPECT_FALSE(u["linux"]["resources"].contains("pids"));
}

TEST(OciBundleTest, StandardMountsThenBindMountsInOrder) {
  Json j = Json::parse(ociConfigJson(sampleConfig()));
  std::vector<std::string> destinations;
  for (const Json& m : j["mounts"]) destinations.push_back(m["destination"]);
  EXPECT_EQ(destinations,
            (std::vector<std::string>{"/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue",
                                      "/sys", "/sys/fs/cgroup", "/etc/hosts", "/var/lib/db"}));
  const Json& hosts = j["mounts"][7];
  EXPECT_EQ(hosts["type"], "bind");
  EXPECT_EQ(hosts["source"], "/data/instances/web-1/etc/hosts");
  EXPECT_EQ(hosts["options"], Json({"rbind", "nosuid", "nodev", "ro"}));
  EXPECT_EQ(j["mounts"][8]["options"], Json({"rbind", "nosuid", "nodev", "rw"}));
  auto masked = j["linux"]["maskedPaths"].get<std::vector<std::string>>();
  EXPECT_NE(std::find(masked.begin(), masked.end(), "/proc/kcore"), masked.end());
  auto readonly = j["linux"]["readonlyPaths"].get<std::vector<std::string>>();
  EXPECT_NE(std::find(readonly.begin(), readonly.end(), "/proc/sys"), readonly.end());
}

constexpr const char* kPasswd =
    "root:x:0:0:root:/root:/bin/sh\n"
    "# a comment\n"
    "app:x:1000:1001:App:/home/app:/bin/sh\n"
    "nogroup-user:x:1500:1500::/:/bin/false\n";
constexpr const char* kGroup =
    "root:x:0:\n"
    "app:x:1001:\n"
    "audio:x:29:app,other\n"
    "staff:x:50:other\n";

TEST(OciBundleTest, ResolvesUsersLikeDocker) {
  auto root = resolveOciUser("", kPasswd, kGroup);
  ASSERT_TRUE(root.ok());
  EXPECT_EQ(*root, (OciUser{0, 0, {}}));

  auto by_name = resolveOciUser("app", kPasswd, kGroup);
  ASSERT_TRUE(by_name.ok()) << by_name.status().toString();
  EXPECT_EQ(*by_name, (OciUser{1000, 1001, {29}}));

  auto by_uid = resolveOciUser("1000", kPasswd, kGroup);
  ASSERT_TRUE(by_uid.ok());
  EXPECT_EQ(*by_uid, (OciUser{1000, 1001, {29}}));

  auto unknown_uid = resolveOciUser("4242", kPasswd, kGroup);
  ASSERT_TRUE(unknown_uid.ok());
  EXPECT_EQ(*unknown_uid, (OciUser{4242, 0, {}}));

  auto both_numeric = resolveOciUser("4242:77", "", "");
  ASSERT_TRUE(both_numeric.ok());
  EXPECT_EQ(*both_numeric, (OciUser{4242, 77, {}}));

  auto named_group = resolveOciUser("app:staff", kPasswd, kGroup);
  ASSERT_TRUE(named_group.ok());
  EXPECT_EQ(*named_group, (OciUser{1000, 50, {29}}));
}

TEST(OciBundleTest, UnknownUsersAndGroupsAreErrorsNamingThem) {
  auto missing = resolveOciUser("nobody-here", kPasswd, kGroup);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kInvalid);
  EXPECT_NE(missing.status().message().find("nobody-here"), std::string::npos);
  EXPECT_NE(missing.status().message().find("/etc/passwd"), std::string::npos);

  auto missing_group = resolveOciUser("app:wheel", kPasswd, kGroup);
  ASSERT_FALSE(missing_group.ok());
  EXPECT_NE(missing_group.status().message().find("wheel"), std::string::npos);

  EXPECT_FALSE(resolveOciUser(":50", kPasswd, kGroup).ok());
  EXPECT_FALSE(resolveOciUser("app", "", "").ok());  // an image without /etc/passwd
}

TEST(OciBundleTest, HostsFileNamesTheContainer) {
  std::string hosts = hostsFileContents("web-1", {"10.88.0.7 cache cache.acme"});
  EXPECT_EQ(hosts.rfind("127.0.0.1\tlocalhost\n", 0), 0u);
  EXPECT_NE(hosts.find("127.0.1.1\tweb-1\n"), std::string::npos);
  EXPECT_NE(hosts.find("\n10.88.0.7 cache cache.acme\n"), std::string::npos);

  // When a line names the container (its CNI address), no loopback alias is added.
  std::string named = hostsFileContents("web-1", {"10.88.0.5 web-1"});
  EXPECT_EQ(named.find("127.0.1.1"), std::string::npos);
}

TEST(OciBundleTest, ResolvConfFromDnsOrTheHostWithoutLoopback) {
  DnsConfig dns{
      .nameservers = {"10.88.0.1"}, .search = {"acme.svc", "svc"}, .options = {"ndots:2"}};
  EXPECT_EQ(resolvConfContents(dns, "nameserver 1.1.1.1\n"),
            "nameserver 10.88.0.1\nsearch acme.svc svc\noptions ndots:2\n");

  const char* host = "# host\nnameserver 127.0.0.53\nnameserver 9.9.9.9\nsearch lan\n";
  EXPECT_EQ(resolvConfContents({}, host), "# host\nnameserver 9.9.9.9\nsearch lan\n");
  DnsConfig search_only;
  search_only.search = {"acme.svc"};
  EXPECT_EQ(resolvConfContents(search_only, host), "# host\nnameserver 9.9.9.9\nsearch acme.svc\n");
}

}  // namespace
}  // namespace skiff::runtime
