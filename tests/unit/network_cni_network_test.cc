// CniNetwork with the real CNI plugins, namespaces and iptables of this machine: reachability
// inside a tenant, isolation between tenants, service VIPs, persistence and cleanup. Needs root
// and the plugins in /usr/lib/cni (skipped otherwise). Every test uses its own tag and address
// pools, and the fixture tears everything down even when a test fails.
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <set>
#include <thread>

#include "common/command.h"
#include "runtime/local/network/network.h"
#include "temp_dir_test.h"

namespace skiff::runtime::network {
namespace {

using std::chrono::milliseconds;

class NetworkCniNetworkTest : public skiff::testing::TempDirTest {
 protected:
  void SetUp() override {
    if (::geteuid() != 0 || ::access("/usr/lib/cni/bridge", X_OK) != 0 ||
        ::access("/usr/bin/busybox", X_OK) != 0) {
      GTEST_SKIP() << "needs root, the CNI plugins in /usr/lib/cni and busybox";
    }
    TempDirTest::SetUp();
    uint32_t h = 2166136261u;
    for (unsigned char c : dir_) h = (h ^ c) * 16777619u;
    char tag[9];
    std::snprintf(tag, sizeof tag, "%08x", h);
    tag_ = tag;
    // Pools of their own, so runs side by side do not share subnets.
    const int second = 100 + static_cast<int>(h % 50);
    options_.state_dir = dir_ + "/network";
    options_.tag = tag_;
    options_.subnet_pool = "10." + std::to_string(second) + ".0.0/16";
    options_.service_pool = "10." + std::to_string(second + 50) + ".0.0/16";
    open();
  }

  void TearDown() override {
    for (pid_t pid : servers_) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
    if (net_) {
      Status s = net_->shutdownAll();
      EXPECT_TRUE(s.isOk()) << s.toString();
    }
    net_.reset();
    if (!dir_.empty()) TempDirTest::TearDown();
  }

  void open() {
    net_.reset();
    auto opened = CniNetwork::open(options_);
    ASSERT_TRUE(opened.ok()) << opened.status().toString();
    net_ = std::move(*opened);
  }

  static std::string run(const std::vector<std::string>& argv) {
    auto r = runCommand(argv, {.env = {}, .stdin_data = "", .timeout = std::chrono::seconds(10)});
    return r.ok() ? r->out : std::string();
  }

  // The host ends of the veths on `bridge` (other tests may add veths of their own meanwhile).
  static std::set<std::string> veths(const std::string& bridge) {
    std::set<std::string> names;
    std::istringstream in(run({"ip", "-o", "link", "show", "master", bridge}));
    std::string line;
    while (std::getline(in, line)) {
      size_t a = line.find(": ");
      size_t b = line.find_first_of("@:", a + 2);
      if (a != std::string::npos && b != std::string::npos)
        names.insert(line.substr(a + 2, b - a - 2));
    }
    return names;
  }

  // An HTTP server answering `reply` on `port` inside `netns`.
  void serve(const std::string& netns, int port, const std::string& reply) {
    const std::string root = dir_ + "/www-" + reply;
    std::filesystem::create_directories(root);
    std::ofstream(root + "/index.html") << reply;
    std::vector<std::string> argv;
    if (!netns.empty()) argv = {"ip", "netns", "exec", netns};
    for (std::string a : {"busybox", "httpd", "-f", "-p"}) argv.push_back(a);
    argv.push_back(std::to_string(port));
    argv.push_back("-h");
    argv.push_back(root);
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    pid_t pid;
    ASSERT_EQ(posix_spawnp(&pid, args[0], nullptr, nullptr, args.data(), environ), 0);
    servers_.push_back(pid);
  }

