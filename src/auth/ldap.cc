#include "auth/ldap.h"

#include <ldap.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <set>

#include "auth/config_file.h"
#include "common/files.h"
#include "model/codec.h"
#include "model/formats.h"
#include "model/validation.h"

namespace skiff {
namespace {

using std::chrono::milliseconds;

constexpr milliseconds kMinTimeout{100};
constexpr milliseconds kMaxTimeout = std::chrono::minutes(5);
// Longer login names are refused without asking the directory.
constexpr size_t kMaxUserLength = 256;
// A group search answering more than this is a configuration to narrow, not a user to trust
// with a partial list.
constexpr int kMaxGroups = 1000;
// What the User kind accepts (model/schemas.cc); longer values are left out.
constexpr size_t kMaxDisplayName = 256;
constexpr size_t kMaxEmail = 254;
constexpr size_t kMaxUserGroups = 64;

const std::vector<std::string> kFields = {"url",
                                          "startTLS",
                                          "caFile",
                                          "bindDN",
                                          "bindPasswordFile",
                                          "userBase",
                                          "userFilter",
                                          "groupBase",
                                          "groupFilter",
                                          "groupNameAttribute",
                                          "groupMap",
                                          "userNameAttribute",
                                          "displayNameAttribute",
                                          "emailAttribute",
                                          "timeout"};

std::string lowercase(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool startsWith(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && lowercase(s.substr(0, prefix.size())) == prefix;
}

bool isTls(const LdapConfig& config) {
  return config.start_tls || startsWith(config.url, "ldaps://");
}

// Replaces each "{name}" of `text` by its value in `values`.
std::string expand(std::string_view text, const std::map<std::string, std::string>& values) {
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    if (text[i] == '{') {
      size_t close = text.find('}', i);
      if (close != std::string_view::npos) {
        auto it = values.find(std::string(text.substr(i + 1, close - i - 1)));
        if (it != values.end()) {
          out += it->second;
          i = close + 1;
          continue;
        }
      }
    }
    out += text[i++];
  }
  return out;
}

// The "{name}" placeholders of `text` (names of lowercase letters).
std::vector<std::string> placeholders(std::string_view text) {
  std::vector<std::string> out;
  for (size_t i = text.find('{'); i != std::string_view::npos; i = text.find('{', i + 1)) {
    size_t close = text.find('}', i);
    if (close == std::string_view::npos) break;
    std::string_view name = text.substr(i + 1, close - i - 1);
    if (!name.empty() &&
        std::all_of(name.begin(), name.end(), [](char c) { return c >= 'a' && c <= 'z'; }))
      out.emplace_back(name);
  }
  return out;
}

// ---- Configuration ------------------------------------------------------------------------

class ConfigReader : public ConfigFile {
 public:
  ConfigReader(const json& doc, std::string base_dir)
      : ConfigFile(doc, std::move(base_dir), "LDAP", kFields) {}

  Result<LdapConfig> read() {
    if (Status s = checkFields("url and userBase"); !s.isOk()) return s;
    readUrl();
    readTls();
    readBind();
    readDn("userBase", true, &config_.user_base);
    readFilter("userFilter", {"user"}, "{user}", &config_.user_filter);
    readDn("groupBase", false, &config_.group_base);
    readFilter("groupFilter", {"user", "dn"}, "{dn} or {user}", &config_.group_filter);
    readAttribute("groupNameAttribute", &config_.group_name_attribute);
    readAttribute("userNameAttribute", &config_.user_name_attribute);
    readAttribute("displayNameAttribute", &config_.display_name_attribute);
    readAttribute("emailAttribute", &config_.email_attribute);
    readGroupMap();
    readTimeout();
    if (Status s = verdict(); !s.isOk()) return s;
    return std::move(config_);
  }

 private:
  void readUrl() {
    auto url = string("url");
    if (!url || url->empty()) {
      if (!present("url") || url)
        fail("url", "is required: the directory's address, like ldaps://ldap.example.com");
      return;
    }
    config_.url = *url;
    if (!startsWith(*url, "ldap://") && !startsWith(*url, "ldaps://")) {
      fail("url", "must start with ldap:// or ldaps://, got \"" + *url + "\"");
      return;
    }
    LDAPURLDesc* desc = nullptr;
    int rc = ldap_url_parse(url->c_str(), &desc);
    bool plain = rc == LDAP_URL_SUCCESS && (desc->lud_dn == nullptr || *desc->lud_dn == '\0') &&
                 desc->lud_attrs == nullptr && desc->lud_filter == nullptr;
    if (desc != nullptr) ldap_free_urldesc(desc);
    if (url->find_first_of(" \t,") != std::string::npos || !plain)
      fail("url",
           "must be one URL of the form ldap[s]://HOST[:PORT] (no DN, attributes or "
           "filter), got \"" +
               *url + "\"");
  }

