#include "runtime/local/network/network.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "common/command.h"
#include "common/files.h"
#include "runtime/local/network/iptables_rules.h"

namespace skiff::runtime::network {

using Json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

constexpr const char* kNetnsDir = "/run/netns";
constexpr const char* kIfname = "eth0";
// Bridge names are "skiff" + 8-digit tag + the tenant index in base 36: at most 15 characters
// (IFNAMSIZ - 1) leaves two digits.
constexpr int kMaxTenants = 36 * 36;

const std::regex& tenantPattern() {
  static const std::regex r("^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$");
  return r;
}
const std::regex& instancePattern() {
  static const std::regex r("^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$");
  return r;
}
const std::regex& serviceKeyPattern() {
  static const std::regex r("^[A-Za-z0-9][A-Za-z0-9_./-]{0,127}$");
  return r;
}

Status invalidName(const std::string& what, const std::string& value, const std::string& rule) {
  return Status(StatusCode::kInvalid, what + " \"" + value + "\" is not valid: " + rule);
}

Status checkTenant(const std::string& tenant) {
  if (std::regex_match(tenant, tenantPattern())) return Status::ok();
  return invalidName("tenant", tenant, "use a DNS label (lower-case letters, digits and '-')");
}

Status checkInstance(const std::string& id) {
  if (std::regex_match(id, instancePattern())) return Status::ok();
  return invalidName("instance id", id,
                     "use up to 128 letters, digits, '_', '.' and '-', starting with a letter "
                     "or digit");
}

std::string base36(int n) {
  const char* digits = "0123456789abcdefghijklmnopqrstuvwxyz";
  std::string s;
  do {
    s.insert(s.begin(), digits[n % 36]);
    n /= 36;
  } while (n > 0);
  return s;
}

// Routes of this machine (from /proc/net/route) other than the default route and those on
// `own_prefix` interfaces: a tenant subnet must not shadow any of them.
std::vector<Ipv4Prefix> hostRoutes(const std::string& own_prefix) {
  std::vector<Ipv4Prefix> routes;
  std::ifstream in("/proc/net/route");
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string iface, dest, gateway, flags, refcnt, use, metric, mask;
    if (!(fields >> iface >> dest >> gateway >> flags >> refcnt >> use >> metric >> mask)) continue;
    if (iface.compare(0, own_prefix.size(), own_prefix) == 0) continue;
    uint32_t d = __builtin_bswap32(static_cast<uint32_t>(std::stoul(dest, nullptr, 16)));
    uint32_t m = __builtin_bswap32(static_cast<uint32_t>(std::stoul(mask, nullptr, 16)));
    if (m == 0) continue;
    routes.push_back({d & m, __builtin_popcount(m)});
  }
  return routes;
}

const char* protocolKey(Protocol p) { return p == Protocol::kTcp ? "tcp" : "udp"; }

Json portsToJson(const std::vector<ServicePort>& ports) {
  Json out = Json::array();
  for (const auto& p : ports) {
    Json eps = Json::array();
    for (const auto& e : p.endpoints) eps.push_back(e.ip + ":" + std::to_string(e.port));
    out.push_back({{"port", p.port}, {"protocol", protocolKey(p.protocol)}, {"endpoints", eps}});
  }
  return out;
}

std::vector<ServicePort> portsFromJson(const Json& j) {
  std::vector<ServicePort> ports;
  for (const auto& p : j) {
    ServicePort port;
    port.port = p.value("port", uint16_t{0});
    port.protocol = p.value("protocol", "tcp") == "udp" ? Protocol::kUdp : Protocol::kTcp;
    for (const auto& e : p.value("endpoints", Json::array())) {
      std::string text = e.get<std::string>();
      size_t colon = text.rfind(':');
      port.endpoints.push_back(
          {text.substr(0, colon), static_cast<uint16_t>(std::stoi(text.substr(colon + 1)))});
    }
    ports.push_back(std::move(port));
  }
  return ports;
}

bool pathExists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

Status firstError(Status first, Status next) { return first.isOk() ? next : first; }

}  // namespace

const char* protocolName(Protocol p) { return protocolKey(p); }

