// When a cluster's credentials stop working, as far as they say themselves: a client
// certificate's notAfter, or the "exp" claim of a bearer token that is a JWT (Kubernetes
// service account tokens are). An API server refuses expired credentials with a bare
// "Unauthorized"; knowing the date lets Skiff say why, and say it before it happens.
#pragma once

#include <chrono>
#include <optional>
#include <string>

namespace skiff::kube {

struct CredentialExpiry {
  std::chrono::system_clock::time_point at;
  std::string what;  // "client certificate" or "token"
};

// The earlier expiry of the two; nullopt when neither says (an opaque token, no certificate)
// or the certificate cannot be read.
std::optional<CredentialExpiry> credentialExpiry(const std::string& certificate_pem,
                                                 const std::string& token);

}  // namespace skiff::kube
