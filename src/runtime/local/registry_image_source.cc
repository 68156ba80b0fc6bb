#include "runtime/local/registry_image_source.h"

#include "common/files.h"
#include "controller/registry_credentials.h"

namespace skiff::runtime {

RegistryImageSource::RegistryImageSource(const Store& store, image::ImageStore& images,
                                         std::vector<std::string> insecure_registries)
    : store_(store), images_(images), insecure_registries_(std::move(insecure_registries)) {
  auto text = readWholeFile(images_.root() + "/tenants.json");
  const json saved = text.ok() ? json::parse(*text, nullptr, false) : json();
  if (saved.is_object())
    for (auto it = saved.begin(); it != saved.end(); ++it)
      for (const auto& tenant : it.value())
        if (tenant.is_string()) pulled_by_[it.key()].insert(tenant.get<std::string>());
}

bool RegistryImageSource::mayUseStored(const std::string& tenant,
                                       const std::string& reference) const {
  auto it = pulled_by_.find(reference);
  return it == pulled_by_.end() || it->second.count(tenant) > 0;
}

void RegistryImageSource::recordPull(const std::string& tenant, const std::string& reference) {
  if (!pulled_by_[reference].insert(tenant).second) return;
  json saved = json::object();
  for (const auto& [ref, tenants] : pulled_by_) saved[ref] = tenants;
  (void)writeFileAtomically(images_.root() + "/tenants.json", saved.dump());
}

std::optional<image::RegistryCredentials> RegistryImageSource::credentials(
    const std::string& tenant, const std::string& registry) const {
  return tenantRegistryCredentials(store_, tenant, registry);
}

Result<ResolvedImage> RegistryImageSource::resolve(const std::string& tenant,
                                                   const std::string& reference) {
  auto ref = image::parseReference(reference);
  if (!ref.ok()) return ref.status();
  std::lock_guard lock(mu_);
  auto local = images_.get(ref->str());
  const bool may_use = local.ok() && mayUseStored(tenant, ref->str());
  if (!may_use || (!ref->digest && ref->tag == "latest")) {
    image::RegistryOptions registry;
    registry.insecure_registries = insecure_registries_;
    registry.credentials = [this, tenant](const std::string& host) {
      return credentials(tenant, host);
    };
    auto pulled = images_.pull(ref->str(), registry);
    // A registry that cannot be reached does not stop an image this tenant may run.
    if (!pulled.ok() && !(may_use && pulled.status().code() == StatusCode::kUnavailable))
      return pulled.status();
    if (pulled.ok()) {
      local = std::move(pulled);
      recordPull(tenant, ref->str());
    }
  }
  auto layers = images_.layerDirs(*local);
  if (!layers.ok()) return layers.status();
  ResolvedImage resolved;
  resolved.reference = reference;
  resolved.digest = local->manifest_digest.str();
  resolved.layers = std::move(layers).value();
  resolved.entrypoint = local->config.entrypoint;
  resolved.cmd = local->config.cmd;
  resolved.env = local->config.env;
  resolved.user = local->config.user;
  resolved.working_dir = local->config.working_dir;
  return resolved;
}

}  // namespace skiff::runtime
