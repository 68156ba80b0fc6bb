#include "runtime/local/network/iptables_rules.h"

#include <cstdio>
#include <sstream>

namespace skiff::runtime::network {

namespace {

std::string shortHash(std::string_view text) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : text) h = (h ^ c) * 1099511628211ull;
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return std::string(buf, 10);  // chain names are limited to 28 characters
}

std::string portMatch(const ServicePort& p) {
  const std::string proto = protocolName(p.protocol);
  return "-p " + proto + " -m " + proto + " --dport " + std::to_string(p.port);
}

}  // namespace

std::string chainPrefix(const std::string& tag) { return "SKIFF-" + tag + "-"; }
std::string ruleComment(const std::string& tag) { return "skiff-" + tag; }

std::vector<Jump> jumps(const std::string& tag) {
  const std::string p = chainPrefix(tag);
  return {
      // Also from CNI-ADMIN: the firewall plugin's CNI-FORWARD, which ACCEPTs by container
      // address, may get ahead of ours in FORWARD whenever another network is attached.
      {"filter", "FORWARD", p + "FWD"}, {"filter", "CNI-ADMIN", p + "FWD"},
      {"filter", "OUTPUT", p + "NOEP"}, {"nat", "PREROUTING", p + "SVC"},
      {"nat", "OUTPUT", p + "SVC"},     {"nat", "POSTROUTING", p + "POST"},
  };
}

std::map<std::string, std::set<std::string>> ownChains(std::string_view save,
                                                       const std::string& tag) {
  const std::string prefix = ":" + chainPrefix(tag);
  std::map<std::string, std::set<std::string>> chains;
  std::string table;
  std::istringstream in{std::string(save)};
  std::string line;
  while (std::getline(in, line)) {
    if (line.size() > 1 && line[0] == '*') {
      table = line.substr(1);
    } else if (line.compare(0, prefix.size(), prefix) == 0) {
      chains[table].insert(line.substr(1, line.find(' ') - 1));
    }
  }
  return chains;
}

std::string renderRules(const RuleSet& rules,
                        const std::map<std::string, std::set<std::string>>& existing) {
  const std::string p = chainPrefix(rules.tag);
  const std::string fwd = p + "FWD", iso = p + "ISO", noep = p + "NOEP";
  const std::string svc = p + "SVC", post = p + "POST";

  std::vector<std::string> filter_chains = {fwd, iso, noep};
  std::vector<std::string> filter_rules;
  std::vector<std::string> nat_chains = {svc, post};
  std::vector<std::string> nat_rules;

  // Empty services first: a VIP without endpoints is never DNAT'ed, so its packets reach the
  // filter table still addressed to the VIP. A TCP reset refuses the connection at once.
  filter_rules.push_back("-A " + fwd + " -j " + noep);
  // Isolation: a tenant's own traffic goes on to the plugins' rules; from a tenant subnet to
  // any other tenant subnet is rejected, in both directions since each is some tenant's source.
  for (const auto& subnet : rules.tenant_subnets) {
    const std::string s = subnet.toString();
    filter_rules.push_back("-A " + fwd + " -s " + s + " -d " + s + " -j RETURN");
    filter_rules.push_back("-A " + fwd + " -s " + s + " -j " + iso);
  }
  for (const auto& subnet : rules.tenant_subnets) {
    filter_rules.push_back("-A " + iso + " -d " + subnet.toString() +
                           " -j REJECT --reject-with icmp-admin-prohibited");
  }
  // Hairpin: an instance reaching its own component's VIP may be sent to itself or to a
  // neighbour on its bridge, whose answer would go straight back over the bridge without
  // being un-DNAT'ed. Masquerading makes the answer come back through the host.
  for (const auto& subnet : rules.tenant_subnets) {
    const std::string s = subnet.toString();
    nat_rules.push_back("-A " + post + " -s " + s + " -d " + s +
                        " -m conntrack --ctstate DNAT -j MASQUERADE");
  }

  for (const auto& service : rules.services) {
    const ServicePort& port = service.port;
    const std::string id =
        service.name + ":" + protocolName(port.protocol) + "/" + std::to_string(port.port);
    const std::string match = "-d " + service.vip + "/32 " + portMatch(port);
    const std::string comment = " -m comment --comment \"" + id + "\"";
    if (port.endpoints.empty()) {
      filter_rules.push_back(
          "-A " + noep + " " + match + comment + " -j REJECT --reject-with " +
          (port.protocol == Protocol::kTcp ? "tcp-reset" : "icmp-port-unreachable"));
      continue;
    }
    const std::string chain = p + "S" + shortHash(id);
    nat_chains.push_back(chain);
    nat_rules.push_back("-A " + svc + " " + match + comment + " -j " + chain);
    const size_t n = port.endpoints.size();
    for (size_t i = 0; i < n; ++i) {
      const auto& ep = port.endpoints[i];
      const std::string target = ep.ip + ":" + std::to_string(ep.port);
      const std::string ep_chain = p + "E" + shortHash(id + ">" + target);
      nat_chains.push_back(ep_chain);
      std::string rule = "-A " + chain;
      if (i + 1 < n) {
        // Each endpoint is chosen with probability 1/(endpoints left): uniform overall.
        char probability[32];
        std::snprintf(probability, sizeof probability, "%.10f", 1.0 / static_cast<double>(n - i));
        rule += std::string(" -m statistic --mode random --probability ") + probability;
      }
      nat_rules.push_back(rule + " -j " + ep_chain);
      nat_rules.push_back("-A " + ep_chain + " -p " + protocolName(port.protocol) +
                          " -j DNAT --to-destination " + target);
    }
  }

  std::string out;
  auto table = [&](const std::string& name, const std::vector<std::string>& chains,
                   const std::vector<std::string>& body) {
    std::set<std::string> wanted(chains.begin(), chains.end());
    std::vector<std::string> stale;
    if (auto it = existing.find(name); it != existing.end()) {
      for (const auto& c : it->second)
        if (!wanted.count(c)) stale.push_back(c);
    }
    out += "*" + name + "\n";
    // Declaring a chain with --noflush creates it or empties it.
    for (const auto& c : wanted) out += ":" + c + " - [0:0]\n";
    for (const auto& c : stale) out += ":" + c + " - [0:0]\n";
    for (const auto& r : body) out += r + "\n";
    for (const auto& c : stale) out += "-X " + c + "\n";
    out += "COMMIT\n";
  };
  table("filter", filter_chains, filter_rules);
  table("nat", nat_chains, nat_rules);
  return out;
}

std::string renderRemoval(const std::map<std::string, std::set<std::string>>& existing) {
  std::string out;
  for (const auto& [table, chains] : existing) {
    if (chains.empty()) continue;
    out += "*" + table + "\n";
    for (const auto& c : chains) out += ":" + c + " - [0:0]\n";
    for (const auto& c : chains) out += "-X " + c + "\n";
    out += "COMMIT\n";
  }
  return out;
}

}  // namespace skiff::runtime::network