  void readTls() {
    if (auto it = doc_.find("startTLS"); it != doc_.end() && !it->is_null()) {
      if (!it->is_boolean()) {
        fail("startTLS", "must be true or false, got " + it->dump());
      } else {
        config_.start_tls = it->get<bool>();
        if (config_.start_tls && startsWith(config_.url, "ldaps://"))
          fail("startTLS", "must be false with an ldaps:// url, which is TLS from the start");
      }
    }
    if (auto ca = string("caFile"); ca && !ca->empty()) {
      config_.ca_file = resolve(*ca);
      if (::access(config_.ca_file.c_str(), R_OK) != 0)
        fail("caFile", "cannot read \"" + config_.ca_file + "\": " + std::strerror(errno));
      else if (!isTls(config_))
        fail("caFile", "applies only to TLS: use an ldaps:// url or set startTLS: true");
    }
  }

  void readBind() {
    auto dn = string("bindDN");
    auto file = string("bindPasswordFile");
    if (dn && !dn->empty()) {
      config_.bind_dn = *dn;
      if (!validDn(*dn))
        fail("bindDN",
             "must be a DN like cn=skiff,ou=services,dc=example,dc=org, got \"" + *dn + "\"");
      if (!file || file->empty()) {
        fail("bindPasswordFile",
             "is required with bindDN: a file holding the service account's password");
        return;
      }
      const std::string path = resolve(*file);
      auto text = readWholeFile(path);
      if (!text.ok()) {
        fail("bindPasswordFile", "cannot read \"" + path + "\": " + text.status().message());
        return;
      }
      std::string password = std::move(text).value();
      while (!password.empty() && (password.back() == '\n' || password.back() == '\r'))
        password.pop_back();
      if (password.empty())
        fail("bindPasswordFile", "\"" + path + "\" is empty: it must hold the password");
      else if (password.find('\n') != std::string::npos)
        fail("bindPasswordFile", "\"" + path + "\" must hold the password on one line");
      config_.bind_password = std::move(password);
    } else if (file && !file->empty()) {
      fail("bindPasswordFile", "needs bindDN, the service account the password belongs to");
    }
  }

  void readDn(const char* field, bool required, std::string* out) {
    auto dn = string(field);
    if (!dn || dn->empty()) {
      if (required && (!present(field) || dn))
        fail(field, "is required: the DN to search under, like ou=people,dc=example,dc=org");
      return;
    }
    *out = *dn;
    for (const auto& p : placeholders(*dn))
      if (p != "user") fail(field, "may use the placeholder {user} only, got {" + p + "}");
    if (!validDn(expand(*dn, {{"user", "x"}})))
      fail(field, "must be a DN like ou=people,dc=example,dc=org, got \"" + *dn + "\"");
  }

  void readFilter(const char* field, const std::set<std::string>& allowed, const char* needs,
                  std::string* out) {
    auto filter = string(field);
    if (!filter) return;
    *out = *filter;
    int depth = 0;
    bool balanced = filter->size() >= 2 && filter->front() == '(' && filter->back() == ')';
    for (size_t i = 0; balanced && i < filter->size(); ++i) {
      if ((*filter)[i] == '(') ++depth;
      if ((*filter)[i] == ')' && --depth == 0 && i + 1 != filter->size()) balanced = false;
    }
    if (!balanced || depth != 0) {
      fail(field,
           "must be one parenthesized LDAP filter like (uid={user}), got \"" + *filter + "\"");
      return;
    }
    bool uses_any = false;
    for (const auto& p : placeholders(*filter)) {
      if (allowed.count(p)) {
        uses_any = true;
      } else {
        fail(field, "may use the placeholders " + std::string(needs) + ", got {" + p + "}");
      }
    }
    if (!uses_any)
      fail(field, "must use " + std::string(needs) + " to find the user's entries, got \"" +
                      *filter + "\"");
  }

