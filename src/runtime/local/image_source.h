// ImageSource: how the node agent gets an image's root filesystem and defaults for a
// container, without knowing where images come from. The implementation over Skiff's image
// store (registry_image_source.h) pulls what is missing with the tenant's registry credentials.
//
// Implementations are thread-safe: several instances may start at once.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"

namespace skiff::runtime {

struct ResolvedImage {
  std::string reference;            // as the component names it
  std::string digest;               // the manifest's: what actually runs
  std::vector<std::string> layers;  // unpacked, bottom first, overlay lower-dir format
  // The image config's defaults, overridden by the component (Kubernetes' semantics).
  std::vector<std::string> entrypoint;
  std::vector<std::string> cmd;
  std::vector<std::string> env;  // "NAME=value"
  std::string user;
  std::string working_dir;
};

class ImageSource {
 public:
  virtual ~ImageSource() = default;
  // The image for a container of `tenant`, pulled first when it is not here. Errors say what
  // failed in the user's terms (not found in the registry, unauthorized, unreachable, a blob
  // or layer that does not match its digest); nothing is left half-pulled.
  virtual Result<ResolvedImage> resolve(const std::string& tenant,
                                        const std::string& reference) = 0;
};

}  // namespace skiff::runtime
