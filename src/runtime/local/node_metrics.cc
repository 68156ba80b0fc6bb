#include "runtime/local/node_metrics.h"

#include <unistd.h>

#include <fstream>
#include <map>
#include <sstream>

#include "controller/footprint.h"
#include "controller/revision_controller.h"
#include "model/formats.h"
#include "runtime/local/instance_usage.h"

namespace skiff::runtime {

namespace {

using observe::CollectedSample;
using observe::Labels;

// Millicores and bytes one instance of `component` asks for (0: nothing asked).
std::pair<int64_t, int64_t> requestsOf(const json& component) {
  return {parseCpuMillis(resourceRequest(component, "cpu")).value_or(0),
          parseMemoryBytes(resourceRequest(component, "memory")).value_or(0)};
}

int64_t meminfoBytes(const std::string& text, const std::string& key) {
  std::istringstream in(text);
  std::string k;
  int64_t kib = 0;
  std::string unit;
  while (in >> k >> kib) {
    std::getline(in, unit);
    if (k == key + ":") return kib * 1024;
  }
  return 0;
}

}  // namespace

NodeMetricSource::NodeMetricSource(const Store& store, std::string node)
    : store_(store), node_(std::move(node)) {}

std::vector<observe::MetricFamily> NodeMetricSource::families() const {
  return {
      {"skiff_instance_cpu_usage_seconds_total", "counter", "Cpu time the instance used."},
      {"skiff_instance_cpu_throttled_seconds_total", "counter",
       "Time the instance was held back by its cpu limit."},
      {"skiff_instance_cpu_throttled_periods_total", "counter",
       "Scheduling periods in which the instance was throttled."},
      {"skiff_instance_cpu_request_cores", "gauge",
       "Cpu the component asks for per instance (the base of cpu utilisation)."},
      {"skiff_instance_memory_working_set_bytes", "gauge",
       "Memory in use, without inactive file cache (what the kernel reclaims last)."},
      {"skiff_instance_memory_limit_bytes", "gauge", "The instance's memory limit."},
      {"skiff_instance_memory_request_bytes", "gauge",
       "Memory the component asks for per instance (the base of memory utilisation)."},
      {"skiff_instance_restarts_total", "counter", "Times the instance's workload restarted."},
      {"skiff_instance_ready", "gauge", "Whether the instance is ready for traffic (1) or not."},
      {"skiff_instance_network_receive_bytes_total", "counter",
       "Bytes received by the instance's network namespace."},
      {"skiff_instance_network_transmit_bytes_total", "counter",
       "Bytes sent by the instance's network namespace."},
      {"skiff_node_cpu_cores", "gauge", "Cpu cores of the node."},
      {"skiff_node_memory_bytes", "gauge", "Memory of the node."},
      {"skiff_node_memory_available_bytes", "gauge", "Memory available for new work."},
      {"skiff_node_cpu_requested_cores", "gauge", "Cpu its running instances ask for."},
      {"skiff_node_memory_requested_bytes", "gauge", "Memory its running instances ask for."},
      {"skiff_node_instances", "gauge", "Instances running on the node."},
  };
}

Status NodeMetricSource::collect(std::vector<CollectedSample>& out) {
  std::map<ObjectKey, json> components;  // (tenant, revision name) -> template components
  auto componentOf = [&](const Object& instance) -> json {
    const std::string app = instance.spec.value("application", "");
    const std::string component = instance.spec.value("component", "");
    const ObjectKey key{"Revision", instance.metadata.tenant,
                        revisionName(app, instance.spec.value("revision", int64_t{0}))};
    auto it = components.find(key);
    if (it == components.end()) {
      json list = json::array();
      if (auto revision = store_.get(key); revision.ok())
        list = (*revision)
                   ->object()
                   .spec.value("template", json::object())
                   .value("components", json::array());
      it = components.emplace(key, std::move(list)).first;
    }
    for (const json& c : it->second)
      if (c.value("name", "") == component) return c;
    return json::object();
  };

  const std::string mountinfo = readMountinfo();
  int64_t requested_cpu = 0, requested_memory = 0, running = 0;
  for (const StoredObjectPtr& stored : store_.list("Instance", {}).items) {
    const Object& instance = stored->object();
    if (instance.spec.value("node", "") != node_ || instance.status.value("phase", "") != "Running")
      continue;
    const int64_t pid = instance.status.value("pid", int64_t{-1});
    if (pid <= 0) continue;
    ++running;
    const Labels labels = {
        {"tenant", instance.metadata.tenant},
        {"application", instance.spec.value("application", "")},
        {"component", instance.spec.value("component", "")},
        {"instance", instance.metadata.name},
        {"revision", std::to_string(instance.spec.value("revision", int64_t{0}))},
    };
    auto add = [&](const char* name, double value) { out.push_back({name, labels, value}); };
    const auto [cpu_millis, memory_bytes] = requestsOf(componentOf(instance));
    requested_cpu += cpu_millis;
    requested_memory += memory_bytes;
    if (cpu_millis > 0) add("skiff_instance_cpu_request_cores", cpu_millis / 1000.0);
    if (memory_bytes > 0)
      add("skiff_instance_memory_request_bytes", static_cast<double>(memory_bytes));
    add("skiff_instance_restarts_total", instance.status.value("restarts", 0));
    add("skiff_instance_ready", instance.status.value("ready", false) ? 1 : 0);
    auto usage = readInstanceUsage(static_cast<pid_t>(pid), mountinfo);
    if (!usage.ok()) continue;  // exited since the status was written
    const CgroupUsage& c = usage->cgroup;
    if (c.cpu_seconds) add("skiff_instance_cpu_usage_seconds_total", *c.cpu_seconds);
    if (c.throttled_seconds)
      add("skiff_instance_cpu_throttled_seconds_total", *c.throttled_seconds);
    if (c.throttled_periods)
      add("skiff_instance_cpu_throttled_periods_total", static_cast<double>(*c.throttled_periods));
    if (c.memory_working_set)
      add("skiff_instance_memory_working_set_bytes", static_cast<double>(*c.memory_working_set));
    if (c.memory_limit)
      add("skiff_instance_memory_limit_bytes", static_cast<double>(*c.memory_limit));
    if (usage->network) {
      add("skiff_instance_network_receive_bytes_total",
          static_cast<double>(usage->network->received));
      add("skiff_instance_network_transmit_bytes_total",
          static_cast<double>(usage->network->transmitted));
    }
  }

  std::ifstream meminfo_file("/proc/meminfo");
  std::stringstream meminfo;
  meminfo << meminfo_file.rdbuf();
  const Labels node = {{"node", node_}};
  out.push_back(
      {"skiff_node_cpu_cores", node, static_cast<double>(::sysconf(_SC_NPROCESSORS_ONLN))});
  out.push_back({"skiff_node_memory_bytes", node,
                 static_cast<double>(meminfoBytes(meminfo.str(), "MemTotal"))});
  out.push_back({"skiff_node_memory_available_bytes", node,
                 static_cast<double>(meminfoBytes(meminfo.str(), "MemAvailable"))});
  out.push_back({"skiff_node_cpu_requested_cores", node, requested_cpu / 1000.0});
  out.push_back({"skiff_node_memory_requested_bytes", node, static_cast<double>(requested_memory)});
  out.push_back({"skiff_node_instances", node, static_cast<double>(running)});
  return Status::ok();
}

}  // namespace skiff::runtime