  void readAttribute(const char* field, std::string* out) {
    auto name = string(field);
    if (!name) return;
    *out = *name;
    bool descr = !name->empty() && std::isalpha(static_cast<unsigned char>((*name)[0])) &&
                 std::all_of(name->begin(), name->end(), [](char c) {
                   return std::isalnum(static_cast<unsigned char>(c)) || c == '-';
                 });
    bool oid = !name->empty() && std::isdigit(static_cast<unsigned char>((*name)[0])) &&
               std::all_of(name->begin(), name->end(), [](char c) {
                 return std::isdigit(static_cast<unsigned char>(c)) || c == '.';
               });
    if (!descr && !oid)
      fail(field,
           "must be an attribute name (letters, digits and '-', starting with a letter) "
           "or an OID, got \"" +
               *name + "\"");
  }

  void readGroupMap() {
    auto it = doc_.find("groupMap");
    if (it == doc_.end() || it->is_null()) return;
    if (!it->is_object()) {
      fail("groupMap", "must be a mapping of LDAP group name to Skiff group, got " + it->dump());
      return;
    }
    std::map<std::string, std::string> map;
    for (auto& [ldap_group, skiff_group] : it->items()) {
      const std::string path = "groupMap." + ldap_group;
      if (!skiff_group.is_string() || !isDnsLabel(skiff_group.get<std::string>())) {
        fail(path,
             "must be a Skiff group name (a DNS label: lowercase letters, digits and '-'), "
             "got " +
                 skiff_group.dump());
        continue;
      }
      if (!map.emplace(lowercase(ldap_group), skiff_group.get<std::string>()).second)
        fail(path, "is mapped twice (LDAP group names are compared ignoring case)");
    }
    if (config_.group_base.empty())
      fail("groupMap", "needs groupBase, the DN under which groups are searched");
    config_.group_map = std::move(map);
  }

  void readTimeout() {
    auto text = string("timeout");
    if (!text) return;
    auto seconds = parseDurationSeconds(*text);
    auto ms = milliseconds(seconds ? static_cast<int64_t>(*seconds * 1000) : -1);
    if (!seconds || ms < kMinTimeout || ms > kMaxTimeout) {
      fail("timeout",
           "must be a duration between 100ms and 5m, like \"10s\", got \"" + *text + "\"");
      return;
    }
    config_.timeout = ms;
  }

  static bool validDn(const std::string& dn) {
    LDAPDN parsed = nullptr;
    int rc = ldap_str2dn(dn.c_str(), &parsed, LDAP_DN_FORMAT_LDAPV3);
    if (parsed != nullptr) ldap_dnfree(parsed);
    return rc == LDAP_SUCCESS;
  }

  LdapConfig config_;
};

// ---- The directory ------------------------------------------------------------------------

struct Entry {
  std::string dn;
  std::map<std::string, std::vector<std::string>> values;  // by requested attribute

