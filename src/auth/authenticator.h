// Authenticator: who is calling. Local users log in with a password (argon2id, lockout after
// repeated failures, the password policy) and get a session token; automation uses API tokens
// scoped to roles and tenants. Both are bearer tokens (auth/tokens.h) resolved to an Identity
// that the Authorizer (auth/rbac.h) judges. It also bootstraps the first platform admin.
//
// State lives in the Store: User and Token objects (served by the API) and the internal
// Credential and TokenSecret kinds (never served, model/kinds.h). A Credential, named after its
// user, holds the PHC hash, the previous hashes, passwordChangedAt, failedAttempts and
// lockedUntil.
//
// Expected failures come in two layers: a non-OK Status for a broken request or store
// (kInvalid for a password the policy refuses, kNotFound, kUnavailable...), and inside an OK
// result an Authentication whose `failure` says why the caller is not authenticated (the API
// answers 401 with its message). Thread-safe: credential updates are serialized by a mutex.
#pragma once

#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/external.h"
#include "auth/identity.h"
#include "auth/password.h"
#include "common/status.h"
#include "model/object.h"

namespace skiff {

class Clock;
class Store;

inline constexpr const char* kAdminUser = "admin";
// The file under the data directory that receives the first admin password, mode 0600.
inline constexpr const char* kAdminPasswordFile = "admin-password";
// The PlatformRoleBinding that makes the bootstrap admin a platform-admin.
inline constexpr const char* kAdminBinding = "platform-admins";

struct AuthenticatorOptions {
  Argon2Params argon2;
  PasswordPolicy policy;
  // Consecutive failed logins that lock an account, and for how long. While locked, even the
  // right password is refused; failures during the lock do not extend it.
  int max_failed_logins = 5;
  std::chrono::seconds lockout = std::chrono::minutes(15);
  std::chrono::seconds session_ttl = std::chrono::hours(12);
  // API tokens: lifetime when the request names none, and the longest allowed.
  std::chrono::seconds default_token_ttl = std::chrono::hours(24 * 30);
  std::chrono::seconds max_token_ttl = std::chrono::hours(24 * 366);
};

enum class AuthnFailure {
  kNone,
  // Unknown user, wrong password, or an unknown, malformed or revoked token: the message does
  // not say which, so a caller cannot probe for user names.
  kBadCredentials,
  kLockedOut,        // too many failed logins; the message says until when
  kPasswordExpired,  // right password, but older than policy.max_age: change it first
  kUserDisabled,     // User.spec.disabled (told only after a right password or a valid token)
  kTokenExpired,
};
const char* authnFailureName(AuthnFailure failure);  // "BadCredentials", ...

struct Authentication {
  AuthnFailure failure = AuthnFailure::kNone;
  std::string message;  // for the 401 answer when failure != kNone
  Identity identity;    // when failure == kNone

  bool ok() const { return failure == AuthnFailure::kNone; }
};

// The outcome of a successful login: a session token, shown to the caller once.
struct Session {
  std::string token;  // "skf_<id>_<secret>"; send as "Authorization: Bearer <token>"
  std::string id;     // the Token object's name; logout revokes it
  std::chrono::system_clock::time_point expires_at;
};

struct LoginResult {
  Authentication authentication;
  Session session;  // set when authentication.ok()
};

struct TokenRequest {
  std::string user;
  std::vector<std::string> roles;    // scope; empty: the user's permissions
  std::vector<std::string> tenants;  // scope; empty: every tenant the user may use
  std::chrono::seconds ttl{0};       // zero: options.default_token_ttl
  std::string description;
};

struct CreatedToken {
  std::string token;       // the secret, shown once: it cannot be recovered afterwards
  StoredObjectPtr object;  // the Token object (what GET /api/v1/tokens/{id} serves)
};

struct AdminBootstrap {
  bool created = false;  // false: an admin credential already existed; nothing else is set
  std::string password;  // print once to the terminal; never log it
  std::string password_file;
};

class Authenticator {
 public:
  Authenticator(Store& store, const Clock& clock, AuthenticatorOptions options = {});

