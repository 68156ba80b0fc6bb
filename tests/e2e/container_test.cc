// Components with an image, end to end with the real parts: images built by `skiff image build`
// (busybox-static, and the example service with its libraries) and pushed to a real
// docker-registry on loopback; `skiff server --containers on` pulling them and running them
// under runc with CNI networking; traffic through the gateway; names of components resolving
// to their service addresses; exec; a stateful component keeping its volume across a rolling
// restart and a server restart; an OOM kill reported as such; tenants that cannot reach each
// other; image failures as conditions; and no host leftovers once everything is deleted.
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "e2e/harness.h"
#include "e2e/registry.h"
#include "runtime/local/cgroups.h"

namespace skiff::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

bool canRunContainers() {
  return ::geteuid() == 0 && fs::exists("/usr/sbin/runc") && fs::exists("/usr/bin/busybox") &&
         fs::exists("/usr/bin/docker-registry") && fs::exists("/usr/lib/cni/bridge");
}

// The shared libraries a dynamic executable loads (from ldd), so an image can carry them.
std::vector<std::string> librariesOf(const std::string& binary) {
  std::vector<std::string> out;
  FILE* pipe = ::popen(("ldd " + binary).c_str(), "r");
  if (pipe == nullptr) return out;
  char line[1024];
  while (std::fgets(line, sizeof line, pipe) != nullptr) {
    std::string l(line);
    const size_t slash = l.find('/');
    if (slash == std::string::npos) continue;
    out.push_back(l.substr(slash, l.find_first_of(" \n", slash) - slash));
  }
  ::pclose(pipe);
  return out;
}

class ContainerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!canRunContainers()) GTEST_SKIP() << "needs root, runc, busybox-static, docker-registry";
    fs::create_directories(tmp_.path() + "/registry-data");
    registry_ = std::make_unique<Registry>(tmp_.path() + "/registry-data", Registry::Auth::kNone);
    base_ = registry_->host() + "/skiff/base:1";
    example_ = registry_->host() + "/skiff/example:1";
    buildImages();
  }

  void buildImages() {
    const std::string base_ctx = tmp_.path() + "/base";
    fs::create_directories(base_ctx);
    fs::copy_file("/usr/bin/busybox", base_ctx + "/busybox");
    std::ofstream(base_ctx + "/Dockerfile")
        << "FROM scratch\nCOPY busybox /bin/busybox\n"
           "RUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\n"
           "RUN mkdir -p /tmp /etc && chmod 1777 /tmp && echo 'root:x:0:0::/:/bin/sh' > "
           "/etc/passwd\nENV PATH=/bin\nCMD [\"sh\"]\n";
    auto base = image({"build", "-q", "-t", base_, "--push", base_ctx});
    ASSERT_EQ(base.exit_code, 0) << base.err;

    // The example service as built here, with the libraries it loads at their paths.
    const std::string ctx = tmp_.path() + "/example";
    const std::string example = fs::path(skiffBinary()).parent_path() / "skiff-example";
    fs::create_directories(ctx + "/rootfs/usr/local/bin");
    fs::copy_file(example, ctx + "/rootfs/usr/local/bin/skiff-example");
    for (const auto& lib : librariesOf(example)) {
      fs::create_directories(ctx + "/rootfs" + fs::path(lib).parent_path().string());
      fs::copy_file(fs::canonical(lib), ctx + "/rootfs" + lib,
                    fs::copy_options::overwrite_existing);
    }
    std::ofstream(ctx + "/Dockerfile") << "FROM " << base_ << "\nCOPY rootfs/ /\nEXPOSE 8080\n"
                                       << "ENTRYPOINT [\"/usr/local/bin/skiff-example\"]\n";
    auto built = image({"build", "-q", "-t", example_, "--push", ctx});
    ASSERT_EQ(built.exit_code, 0) << built.err;
  }

  CommandResult image(std::vector<std::string> args) {
    args.insert(args.begin(), "image");
    args.insert(args.begin() + 2, {"--store", tmp_.path() + "/store"});
    return runSkiff(args, "", "", {{"HOME", tmp_.path()}});
  }

  void startServer() {
    server_ = std::make_unique<ServerProcess>(data_.path(),
                                              std::vector<std::string>{"--containers", "on"});
    server_->start();
    ASSERT_TRUE(eventually([&] { return !server_->gatewayUrl().empty(); }));
  }

  json get(const std::string& path) {
    return json::parse(httpRequest(server_->url(), "GET", path).body, nullptr, false);
  }
  void create(const std::string& tenant, const std::string& kind, const json& object) {
    auto r = httpRequest(server_->url(), "POST", "/api/v1/tenants/" + tenant + "/" + kind,
                         object.dump());
    ASSERT_EQ(r.status, 201) << r.body;
  }
  void patchApp(const std::string& tenant, const std::string& name, const json& patch) {
    auto r =
        httpRequest(server_->url(), "PATCH", "/api/v1/tenants/" + tenant + "/applications/" + name,
                    patch.dump(), "application/merge-patch+json");
    ASSERT_EQ(r.status, 200) << r.body;
  }
  json instances(const std::string& tenant, const std::string& app, const std::string& comp) {
    json list =
        get("/api/v1/tenants/" + tenant + "/instances?labelSelector=skiff.dev/application%3D" +
            app + ",skiff.dev/component%3D" + comp);
    return list.value("items", json::array());
  }
  // The ready instances of a component, once there are `count` (and only those).
  bool readyCount(const std::string& tenant, const std::string& app, const std::string& comp,
                  size_t count) {
    json items = instances(tenant, app, comp);
    size_t ready = 0;
    for (const auto& i : items) ready += i["status"].value("ready", false) ? 1 : 0;
    return ready == count && items.size() == count;
  }
  CommandResult exec(const std::string& tenant, const std::string& target,
                     std::vector<std::string> command) {
    std::vector<std::string> args = {"exec", "-n", tenant, target, "--"};
    args.insert(args.end(), command.begin(), command.end());
    return runSkiff(args, server_->url());
  }
  std::string conditionMessage(const json& instance) {
    for (const auto& c : instance["status"].value("conditions", json::array()))
      if (c.value("type", "") == "Ready") return c.value("message", "");
    return "";
  }

  TempDir tmp_;
  TempDir data_;
  std::unique_ptr<Registry> registry_;
  std::unique_ptr<ServerProcess> server_;
  std::string base_, example_;
};

json shop(const std::string& example, const std::string& base, const std::string& marker) {
  return {
      {"apiVersion", "skiff.dev/v1"},
      {"kind", "Application"},
      {"metadata", {{"name", "shop"}}},
      {"spec",
       {{"components",
         {{{"name", "web"},
           {"image", example},
           {"run", {{"command", "/usr/local/bin/skiff-example"}, {"args", {"--name", "web"}}}},
           {"replicas", 2},
           {"ports", {{{"name", "http"}, {"port", 8080}}}},
           {"health",
            {{"readiness",
              {{"http", {{"path", "/healthz"}, {"port", "http"}}}, {"periodSeconds", 0.2}}}}},
           {"terminationGracePeriodSeconds", 2},
           {"routes", {{{"host", "shop.localhost"}, {"port", "http"}}}}},
          {{"name", "cache"},
           {"type", "stateful"},
           {"image", base},
           {"env", {{{"name", "MARKER"}, {"value", marker}}}},
           {"run",
            {{"command", "sh"},
             {"args",
              {"-c",
               "mkdir -p /data/www && { [ -f /data/www/boot ] || hostname > "
               "/data/www/boot; } && echo $MARKER > /data/www/marker && exec httpd -f -p "
               "8080 -h /data/www"}}}},
           {"ports", {{{"name", "http"}, {"port", 8080}}}},
           {"health", {{"readiness", {{"tcp", {{"port", "http"}}}, {"periodSeconds", 0.2}}}}},
           {"terminationGracePeriodSeconds", 2},
           {"volumes", {{{"name", "data"}, {"path", "/data"}, {"size", "16Mi"}}}}},
          {{"name", "hog"},
           {"image", base},
           {"restartPolicy", "Never"},
           {"run", {{"command", "sh"}, {"args", {"-c", "x=0123456789; while :; do x=$x$x; done"}}}},
           {"resources", {{"limits", {{"memory", "24Mi"}}}}}}}}}}};
}

