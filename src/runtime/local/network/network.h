// Network: how instances get an address and how components get a stable one. Each tenant has
// its own L2 segment; each instance gets a network namespace with one interface in its
// tenant's segment (the runc driver joins the namespace by path); each component gets a
// virtual IP in its tenant that load-balances over its ready instances. Tenants cannot reach
// each other; the host (gateway, probes) reaches every instance, and instances reach the host
// and the outside world.
//
// CniNetwork implements it with the standard CNI plugins (bridge + host-local IPAM, firewall,
// portmap), a bridge and a /24 per tenant, and iptables rules on chains of its own. Everything
// it creates on the host carries its tag (rootTag() of the server's data directory), so
// servers with different data directories never collide and leftovers are found by the tag:
//   network namespaces  /run/netns/skiff-<tag>-<instance id>
//   bridges             skiff<tag><n>            (n: the tenant's index, base 36)
//   iptables chains     SKIFF-<tag>-*            (filter and nat; jumps commented skiff-<tag>)
//   CNI networks        skiff-<tag>-<tenant>     (names in the plugins' rule comments)
// and its state directory keeps the tenant subnets, service VIPs and endpoints (so both survive
// restarts), host-local's leases and each attachment's cached CNI result.
//
// A CniNetwork is thread-safe: one mutex serialises its operations (each is a handful of
// short-lived host programs). Do not run two CniNetwork objects on one state directory.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "common/status.h"
#include "runtime/local/network/cni.h"
#include "runtime/local/network/ipv4.h"

namespace skiff::runtime::network {

enum class Protocol { kTcp, kUdp };
const char* protocolName(Protocol p);  // "tcp", "udp"

// A host port forwarded to an instance's port (CNI's portMappings capability).
struct PortMapping {
  uint16_t host_port = 0;
  uint16_t container_port = 0;
  Protocol protocol = Protocol::kTcp;
  std::string host_ip;  // empty: every host address
  bool operator==(const PortMapping&) const = default;
};

// Where an attached instance lives on the network.
struct Attachment {
  std::string netns_path;  // "/run/netns/skiff-<tag>-<id>": what runc joins
  std::string ip;          // the instance's address in its tenant's subnet
  std::string gateway;     // the host's address on the tenant bridge
  std::string bridge;
  int prefix_length = 0;
  bool operator==(const Attachment&) const = default;
};

struct ServiceEndpoint {
  std::string ip;
  uint16_t port = 0;
  bool operator==(const ServiceEndpoint&) const = default;
};

// One port of a component's virtual IP and the ready endpoints behind it.
struct ServicePort {
  uint16_t port = 0;
  Protocol protocol = Protocol::kTcp;
  std::vector<ServiceEndpoint> endpoints;  // empty: connections are refused
  bool operator==(const ServicePort&) const = default;
};

class Network {
 public:
  virtual ~Network() = default;

  // Gives instance `instance_id` of `tenant` a network namespace with an address in the
  // tenant's subnet and the host ports of `port_mappings`. Attaching an attached instance
  // again returns its attachment; an instance id is attached to one tenant at a time.
  virtual Result<Attachment> attach(const std::string& tenant, const std::string& instance_id,
                                    const std::vector<PortMapping>& port_mappings) = 0;
  // Releases the instance's address and ports and removes its namespace. Detaching an
  // unknown instance is fine.
  virtual Status detach(const std::string& instance_id) = 0;

  // Makes `key` (a component, e.g. "shop/web") of `tenant` reachable at a virtual IP, load
  // balanced over `ports`' endpoints. `vip` empty keeps the service's VIP, or allocates one
  // from the tenant's service range; a given `vip` must be in that range and unused. Returns
  // the VIP. Replaces the service's ports and endpoints atomically.
  virtual Result<std::string> setService(const std::string& tenant, const std::string& key,
                                         const std::string& vip,
                                         const std::vector<ServicePort>& ports) = 0;
  // Removes the service's rules and releases its VIP; unknown services are fine.
  virtual Status removeService(const std::string& tenant, const std::string& key) = 0;
  // The service's VIP, allocated (with no ports yet) when the service is new: what a container
  // finds a component by before the service has endpoints.
  virtual Result<std::string> serviceAddress(const std::string& tenant, const std::string& key) = 0;
  // The keys of the tenant's services.
  virtual Result<std::vector<std::string>> services(const std::string& tenant) = 0;

