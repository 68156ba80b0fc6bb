// LDAP sign-in: a PasswordDirectory (auth/external.h) that checks passwords by binding to an
// LDAP directory (OpenLDAP's libldap) and maps the user's directory groups to Skiff groups.
//
// A login is: bind as the service account (or anonymously) → search the user under userBase
// with userFilter (exactly one entry, else "unknown user") → bind as that entry's DN with the
// password (invalid credentials: "wrong password") → bind as the service account again and
// search groups under groupBase with groupFilter → map their groupNameAttribute values
// through groupMap. What the caller typed reaches filters escaped per RFC 4515 and DNs per
// RFC 4514, so no input can widen a search. A directory that cannot be asked (unreachable,
// TLS failure, timeout, a refused service account) is a non-OK Status naming it: the API
// answers 503, never "wrong password".
//
// The configuration is a YAML file (`skiff server --ldap-config FILE`, docs/security.md);
// the service account's password is read from its own file, never from the configuration.
//
// Thread-safe: every login opens its own connection, so logins run in parallel on the API's
// blocking pool. Calls block for at most a few times `timeout`. Passwords are never logged.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/external.h"
#include "common/status.h"

namespace skiff {

// The filters' defaults. In userFilter and userBase `{user}` stands for the login name; in
// groupFilter and groupBase for the user's name as the directory spells it (the value of
// userNameAttribute when set, else the login name), and `{dn}` for the user's DN.
inline constexpr const char* kDefaultLdapUserFilter = "(uid={user})";
inline constexpr const char* kDefaultLdapGroupFilter =
    "(|(member={dn})(uniqueMember={dn})(memberUid={user}))";

struct LdapConfig {
  std::string url;  // "ldap://host:389" or "ldaps://host:636"
  bool start_tls = false;
  std::string ca_file;        // CA certificates (PEM) to verify the server with; empty: system's
  std::string bind_dn;        // the service account; empty: search anonymously
  std::string bind_password;  // read from bindPasswordFile
  std::string user_base;
  std::string user_filter = kDefaultLdapUserFilter;
  std::string group_base;  // empty: no groups are looked up
  std::string group_filter = kDefaultLdapGroupFilter;
  std::string group_name_attribute = "cn";
  // LDAP group name (compared case-insensitively) → Skiff group. When set, only mapped groups
  // count; otherwise every group name, lowercased, that is a DNS label.
  std::optional<std::map<std::string, std::string>> group_map;
  // The attribute holding the Skiff user name (lowercased); empty: the login name.
  std::string user_name_attribute;
  std::string display_name_attribute = "cn";
  std::string email_attribute = "mail";
  // For connecting and for each operation.
  std::chrono::milliseconds timeout = std::chrono::seconds(10);
};

// Parses and checks a configuration (YAML or JSON) and reads the bind password file, whose
// relative path is taken from `base_dir`. A bad configuration is kInvalid with one FieldError
// per problem naming the field and what is allowed.
Result<LdapConfig> parseLdapConfig(std::string_view text, const std::string& base_dir);
// The same for the file at `path` (relative paths inside it are relative to its directory).
Result<LdapConfig> loadLdapConfig(const std::string& path);

// RFC 4515: `value` as it may stand for an assertion value inside a search filter ('*', '(',
// ')', '\\', NUL and other control characters become \XX).
std::string escapeLdapFilterValue(std::string_view value);
// RFC 4514: `value` as it may stand for an attribute value inside a DN.
std::string escapeLdapDnValue(std::string_view value);

// The Skiff groups for the directory groups named `ldap_groups`, per `config.group_map` (see
// LdapConfig); sorted, without duplicates. Names that map to nothing are left out.
std::vector<std::string> mapLdapGroups(const LdapConfig& config,
                                       const std::vector<std::string>& ldap_groups);

class LdapDirectory : public PasswordDirectory {
 public:
  explicit LdapDirectory(LdapConfig config);

  std::string source() const override { return "ldap"; }
  Result<ExternalResult> authenticate(std::string_view user, std::string_view password) override;

  // One line for the server's log: the URL and how the connection is protected.
  std::string describe() const;

 private:
  // Constant after construction.
  const LdapConfig config_;
};

}  // namespace skiff
