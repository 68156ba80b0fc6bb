#include "auth/authenticator.h"

#include <algorithm>

#include "auth/random.h"
#include "auth/rbac.h"
#include "auth/tokens.h"
#include "common/clock.h"
#include "common/files.h"
#include "model/kinds.h"
#include "model/validation.h"
#include "model/well_known.h"
#include "store/store.h"

namespace skiff {
namespace {

using std::chrono::system_clock;

constexpr size_t kAdminPasswordLength = 24;
// A duplicate random id is astronomically unlikely; retrying a few times costs nothing.
constexpr int kTokenIdAttempts = 3;

const char* const kBadCredentialsMessage = "the user name or password is wrong";
const char* const kBadTokenMessage = "the token is not valid: it is unknown, malformed or revoked";

Authentication failed(AuthnFailure failure, std::string message) {
  Authentication a;
  a.failure = failure;
  a.message = std::move(message);
  return a;
}

std::optional<system_clock::time_point> timeOf(const json& spec, const char* key) {
  auto it = spec.find(key);
  if (it == spec.end() || !it->is_string()) return std::nullopt;
  system_clock::time_point t;
  if (!parseTimestamp(it->get<std::string>(), &t)) return std::nullopt;
  return t;
}

Identity identityOf(const Object& user) {
  Identity id;
  id.user = user.metadata.name;
  id.groups = stringsAt(user.spec, "groups");
  return id;
}

bool disabled(const Object& user) { return user.spec.value("disabled", false); }

// Creates an object through admission (so it obeys the same rules as API input) unless one
// with its key exists.
Status createIfMissing(Store& store, const json& doc, const std::string& kind) {
  auto object = admitObject(doc, {kind, ""});
  if (!object.ok()) return object.status();
  if (store.get(object->key()).ok()) return Status::ok();
  auto created = store.create(std::move(object).value());
  if (!created.ok() && created.status().code() != StatusCode::kAlreadyExists)
    return created.status();
  return Status::ok();
}

}  // namespace

const char* authnFailureName(AuthnFailure failure) {
  switch (failure) {
    case AuthnFailure::kNone:
      return "None";
    case AuthnFailure::kBadCredentials:
      return "BadCredentials";
    case AuthnFailure::kLockedOut:
      return "LockedOut";
    case AuthnFailure::kPasswordExpired:
      return "PasswordExpired";
    case AuthnFailure::kUserDisabled:
      return "UserDisabled";
    case AuthnFailure::kTokenExpired:
      return "TokenExpired";
  }
  return "Unknown";
}

Authenticator::Authenticator(Store& store, const Clock& clock, AuthenticatorOptions options)
    : store_(store),
      clock_(clock),
      options_(std::move(options)),
      decoy_hash_(hashPassword(randomPassword(kAdminPasswordLength), options_.argon2).value()) {}

// ---- Passwords ---------------------------------------------------------------------------

Result<Authentication> Authenticator::checkPasswordLocked(std::string_view user,
                                                          std::string_view password,
                                                          bool allow_expired) {
  auto user_obj = store_.get({"User", "", std::string(user)});
  auto cred = store_.get({kCredentialKind, "", std::string(user)});
  for (const Status* s : {&user_obj.status(), &cred.status()})
    if (!s->isOk() && s->code() != StatusCode::kNotFound) return *s;
  if (!user_obj.ok() || !cred.ok()) {
    (void)verifyPassword(password, decoy_hash_);
    return failed(AuthnFailure::kBadCredentials, kBadCredentialsMessage);
  }

  Object c = (*cred)->object();
  const system_clock::time_point now = clock_.now();
  auto locked_until = timeOf(c.spec, "lockedUntil");
  if (locked_until && now < *locked_until)
    return failed(AuthnFailure::kLockedOut,
                  "the account is locked after " + std::to_string(options_.max_failed_logins) +
                      " failed logins; try again after " + formatTimestamp(*locked_until) +
                      " or ask an administrator to set a new password");
  int failures = c.spec.value("failedAttempts", 0);
  bool changed = false;
  if (locked_until) {  // the lock has passed: start counting afresh
    failures = 0;
    c.spec["failedAttempts"] = 0;
    c.spec.erase("lockedUntil");
    changed = true;
  }

  const std::string hash = c.spec.value("passwordHash", "");
  auto match = verifyPassword(password, hash);
  if (!match.ok())
    return internalError("the credential of user \"" + std::string(user) +
                         "\" is damaged: " + match.status().message());
  Authentication result;
  if (!*match) {
    ++failures;
    c.spec["failedAttempts"] = failures;
    changed = true;
    result = failed(AuthnFailure::kBadCredentials, kBadCredentialsMessage);
    if (failures >= options_.max_failed_logins) {
      auto until = now + options_.lockout;
      c.spec["lockedUntil"] = formatTimestamp(until);
      result = failed(AuthnFailure::kLockedOut,
                      "the account is locked after " + std::to_string(failures) +
                          " failed logins; try again after " + formatTimestamp(until));
    }
  } else {
    if (failures != 0) {
      c.spec["failedAttempts"] = 0;
      changed = true;
    }
    // Raised cost parameters reach existing hashes at their next successful login.
    if (needsRehash(hash, options_.argon2)) {
      if (auto rehashed = hashPassword(password, options_.argon2); rehashed.ok()) {
        c.spec["passwordHash"] = *rehashed;
        changed = true;
      }
    }
    Object u = (*user_obj)->object();
    auto changed_at = timeOf(c.spec, "passwordChangedAt");
    if (disabled(u)) {
      result = failed(AuthnFailure::kUserDisabled,
                      "user \"" + std::string(user) + "\" is disabled: ask an administrator");
    } else if (!allow_expired && options_.policy.expired(changed_at.value_or(now), now)) {
      result = failed(AuthnFailure::kPasswordExpired,
                      "the password of user \"" + std::string(user) + "\" expired on " +
                          formatTimestamp(*changed_at + options_.policy.max_age) +
                          ": change it with the current password");
    } else {
      result.identity = identityOf(u);
    }
  }
  if (changed) {
    auto updated = store_.update(std::move(c));
    if (!updated.ok()) return updated.status();
  }
  return result;
}

Result<Authentication> Authenticator::checkPassword(std::string_view user,
                                                    std::string_view password) {
  if (directory_ != nullptr) {
    auto cred = store_.get({kCredentialKind, "", std::string(user)});
    if (!cred.ok() && cred.status().code() != StatusCode::kNotFound) return cred.status();
    // Outside the lock: a directory round trip must not hold up local logins.
    if (!cred.ok()) return checkDirectoryPassword(user, password);
  }
  std::lock_guard lock(mu_);
  return checkPasswordLocked(user, password, false);
}

// ---- External sign-in ---------------------------------------------------------------------

Result<Authentication> Authenticator::checkDirectoryPassword(std::string_view user,
                                                             std::string_view password) {
  const std::string source = directory_->source();
  auto existing = store_.get({"User", "", std::string(user)});
  if (!existing.ok() && existing.status().code() != StatusCode::kNotFound) return existing.status();
  // A local user without a password yet is not the directory's to sign in.
  if (existing.ok() && (*existing)->object().spec.value("source", "local") != source) {
    (void)verifyPassword(password, decoy_hash_);
    return failed(AuthnFailure::kBadCredentials, kBadCredentialsMessage);
  }
  auto answer = directory_->authenticate(user, password);
  if (!answer.ok()) return answer.status();
  if (answer->refusal == ExternalRefusal::kUnknownUser ||
      answer->refusal == ExternalRefusal::kBadCredentials)
    return failed(AuthnFailure::kBadCredentials, kBadCredentialsMessage);
  return admitExternal(*answer, source);
}

Result<Authentication> Authenticator::admitExternal(const ExternalResult& result,
                                                    const std::string& source) const {
  switch (result.refusal) {
    case ExternalRefusal::kNone:
      break;
    case ExternalRefusal::kExpired:
      return failed(AuthnFailure::kTokenExpired, result.message);
    default:
      return failed(AuthnFailure::kBadCredentials, result.message);
  }
  const ExternalAccount& account = result.account;
  json spec = {{"source", source}, {"groups", account.groups}};
  if (!account.display_name.empty()) spec["displayName"] = account.display_name;
  if (!account.email.empty()) spec["email"] = account.email;
  for (int attempt = 0; attempt < 3; ++attempt) {
    auto existing = store_.get({"User", "", account.user});
    if (!existing.ok()) {
      if (existing.status().code() != StatusCode::kNotFound) return existing.status();
      json doc = {{"apiVersion", kApiVersion},
                  {"kind", "User"},
                  {"metadata", {{"name", account.user}}},
                  {"spec", spec}};
      auto user = admitObject(doc, {"User", ""});
      if (!user.ok())
        return failed(
            AuthnFailure::kBadCredentials,
            "the " + source + " account maps to an invalid user: " + user.status().message());
      auto created = store_.create(std::move(user).value());
      if (created.status().code() == StatusCode::kAlreadyExists) continue;
      if (!created.ok()) return created.status();
      existing = std::move(created);
    }
    Object u = (*existing)->object();
    if (u.spec.value("source", "local") != source)
      return failed(AuthnFailure::kBadCredentials,
                    "user \"" + account.user + "\" is not a " + source +
                        " user: it cannot sign in through " + source);
    if (disabled(u))
      return failed(AuthnFailure::kUserDisabled,
                    "user \"" + account.user + "\" is disabled: ask an administrator");
    if (stringsAt(u.spec, "groups") != account.groups) {
      u.spec["groups"] = account.groups;
      auto updated = store_.update(u);
      if (updated.status().code() == StatusCode::kConflict) continue;
      if (!updated.ok()) return updated.status();
    }
    Authentication a;
    a.identity = identityOf(u);
    a.identity.groups = account.groups;
    return a;
  }
  return unavailable("user \"" + account.user + "\" kept changing while signing in; try again");
}

Result<LoginResult> Authenticator::login(std::string_view user, std::string_view password) {
  auto auth = checkPassword(user, password);
  if (!auth.ok()) return auth.status();
  LoginResult out{std::move(auth).value(), {}};
  if (!out.authentication.ok()) return out;
  TokenRequest request;
  // The user signed in, which a directory may spell differently from the name typed.
  request.user = out.authentication.identity.user;
  request.description = "login session";
  auto token = issueToken(request, "session", options_.session_ttl);
  if (!token.ok()) return token.status();
  out.session.token = token->token;
  out.session.id = token->object->metadata.name;
  out.session.expires_at = clock_.now() + options_.session_ttl;
  out.authentication.identity.token_id = out.session.id;
  return out;
}

Status Authenticator::storePassword(std::string_view user, std::string_view new_password,
                                    std::optional<Object> existing) {
  if (Status s = options_.policy.check(new_password); !s.isOk()) return s;
  std::vector<std::string> previous;
  if (existing) {
    if (std::string current = existing->spec.value("passwordHash", ""); !current.empty())
      previous.push_back(current);
    for (auto& h : stringsAt(existing->spec, "previousHashes")) previous.push_back(h);
  }
  if (Status s = options_.policy.checkNotReused(new_password, previous); !s.isOk()) return s;
  auto hash = hashPassword(new_password, options_.argon2);
  if (!hash.ok()) return hash.status();
  // The new hash plus history - 1 older ones: the last `history` passwords.
  size_t keep = options_.policy.history > 0 ? options_.policy.history - 1 : 0;
  if (previous.size() > keep) previous.resize(keep);

  Object c = existing ? std::move(*existing) : Object{};
  c.kind = kCredentialKind;
  c.metadata.name = std::string(user);
  c.spec = {{"passwordHash", *hash},
            {"previousHashes", previous},
            {"passwordChangedAt", formatTimestamp(clock_.now())},
            {"failedAttempts", 0}};
  auto written = existing ? store_.update(std::move(c)) : store_.create(std::move(c));
  return written.ok() ? Status::ok() : written.status();
}

Status Authenticator::setPassword(std::string_view user, std::string_view new_password) {
  std::lock_guard lock(mu_);
  auto user_obj = store_.get({"User", "", std::string(user)});
  if (!user_obj.ok()) return user_obj.status();
  auto cred = store_.get({kCredentialKind, "", std::string(user)});
  if (!cred.ok() && cred.status().code() != StatusCode::kNotFound) return cred.status();
  return storePassword(user, new_password,
                       cred.ok() ? std::optional((*cred)->object()) : std::nullopt);
}

Result<Authentication> Authenticator::changePassword(std::string_view user,
                                                     std::string_view current,
                                                     std::string_view new_password) {
  std::lock_guard lock(mu_);
  auto auth = checkPasswordLocked(user, current, true);
  if (!auth.ok() || !auth->ok()) return auth;
  auto cred = store_.get({kCredentialKind, "", std::string(user)});
  if (!cred.ok()) return cred.status();
  if (Status s = storePassword(user, new_password, (*cred)->object()); !s.isOk()) return s;
  return auth;
}

// ---- Tokens ------------------------------------------------------------------------------

Result<CreatedToken> Authenticator::issueToken(const TokenRequest& request, const char* type,
                                               std::chrono::seconds ttl) {
  const auto expires_at = clock_.now() + ttl;
  for (int attempt = 0; attempt < kTokenIdAttempts; ++attempt) {
    GeneratedToken generated = generateToken();
    json doc = {{"apiVersion", kApiVersion},
                {"kind", "Token"},
                {"metadata", {{"name", generated.id}, {"labels", {{kUserLabel, request.user}}}}},
                {"spec",
                 {{"user", request.user},
                  {"type", type},
                  {"roles", request.roles},
                  {"tenants", request.tenants},
                  {"expiresAt", formatTimestamp(expires_at)}}}};
    if (!request.description.empty()) doc["spec"]["description"] = request.description;
    auto token = admitObject(doc, {"Token", ""});
    if (!token.ok()) return token.status();

    Object secret;
    secret.kind = kTokenSecretKind;
    secret.metadata.name = generated.id;
    secret.spec = {{"digest", tokenDigest(generated.token)}, {"user", request.user}};
    auto stored_secret = store_.create(std::move(secret));
    if (!stored_secret.ok()) {
      if (stored_secret.status().code() == StatusCode::kAlreadyExists) continue;
      return stored_secret.status();
    }
    // The Token object is created last: its existence is what makes the secret valid.
    auto stored = store_.create(std::move(token).value());
    if (!stored.ok()) {
      (void)store_.remove({kTokenSecretKind, "", generated.id});
      if (stored.status().code() == StatusCode::kAlreadyExists) continue;
      return stored.status();
    }
    return CreatedToken{std::move(generated.token), std::move(stored).value()};
  }
  return internalError("could not find a free token id");
}

Result<CreatedToken> Authenticator::createToken(const TokenRequest& request) {
  auto user = store_.get({"User", "", request.user});
  if (!user.ok())
    return user.status().code() == StatusCode::kNotFound
               ? Status(StatusCode::kInvalid, "user \"" + request.user + "\" does not exist",
                        {{"spec.user", "must name an existing user"}})
               : user.status();
  if (disabled((*user)->object()))
    return conflict("user \"" + request.user + "\" is disabled: enable it before creating tokens");
  std::vector<FieldError> errors;
  Authorizer roles(store_);
  for (size_t i = 0; i < request.roles.size(); ++i) {
    if (!roles.findRole(request.roles[i]).ok())
      errors.push_back({"spec.roles[" + std::to_string(i) + "]",
                        "role \"" + request.roles[i] + "\" does not exist"});
  }
  std::chrono::seconds ttl = request.ttl.count() > 0 ? request.ttl : options_.default_token_ttl;
  if (ttl > options_.max_token_ttl)
    errors.push_back({"spec.expiresAt", "must be at most " +
                                            std::to_string(options_.max_token_ttl.count() / 86400) +
                                            " days from now"});
  if (!errors.empty())
    return Status(StatusCode::kInvalid, "the token request is invalid", std::move(errors));
  return issueToken(request, "api", ttl);
}

Result<Authentication> Authenticator::authenticateBearer(std::string_view token) const {
  auto id = tokenIdOf(token);
  if (!id && verifier_ != nullptr && verifier_->recognizes(token)) {
    auto answer = verifier_->verify(token);
    if (!answer.ok()) return answer.status();
    return admitExternal(*answer, verifier_->source());
  }
  if (!id) return failed(AuthnFailure::kBadCredentials, kBadTokenMessage);
  auto secret = store_.get({kTokenSecretKind, "", *id});
  if (!secret.ok()) {
    if (secret.status().code() != StatusCode::kNotFound) return secret.status();
    return failed(AuthnFailure::kBadCredentials, kBadTokenMessage);
  }
  if (!digestsEqual((*secret)->object().spec.value("digest", ""), tokenDigest(token)))
    return failed(AuthnFailure::kBadCredentials, kBadTokenMessage);
  auto stored = store_.get({"Token", "", *id});
  if (!stored.ok()) {
    if (stored.status().code() != StatusCode::kNotFound) return stored.status();
    return failed(AuthnFailure::kBadCredentials, kBadTokenMessage);
  }
  Object t = (*stored)->object();
  auto expires_at = timeOf(t.spec, "expiresAt");
  if (!expires_at || clock_.now() >= *expires_at)
    return failed(AuthnFailure::kTokenExpired, "the token expired at " +
                                                   t.spec.value("expiresAt", std::string("?")) +
                                                   ": log in again or create a new token");
  const std::string user_name = t.spec.value("user", "");
  auto user = store_.get({"User", "", user_name});
  if (!user.ok()) {
    if (user.status().code() != StatusCode::kNotFound) return user.status();
    return failed(AuthnFailure::kBadCredentials, kBadTokenMessage);
  }
  Object u = (*user)->object();
  if (disabled(u))
    return failed(AuthnFailure::kUserDisabled,
                  "user \"" + user_name + "\" is disabled: ask an administrator");
  Authentication a;
  a.identity = identityOf(u);
  a.identity.token_id = *id;
  TokenScope scope{stringsAt(t.spec, "roles"), stringsAt(t.spec, "tenants")};
  if (!scope.roles.empty() || !scope.tenants.empty()) a.identity.scope = std::move(scope);
  return a;
}

std::vector<StoredObjectPtr> Authenticator::listTokens(std::string_view user) const {
  std::vector<StoredObjectPtr> out;
  for (auto& t : store_.list("Token", {}).items) {
    auto it = t->metadata.labels.find(kUserLabel);
    if (it != t->metadata.labels.end() && it->second == user) out.push_back(t);
  }
  return out;
}

Status Authenticator::revokeToken(std::string_view id) {
  auto removed = store_.remove({"Token", "", std::string(id)});
  auto secret = store_.remove({kTokenSecretKind, "", std::string(id)});
  if (!secret.ok() && secret.status().code() != StatusCode::kNotFound) return secret.status();
  if (!removed.ok()) {
    if (removed.status().code() == StatusCode::kNotFound)
      return notFound("token \"" + std::string(id) + "\" not found");
    return removed.status();
  }
  return Status::ok();
}

Status Authenticator::logout(std::string_view token) {
  auto id = tokenIdOf(token);
  auto secret =
      id ? store_.get({kTokenSecretKind, "", *id}) : Result<StoredObjectPtr>(notFound(""));
  if (!secret.ok() ||
      !digestsEqual((*secret)->object().spec.value("digest", ""), tokenDigest(token)))
    return notFound("the session is unknown or already ended");
  return revokeToken(*id);
}

Status Authenticator::forgetUser(std::string_view user) {
  {
    std::lock_guard lock(mu_);
    auto removed = store_.remove({kCredentialKind, "", std::string(user)});
    if (!removed.ok() && removed.status().code() != StatusCode::kNotFound) return removed.status();
  }
  for (const auto& t : listTokens(user)) {
    Status s = revokeToken(t->metadata.name);
    if (!s.isOk() && s.code() != StatusCode::kNotFound) return s;
  }
  return Status::ok();
}

Result<size_t> Authenticator::purgeExpiredTokens() {
  const auto now = clock_.now();
  size_t purged = 0;
  for (const auto& t : store_.list("Token", {}).items) {
    auto expires_at = timeOf(t->object().spec, "expiresAt");
    if (expires_at && now < *expires_at) continue;
    Status s = revokeToken(t->metadata.name);
    if (!s.isOk() && s.code() != StatusCode::kNotFound) return s;
    ++purged;
  }
  return purged;
}

// ---- Bootstrap ---------------------------------------------------------------------------

Result<AdminBootstrap> Authenticator::bootstrapAdmin(const std::string& data_dir) {
  std::lock_guard lock(mu_);
  auto cred = store_.get({kCredentialKind, "", kAdminUser});
  if (cred.ok()) return AdminBootstrap{};
  if (cred.status().code() != StatusCode::kNotFound) return cred.status();

  AdminBootstrap out;
  out.created = true;
  out.password = randomPassword(std::max(kAdminPasswordLength, options_.policy.min_length));
  out.password_file = data_dir + "/" + kAdminPasswordFile;
  // The file comes first: if anything below fails, the next start makes a new password and
  // replaces it, so the stored credential always matches a password someone can read.
  if (Status s = writeFileAtomically(out.password_file, out.password + "\n", 0600); !s.isOk())
    return s;

  json user = {{"apiVersion", kApiVersion},
               {"kind", "User"},
               {"metadata", {{"name", kAdminUser}}},
               {"spec", {{"displayName", "Platform administrator"}}}};
  if (Status s = createIfMissing(store_, user, "User"); !s.isOk()) return s;
  json binding = {
      {"apiVersion", kApiVersion},
      {"kind", "PlatformRoleBinding"},
      {"metadata", {{"name", kAdminBinding}}},
      {"spec",
       {{"role", kPlatformAdminRole}, {"subjects", {{{"kind", "User"}, {"name", kAdminUser}}}}}}};
  if (Status s = createIfMissing(store_, binding, "PlatformRoleBinding"); !s.isOk()) return s;
  // The Credential is the marker of a finished bootstrap, so it is written last.
  if (Status s = storePassword(kAdminUser, out.password, std::nullopt); !s.isOk()) return s;
  return out;
}

}  // namespace skiff