TEST_F(ContainerTest, BuildPushDeployRouteExecAndKeepStatefulData) {
  startServer();
  create("default", "applications", shop(example_, base_, "one"));
  ASSERT_TRUE(
      eventually([&] { return readyCount("default", "shop", "web", 2); }, std::chrono::seconds(60)))
      << instances("default", "shop", "web").dump();
  ASSERT_TRUE(eventually([&] { return readyCount("default", "shop", "cache", 1); },
                         std::chrono::seconds(60)))
      << instances("default", "shop", "cache").dump();

  // Each instance has its own address in the tenant's network; the gateway routes to them.
  json web = instances("default", "shop", "web");
  EXPECT_NE(web[0]["status"].value("address", ""), web[1]["status"].value("address", ""));
  EXPECT_EQ(web[0]["status"].value("network", ""), "container");
  EXPECT_EQ(web[0]["status"]["image"].value("reference", ""), example_);
  // The gateway's routes follow readiness a moment later.
  std::set<std::string> answered;
  (void)eventually([&] {
    auto r = httpRequest(server_->gatewayUrl(), "GET", "/", "", "application/json",
                         {{"Host", "shop.localhost"}});
    if (r.status == 200) answered.insert(json::parse(r.body).value("instance", ""));
    return answered.size() == 2;
  });
  EXPECT_EQ(answered.size(), 2u) << "both web instances serve through the gateway";

  // Inside a web container: the cache component by name, through its service address (which
  // balances over ready instances as soon as the service controller has seen them).
  CommandResult seen;
  EXPECT_TRUE(eventually([&] {
    seen = exec("default", "shop/web", {"wget", "-qO-", "http://cache:8080/marker"});
    return seen.exit_code == 0;
  })) << seen.err;
  EXPECT_EQ(seen.out, "one\n");
  auto failing = exec("default", "shop/web", {"sh", "-c", "echo to-stderr >&2; exit 7"});
  EXPECT_EQ(failing.exit_code, 7);
  EXPECT_EQ(failing.err, "to-stderr\n");
  // With a terminal (runc exec --tty): the command's output is a terminal's, lines ending in
  // CR LF. (A line the command writes before runc has turned its pty's onlcr off gets a second
  // CR, from both ptys; a terminal shows that the same.)
  auto terminal = runSkiff({"exec", "-n", "default", "-t", "shop/web", "--", "sh", "-c",
                            "test -t 1 && echo has-a-terminal; tty"},
                           server_->url());
  EXPECT_EQ(terminal.exit_code, 0) << terminal.err;
  EXPECT_TRUE(
      std::regex_match(terminal.out, std::regex("has-a-terminal\r\r?\n/dev/pts/[0-9]+\r\r?\n")))
      << ::testing::PrintToString(terminal.out);
  auto boot = exec("default", "shop/cache/shop-cache-0", {"cat", "/data/www/boot"});
  ASSERT_EQ(boot.exit_code, 0) << boot.err;
  const std::string first_boot = boot.out;

  // The hog is killed by the kernel at its limit, and says so.
  ASSERT_TRUE(eventually(
      [&] {
        json hog = instances("default", "shop", "hog");
        return !hog.empty() && hog[0]["status"].value("phase", "") == "Failed";
      },
      std::chrono::seconds(60)));
  EXPECT_EQ(instances("default", "shop", "hog")[0]["status"]["lastExit"].value("reason", ""),
            "OOMKilled");

  // A rolling restart of the stateful component keeps its volume.
  patchApp("default", "shop",
           {{"spec", {{"components", shop(example_, base_, "two")["spec"]["components"]}}}});
  ASSERT_TRUE(eventually(
      [&] {
        auto r = exec("default", "shop/cache/shop-cache-0", {"cat", "/data/www/marker"});
        return r.exit_code == 0 && r.out == "two\n";
      },
      std::chrono::seconds(60)));
  EXPECT_EQ(exec("default", "shop/cache/shop-cache-0", {"cat", "/data/www/boot"}).out, first_boot);
  json volume = get("/api/v1/tenants/default/volumes/shop-cache-data-0");
  auto listed = runSkiff({"get", "volumes"}, server_->url());
  EXPECT_NE(listed.out.find("shop-cache-data-0"), std::string::npos) << listed.out << listed.err;
  EXPECT_NE(listed.out.find("16Mi"), std::string::npos) << listed.out;
  // A hard limit where loop devices work (runtime::VolumeStore::probeLoopMounts()).
  if (fs::exists("/dev/loop-control")) {
    EXPECT_TRUE(volume["status"].value("sizeEnforced", false)) << volume.dump();
  }

  // So does a server restart: instances are adopted, data stays.
  server_->stop();
  server_->start();
  ASSERT_TRUE(eventually([&] { return readyCount("default", "shop", "cache", 1); },
                         std::chrono::seconds(30)));
  EXPECT_EQ(exec("default", "shop/cache/shop-cache-0", {"cat", "/data/www/boot"}).out, first_boot);
  // The service address answers again once the restarted server has set its services' rules
  // anew (until then a service it has not reached yet is refused: a known gap).
  EXPECT_TRUE(eventually(
      [&] {
        return exec("default", "shop/web", {"wget", "-qO-", "http://cache:8080/marker"}).out ==
               "two\n";
      },
      std::chrono::seconds(20)));

  // Deleting everything leaves nothing on the host once the server is gone.
  ASSERT_EQ(
      httpRequest(server_->url(), "DELETE", "/api/v1/tenants/default/applications/shop").status,
      200);
  ASSERT_TRUE(eventually([&] { return get("/api/v1/tenants/default/instances")["items"].empty(); },
                         std::chrono::seconds(30)))
      << get("/api/v1/tenants/default/instances").dump() << readFile(server_->logPath());
  ASSERT_EQ(
      httpRequest(server_->url(), "DELETE", "/api/v1/tenants/default/volumes/shop-cache-data-0")
          .status,
      200);
  ASSERT_TRUE(
      eventually([&] { return !fs::exists(data_.path() + "/volumes/default/shop-cache-data-0"); },
                 std::chrono::seconds(10)));
  server_->stop();
  auto cleaned = runSkiff({"host-cleanup", "--data-dir", data_.path()}, "");
  EXPECT_EQ(cleaned.exit_code, 0) << cleaned.err;
  EXPECT_EQ(readFile("/proc/self/mountinfo").find(data_.path()), std::string::npos);
  // Everything on the host carries the tag of this server's containers (other tests may run
  // servers of their own meanwhile).
  const std::string tag = runtime::rootTag(data_.path() + "/containers");
  std::string netns;
  for (const auto& e : fs::directory_iterator("/run/netns")) netns += e.path().filename().string();
  EXPECT_EQ(netns.find("skiff-" + tag), std::string::npos) << netns;
  auto run = [](const std::string& command) {
    std::string out;
    if (FILE* p = ::popen(command.c_str(), "r")) {
      char buf[4096];
      for (size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
      ::pclose(p);
    }
    return out;
  };
  EXPECT_EQ(run("ip -o link").find("skiff" + tag), std::string::npos) << "a bridge is left";
  EXPECT_EQ(run("iptables-save").find("SKIFF-" + tag), std::string::npos) << "rules are left";
}

TEST_F(ContainerTest, TenantsCannotReachEachOtherAndImageFailuresAreConditions) {
  startServer();
  for (const char* tenant : {"alpha", "beta"}) {
    auto r = httpRequest(
        server_->url(), "POST", "/api/v1/tenants",
        json{{"apiVersion", "skiff.dev/v1"}, {"kind", "Tenant"}, {"metadata", {{"name", tenant}}}}
            .dump());
    ASSERT_EQ(r.status, 201) << r.body;
    create(tenant, "applications",
           {{"apiVersion", "skiff.dev/v1"},
            {"kind", "Application"},
            {"metadata", {{"name", "site"}}},
            {"spec",
             {{"components",
               {{{"name", "www"},
                 {"image", base_},
                 {"run",
                  {{"command", "sh"},
                   {"args",
                    {"-c", "mkdir -p /w && echo " + std::string(tenant) +
                               " > /w/who && exec httpd -f -p 8080 -h /w"}}}},
                 {"ports", {{{"name", "http"}, {"port", 8080}}}},
                 // Inside the container: the file exists there, not on the host.
                 {"health",
                  {{"readiness",
                    {{"exec", {{"command", {"test", "-f", "/w/who"}}}}, {"periodSeconds", 0.2}}}}},
                 {"terminationGracePeriodSeconds", 1}}}}}}});
  }
  // An image whose layer the registry serves corrupted (its bytes no longer match the digest).
  const std::string corrupt = registry_->host() + "/skiff/corrupt:1";
  fs::create_directories(tmp_.path() + "/corrupt-rootfs/etc");
  std::ofstream(tmp_.path() + "/corrupt-rootfs/etc/motd") << "soon corrupted\n";
  ASSERT_EQ(
      image({"import", tmp_.path() + "/corrupt-rootfs", corrupt, "--cmd", "/bin/sh"}).exit_code, 0);
  ASSERT_EQ(image({"push", corrupt}).exit_code, 0);
  const json inspected = json::parse(image({"inspect", corrupt}).out);
  const std::string layer = registry_->blobData(inspected["layers"][0].value("digest", ""));
  std::string bytes = readFile(layer);
  ASSERT_FALSE(bytes.empty());
  bytes[bytes.size() / 2] ^= 0x5a;
  std::ofstream(layer, std::ios::binary | std::ios::trunc) << bytes;

  // An image that is not in the registry, one whose registry is not there, and that one.
  create("default", "applications",
         {{"apiVersion", "skiff.dev/v1"},
          {"kind", "Application"},
          {"metadata", {{"name", "broken"}}},
          {"spec",
           {{"components",
             {{{"name", "missing"}, {"image", registry_->host() + "/skiff/nothing:9"}},
              {{"name", "unreachable"},
               {"image", "127.0.0.1:" + std::to_string(freePort()) + "/x/y:1"}},
              {{"name", "corrupt"}, {"image", corrupt}}}}}}});

  for (const char* tenant : {"alpha", "beta"})
    ASSERT_TRUE(
        eventually([&] { return readyCount(tenant, "site", "www", 1); }, std::chrono::seconds(60)))
        << instances(tenant, "site", "www").dump();
  const std::string alpha_ip = instances("alpha", "site", "www")[0]["status"].value("address", "");
  const std::string beta_ip = instances("beta", "site", "www")[0]["status"].value("address", "");
  auto fetch = [&](const char* from, const std::string& ip) {
    return exec(from, "site/www", {"wget", "-qO-", "http://" + ip + ":8080/who"});
  };
  auto own = fetch("alpha", alpha_ip);
  EXPECT_EQ(own.out, "alpha\n") << own.err;
  EXPECT_NE(fetch("alpha", beta_ip).exit_code, 0) << "alpha reached beta";
  EXPECT_NE(fetch("beta", alpha_ip).exit_code, 0) << "beta reached alpha";
  EXPECT_TRUE(eventually([&] { return fetch("beta", "www").out == "beta\n"; }))
      << "its own component, by name";
  // The host (gateway, probes) reaches both.
  EXPECT_EQ(httpRequest("http://" + alpha_ip + ":8080", "GET", "/who").body, "alpha\n");

  auto messageOf = [&](const char* component) {
    json items = instances("default", "broken", component);
    return items.empty() ? std::string() : conditionMessage(items[0]);
  };
  ASSERT_TRUE(eventually([&] { return !messageOf("missing").empty(); }, std::chrono::seconds(30)));
  EXPECT_NE(messageOf("missing").find("not found"), std::string::npos) << messageOf("missing");
  ASSERT_TRUE(
      eventually([&] { return !messageOf("unreachable").empty(); }, std::chrono::seconds(30)));
  EXPECT_NE(messageOf("unreachable").find("ImagePullFailed"), std::string::npos)
      << messageOf("unreachable");
  ASSERT_TRUE(eventually([&] { return !messageOf("corrupt").empty(); }, std::chrono::seconds(30)));
  EXPECT_NE(messageOf("corrupt").find("digest"), std::string::npos) << messageOf("corrupt");
  // Nothing of the bad pulls is kept as an image the server could run.
  for (const auto& img : json::parse(
           runSkiff({"image", "ls", "-o", "json", "--store", data_.path() + "/images"}, "").out))
    EXPECT_EQ(img.value("reference", "").find("corrupt"), std::string::npos) << img.dump();
  // The others keep running.
  EXPECT_TRUE(readyCount("alpha", "site", "www", 1));
}

TEST_F(ContainerTest, PrivateRegistriesUseTheTenantsRegistrySecret) {
  fs::create_directories(tmp_.path() + "/private-registry");
  Registry private_registry(tmp_.path() + "/private-registry", Registry::Auth::kBasic);
  const std::string image_ref = private_registry.host() + "/acme/base:1";
  ASSERT_EQ(image({"tag", base_, image_ref}).exit_code, 0);
  auto pushed = runSkiff({"image", "push", "--store", tmp_.path() + "/store", image_ref, "-u",
                          kRegistryUser, "--password-stdin"},
                         "", std::string(kRegistryPassword) + "\n", {{"HOME", tmp_.path()}});
  ASSERT_EQ(pushed.exit_code, 0) << pushed.err;

  startServer();
  for (const char* tenant : {"withsecret", "without"}) {
    auto r = httpRequest(
        server_->url(), "POST", "/api/v1/tenants",
        json{{"apiVersion", "skiff.dev/v1"}, {"kind", "Tenant"}, {"metadata", {{"name", tenant}}}}
            .dump());
    ASSERT_EQ(r.status, 201) << r.body;
  }
  create("withsecret", "secrets",
         {{"apiVersion", "skiff.dev/v1"},
          {"kind", "Secret"},
          {"metadata", {{"name", "registry"}}},
          {"spec",
           {{"type", "registry"},
            {"data",
             {{"server", private_registry.host()},
              {"username", kRegistryUser},
              {"password", kRegistryPassword}}}}}});
  const json app = {{"apiVersion", "skiff.dev/v1"},
                    {"kind", "Application"},
                    {"metadata", {{"name", "private"}}},
                    {"spec",
                     {{"components",
                       {{{"name", "sleeper"},
                         {"image", image_ref},
                         {"run", {{"command", "sleep"}, {"args", {"3600"}}}},
                         {"terminationGracePeriodSeconds", 1}}}}}}};
  create("withsecret", "applications", app);
  create("without", "applications", app);
  ASSERT_TRUE(eventually(
      [&] {
        json items = instances("withsecret", "private", "sleeper");
        return !items.empty() && items[0]["status"].value("phase", "") == "Running";
      },
      std::chrono::seconds(60)))
      << instances("withsecret", "private", "sleeper").dump();
  ASSERT_TRUE(eventually(
      [&] {
        json items = instances("without", "private", "sleeper");
        return !items.empty() && !conditionMessage(items[0]).empty();
      },
      std::chrono::seconds(30)));
  const std::string refused = conditionMessage(instances("without", "private", "sleeper")[0]);
  EXPECT_NE(refused.find("no credentials"), std::string::npos) << refused;
  EXPECT_EQ(refused.find(kRegistryPassword), std::string::npos);
}

}  // namespace
}  // namespace skiff::test