CniNetwork::CniNetwork(Options options)
    : options_(std::move(options)),
      tag_(options_.tag),
      state_dir_(options_.state_dir),
      plugins_(CniPlugins::Options{
          .plugin_dirs = options_.plugin_dirs, .timeout = options_.plugin_timeout, .exec = {}}) {}

Result<std::unique_ptr<CniNetwork>> CniNetwork::open(Options options) {
  if (options.state_dir.empty()) {
    return Status(StatusCode::kInvalid, "the network needs a state directory");
  }
  if (!std::regex_match(options.tag, std::regex("^[0-9a-f]{8}$"))) {
    return invalidName("network tag", options.tag,
                       "use 8 lower-case hex digits, such as rootTag() of the data directory");
  }
  auto subnet_pool = parseIpv4Prefix(options.subnet_pool);
  auto service_pool = parseIpv4Prefix(options.service_pool);
  if (!subnet_pool || !service_pool) {
    return Status(StatusCode::kInvalid,
                  "network pools must be IPv4 prefixes like 10.213.0.0/16, got \"" +
                      options.subnet_pool + "\" and \"" + options.service_pool + "\"");
  }
  const int len = options.tenant_prefix_length;
  if (len < subnet_pool->length || len < service_pool->length || len > 29) {
    return Status(StatusCode::kInvalid, "the tenant prefix length /" + std::to_string(len) +
                                            " must lie between the pools' lengths and /29");
  }
  if (subnet_pool->overlaps(*service_pool)) {
    return Status(StatusCode::kInvalid, "the subnet pool " + subnet_pool->toString() +
                                            " and the service pool " + service_pool->toString() +
                                            " overlap; give them disjoint ranges");
  }
  std::unique_ptr<CniNetwork> net(new CniNetwork(std::move(options)));
  net->subnet_pool_ = *subnet_pool;
  net->service_pool_ = *service_pool;
  for (const char* type : {"bridge", "host-local", "firewall", "portmap"}) {
    if (auto found = net->plugins_.findPlugin(type); !found.ok()) return found.status();
  }
  std::error_code ec;
  fs::create_directories(net->state_dir_ + "/attachments", ec);
  if (ec) {
    return unavailable("cannot create the network state directory " + net->state_dir_ + ": " +
                       ec.message());
  }
  std::lock_guard<std::mutex> lock(net->mu_);
  if (Status s = net->load(); !s.isOk()) return s;
  if (!net->tenants_.empty()) {
    if (Status s = net->applyRules(); !s.isOk()) return s;
  }
  return net;
}

// ---- state -----------------------------------------------------------------------------

Status CniNetwork::load() {
  auto text = readWholeFile(state_dir_ + "/network.json");
  if (!text.ok())
    return text.status().code() == StatusCode::kNotFound ? Status::ok() : text.status();
  Json j = Json::parse(*text, nullptr, false);
  if (!j.is_object()) {
    return internalError(state_dir_ + "/network.json is damaged (not JSON); restore it from a " +
                         "backup or remove it to assign tenant subnets afresh");
  }
  const Json tenants = j.value("tenants", Json::object());
  for (const auto& [tenant, t] : tenants.items()) {
    TenantState state;
    state.index = t.value("index", 0);
    const Json services = t.value("services", Json::object());
    for (const auto& [key, s] : services.items()) {
      state.services[key] = {s.value("vip", ""), portsFromJson(s.value("ports", Json::array()))};
    }
    tenants_[tenant] = std::move(state);
  }
  return Status::ok();
}

Status CniNetwork::save() const {
  Json tenants = Json::object();
  for (const auto& [tenant, t] : tenants_) {
    Json services = Json::object();
    for (const auto& [key, s] : t.services) {
      services[key] = {{"vip", s.vip}, {"ports", portsToJson(s.ports)}};
    }
    tenants[tenant] = {{"index", t.index}, {"services", services}};
  }
  Json j = {{"tag", tag_}, {"tenants", tenants}};
  return writeFileAtomically(state_dir_ + "/network.json", j.dump(2) + "\n");
}

