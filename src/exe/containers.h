// The container half of the local runtime, wired for `skiff server`: the runc driver, CNI
// networking, the image store and the image source over it, when runc can run containers on
// this machine; otherwise the reason it cannot, for the server to report (components with an
// image then fail with it, components with `run` still run as processes).
//
// Also `skiff host-cleanup`: ends every instance of a data directory and removes what Skiff
// made on the host for them (network namespaces, bridges, firewall rules, mounts, cgroups),
// for uninstalling and for tests. Not thread-safe; used once at start.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "image/image_store.h"
#include "runtime/local/network/network.h"
#include "runtime/local/registry_image_source.h"
#include "runtime/local/runc_driver.h"
#include "store/store.h"

namespace skiff {

struct ContainerOptions {
  std::string mode = "auto";  // auto: where runc works; on: or fail; off: never
  std::vector<std::string> insecure_registries;
};

struct ContainerRuntime {
  std::unique_ptr<runtime::RuncDriver> driver;  // null: containers cannot run
  std::unique_ptr<runtime::network::CniNetwork> network;
  std::unique_ptr<image::ImageStore> images;
  std::unique_ptr<runtime::RegistryImageSource> image_source;
  std::string unavailable;  // why driver is null
};

// Where the pieces keep their state under the data directory.
std::string containersRoot(const std::string& data_dir);  // DATA/containers
std::string networkRoot(const std::string& data_dir);     // DATA/network
std::string imagesRoot(const std::string& data_dir);      // DATA/images

// Opens what can be opened and, after a crash, cleans up what its predecessor left (runc
// containers, mounts and network namespaces of instances that are gone). An error only when
// mode is "on" and containers cannot run, or when state on disk cannot be read.
Result<ContainerRuntime> openContainerRuntime(const std::string& data_dir, const Store& store,
                                              const ContainerOptions& options);

// `skiff host-cleanup --data-dir DIR`; the server must not be running.
int runHostCleanup(const std::string& data_dir);

}  // namespace skiff