  // External sign-in (auth/external.h), set before serving; the sources must outlive this.
  // Users without a local credential then log in through the directory; bearer tokens that
  // are not Skiff's own go to the verifier. Either creates the User (spec.source naming it) at
  // the first sign-in and refuses names that belong to users of another source.
  void setDirectory(PasswordDirectory* directory) { directory_ = directory; }
  void setBearerVerifier(const BearerVerifier* verifier) { verifier_ = verifier; }

  // Checks a password and, if right, starts a session. Counts failures towards the lockout.
  Result<LoginResult> login(std::string_view user, std::string_view password);
  // Checks a password without starting a session (and with the same lockout accounting).
  Result<Authentication> checkPassword(std::string_view user, std::string_view password);

  // Resolves "skf_..." (without "Bearer ") to an Identity: the token must exist, match its
  // stored digest, not be expired, and belong to an enabled user.
  Result<Authentication> authenticateBearer(std::string_view token) const;

  // Sets a user's password as an administrator would (no current password needed): enforces
  // the policy and reuse rule, clears the lockout. Creates the Credential on first use. The
  // User must exist (kNotFound otherwise).
  Status setPassword(std::string_view user, std::string_view new_password);
  // Self-service: the current password must be right (an expired one is accepted here, so a
  // user can get out of kPasswordExpired). A wrong one counts towards the lockout and comes
  // back as a failed Authentication; a refused new one as kInvalid.
  Result<Authentication> changePassword(std::string_view user, std::string_view current,
                                        std::string_view new_password);

  // Creates an API token for an existing, enabled user. kInvalid for unknown roles or a ttl
  // above options.max_token_ttl. Authorizing who may create a token for whom is the caller's
  // job; the scope can only narrow the user's permissions, so a user may mint their own.
  Result<CreatedToken> createToken(const TokenRequest& request);
  // The user's tokens (API and session), by id; no secrets are in them.
  std::vector<StoredObjectPtr> listTokens(std::string_view user) const;
  // Revokes a token by id: it stops working at once. kNotFound if there is no such token.
  Status revokeToken(std::string_view id);
  // Revokes the session or token a bearer string names (logout); kNotFound if unknown.
  Status logout(std::string_view token);
  // Removes what a deleted user leaves behind: their Credential and every token. Idempotent.
  Status forgetUser(std::string_view user);
  // Deletes expired tokens and returns how many; for a periodic clean-up.
  Result<size_t> purgeExpiredTokens();

  // Ensures the platform admin exists: on the first start (no Credential for "admin") writes
  // a random password to <data_dir>/admin-password with mode 0600, then creates the User
  // "admin", the PlatformRoleBinding "platform-admins" and the Credential, and returns the
  // password for the caller to print once. Idempotent; later starts return created=false.
  Result<AdminBootstrap> bootstrapAdmin(const std::string& data_dir);

 private:
  Result<Authentication> checkDirectoryPassword(std::string_view user, std::string_view password);
  // Maps an external source's answer to an Authentication, creating the User if needed and
  // recording the account's current groups on it, so that sessions and API tokens the user
  // creates carry what the source says now (a write only when they changed).
  Result<Authentication> admitExternal(const ExternalResult& result,
                                       const std::string& source) const;
  Result<Authentication> checkPasswordLocked(std::string_view user, std::string_view password,
                                             bool allow_expired);
  Status storePassword(std::string_view user, std::string_view new_password,
                       std::optional<Object> existing);
  Result<CreatedToken> issueToken(const TokenRequest& request, const char* type,
                                  std::chrono::seconds ttl);

  // Constant after construction.
  Store& store_;
  const Clock& clock_;
  const AuthenticatorOptions options_;
  // A hash of a random password, verified against when the user is unknown, so that unknown
  // and known users take the same time to refuse.
  const std::string decoy_hash_;
  PasswordDirectory* directory_ = nullptr;
  const BearerVerifier* verifier_ = nullptr;

  // Serializes read-modify-write of Credentials (failed attempts, password changes).
  std::mutex mu_;
};

}  // namespace skiff