TenantNetwork CniNetwork::describe(const std::string& tenant, int index) const {
  TenantNetwork t;
  t.index = index;
  t.subnet = *subnet_pool_.subnet(options_.tenant_prefix_length, static_cast<uint64_t>(index));
  t.gateway = formatIpv4(t.subnet.address + 1);
  t.bridge = "skiff" + tag_ + base36(index);
  t.service_range =
      *service_pool_.subnet(options_.tenant_prefix_length, static_cast<uint64_t>(index));
  t.cni_network = "skiff-" + tag_ + "-" + tenant;
  return t;
}

Result<TenantNetwork> CniNetwork::tenantNetwork(const std::string& tenant) {
  if (Status s = checkTenant(tenant); !s.isOk()) return s;
  std::lock_guard<std::mutex> lock(mu_);
  return ensureTenant(tenant);
}

Result<TenantNetwork> CniNetwork::ensureTenant(const std::string& tenant) {
  if (auto it = tenants_.find(tenant); it != tenants_.end()) {
    if (!rules_applied_) {
      if (Status s = applyRules(); !s.isOk()) return s;
    }
    return describe(tenant, it->second.index);
  }
  std::set<int> used;
  for (const auto& [name, t] : tenants_) used.insert(t.index);
  const uint64_t capacity = std::min<uint64_t>(
      {subnet_pool_.size() >> (32 - options_.tenant_prefix_length),
       service_pool_.size() >> (32 - options_.tenant_prefix_length), uint64_t{kMaxTenants}});
  const auto routes = hostRoutes("skiff" + tag_);
  for (uint64_t i = 0; i < capacity; ++i) {
    const int index = static_cast<int>(i);
    if (used.count(index)) continue;
    TenantNetwork candidate = describe(tenant, index);
    if (std::any_of(routes.begin(), routes.end(),
                    [&](const Ipv4Prefix& r) { return r.overlaps(candidate.subnet); })) {
      continue;  // another network on this machine (or another Skiff) has it
    }
    tenants_[tenant].index = index;
    Status s = save();
    if (s.isOk()) s = applyRules();
    if (!s.isOk()) {
      tenants_.erase(tenant);
      return s;
    }
    return candidate;
  }
  return Status(StatusCode::kConflict,
                "no free tenant subnet left in " + subnet_pool_.toString() + " (" +
                    std::to_string(tenants_.size()) +
                    " tenants, some subnets may be taken by routes of this machine); configure a "
                    "larger subnet pool");
}

CniConfigList CniNetwork::configList(const std::string& /*tenant*/,
                                     const TenantNetwork& net) const {
  CniConfigList list;
  list.cni_version = "1.0.0";
  list.name = net.cni_network;
  list.plugins = {
      {{"type", "bridge"},
       {"bridge", net.bridge},
       {"isGateway", true},
       {"ipMasq", true},
       // Lets an instance reach itself through its own host port mapping.
       {"hairpinMode", true},
       {"ipam",
        {{"type", "host-local"},
         {"ranges", Json::array({Json::array(
                        {{{"subnet", net.subnet.toString()}, {"gateway", net.gateway}}})})},
         {"routes", Json::array({{{"dst", "0.0.0.0/0"}}})},
         {"dataDir", state_dir_ + "/ipam"}}}},
      {{"type", "firewall"}, {"backend", "iptables"}},
      {{"type", "portmap"}, {"capabilities", {{"portMappings", true}}}, {"snat", true}},
  };
  return list;
}

std::string CniNetwork::netnsName(const std::string& instance_id) const {
  return "skiff-" + tag_ + "-" + instance_id;
}

std::string CniNetwork::attachmentPath(const std::string& instance_id) const {
  return state_dir_ + "/attachments/" + instance_id + ".json";
}

// ---- attachments -------------------------------------------------------------------------

namespace {

Result<Attachment> attachmentOf(const Json& record, const TenantNetwork& net) {
  auto result = CniResult::fromJson(record.at("result"));
  if (!result.ok()) return result.status();
  auto [ip, gateway] = result->containerIpv4();
  if (ip.empty()) {
    return internalError("the CNI network " + net.cni_network + " gave the instance no IPv4 " +
                         "address; check the bridge and host-local plugins");
  }
  Attachment a;
  a.netns_path = record.value("netns", "");
  a.ip = ip;
  a.gateway = gateway.empty() ? net.gateway : gateway;
  a.bridge = net.bridge;
  a.prefix_length = net.subnet.length;
  return a;
}

Json mappingsToJson(const std::vector<PortMapping>& mappings) {
  Json out = Json::array();
  for (const auto& m : mappings) {
    Json j = {{"hostPort", m.host_port},
              {"containerPort", m.container_port},
              {"protocol", protocolName(m.protocol)}};
    if (!m.host_ip.empty()) j["hostIP"] = m.host_ip;
    out.push_back(std::move(j));
  }
  return out;
}

}  // namespace