  std::string first(const std::string& attribute) const {
    auto it = values.find(attribute);
    return it == values.end() || it->second.empty() ? std::string() : it->second.front();
  }
};

struct MessageFree {
  void operator()(LDAPMessage* m) const { ldap_msgfree(m); }
};

timeval toTimeval(milliseconds ms) {
  timeval tv;
  tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
  return tv;
}

std::string formatTimeoutOf(milliseconds timeout) {
  return timeout.count() % 1000 == 0 ? std::to_string(timeout.count() / 1000) + "s"
                                     : std::to_string(timeout.count()) + "ms";
}

// One connection to the directory, for one login. Not thread-safe; closed on destruction.
class Connection {
 public:
  explicit Connection(const LdapConfig& config) : config_(config) {}
  ~Connection() {
    if (ld_ != nullptr) ldap_unbind_ext_s(ld_, nullptr, nullptr);
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Sets the handle up; the network is first used by startTls() or the first bind.
  Status open() {
    int rc = ldap_initialize(&ld_, config_.url.c_str());
    if (rc != LDAP_SUCCESS) return failure("cannot use the url", rc);
    const int version = LDAP_VERSION3;
    const timeval tv = toTimeval(config_.timeout);
    bool ok = ldap_set_option(ld_, LDAP_OPT_PROTOCOL_VERSION, &version) == LDAP_OPT_SUCCESS &&
              ldap_set_option(ld_, LDAP_OPT_REFERRALS, LDAP_OPT_OFF) == LDAP_OPT_SUCCESS &&
              ldap_set_option(ld_, LDAP_OPT_NETWORK_TIMEOUT, &tv) == LDAP_OPT_SUCCESS &&
              ldap_set_option(ld_, LDAP_OPT_TIMEOUT, &tv) == LDAP_OPT_SUCCESS;
    if (ok && isTls(config_)) {
      // Options set on the handle take effect in a TLS context of its own (NEWCTX, last).
      const int demand = LDAP_OPT_X_TLS_DEMAND;
      const int client = 0;
      ok = ldap_set_option(ld_, LDAP_OPT_X_TLS_REQUIRE_CERT, &demand) == LDAP_OPT_SUCCESS &&
           (config_.ca_file.empty() ||
            ldap_set_option(ld_, LDAP_OPT_X_TLS_CACERTFILE, config_.ca_file.c_str()) ==
                LDAP_OPT_SUCCESS) &&
           ldap_set_option(ld_, LDAP_OPT_X_TLS_NEWCTX, &client) == LDAP_OPT_SUCCESS;
    }
    if (!ok)
      return failure(
          isTls(config_) && !config_.ca_file.empty()
              ? "cannot be used: TLS cannot be set up with caFile \"" + config_.ca_file + "\""
              : std::string("cannot be used: libldap refused the connection options"),
          LDAP_OTHER);
    if (config_.start_tls) {
      rc = ldap_start_tls_s(ld_, nullptr, nullptr);
      if (rc != LDAP_SUCCESS) return failure("failed StartTLS", rc);
    }
    return Status::ok();
  }

  // A simple bind; returns libldap's result code (LDAP_SUCCESS, LDAP_INVALID_CREDENTIALS...).
  int bind(const std::string& dn, std::string_view password) {
    berval cred;
    cred.bv_val = const_cast<char*>(password.data());
    cred.bv_len = password.size();
    return ldap_sasl_bind_s(ld_, dn.c_str(), LDAP_SASL_SIMPLE, &cred, nullptr, nullptr, nullptr);
  }

  // Binds as the service account (anonymously without one); an error is the directory's.
  Status bindService() {
    int rc = bind(config_.bind_dn, config_.bind_password);
    if (rc == LDAP_SUCCESS) return Status::ok();
    if (config_.bind_dn.empty()) return failure("refused an anonymous bind", rc);
    return failure("refused the service account bindDN \"" + config_.bind_dn + "\"", rc);
  }

  // Subtree search under `base`. More than `limit` entries is LDAP_SIZELIMIT_EXCEEDED, which
  // comes back with the first `limit` entries in *entries; a missing base is LDAP_NO_SUCH_OBJECT.
  int search(const std::string& base, const std::string& filter,
             const std::vector<std::string>& attributes, int limit, std::vector<Entry>* entries) {
    std::vector<char*> attrs;
    for (const auto& a : attributes) attrs.push_back(const_cast<char*>(a.c_str()));
    const char* no_attributes = LDAP_NO_ATTRS;
    if (attrs.empty()) attrs.push_back(const_cast<char*>(no_attributes));
    attrs.push_back(nullptr);
    timeval tv = toTimeval(config_.timeout);
    LDAPMessage* raw = nullptr;
    int rc = ldap_search_ext_s(ld_, base.c_str(), LDAP_SCOPE_SUBTREE, filter.c_str(), attrs.data(),
                               0, nullptr, nullptr, &tv, limit, &raw);
    std::unique_ptr<LDAPMessage, MessageFree> result(raw);
    if (rc != LDAP_SUCCESS && rc != LDAP_SIZELIMIT_EXCEEDED) return rc;
    for (LDAPMessage* e = ldap_first_entry(ld_, raw); e != nullptr; e = ldap_next_entry(ld_, e)) {
      Entry entry;
      if (char* dn = ldap_get_dn(ld_, e); dn != nullptr) {
        entry.dn = dn;
        ldap_memfree(dn);
      }
      for (const auto& a : attributes) {
        berval** values = ldap_get_values_len(ld_, e, a.c_str());
        if (values == nullptr) continue;
        for (berval** v = values; *v != nullptr; ++v)
          entry.values[a].emplace_back((*v)->bv_val, (*v)->bv_len);
        ldap_value_free_len(values);
      }
      entries->push_back(std::move(entry));
    }
    return rc;
  }

  // The non-OK Status for a failed step: it names the directory, says when it cannot be
  // reached or did not answer in time, and when TLS is in use that the certificate may be to
  // blame (libldap reports an untrusted certificate as a connection failure).
  Status failure(const std::string& what, int rc) const {
    std::string detail = ldap_err2string(rc);
    if (ld_ != nullptr) {
      char* diagnostic = nullptr;
      if (ldap_get_option(ld_, LDAP_OPT_DIAGNOSTIC_MESSAGE, &diagnostic) == LDAP_OPT_SUCCESS &&
          diagnostic != nullptr) {
        // GnuTLS failures come with nothing better than this.
        if (*diagnostic != '\0' && std::strstr(diagnostic, "unknown error code") == nullptr)
          detail += " (" + std::string(diagnostic) + ")";
        ldap_memfree(diagnostic);
      }
    }
    const std::string directory = "the LDAP directory " + config_.url;
    if (rc == LDAP_TIMEOUT)
      return unavailable(directory + " did not answer within " + formatTimeout());
    const bool network = rc == LDAP_SERVER_DOWN || rc == LDAP_CONNECT_ERROR;
    const std::string tls_hint =
        network && isTls(config_)
            ? ", or its TLS certificate is not trusted (check caFile, and that the certificate "
              "names the url's host)"
            : "";
    if (network) return unavailable("cannot reach " + directory + tls_hint + ": " + detail);
    return unavailable(directory + " " + what + ": " + detail);
  }

 private:
  std::string formatTimeout() const { return formatTimeoutOf(config_.timeout); }

  const LdapConfig& config_;
  LDAP* ld_ = nullptr;
};

ExternalResult refused(ExternalRefusal refusal, std::string message) {
  ExternalResult r;
  r.refusal = refusal;
  r.message = std::move(message);
  return r;
}

}  // namespace

Result<LdapConfig> parseLdapConfig(std::string_view text, const std::string& base_dir) {
  auto doc = ConfigFile::parse(text, "LDAP");
  if (!doc.ok()) return doc.status();
  return ConfigReader(*doc, base_dir).read();
}

Result<LdapConfig> loadLdapConfig(const std::string& path) {
  return ConfigFile::load<LdapConfig>(path, "LDAP", parseLdapConfig);
}

std::string escapeLdapFilterValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    const auto b = static_cast<unsigned char>(c);
    if (c == '*' || c == '(' || c == ')' || c == '\\' || b < 0x20 || b == 0x7f) {
      char hex[4];
      std::snprintf(hex, sizeof hex, "\\%02x", b);
      out += hex;
    } else {
      out += c;
    }
  }
  return out;
}