  // After a crash: detaches every attached instance not in `live_instance_ids`, and removes
  // namespaces of this network that no attachment explains.
  virtual Status cleanupOrphans(const std::set<std::string>& live_instance_ids) = 0;
  // Removes everything this network created on the host: namespaces, bridges, rules, chains,
  // address leases. Tenant subnets and service VIPs stay recorded in the state directory, so
  // the next start gives them back.
  virtual Status shutdownAll() = 0;
};

// A tenant's share of the network.
struct TenantNetwork {
  int index = 0;
  Ipv4Prefix subnet;    // instances
  std::string gateway;  // first address of subnet, on the bridge
  std::string bridge;
  Ipv4Prefix service_range;  // virtual IPs
  std::string cni_network;   // name of the CNI network list
};

class CniNetwork final : public Network {
 public:
  struct Options {
    std::string state_dir;  // required; created if missing
    std::string tag;        // required: 8 hex digits, rootTag() of the data directory
    // Tenant subnets are the index-th /tenant_prefix_length of subnet_pool, skipping those that
    // overlap a route on this machine; service ranges the same index in service_pool.
    std::string subnet_pool = "10.213.0.0/16";
    std::string service_pool = "10.214.0.0/16";
    int tenant_prefix_length = 24;
    std::vector<std::string> plugin_dirs = {"/usr/lib/cni", "/opt/cni/bin"};
    std::chrono::milliseconds plugin_timeout{std::chrono::seconds(30)};
  };

  // Loads the state, checks that the plugins and host tools exist, and (re)applies the rules
  // of the recorded tenants and services, so a rebooted machine gets them back.
  static Result<std::unique_ptr<CniNetwork>> open(Options options);

  Result<Attachment> attach(const std::string& tenant, const std::string& instance_id,
                            const std::vector<PortMapping>& port_mappings) override;
  Status detach(const std::string& instance_id) override;
  Result<std::string> setService(const std::string& tenant, const std::string& key,
                                 const std::string& vip,
                                 const std::vector<ServicePort>& ports) override;
  Status removeService(const std::string& tenant, const std::string& key) override;
  Result<std::string> serviceAddress(const std::string& tenant, const std::string& key) override;
  Result<std::vector<std::string>> services(const std::string& tenant) override;
  Status cleanupOrphans(const std::set<std::string>& live_instance_ids) override;
  Status shutdownAll() override;

  // The tenant's subnet, bridge and service range, assigning them on first use.
  Result<TenantNetwork> tenantNetwork(const std::string& tenant);
  const std::string& tag() const { return tag_; }

  // The CNI network list of a tenant (exposed for tests and for `skiff` diagnostics).
  CniConfigList configList(const std::string& tenant, const TenantNetwork& net) const;

 private:
  struct ServiceState {
    std::string vip;
    std::vector<ServicePort> ports;
  };
  struct TenantState {
    int index = 0;
    std::map<std::string, ServiceState> services;
  };

  explicit CniNetwork(Options options);

  Status load();
  Status save() const;
  TenantNetwork describe(const std::string& tenant, int index) const;
  Result<TenantNetwork> ensureTenant(const std::string& tenant);
  Status detachLocked(const std::string& instance_id);
  Status applyRules();
  Status ensureJumps();
  Status removeRulesAndChains();
  std::string netnsName(const std::string& instance_id) const;
  std::string attachmentPath(const std::string& instance_id) const;

  // Constant after construction.
  const Options options_;
  const std::string tag_;
  const std::string state_dir_;
  Ipv4Prefix subnet_pool_;
  Ipv4Prefix service_pool_;
  CniPlugins plugins_;

  std::mutex mu_;
  std::map<std::string, TenantState> tenants_;  // guarded by mu_
  bool rules_applied_ = false;                  // guarded by mu_; false after shutdownAll()
};

}  // namespace skiff::runtime::network