Result<Attachment> CniNetwork::attach(const std::string& tenant, const std::string& instance_id,
                                      const std::vector<PortMapping>& port_mappings) {
  if (Status s = checkTenant(tenant); !s.isOk()) return s;
  if (Status s = checkInstance(instance_id); !s.isOk()) return s;
  for (const auto& m : port_mappings) {
    if (m.host_port == 0 || m.container_port == 0) {
      return Status(StatusCode::kInvalid, "port mappings of instance " + instance_id +
                                              " need a host port and a container port");
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  auto net = ensureTenant(tenant);
  if (!net.ok()) return net.status();

  const std::string record_path = attachmentPath(instance_id);
  if (auto existing = readWholeFile(record_path); existing.ok()) {
    Json record = Json::parse(*existing, nullptr, false);
    if (record.is_object() && record.value("tenant", "") != tenant) {
      return Status(StatusCode::kConflict, "instance " + instance_id + " is attached to tenant " +
                                               record.value("tenant", "") + ", not " + tenant +
                                               "; detach it first");
    }
    if (record.is_object() && record.contains("result") &&
        record.value("mappings", Json::array()) == mappingsToJson(port_mappings) &&
        pathExists(record.value("netns", ""))) {
      return attachmentOf(record, *net);
    }
    // Half-made (the server died during ADD) or different: start over.
    if (Status s = detachLocked(instance_id); !s.isOk()) return s;
  }

  const std::string ns = netnsName(instance_id);
  const std::string ns_path = std::string(kNetnsDir) + "/" + ns;
  const CniConfigList list = configList(tenant, *net);
  CniRuntime runtime{.container_id = instance_id,
                     .netns = ns_path,
                     .ifname = kIfname,
                     .args = {},
                     .capabilities = {{"portMappings", mappingsToJson(port_mappings)}}};
  // Recorded before anything is made, so a crash at any point leaves a record that
  // cleanupOrphans() follows.
  Json record = {{"tenant", tenant},
                 {"netns", ns_path},
                 {"config", list.toJson()},
                 {"mappings", mappingsToJson(port_mappings)}};
  if (Status s = writeFileAtomically(record_path, record.dump(2) + "\n"); !s.isOk()) return s;

  auto undo = [&](Status failure) -> Status {
    (void)detachLocked(instance_id);
    return failure;
  };
  if (pathExists(ns_path)) (void)runCommand({"ip", "netns", "delete", ns});
  if (auto made = runChecked({"ip", "netns", "add", ns}); !made.ok()) {
    return undo(
        Status(StatusCode::kUnavailable, "cannot create the network namespace of instance " +
                                             instance_id + ": " + made.status().message()));
  }
  if (auto lo = runChecked({"ip", "-n", ns, "link", "set", "lo", "up"}); !lo.ok()) {
    return undo(lo.status());
  }
  auto result = plugins_.add(list, runtime);
  if (!result.ok()) {
    return undo(Status(result.status().code(), "cannot attach instance " + instance_id +
                                                   " to the network of tenant " + tenant + ": " +
                                                   result.status().message()));
  }
  record["result"] = result->raw;
  if (Status s = writeFileAtomically(record_path, record.dump(2) + "\n"); !s.isOk()) {
    return undo(s);
  }
  // The firewall and portmap plugins put their own jumps first when they first run.
  if (Status s = ensureJumps(); !s.isOk()) return undo(s);
  return attachmentOf(record, *net);
}

Status CniNetwork::detach(const std::string& instance_id) {
  if (Status s = checkInstance(instance_id); !s.isOk()) return s;
  std::lock_guard<std::mutex> lock(mu_);
  return detachLocked(instance_id);
}

namespace {

// The addresses host-local leased to `container_id` in network `name`, as a CNI result: what
// DEL needs when the ADD result was never recorded.
std::optional<Json> resultFromLeases(const std::string& ipam_dir, const std::string& name,
                                     const std::string& container_id, int prefix_length) {
  Json ips = Json::array();
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(ipam_dir + "/" + name, ec)) {
    const std::string ip = entry.path().filename().string();
    if (!parseIpv4(ip)) continue;
    auto content = readWholeFile(entry.path().string());
    if (!content.ok()) continue;
    std::string owner = content->substr(0, content->find_first_of("\r\n"));
    if (owner == container_id) {
      ips.push_back({{"address", ip + "/" + std::to_string(prefix_length)}, {"interface", 0}});
    }
  }
  if (ips.empty()) return std::nullopt;
  return Json{{"cniVersion", "1.0.0"},
              {"interfaces", Json::array({{{"name", kIfname}, {"sandbox", ""}}})},
              {"ips", ips}};
}

// Deletes the rules of the plugins (bridge's ipMasq, portmap's DNAT) that carry `marker` in
// their comment, and the per-container chains they jump to. DEL does that when the namespace
// still exists; without it the bridge plugin cannot tell its masquerade rules apart.
Status purgePluginRules(const std::string& marker) {
  static const std::set<std::string> kShared = {"CNI-FORWARD",       "CNI-ADMIN",
                                                "CNI-HOSTPORT-DNAT", "CNI-HOSTPORT-SNAT",
                                                "CNI-HOSTPORT-MASQ", "CNI-HOSTPORT-SETMARK"};
  Status first;
  for (const char* table : {"nat", "filter"}) {
    auto listing = runChecked({"iptables", "-w", "-t", table, "-S"});
    if (!listing.ok()) return listing.status();
    std::map<std::string, int> position;
    std::vector<std::pair<std::string, int>> doomed;
    std::set<std::string> targets;
    std::istringstream in(*listing);
    std::string line;
    while (std::getline(in, line)) {
      if (line.compare(0, 3, "-A ") != 0) continue;
      std::string chain = line.substr(3, line.find(' ', 3) - 3);
      int n = ++position[chain];
      if (line.find(marker) == std::string::npos) continue;
      doomed.emplace_back(chain, n);
      size_t j = line.find(" -j ");
      if (j != std::string::npos) {
        std::string target = line.substr(j + 4, line.find(' ', j + 4) - j - 4);
        if (target.compare(0, 4, "CNI-") == 0 && !kShared.count(target)) targets.insert(target);
      }
    }
    // Highest positions first, so the numbers of those left stay valid.
    std::sort(doomed.begin(), doomed.end(),
              [](const auto& a, const auto& b) { return a.second > b.second; });
    for (const auto& [chain, n] : doomed) {
      auto r = runChecked({"iptables", "-w", "-t", table, "-D", chain, std::to_string(n)});
      if (!r.ok()) first = firstError(first, r.status());
    }
    for (const auto& chain : targets) {
      (void)runCommand({"iptables", "-w", "-t", table, "-F", chain});
      (void)runCommand({"iptables", "-w", "-t", table, "-X", chain});
    }
  }
  return first;
}

}  // namespace

Status CniNetwork::detachLocked(const std::string& instance_id) {
  const std::string ns = netnsName(instance_id);
  const std::string ns_path = std::string(kNetnsDir) + "/" + ns;
  const std::string record_path = attachmentPath(instance_id);
  auto text = readWholeFile(record_path);
  if (!text.ok() && text.status().code() != StatusCode::kNotFound) return text.status();
  if (text.ok()) {
    Json record = Json::parse(*text, nullptr, false);
    auto list = record.is_object() ? CniConfigList::fromJson(record.value("config", Json()))
                                   : Result<CniConfigList>(internalError("damaged"));
    if (list.ok()) {
      const int prefix_length = options_.tenant_prefix_length;
      std::optional<Json> prev;
      if (record.contains("result")) {
        prev = record["result"];
      } else {
        prev = resultFromLeases(state_dir_ + "/ipam", list->name, instance_id, prefix_length);
      }
      CniRuntime runtime{
          .container_id = instance_id,
          .netns = pathExists(ns_path) ? ns_path : "",
          .ifname = kIfname,
          .args = {},
          .capabilities = {{"portMappings", record.value("mappings", Json::array())}}};
      Status del = plugins_.del(*list, runtime, prev);
      if (!del.isOk()) {
        return Status(del.code(), "cannot detach instance " + instance_id + ": " + del.message());
      }
      Status purged = purgePluginRules("name: \"" + list->name + "\" id: \"" + instance_id + "\"");
      if (!purged.isOk()) return purged;
    }
  }
  if (pathExists(ns_path)) {
    if (auto r = runChecked({"ip", "netns", "delete", ns}); !r.ok()) {
      return Status(StatusCode::kUnavailable, "cannot remove the network namespace of instance " +
                                                  instance_id + ": " + r.status().message());
    }
  }
  std::error_code ec;
  fs::remove(record_path, ec);
  if (ec) return internalError("cannot remove " + record_path + ": " + ec.message());
  return Status::ok();
}

// ---- services ----------------------------------------------------------------------------

Result<std::string> CniNetwork::setService(const std::string& tenant, const std::string& key,
                                           const std::string& vip,
                                           const std::vector<ServicePort>& ports) {
  if (Status s = checkTenant(tenant); !s.isOk()) return s;
  if (!std::regex_match(key, serviceKeyPattern())) {
    return invalidName("service key", key,
                       "use up to 128 letters, digits, '_', '.', '/' and '-', starting with a "
                       "letter or digit");
  }
  std::vector<ServicePort> clean = ports;
  std::set<std::pair<uint16_t, Protocol>> seen;
  for (size_t i = 0; i < clean.size(); ++i) {
    auto& p = clean[i];
    const std::string field = "ports[" + std::to_string(i) + "]";
    if (p.port == 0) {
      return Status(StatusCode::kInvalid, "service " + key + " has a port 0",
                    {{field + ".port", "must be 1-65535"}});
    }
    if (!seen.insert({p.port, p.protocol}).second) {
      return Status(StatusCode::kInvalid,
                    "service " + key + " lists port " + std::to_string(p.port) + " twice",
                    {{field + ".port", "duplicate"}});
    }
    for (size_t e = 0; e < p.endpoints.size(); ++e) {
      if (!parseIpv4(p.endpoints[e].ip) || p.endpoints[e].port == 0) {
        return Status(StatusCode::kInvalid, "service " + key + " has a bad endpoint",
                      {{field + ".endpoints[" + std::to_string(e) + "]",
                        "must be an IPv4 address and a port 1-65535"}});
      }
    }
    std::sort(p.endpoints.begin(), p.endpoints.end(), [](const auto& a, const auto& b) {
      return std::tie(a.ip, a.port) < std::tie(b.ip, b.port);
    });
    p.endpoints.erase(std::unique(p.endpoints.begin(), p.endpoints.end()), p.endpoints.end());
  }

  std::lock_guard<std::mutex> lock(mu_);
  auto net = ensureTenant(tenant);
  if (!net.ok()) return net.status();
  TenantState& state = tenants_[tenant];
  std::set<uint32_t> taken;
  for (const auto& [other, s] : state.services) {
    if (other != key) taken.insert(*parseIpv4(s.vip));
  }
  const uint32_t first = net->service_range.address + 1;
  const uint32_t last =
      net->service_range.address + static_cast<uint32_t>(net->service_range.size()) - 2;
  std::string chosen = vip;
  if (!chosen.empty()) {
    auto addr = parseIpv4(chosen);
    if (!addr || *addr < first || *addr > last) {
      return Status(StatusCode::kInvalid,
                    "virtual IP " + chosen + " of service " + key +
                        " is not in the service range " + net->service_range.toString() +
                        " of tenant " + tenant,
                    {{"vip", "leave it empty to have one assigned"}});
    }
    if (taken.count(*addr)) {
      return Status(StatusCode::kConflict, "virtual IP " + chosen + " is used by another " +
                                               "service of tenant " + tenant);
    }
  } else if (auto it = state.services.find(key); it != state.services.end()) {
    chosen = it->second.vip;
  } else {
    for (uint32_t a = first; a <= last; ++a) {
      if (!taken.count(a)) {
        chosen = formatIpv4(a);
        break;
      }
    }
    if (chosen.empty()) {
      return Status(StatusCode::kConflict, "tenant " + tenant + " has no free virtual IP left in " +
                                               net->service_range.toString() +
                                               "; remove unused services");
    }
  }
  const auto before = tenants_;
  state.services[key] = {chosen, std::move(clean)};
  Status s = applyRules();
  if (s.isOk()) s = save();
  if (!s.isOk()) {
    tenants_ = before;
    (void)applyRules();
    return s;
  }
  return chosen;
}

Status CniNetwork::removeService(const std::string& tenant, const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = tenants_.find(tenant);
  if (it == tenants_.end() || !it->second.services.count(key)) return Status::ok();
  it->second.services.erase(key);
  Status s = applyRules();
  return firstError(s, save());
}

Result<std::string> CniNetwork::serviceAddress(const std::string& tenant, const std::string& key) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto t = tenants_.find(tenant);
    if (t != tenants_.end())
      if (auto it = t->second.services.find(key); it != t->second.services.end())
        return it->second.vip;
  }
  return setService(tenant, key, "", {});
}