  // The body fetched from `url`, from inside `netns` (empty: the host); "" on failure.
  static std::string fetch(const std::string& netns, const std::string& url,
                           milliseconds timeout = milliseconds(3000)) {
    std::vector<std::string> argv;
    if (!netns.empty()) argv = {"ip", "netns", "exec", netns};
    for (const char* a : {"busybox", "wget", "-q", "-O", "-"}) argv.push_back(a);
    argv.push_back(url);
    auto r = runCommand(argv, {.env = {}, .stdin_data = "", .timeout = timeout});
    return r.ok() && r->exit_code == 0 ? r->out : std::string();
  }

  // Whether fetching `url` from `netns` fails at once: the connection is refused or the host
  // reported unreachable (REJECT), rather than left to hang (DROP, or nothing answering) until
  // the deadline kills wget.
  static bool rejected(const std::string& netns, const std::string& url) {
    std::vector<std::string> argv;
    if (!netns.empty()) argv = {"ip", "netns", "exec", netns};
    for (const char* a : {"busybox", "wget", "-q", "-O", "-"}) argv.push_back(a);
    argv.push_back(url);
    auto r = runCommand(argv, {.env = {}, .stdin_data = "", .timeout = milliseconds(5000)});
    return r.ok() && r->exit_code != 0;
  }

  // Waits until `url` answers from `netns` (servers take a moment to listen).
  static std::string fetchEventually(const std::string& netns, const std::string& url) {
    for (int i = 0; i < 50; ++i) {
      std::string body = fetch(netns, url);
      if (!body.empty()) return body;
      ::usleep(100 * 1000);
    }
    return "";
  }

  static std::string netnsName(const Attachment& a) {
    return a.netns_path.substr(a.netns_path.rfind('/') + 1);
  }

  Attachment attach(const std::string& tenant, const std::string& id,
                    const std::vector<PortMapping>& mappings = {}) {
    auto a = net_->attach(tenant, id, mappings);
    EXPECT_TRUE(a.ok()) << a.status().toString();
    if (a.ok())
      for (const auto& v : veths(a->bridge)) our_veths_.insert(v);
    return a.ok() ? *a : Attachment{};
  }

  void expectNothingLeft() {
    EXPECT_EQ(run({"ip", "netns", "list"}).find(tag_), std::string::npos);
    EXPECT_EQ(run({"ip", "link"}).find(tag_), std::string::npos);
    EXPECT_EQ(run({"iptables-save"}).find(tag_), std::string::npos) << run({"iptables-save"});
    for (const auto& v : our_veths_)
      EXPECT_EQ(run({"ip", "-o", "link", "show", v}), "") << "veth left: " << v;
  }

