#include "controller/registry_credentials.h"

namespace skiff {

std::optional<image::RegistryCredentials> tenantRegistryCredentials(const Store& store,
                                                                    const std::string& tenant,
                                                                    const std::string& registry) {
  ListOptions options;
  options.tenant = tenant;
  for (const auto& item : store.list("Secret", options).items) {
    const Object secret = item->object();
    if (secret.spec.value("type", "") != "registry") continue;
    const json data = secret.spec.value("data", json::object());
    if (data.value("server", "") == registry)
      return image::RegistryCredentials{data.value("username", ""), data.value("password", "")};
  }
  return std::nullopt;
}

}  // namespace skiff