std::string escapeLdapDnValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (size_t i = 0; i < value.size(); ++i) {
    const char c = value[i];
    const auto b = static_cast<unsigned char>(c);
    if (b < 0x20 || b == 0x7f) {
      char hex[4];
      std::snprintf(hex, sizeof hex, "\\%02x", b);
      out += hex;
    } else if (std::string_view("\"+,;<>\\=").find(c) != std::string_view::npos ||
               (i == 0 && (c == ' ' || c == '#')) || (i + 1 == value.size() && c == ' ')) {
      out += '\\';
      out += c;
    } else {
      out += c;
    }
  }
  return out;
}

std::vector<std::string> mapLdapGroups(const LdapConfig& config,
                                       const std::vector<std::string>& ldap_groups) {
  std::set<std::string> out;
  for (const auto& name : ldap_groups) {
    const std::string key = lowercase(name);
    if (config.group_map) {
      if (auto it = config.group_map->find(key); it != config.group_map->end())
        out.insert(it->second);
    } else if (isDnsLabel(key)) {
      out.insert(key);
    }
  }
  return {out.begin(), out.end()};
}

LdapDirectory::LdapDirectory(LdapConfig config) : config_(std::move(config)) {}

std::string LdapDirectory::describe() const {
  std::string protection = startsWith(config_.url, "ldaps://") ? "TLS"
                           : config_.start_tls                 ? "StartTLS"
                                               : "no TLS: passwords travel in clear text";
  return config_.url + " (" + protection + ", " +
         (config_.bind_dn.empty() ? std::string("anonymous searches")
                                  : "searches as " + config_.bind_dn) +
         ")";
}

