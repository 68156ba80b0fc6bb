// A tenant's credentials for a registry: its Secrets of type registry (keys server, username,
// password) whose server is that registry ("host[:port]" as image references name it). Used to
// pull a tenant's images and to read the tags of the images it follows. Thread-safe.
#pragma once

#include <optional>
#include <string>

#include "image/registry_client.h"
#include "store/store.h"

namespace skiff {

std::optional<image::RegistryCredentials> tenantRegistryCredentials(const Store& store,
                                                                    const std::string& tenant,
                                                                    const std::string& registry);

}  // namespace skiff
