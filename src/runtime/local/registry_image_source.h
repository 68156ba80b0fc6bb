// RegistryImageSource: ImageSource over Skiff's image store (image/image_store.h). An image
// that is not in the store is pulled, with the credentials of the instance's tenant: its
// Secrets of type registry (keys server, username, password) whose server is the image's
// registry. Tags are resolved once and then run from the store (Kubernetes' IfNotPresent);
// ":latest" is looked up in the registry on every start (Always).
//
// The store is shared, its images are not: an image the server pulled for one tenant is run
// for another only once that tenant has pulled it too (with its own credentials; blobs that
// are already here are not fetched again), so a private image does not leak to tenants
// without access to it (what Kubernetes' AlwaysPullImages admission is for). Which tenants
// pulled which reference is kept in ROOT/tenants.json. Images put into the store by an
// operator (`skiff image build --store DATA/images`) were pulled by nobody and serve everyone.
//
// Thread-safe: the store locks itself; pulls run one at a time.
#pragma once

#include <map>
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

  // Whether `tenant` may run the stored `reference` without pulling it: it pulled it, or
  // nobody did. Requires mu_.
  bool mayUseStored(const std::string& tenant, const std::string& reference) const;
  // Records that `tenant` pulled `reference`. Requires mu_.
  void recordPull(const std::string& tenant, const std::string& reference);

  std::mutex mu_;  // serialises pulls, so two instances of one image pull it once
  std::map<std::string, std::set<std::string>> pulled_by_;  // reference -> tenants; guarded
};

}  // namespace skiff::runtime