  std::string tag_;
  CniNetwork::Options options_;
  std::unique_ptr<CniNetwork> net_;
  std::vector<pid_t> servers_;
  std::set<std::string> our_veths_;  // host ends of the veths this test's attachments made
};

TEST_F(NetworkCniNetworkTest, InstancesOfATenantReachEachOtherAndTheHostReachesThem) {
  Attachment a = attach("acme", "web-1");
  Attachment b = attach("acme", "web-2");
  EXPECT_NE(a.ip, b.ip);
  EXPECT_EQ(a.gateway, b.gateway);
  EXPECT_EQ(a.bridge, "skiff" + tag_ + "0");
  EXPECT_EQ(a.netns_path, "/run/netns/skiff-" + tag_ + "-web-1");
  EXPECT_EQ(::access(a.netns_path.c_str(), F_OK), 0);

  serve(netnsName(b), 8080, "b");
  EXPECT_EQ(fetchEventually(netnsName(a), "http://" + b.ip + ":8080/"), "b");
  EXPECT_EQ(fetch("", "http://" + b.ip + ":8080/"), "b");  // the host

  // Attaching again gives the same attachment.
  auto again = net_->attach("acme", "web-1", {});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, a);
  // ... but not to another tenant.
  EXPECT_EQ(net_->attach("other", "web-1", {}).status().code(), StatusCode::kConflict);
}

TEST_F(NetworkCniNetworkTest, TenantsCannotReachEachOther) {
  Attachment a = attach("alpha", "a-1");
  Attachment b = attach("beta", "b-1");
  EXPECT_NE(a.bridge, b.bridge);
  serve(netnsName(a), 8080, "a");
  serve(netnsName(b), 8080, "b");
  // The host reaches both.
  ASSERT_EQ(fetchEventually("", "http://" + a.ip + ":8080/"), "a");
  ASSERT_EQ(fetchEventually("", "http://" + b.ip + ":8080/"), "b");
  // Neither reaches the other: rejected by the isolation rules at once (without them the host
  // would route between the bridges and the plugins' rules would accept).
  EXPECT_TRUE(rejected(netnsName(a), "http://" + b.ip + ":8080/"));
  EXPECT_TRUE(rejected(netnsName(b), "http://" + a.ip + ":8080/"));
  // Instances reach the host (its address on their bridge) and the host reaches them.
  serve("", 18080 + static_cast<int>(getpid() % 1000), "host");
  EXPECT_EQ(fetchEventually(netnsName(a), "http://" + a.gateway + ":" +
                                              std::to_string(18080 + getpid() % 1000) + "/"),
            "host");
}

// Other CNI users and other Skiff servers insert into FORWARD too, concurrently: isolation
// must not depend on our jump staying first, and their churn must never remove our jumps.
TEST_F(NetworkCniNetworkTest, IsolationSurvivesOthersReorderingTheSharedChains) {
  Attachment a = attach("alpha", "a-1");
  Attachment b = attach("beta", "b-1");
  serve(netnsName(b), 8080, "b");
  ASSERT_EQ(fetchEventually("", "http://" + b.ip + ":8080/"), "b");

  // Another server attaching and tearing down over and over, beside our own attachments.
  CniNetwork::Options other = options_;
  other.state_dir = dir_ + "/other-network";
  other.tag = tag_.substr(0, 7) + (tag_[7] == 'f' ? "e" : "f");
  other.subnet_pool = "10.99.0.0/16";
  other.service_pool = "10.98.0.0/16";
  auto second = CniNetwork::open(other);
  ASSERT_TRUE(second.ok()) << second.status().toString();
  std::set<std::string> other_veths;
  std::thread churn([&] {
    for (int i = 0; i < 4; ++i) {
      auto c = (*second)->attach("gamma", "c-" + std::to_string(i), {});
      EXPECT_TRUE(c.ok()) << c.status().toString();
      if (c.ok())
        for (const auto& v : veths(c->bridge)) other_veths.insert(v);
      EXPECT_TRUE((*second)->shutdownAll().isOk());
    }
  });
  for (int i = 0; i < 4; ++i) {
    attach("alpha", "a-x" + std::to_string(i));
    EXPECT_TRUE(net_->detach("a-x" + std::to_string(i)).isOk());
  }
  churn.join();
  our_veths_.insert(other_veths.begin(), other_veths.end());
  const std::string comment = "--comment skiff-" + tag_;
  EXPECT_NE(run({"iptables", "-S", "FORWARD"}).find(comment), std::string::npos);
  EXPECT_NE(run({"iptables", "-S", "CNI-ADMIN"}).find(comment), std::string::npos);
  EXPECT_TRUE(rejected(netnsName(a), "http://" + b.ip + ":8080/"));

  // The firewall plugin's CNI-FORWARD, which accepts by container address, put first (as it
  // does when its own jump was missing): the jump from CNI-ADMIN still isolates.
  const std::vector<std::string> ahead = {"-m",           "comment", "--comment",
                                          "test-" + tag_, "-j",      "CNI-FORWARD"};
  std::vector<std::string> insert = {"iptables", "-w", "-I", "FORWARD", "1"};
  insert.insert(insert.end(), ahead.begin(), ahead.end());
  ASSERT_TRUE(runChecked(insert).ok());
  bool still_rejected = rejected(netnsName(a), "http://" + b.ip + ":8080/");
  std::vector<std::string> remove = {"iptables", "-w", "-D", "FORWARD"};
  remove.insert(remove.end(), ahead.begin(), ahead.end());
  ASSERT_TRUE(runChecked(remove).ok());
  EXPECT_TRUE(still_rejected);
}

TEST_F(NetworkCniNetworkTest, ServiceVipBalancesHairpinsAndRefusesWhenEmpty) {
  Attachment a = attach("acme", "web-1");
  Attachment b = attach("acme", "web-2");
  Attachment client = attach("acme", "client-1");
  serve(netnsName(a), 8080, "a");
  serve(netnsName(b), 8080, "b");
  ASSERT_EQ(fetchEventually("", "http://" + a.ip + ":8080/"), "a");
  ASSERT_EQ(fetchEventually("", "http://" + b.ip + ":8080/"), "b");

  auto vip = net_->setService("acme", "shop/web", "",
                              {{80, Protocol::kTcp, {{a.ip, 8080}, {b.ip, 8080}}}});
  ASSERT_TRUE(vip.ok()) << vip.status().toString();
  auto range = net_->tenantNetwork("acme");
  ASSERT_TRUE(range.ok());
  EXPECT_TRUE(range->service_range.contains(*parseIpv4(*vip)));

  std::set<std::string> answers;
  for (int i = 0; i < 30 && answers.size() < 2; ++i) {
    answers.insert(fetch(netnsName(client), "http://" + *vip + "/"));
  }
  EXPECT_EQ(answers, (std::set<std::string>{"a", "b"}));

  // Hairpin: an endpoint reaching its own component's VIP, sent to itself or its neighbour.
  std::set<std::string> from_a;
  for (int i = 0; i < 30 && from_a.size() < 2; ++i) {
    from_a.insert(fetch(netnsName(a), "http://" + *vip + "/"));
  }
  EXPECT_EQ(from_a, (std::set<std::string>{"a", "b"}));
  // The host reaches the VIP too.
  EXPECT_NE(fetch("", "http://" + *vip + "/"), "");

  // No ready endpoints: refused at once, not a hang.
  auto same = net_->setService("acme", "shop/web", "", {{80, Protocol::kTcp, {}}});
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(*same, *vip);
  EXPECT_TRUE(rejected(netnsName(client), "http://" + *vip + "/"));
  EXPECT_TRUE(rejected("", "http://" + *vip + "/"));

  // Another tenant's instance cannot use acme's VIP.
  Attachment other = attach("beta", "b-1");
  ASSERT_TRUE(
      net_->setService("acme", "shop/web", "", {{80, Protocol::kTcp, {{a.ip, 8080}}}}).ok());
  EXPECT_EQ(fetch(netnsName(other), "http://" + *vip + "/"), "");
  EXPECT_EQ(fetch(netnsName(client), "http://" + *vip + "/"), "a");

  ASSERT_TRUE(net_->removeService("acme", "shop/web").isOk());
  EXPECT_EQ(run({"iptables-save"}).find(*vip + "/32"), std::string::npos);
}

TEST_F(NetworkCniNetworkTest, SubnetsAndVipsSurviveARestart) {
  Attachment a = attach("acme", "web-1");
  attach("beta", "b-1");
  auto vip = net_->setService("beta", "app/db", "", {{5432, Protocol::kTcp, {}}});
  ASSERT_TRUE(vip.ok());
  auto acme = net_->tenantNetwork("acme");
  auto beta = net_->tenantNetwork("beta");
  ASSERT_TRUE(acme.ok() && beta.ok());

  open();  // a new CniNetwork on the same state directory
  auto acme2 = net_->tenantNetwork("acme");
  auto beta2 = net_->tenantNetwork("beta");
  ASSERT_TRUE(acme2.ok() && beta2.ok());
  EXPECT_EQ(acme2->subnet, acme->subnet);
  EXPECT_EQ(beta2->subnet, beta->subnet);
  auto vip2 = net_->setService("beta", "app/db", "", {{5432, Protocol::kTcp, {}}});
  ASSERT_TRUE(vip2.ok());
  EXPECT_EQ(*vip2, *vip);
  auto again = net_->attach("acme", "web-1", {});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->ip, a.ip);
  // A new tenant gets a third subnet, and a given VIP must be free and in range.
  auto gamma = net_->tenantNetwork("gamma");
  ASSERT_TRUE(gamma.ok());
  EXPECT_NE(gamma->subnet, acme->subnet);
  EXPECT_NE(gamma->subnet, beta->subnet);
  EXPECT_EQ(net_->setService("beta", "app/other", *vip, {}).status().code(), StatusCode::kConflict);
  EXPECT_EQ(net_->setService("beta", "app/other", "192.0.2.1", {}).status().code(),
            StatusCode::kInvalid);
}

