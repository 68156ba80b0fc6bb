// OIDC sign-in: a BearerVerifier (auth/external.h) that accepts JWTs (ID tokens or JWT access
// tokens) signed by one configured OpenID Connect issuer, and maps their claims to a Skiff user
// and groups.
//
// Keys: the issuer's discovery document (<issuer>/.well-known/openid-configuration, whose
// "issuer" must equal the configured one exactly) names its JWK Set (jwks_uri). Both are
// fetched at the first token, kept, and fetched again when older than keyRefreshInterval, or
// when a token names a key (kid) the cached set lacks, so that key rotation needs no restart.
// Fetches happen at most once per minKeyRefreshInterval however many tokens arrive, so forged
// kids cannot make Skiff hammer the issuer. An issuer that cannot be reached leaves the server
// running: a token that needs keys Skiff does not have is then a non-OK Status (kUnavailable,
// the API answers 503) naming the issuer and the failure; a later refresh that fails keeps the
// keys already fetched.
//
// Tokens: the signature (auth/jwt.h: RS256/384/512, PS256/384/512, ES256/384; never "none" or
// HMAC; the key's "kty", "crv" and "alg" must fit the token's "alg"), then "iss" (exactly),
// "aud" (a string or an array containing a configured audience), "exp" (required), "nbf" and
// "iat" (when present), with clockSkew of tolerance. Refusals are ExternalResults whose message
// says what was wrong; they never quote the token.
//
// Mapping: user = usernamePrefix + the usernameClaim's value, which must be a DNS label or the
// token is refused (kNotAccepted, naming the claim and the value). Groups come from
// groupsClaim (an array of strings, or one string): with groupMap only mapped groups count,
// under their mapped names; without it each is groupsPrefix + the issuer's name, and names
// that are not DNS labels are skipped (a binding could never name them). The "name" and
// "email" claims, when strings, become the user's display name and email.
//
// The configuration is a YAML file (`skiff server --oidc-config FILE`, docs/security.md).
//
// Thread-safe. verify() runs on the API's threads and may block on a fetch (bounded by the
// fetcher's timeout) once per minKeyRefreshInterval at most; concurrent callers that need the
// same fetch wait for it rather than fetching again.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/external.h"
#include "common/status.h"

namespace skiff {

class Clock;
struct CompactJws;
struct JsonWebKeySet;

struct OidcConfig {
  // "https://login.example.com/realms/main"; http only with a loopback host (tests).
  std::string issuer;
  std::vector<std::string> audiences;  // the token's "aud" must contain one
  std::string ca_file;                 // PEM to trust for the issuer; empty: the system's store
  std::string username_claim = "sub";
  std::string username_prefix;
  std::string groups_claim = "groups";
  std::string groups_prefix;
  // Issuer group → Skiff group. When set, only mapped groups count (groups_prefix is not
  // applied to them).
  std::optional<std::map<std::string, std::string>> group_map;
  std::chrono::seconds clock_skew{60};
  // Keys older than this are fetched again at the next token.
  std::chrono::seconds key_refresh_interval = std::chrono::hours(1);
  // The least time between two fetches of the keys.
  std::chrono::seconds min_key_refresh_interval{10};
};

// Parses and checks a configuration (YAML or JSON); a relative caFile is taken from
// `base_dir`. A bad configuration is kInvalid with one FieldError per problem naming the field
// and what is allowed.
Result<OidcConfig> parseOidcConfig(std::string_view text, const std::string& base_dir);
// The same for the file at `path` (relative paths inside it are relative to its directory).
Result<OidcConfig> loadOidcConfig(const std::string& path);

// Gets a document over HTTP(S): the body of a 200 answer, else a non-OK Status saying what
// went wrong (kUnavailable for an unreachable server or an error answer).
using OidcFetcher = std::function<Result<std::string>(const std::string& url)>;
// The production fetcher: net::fetch, trusting `ca_file` (empty: the system's store), with a
// short deadline since a fetch may hold up an API request.
OidcFetcher httpsFetcher(const std::string& ca_file);

class OidcVerifier final : public BearerVerifier {
 public:
  OidcVerifier(OidcConfig config, OidcFetcher fetch, const Clock& clock);
  ~OidcVerifier() override;

  std::string source() const override { return "oidc"; }
  bool recognizes(std::string_view token) const override;
  Result<ExternalResult> verify(std::string_view token) const override;

  // One line for the server's log: the issuer and the audiences.
  std::string describe() const;

 private:
  struct Keys;
  // The keys as last fetched (null if never), and the outcome of the last attempt.
  std::shared_ptr<const Keys> currentKeys() const;
  // Fetches discovery and the JWK Set unless a fetch happened within
  // min_key_refresh_interval. Returns the keys to use afterwards.
  std::shared_ptr<const Keys> refreshKeys() const;
  Result<JsonWebKeySet> fetchKeys() const;
  ExternalResult checkClaims(const CompactJws& jws) const;

  // Constant after construction.
  const OidcConfig config_;
  const OidcFetcher fetch_;
  const Clock& clock_;

  // Held while fetching, so that one caller fetches and the others wait for its result.
  mutable std::mutex fetch_mu_;
  mutable std::mutex mu_;
  mutable std::shared_ptr<const Keys> keys_;  // guarded by mu_; never null
};

}  // namespace skiff
