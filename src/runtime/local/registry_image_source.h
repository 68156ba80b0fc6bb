// RegistryImageSource: ImageSource over Skiff's image store (image/image_store.h). An image
// that is not in the store is pulled, with the credentials of the instance's tenant: its
// Secrets of type registry (keys server, username, password) whose server is the image's
// registry. Tags are resolved once and then run from the store (Kubernetes' IfNotPresent);
// ":latest" is looked up in the registry on every start (Always).
//
// Thread-safe: the store locks itself; a pull of one reference runs once at a time.
#pragma once

#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "image/image_store.h"
#include "runtime/local/image_source.h"
#include "store/store.h"

namespace skiff::runtime {

class RegistryImageSource final : public ImageSource {
 public:
  RegistryImageSource(const Store& store, image::ImageStore& images,
                      std::vector<std::string> insecure_registries);

  Result<ResolvedImage> resolve(const std::string& tenant, const std::string& reference) override;

 private:
  std::optional<image::RegistryCredentials> credentials(const std::string& tenant,
                                                        const std::string& registry) const;

  const Store& store_;
  image::ImageStore& images_;
  const std::vector<std::string> insecure_registries_;

  std::mutex mu_;  // serialises pulls, so two instances of one image pull it once
};

}  // namespace skiff::runtime