TEST_F(NetworkCniNetworkTest, DetachAndShutdownLeaveNothingBehind) {
  Attachment a =
      attach("acme", "web-1",
             {{static_cast<uint16_t>(20000 + (getpid() % 10000)), 8080, Protocol::kTcp, ""}});
  attach("beta", "b-1");
  ASSERT_TRUE(
      net_->setService("acme", "shop/web", "", {{80, Protocol::kTcp, {{a.ip, 8080}}}}).ok());
  EXPECT_NE(run({"iptables-save"}).find(tag_), std::string::npos);

  ASSERT_TRUE(net_->detach("web-1").isOk());
  EXPECT_NE(::access(a.netns_path.c_str(), F_OK), 0);
  ASSERT_TRUE(net_->detach("web-1").isOk());  // idempotent
  ASSERT_TRUE(net_->detach("never-attached").isOk());

  ASSERT_TRUE(net_->shutdownAll().isOk());
  expectNothingLeft();
  // And the network comes back when used again.
  Attachment b = attach("beta", "b-2");
  EXPECT_FALSE(b.ip.empty());
}

TEST_F(NetworkCniNetworkTest, CleanupOrphansRemovesWhatIsGone) {
  Attachment live = attach("acme", "live-1");
  Attachment gone = attach("acme", "gone-1");
  // A namespace without a record, as after a lost state file.
  ASSERT_TRUE(runChecked({"ip", "netns", "add", "skiff-" + tag_ + "-stray"}).ok());

  open();  // as after a crash
  ASSERT_TRUE(net_->cleanupOrphans({"live-1"}).isOk());
  EXPECT_EQ(::access(gone.netns_path.c_str(), F_OK), -1);
  EXPECT_EQ(::access(("/run/netns/skiff-" + tag_ + "-stray").c_str(), F_OK), -1);
  EXPECT_EQ(::access(live.netns_path.c_str(), F_OK), 0);
  // The orphan's address is free again and its rules are gone.
  EXPECT_EQ(run({"iptables-save"}).find("gone-1"), std::string::npos);
  auto acme = net_->tenantNetwork("acme");
  ASSERT_TRUE(acme.ok());
  EXPECT_FALSE(
      std::filesystem::exists(options_.state_dir + "/ipam/" + acme->cni_network + "/" + gone.ip));
  EXPECT_TRUE(
      std::filesystem::exists(options_.state_dir + "/ipam/" + acme->cni_network + "/" + live.ip));
}

TEST_F(NetworkCniNetworkTest, RejectsBadNames) {
  EXPECT_EQ(net_->attach("Bad_Tenant", "x", {}).status().code(), StatusCode::kInvalid);
  EXPECT_EQ(net_->attach("acme", "../etc", {}).status().code(), StatusCode::kInvalid);
  EXPECT_EQ(net_->setService("acme", "a b", "", {}).status().code(), StatusCode::kInvalid);
}

}  // namespace
}  // namespace skiff::runtime::network