Result<std::vector<std::string>> CniNetwork::services(const std::string& tenant) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> keys;
  if (auto t = tenants_.find(tenant); t != tenants_.end())
    for (const auto& [key, service] : t->second.services) keys.push_back(key);
  return keys;
}

// ---- iptables ----------------------------------------------------------------------------

Status CniNetwork::applyRules() {
  RuleSet rules;
  rules.tag = tag_;
  for (const auto& [tenant, t] : tenants_) {
    TenantNetwork net = describe(tenant, t.index);
    rules.tenant_subnets.push_back(net.subnet);
    for (const auto& [key, service] : t.services) {
      for (const auto& port : service.ports) {
        rules.services.push_back({tenant + "/" + key, service.vip, port});
      }
    }
  }
  auto saved = runChecked({"iptables-save"});
  if (!saved.ok()) return saved.status();
  std::string text = renderRules(rules, ownChains(*saved, tag_));
  if (auto r = runChecked({"iptables-restore", "-w", "--noflush"}, {.env = {}, .stdin_data = text});
      !r.ok()) {
    return Status(StatusCode::kUnavailable,
                  "cannot apply the network's iptables rules: " + r.status().message());
  }
  if (Status s = ensureJumps(); !s.isOk()) return s;
  rules_applied_ = true;
  return Status::ok();
}

