// The iptables rules of a CniNetwork, as text for `iptables-restore --noflush`: tenant
// isolation and empty-service rejection in the filter table, service VIPs (DNAT spread over
// endpoints with -m statistic, like kube-proxy) and hairpin masquerade in the nat table. All
// rules live on chains named SKIFF-<tag>-*; the one restore replaces them as a whole, so a
// reader of the tables sees the old rules or the new ones, never a mix.
//
// Pure functions over values; thread-safe.
#pragma once

#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/local/network/ipv4.h"
#include "runtime/local/network/network.h"

namespace skiff::runtime::network {

struct ServiceRule {
  std::string name;  // "tenant/key", for comments and chain names
  std::string vip;
  ServicePort port;
};

struct RuleSet {
  std::string tag;
  std::vector<Ipv4Prefix> tenant_subnets;
  std::vector<ServiceRule> services;
};

// A jump from a built-in (or shared CNI) chain to one of ours; each must come before every
// rule but other Skiff servers' jumps, so our rules see packets before the plugins' ACCEPTs
// and MASQUERADEs.
struct Jump {
  std::string table;
  std::string chain;   // built-in or shared
  std::string target;  // ours
};

std::string chainPrefix(const std::string& tag);  // "SKIFF-<tag>-"
std::string ruleComment(const std::string& tag);  // "skiff-<tag>", on every jump
std::vector<Jump> jumps(const std::string& tag);

// Our chains that exist, per table, from `iptables-save` output.
std::map<std::string, std::set<std::string>> ownChains(std::string_view iptables_save,
                                                       const std::string& tag);

// The restore input that makes our chains exactly `rules`, deleting chains of ours in
// `existing` that are no longer used.
std::string renderRules(const RuleSet& rules,
                        const std::map<std::string, std::set<std::string>>& existing);
// The restore input that flushes and deletes every chain in `existing` (jumps to them must be
// gone first).
std::string renderRemoval(const std::map<std::string, std::set<std::string>>& existing);

}  // namespace skiff::runtime::network
