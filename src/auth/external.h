// Sign-in sources outside Skiff's own user store, as the Authenticator consults them: a
// PasswordDirectory (LDAP) checks the passwords of users who have no local credential; a
// BearerVerifier (OIDC) accepts tokens another issuer signed. Both answer with who the caller
// is and which Skiff groups they are in; bindings then apply to them like to local users.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace skiff {

// A person as an external source vouches for them.
struct ExternalAccount {
  std::string user;                 // the Skiff user name (a DNS label)
  std::vector<std::string> groups;  // Skiff group names, already mapped from the source's
  std::string display_name;
  std::string email;
};

// Why an external source refused a caller, when the request itself was fine.
enum class ExternalRefusal {
  kNone,
  kUnknownUser,  // the source has no such user: the Authenticator answers "wrong name or password"
  kBadCredentials,  // wrong password, bad signature, unknown key
  kExpired,         // a token past its exp
  kNotAccepted,     // valid but not for us: wrong issuer or audience, claims that map to no user
};

struct ExternalResult {
  ExternalRefusal refusal = ExternalRefusal::kNone;
  std::string message;  // why, for the 401 answer; never contains a password or token
  ExternalAccount account;

  bool ok() const { return refusal == ExternalRefusal::kNone; }
};

// Checks a user name and password against a directory. A non-OK Status means the directory
// could not be asked (unreachable, misconfigured): the caller answers 503, not 401.
class PasswordDirectory {
 public:
  virtual ~PasswordDirectory() = default;
  // The value User.spec.source records for users this directory signs in ("ldap").
  virtual std::string source() const = 0;
  virtual Result<ExternalResult> authenticate(std::string_view user, std::string_view password) = 0;
};

// Verifies bearer tokens issued elsewhere. Thread-safe: called from the API's threads.
class BearerVerifier {
 public:
  virtual ~BearerVerifier() = default;
  // The value User.spec.source records for users this verifier signs in ("oidc").
  virtual std::string source() const = 0;
  // Whether `token` has this verifier's format (a JWT): only then is verify() asked.
  virtual bool recognizes(std::string_view token) const = 0;
  virtual Result<ExternalResult> verify(std::string_view token) const = 0;
};

}  // namespace skiff