namespace {

// Where our jump stands in its chain: present at all, and ahead of every rule that is not
// another Skiff server's jump (those return what they do not match, so their order is moot).
struct JumpPlace {
  bool present = false;
  bool leading = false;
};

Result<JumpPlace> placeOf(const Jump& jump) {
  auto listing = runChecked({"iptables", "-w", "-t", jump.table, "-S", jump.chain});
  if (!listing.ok()) return listing.status();
  JumpPlace place;
  bool others_before = false;
  std::istringstream in(*listing);
  std::string line;
  while (std::getline(in, line)) {
    if (line.compare(0, 3, "-A ") != 0) continue;
    if (line.find("-j " + jump.target) != std::string::npos) {
      if (!place.present) place.leading = !others_before;
      place.present = true;
    } else if (line.find("--comment skiff-") == std::string::npos) {
      others_before = true;
    }
  }
  return place;
}

std::vector<std::string> jumpSpec(const Jump& jump, const std::string& comment,
                                  std::vector<std::string> action) {
  std::vector<std::string> argv = {"iptables", "-w", "-t", jump.table};
  argv.insert(argv.end(), action.begin(), action.end());
  for (const char* arg : {"-m", "comment", "--comment"}) argv.push_back(arg);
  argv.push_back(comment);
  argv.push_back("-j");
  argv.push_back(jump.target);
  return argv;
}

// Deletes every copy of our jump by its rule spec, never by position: other CNI users and
// other Skiff servers insert into the same chains concurrently, so a position read a moment
// ago may name their rule by now. Stops when no copy is left (or the chain is gone).
void deleteJump(const Jump& jump, const std::string& comment) {
  for (int i = 0; i < 64; ++i) {
    if (!runChecked(jumpSpec(jump, comment, {"-D", jump.chain})).ok()) return;
  }
}

}  // namespace

