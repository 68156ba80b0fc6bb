#include "exe/containers.h"

#include <spdlog/spdlog.h>

#include <cstdio>
#include <filesystem>
#include <set>

#include "runtime/local/cgroups.h"
#include "runtime/local/process_driver.h"
#include "runtime/local/volume_store.h"

namespace skiff {

std::string containersRoot(const std::string& data_dir) { return data_dir + "/containers"; }
std::string networkRoot(const std::string& data_dir) { return data_dir + "/network"; }
std::string imagesRoot(const std::string& data_dir) { return data_dir + "/images"; }

namespace {

Result<std::unique_ptr<runtime::network::CniNetwork>> openNetwork(const std::string& data_dir) {
  runtime::network::CniNetwork::Options options;
  options.state_dir = networkRoot(data_dir);
  // Named after the containers' root, as their cgroups are: one tag finds all of it.
  options.tag = runtime::rootTag(containersRoot(data_dir));
  return runtime::network::CniNetwork::open(options);
}

}  // namespace

Result<ContainerRuntime> openContainerRuntime(const std::string& data_dir, const Store& store,
                                              const ContainerOptions& options) {
  ContainerRuntime out;
  if (options.mode == "off") {
    out.unavailable = "containers are turned off (--containers off)";
    return out;
  }
  const runtime::RuncProbe probe = runtime::RuncDriver::probe();
  if (!probe.usable) {
    out.unavailable = probe.reason;
    if (options.mode == "on") return unavailable("--containers on, but " + probe.reason);
    return out;
  }
  auto network = openNetwork(data_dir);
  if (!network.ok()) {
    out.unavailable = "container networking: " + network.status().message();
    if (options.mode == "on") return network.status();
    return out;
  }
  auto images = image::ImageStore::open(imagesRoot(data_dir));
  if (!images.ok()) return images.status();
  out.driver = std::make_unique<runtime::RuncDriver>(
      runtime::RuncDriverOptions{containersRoot(data_dir), "", "/usr/sbin/runc"});
  out.network = std::move(network).value();
  out.images = std::move(images).value();
  out.image_source = std::make_unique<runtime::RegistryImageSource>(store, *out.images,
                                                                    options.insecure_registries);
  // What a crashed predecessor left: containers that ended while nobody watched, and the
  // network of instances that are gone.
  if (Status s = out.driver->cleanupOrphans(); !s.isOk())
    spdlog::warn("containers: cleaning up after the last run: {}", s.toString());
  std::set<std::string> live;
  if (auto ids = out.driver->list(); ids.ok()) live.insert(ids->begin(), ids->end());
  if (Status s = out.network->cleanupOrphans(live); !s.isOk())
    spdlog::warn("container network: cleaning up after the last run: {}", s.toString());
  return out;
}

int runHostCleanup(const std::string& data_dir) {
  int failures = 0;
  auto report = [&](const char* what, const Status& s) {
    if (s.isOk()) return;
    std::fprintf(stderr, "host-cleanup: %s: %s\n", what, s.toString().c_str());
    ++failures;
  };
  // Instances first (they hold mounts and namespaces), then what they used.
  runtime::ProcessDriver processes({data_dir + "/runtime", "", std::chrono::seconds(5)});
  runtime::RuncDriver containers({containersRoot(data_dir), "", "/usr/sbin/runc"});
  for (runtime::Driver* driver :
       {static_cast<runtime::Driver*>(&processes), static_cast<runtime::Driver*>(&containers)}) {
    auto ids = driver->list();
    if (!ids.ok()) continue;
    for (const auto& id : *ids) {
      report("stopping an instance", driver->stop(id, std::chrono::seconds(0)));
      report("removing an instance", driver->remove(id));
    }
  }
  report("containers", containers.cleanupOrphans());
  if (std::filesystem::exists(networkRoot(data_dir))) {
    auto network = openNetwork(data_dir);
    report("network", network.ok() ? (*network)->shutdownAll() : network.status());
  }
  report("volumes", runtime::VolumeStore({data_dir + "/volumes"}).unmountAll());
  std::error_code ec;
  std::filesystem::remove_all(data_dir + "/scratch", ec);
  if (failures == 0)
    std::printf("host-cleanup: nothing of %s is left on the host\n", data_dir.c_str());
  return failures == 0 ? 0 : 1;
}

}  // namespace skiff
