// Reading a cluster's address and credentials out of a kubeconfig file (`skiff cluster add
// --kubeconfig`): the named context (or the current one), its cluster's server and CA, and its
// user's bearer token or client certificate. Inline data and file references (relative to the
// kubeconfig's directory) both work. What Skiff cannot use is refused by name: exec and
// auth-provider plugins, user names and passwords, and skipping TLS verification.
//
// Pure functions (besides reading referenced files); thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "kube/client.h"

namespace skiff::kube {

// `base_dir` resolves relative file references; `context` empty: the current-context.
Result<ClusterAccess> readKubeconfig(std::string_view text, const std::string& context,
                                     const std::string& base_dir);

}  // namespace skiff::kube
