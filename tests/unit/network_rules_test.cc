// The iptables-restore text of a CniNetwork and the IPv4 arithmetic behind tenant subnets.
#include <gtest/gtest.h>

#include "runtime/local/network/iptables_rules.h"
#include "runtime/local/network/ipv4.h"

namespace skiff::runtime::network {
namespace {

bool hasLine(const std::string& text, const std::string& line) {
  return ("\n" + text).find("\n" + line + "\n") != std::string::npos;
}

TEST(NetworkIpv4Test, ParsesAndCarves) {
  EXPECT_EQ(parseIpv4("10.213.1.2"), 0x0ad50102u);
  EXPECT_FALSE(parseIpv4("10.213.1"));
  EXPECT_FALSE(parseIpv4("10.213.1.256"));
  EXPECT_FALSE(parseIpv4("10.213.01.2"));
  EXPECT_FALSE(parseIpv4("10.213.1.2x"));
  auto pool = parseIpv4Prefix("10.213.0.0/16");
  ASSERT_TRUE(pool);
  EXPECT_FALSE(parseIpv4Prefix("10.213.0.1/16"));  // host bits set
  EXPECT_EQ(pool->subnet(24, 3)->toString(), "10.213.3.0/24");
  EXPECT_FALSE(pool->subnet(24, 256));
  EXPECT_TRUE(pool->overlaps(*parseIpv4Prefix("10.0.0.0/8")));
  EXPECT_FALSE(pool->overlaps(*parseIpv4Prefix("10.214.0.0/16")));
  EXPECT_TRUE(pool->contains(*parseIpv4("10.213.255.1")));
}

RuleSet sample() {
  RuleSet rules;
  rules.tag = "0badcafe";
  rules.tenant_subnets = {*parseIpv4Prefix("10.213.0.0/24"), *parseIpv4Prefix("10.213.1.0/24")};
  ServicePort web{
      80, Protocol::kTcp, {{"10.213.0.2", 8080}, {"10.213.0.3", 8080}, {"10.213.0.4", 8080}}};
  ServicePort empty{6379, Protocol::kTcp, {}};
  rules.services = {{"acme/shop-web", "10.214.0.1", web}, {"acme/shop-cache", "10.214.0.2", empty}};
  return rules;
}

TEST(NetworkRulesTest, IsolatesTenantsAndRejectsEmptyServices) {
  std::string text = renderRules(sample(), {});
  EXPECT_TRUE(hasLine(text, "*filter"));
  EXPECT_TRUE(hasLine(text, ":SKIFF-0badcafe-FWD - [0:0]"));
  EXPECT_TRUE(hasLine(text, "-A SKIFF-0badcafe-FWD -j SKIFF-0badcafe-NOEP"));
  EXPECT_TRUE(hasLine(text, "-A SKIFF-0badcafe-FWD -s 10.213.0.0/24 -d 10.213.0.0/24 -j RETURN"));
  EXPECT_TRUE(hasLine(text, "-A SKIFF-0badcafe-FWD -s 10.213.1.0/24 -j SKIFF-0badcafe-ISO"));
  EXPECT_TRUE(hasLine(
      text,
      "-A SKIFF-0badcafe-ISO -d 10.213.1.0/24 -j REJECT --reject-with icmp-admin-prohibited"));
  EXPECT_TRUE(hasLine(text,
                      "-A SKIFF-0badcafe-NOEP -d 10.214.0.2/32 -p tcp -m tcp --dport 6379 -m "
                      "comment --comment \"acme/shop-cache:tcp/6379\" -j REJECT --reject-with "
                      "tcp-reset"));
  // The own-subnet RETURN comes before the jump to the rejecting chain.
  EXPECT_LT(text.find("-s 10.213.0.0/24 -d 10.213.0.0/24 -j RETURN"),
            text.find("-s 10.213.0.0/24 -j SKIFF-0badcafe-ISO"));
}

TEST(NetworkRulesTest, SpreadsServicesOverEndpointsAndMasqueradesHairpins) {
  std::string text = renderRules(sample(), {});
  EXPECT_TRUE(hasLine(text, "*nat"));
  EXPECT_TRUE(hasLine(text,
                      "-A SKIFF-0badcafe-POST -s 10.213.0.0/24 -d 10.213.0.0/24 -m conntrack "
                      "--ctstate DNAT -j MASQUERADE"));
  EXPECT_NE(text.find("-A SKIFF-0badcafe-SVC -d 10.214.0.1/32 -p tcp -m tcp --dport 80 -m comment "
                      "--comment \"acme/shop-web:tcp/80\" -j SKIFF-0badcafe-S"),
            std::string::npos);
  EXPECT_NE(text.find("-m statistic --mode random --probability 0.3333333333 -j"),
            std::string::npos);
  EXPECT_NE(text.find("-m statistic --mode random --probability 0.5000000000 -j"),
            std::string::npos);
  EXPECT_NE(text.find("-j DNAT --to-destination 10.213.0.4:8080"), std::string::npos);
  // The empty service has no nat rules; chain names fit iptables' 28 characters.
  EXPECT_EQ(
      text.find(
          "--dport 6379 -m comment --comment \"acme/shop-cache:tcp/6379\" -j SKIFF-0badcafe-S"),
      std::string::npos);
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line[0] == ':') {
      EXPECT_LE(line.find(' ') - 1, 28u) << line;
    }
  }
}

TEST(NetworkRulesTest, DeletesStaleChainsAndFindsOwnChains) {
  const std::string save =
      "*filter\n:INPUT ACCEPT [0:0]\n:SKIFF-0badcafe-FWD - [0:0]\n:SKIFF-11111111-FWD - [0:0]\n"
      "COMMIT\n*nat\n:SKIFF-0badcafe-Sdeadbeef00 - [0:0]\n:SKIFF-0badcafe-SVC - [0:0]\nCOMMIT\n";
  auto own = ownChains(save, "0badcafe");
  ASSERT_EQ(own["filter"], (std::set<std::string>{"SKIFF-0badcafe-FWD"}));
  ASSERT_EQ(own["nat"].size(), 2u);
  std::string text = renderRules(sample(), own);
  EXPECT_TRUE(hasLine(text, "-X SKIFF-0badcafe-Sdeadbeef00"));
  EXPECT_FALSE(hasLine(text, "-X SKIFF-0badcafe-SVC"));
  std::string removal = renderRemoval(own);
  EXPECT_TRUE(hasLine(removal, "-X SKIFF-0badcafe-SVC"));
  EXPECT_TRUE(hasLine(removal, "-X SKIFF-0badcafe-FWD"));
  EXPECT_EQ(removal.find("11111111"), std::string::npos);
}

TEST(NetworkRulesTest, JumpsGoToOwnChains) {
  for (const auto& j : jumps("0badcafe")) {
    EXPECT_EQ(j.target.rfind("SKIFF-0badcafe-", 0), 0u);
  }
}

}  // namespace
}  // namespace skiff::runtime::network
