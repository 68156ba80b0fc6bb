// A client of one OCI distribution registry (the /v2/ API of CNCF Distribution, Docker Hub,
// GHCR, Harbor, ...) over net::fetch. It speaks plain HTTP to loopback registries and to those
// the caller lists as insecure, HTTPS (verified) to everything else.
//
// Authentication follows what the registry asks for in WWW-Authenticate: none, Basic with the
// caller's credentials, or the bearer-token flow (a token from the realm for the repository's
// scope, fetched with the credentials when there are any, anonymously otherwise). Tokens are
// cached per scope for the client's lifetime.
//
// Errors say which registry, which image and what to do: kNotFound for an unknown manifest or
// blob, kUnauthenticated naming the credentials that were used (or that none were), kUnavailable
// for a registry that cannot be reached (naming host:port).
//
// Not thread-safe (the token cache); use one client per thread.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "image/digest.h"
#include "net/http_client.h"

namespace skiff::image {

inline constexpr std::string_view kOciIndex = "application/vnd.oci.image.index.v1+json";
inline constexpr std::string_view kOciManifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view kOciConfig = "application/vnd.oci.image.config.v1+json";
inline constexpr std::string_view kDockerManifestList =
    "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr std::string_view kDockerManifest =
    "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr std::string_view kDockerConfig = "application/vnd.docker.container.image.v1+json";

struct RegistryCredentials {
  std::string username;
  std::string password;
};

// The credentials for a registry ("host:port" as in the image reference), if any. The CLI
// answers from flags and the environment; the server from a tenant's Secrets.
using CredentialsLookup =
    std::function<std::optional<RegistryCredentials>(const std::string& registry)>;

struct RegistryOptions {
  CredentialsLookup credentials;
  // Registries ("host:port" or "host") spoken to over plain HTTP although they are not loopback.
  std::vector<std::string> insecure_registries;
  net::TlsClientOptions tls;
  // For each request's answer head; blob bodies may stream for longer.
  std::chrono::milliseconds timeout{30000};
};

// True when `registry` ("host[:port]") is spoken to over plain HTTP: a loopback host, or one
// named in `insecure` (with or without its port).
bool isInsecureRegistry(const std::string& registry, const std::vector<std::string>& insecure);

struct FetchedManifest {
  std::string media_type;
  std::string body;  // exactly as served: its digest is the manifest's identity
  Digest digest;
};

class RegistryClient {
 public:
  // `registry` is "host[:port]" as in an image reference (Reference::apiHost()).
  RegistryClient(std::string registry, RegistryOptions options);

  // The manifest (or index) for a tag or digest. A digest key is verified against the body.
  // `image` names the image in errors.
  Result<FetchedManifest> getManifest(const std::string& repository, const std::string& key,
                                      const std::string& image);
  // Streams a blob to `sink` (false from sink aborts), following redirects to blob storage.
  Status getBlob(const std::string& repository, const Digest& digest,
                 const std::function<bool(std::string_view)>& sink);
  Result<bool> hasBlob(const std::string& repository, const Digest& digest);
  // Every tag of `repository` (GET /v2/<name>/tags/list, following the Link header's pages).
  Result<std::vector<std::string>> listTags(const std::string& repository);
  // A monolithic upload: POST to start, PUT with the digest to finish.
  Status pushBlob(const std::string& repository, const Digest& digest, const std::string& content);
  // PUT of a manifest under a tag (or digest); returns the digest the registry computed.
  Result<Digest> putManifest(const std::string& repository, const std::string& key,
                             const std::string& media_type, const std::string& body);

  const std::string& registry() const { return registry_; }

 private:
  enum class Access { kPull, kPush };
  // Sends `request` (target relative to the registry's base URL, or absolute) with the
  // authorization the registry asks for; streams 2xx bodies to `sink` when given.
  Result<net::ClientResponse> send(net::ClientRequest request, const std::string& repository,
                                   Access access,
                                   const std::function<bool(std::string_view)>* sink = nullptr);
  Result<std::string> authorize(const std::string& challenge, const std::string& scope);
  Status unauthorized(const std::string& what, const net::ClientResponse& response) const;
  std::string credentialsText() const;

  std::string registry_;
  RegistryOptions options_;
  std::string base_url_;  // "http(s)://host:port"
  std::optional<RegistryCredentials> credentials_;
  std::map<std::string, std::string> authorization_;  // scope -> Authorization header value
};

// The code of the first error in a registry's JSON error body ("MANIFEST_UNKNOWN"), or "".
std::string registryErrorCode(const std::string& body);

}  // namespace skiff::image