Status CniNetwork::ensureJumps() {
  const std::string comment = ruleComment(tag_);
  // CNI-ADMIN is the firewall plugin's chain for administrators' rules, consulted before its
  // per-container ACCEPTs; it may not exist yet if no firewall plugin has run on this host.
  (void)runCommand({"iptables", "-w", "-t", "filter", "-N", "CNI-ADMIN"});
  for (const auto& jump : jumps(tag_)) {
    auto place = placeOf(jump);
    if (!place.ok()) return place.status();
    if (place->leading) continue;
    deleteJump(jump, comment);
    auto r = runChecked(jumpSpec(jump, comment, {"-I", jump.chain, "1"}));
    if (!r.ok()) return r.status();
  }
  return Status::ok();
}

Status CniNetwork::removeRulesAndChains() {
  const std::string comment = ruleComment(tag_);
  for (const auto& jump : jumps(tag_)) deleteJump(jump, comment);
  auto saved = runChecked({"iptables-save"});
  if (!saved.ok()) return saved.status();
  std::string text = renderRemoval(ownChains(*saved, tag_));
  if (!text.empty()) {
    auto r = runChecked({"iptables-restore", "-w", "--noflush"}, {.env = {}, .stdin_data = text});
    if (!r.ok()) return r.status();
  }
  return Status::ok();
}