Result<ExternalResult> LdapDirectory::authenticate(std::string_view user,
                                                   std::string_view password) {
  // An empty password is an unauthenticated bind, which directories accept as success.
  if (password.empty()) return refused(ExternalRefusal::kBadCredentials, "the password is empty");
  if (user.empty() || user.size() > kMaxUserLength)
    return refused(ExternalRefusal::kUnknownUser, "no such user in the LDAP directory");

  Connection conn(config_);
  if (Status s = conn.open(); !s.isOk()) return s;
  if (Status s = conn.bindService(); !s.isOk()) return s;

  // The user: exactly one entry.
  const bool base_per_user = config_.user_base.find("{user}") != std::string::npos;
  const std::string user_base = expand(config_.user_base, {{"user", escapeLdapDnValue(user)}});
  const std::string user_filter =
      expand(config_.user_filter, {{"user", escapeLdapFilterValue(user)}});
  std::vector<std::string> attributes;
  for (const std::string* a :
       {&config_.user_name_attribute, &config_.display_name_attribute, &config_.email_attribute})
    if (!a->empty()) attributes.push_back(*a);
  std::vector<Entry> users;
  int rc = conn.search(user_base, user_filter, attributes, 2, &users);
  if (rc == LDAP_NO_SUCH_OBJECT && base_per_user)
    users.clear();
  else if (rc == LDAP_NO_SUCH_OBJECT)
    return conn.failure("has no userBase \"" + config_.user_base + "\"", rc);
  else if (rc != LDAP_SUCCESS && rc != LDAP_SIZELIMIT_EXCEEDED)
    return conn.failure("failed to search for the user", rc);
  if (users.size() != 1)
    return refused(ExternalRefusal::kUnknownUser,
                   users.empty() ? "no such user in the LDAP directory"
                                 : "the name matches several entries of the LDAP directory");
  const Entry& entry = users.front();
  if (entry.dn.empty())
    return refused(ExternalRefusal::kUnknownUser,
                   "the LDAP directory returned an entry without DN");

  // The password: a bind as the user.
  rc = conn.bind(entry.dn, password);
  if (rc == LDAP_INVALID_CREDENTIALS || rc == LDAP_INAPPROPRIATE_AUTH)
    return refused(ExternalRefusal::kBadCredentials, "wrong password");
  if (rc != LDAP_SUCCESS) return conn.failure("failed to check the password", rc);

  ExternalResult result;
  ExternalAccount& account = result.account;
  const std::string name_value = config_.user_name_attribute.empty()
                                     ? std::string(user)
                                     : entry.first(config_.user_name_attribute);
  account.user = lowercase(name_value);
  if (!isDnsLabel(account.user))
    return refused(ExternalRefusal::kNotAccepted,
                   "the LDAP account " + entry.dn + " has the name \"" + name_value +
                       "\", which is not a Skiff user name (a DNS label: lowercase letters, "
                       "digits and '-'): ask an administrator to set userNameAttribute");
  if (!config_.display_name_attribute.empty()) {
    account.display_name = entry.first(config_.display_name_attribute);
    if (account.display_name.size() > kMaxDisplayName) account.display_name.clear();
  }
  if (!config_.email_attribute.empty()) {
    account.email = entry.first(config_.email_attribute);
    if (account.email.size() > kMaxEmail) account.email.clear();
  }

  // The groups, searched as the service account again.
  if (!config_.group_base.empty()) {
    if (Status s = conn.bindService(); !s.isOk()) return s;
    const std::string group_base =
        expand(config_.group_base, {{"user", escapeLdapDnValue(name_value)}});
    const std::string group_filter = expand(
        config_.group_filter,
        {{"user", escapeLdapFilterValue(name_value)}, {"dn", escapeLdapFilterValue(entry.dn)}});
    std::vector<Entry> groups;
    rc = conn.search(group_base, group_filter, {config_.group_name_attribute}, kMaxGroups, &groups);
    if (rc == LDAP_SIZELIMIT_EXCEEDED)
      return unavailable("the LDAP directory " + config_.url + " has more than " +
                         std::to_string(kMaxGroups) + " groups for " + entry.dn +
                         ": narrow groupBase or groupFilter");
    if (rc == LDAP_NO_SUCH_OBJECT && config_.group_base.find("{user}") == std::string::npos)
      return conn.failure("has no groupBase \"" + config_.group_base + "\"", rc);
    if (rc != LDAP_SUCCESS && rc != LDAP_NO_SUCH_OBJECT)
      return conn.failure("failed to search for the user's groups", rc);
    std::vector<std::string> names;
    for (const auto& g : groups) {
      auto it = g.values.find(config_.group_name_attribute);
      if (it != g.values.end()) names.insert(names.end(), it->second.begin(), it->second.end());
    }
    account.groups = mapLdapGroups(config_, names);
    if (account.groups.size() > kMaxUserGroups)
      return refused(ExternalRefusal::kNotAccepted,
                     "the LDAP account " + entry.dn + " is in " +
                         std::to_string(account.groups.size()) + " groups, more than the " +
                         std::to_string(kMaxUserGroups) +
                         " a Skiff user may have: ask an administrator to set groupMap");
  }
  return result;
}

}  // namespace skiff