// ---- cleanup -----------------------------------------------------------------------------

Status CniNetwork::cleanupOrphans(const std::set<std::string>& live_instance_ids) {
  std::lock_guard<std::mutex> lock(mu_);
  Status first;
  std::set<std::string> recorded;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(state_dir_ + "/attachments", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.size() <= 5 || name.compare(name.size() - 5, 5, ".json") != 0) continue;
    const std::string id = name.substr(0, name.size() - 5);
    if (live_instance_ids.count(id)) {
      recorded.insert(id);
      continue;
    }
    first = firstError(first, detachLocked(id));
  }
  // Namespaces without a record: made by a server that lost its state directory's record.
  const std::string prefix = "skiff-" + tag_ + "-";
  for (const auto& entry : fs::directory_iterator(kNetnsDir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.compare(0, prefix.size(), prefix) != 0) continue;
    const std::string id = name.substr(prefix.size());
    if (live_instance_ids.count(id) || recorded.count(id)) continue;
    if (auto r = runChecked({"ip", "netns", "delete", name}); !r.ok()) {
      first = firstError(first, r.status());
    }
  }
  return first;
}

Status CniNetwork::shutdownAll() {
  std::lock_guard<std::mutex> lock(mu_);
  Status first;
  std::error_code ec;
  std::vector<std::string> ids;
  for (const auto& entry : fs::directory_iterator(state_dir_ + "/attachments", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.size() > 5 && name.compare(name.size() - 5, 5, ".json") == 0) {
      ids.push_back(name.substr(0, name.size() - 5));
    }
  }
  for (const auto& id : ids) first = firstError(first, detachLocked(id));

  // Whatever DEL could not undo goes by force, found by the tag.
  const std::string ns_prefix = "skiff-" + tag_ + "-";
  for (const auto& entry : fs::directory_iterator(kNetnsDir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.compare(0, ns_prefix.size(), ns_prefix) != 0) continue;
    if (auto r = runChecked({"ip", "netns", "delete", name}); !r.ok()) {
      first = firstError(first, r.status());
    }
  }
  first = firstError(first, purgePluginRules("name: \"skiff-" + tag_ + "-"));
  const std::string bridge_prefix = "skiff" + tag_;
  for (const auto& entry : fs::directory_iterator("/sys/class/net", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.compare(0, bridge_prefix.size(), bridge_prefix) != 0) continue;
    if (auto r = runChecked({"ip", "link", "delete", name}); !r.ok()) {
      first = firstError(first, r.status());
    }
  }
  first = firstError(first, removeRulesAndChains());
  rules_applied_ = false;
  fs::remove_all(state_dir_ + "/ipam", ec);
  if (ec) first = firstError(first, internalError("cannot remove IP leases: " + ec.message()));
  for (const auto& id : ids) fs::remove(attachmentPath(id), ec);
  return first;
}

}  // namespace skiff::runtime::network
