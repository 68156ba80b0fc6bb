#include "auth/oidc.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "auth/config_file.h"
#include "auth/jwt.h"
#include "common/clock.h"
#include "common/files.h"
#include "model/codec.h"
#include "model/formats.h"
#include "model/validation.h"
#include "net/http_client.h"
#include "net/tls.h"

namespace skiff {
namespace {

using std::chrono::seconds;

// A fetch may hold up the API request that needed the keys, so it is kept short.
constexpr std::chrono::milliseconds kFetchTimeout{5000};
// Discovery documents and key sets are a few KiB.
constexpr uint64_t kMaxDocumentBytes = 1 << 20;
// What the User kind accepts (model/schemas.cc).
constexpr size_t kMaxDisplayName = 256;
constexpr size_t kMaxEmail = 254;
constexpr size_t kMaxUserGroups = 64;
// Values from a token quoted in messages are cut to this many bytes.
constexpr size_t kMaxQuoted = 80;
// Values listed in one message (key ids, a token's audiences).
constexpr size_t kMaxListed = 10;

const std::vector<std::string> kFields = {"issuer",
                                          "audiences",
                                          "caFile",
                                          "usernameClaim",
                                          "usernamePrefix",
                                          "groupsClaim",
                                          "groupsPrefix",
                                          "groupMap",
                                          "clockSkew",
                                          "keyRefreshInterval",
                                          "minKeyRefreshInterval"};

// `value` as a JSON string for a message: quoted, escaped, and cut if long. Values come from
// tokens and issuers, so nothing in them may break the message.
std::string inQuotes(std::string_view value, size_t max = kMaxQuoted) {
  const bool cut = value.size() > max;
  return json(std::string(value.substr(0, max)))
             .dump(-1, ' ', false, json::error_handler_t::replace) +
         (cut ? "..." : "");
}

// A value of the configuration, in full.
std::string configured(std::string_view value) { return inQuotes(value, std::string::npos); }

// The first kMaxListed of `values`, quoted.
std::string quotedList(const std::vector<std::string>& values, size_t max_length = kMaxQuoted) {
  std::string out;
  for (size_t i = 0; i < values.size() && i < kMaxListed; ++i)
    (out += out.empty() ? "" : ", ") += inQuotes(values[i], max_length);
  if (values.size() > kMaxListed) out += ", ...";
  return out;
}

// Whether `url` may be fetched for an issuer: https, or http on a loopback host. Empty when
// so, else why not.
std::string urlProblem(const std::string& url) {
  auto parsed = net::parseUrl(url);
  if (!parsed.ok()) return parsed.status().message();
  if (url.find_first_of("?#") != std::string::npos)
    return "must have no query or fragment, got \"" + url + "\"";
  if (parsed->scheme == "http" && !net::isLoopbackHost(parsed->host))
    return "must be an https:// URL (http:// is allowed only for a loopback host), got \"" + url +
           "\"";
  return {};
}

// A user or group name prefix: what may begin a DNS label.
bool validPrefix(const std::string& prefix) {
  if (prefix.empty()) return true;
  if (prefix.size() >= 63 || prefix.front() == '-') return false;
  return std::all_of(prefix.begin(), prefix.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
  });
}

// ---- Configuration ------------------------------------------------------------------------

class ConfigReader : public ConfigFile {
 public:
  ConfigReader(const json& doc, std::string base_dir)
      : ConfigFile(doc, std::move(base_dir), "OIDC", kFields) {}

  Result<OidcConfig> read() {
    if (Status s = checkFields("issuer and audiences"); !s.isOk()) return s;
    readIssuer();
    readAudiences();
    readCaFile();
    readClaim("usernameClaim", &config_.username_claim);
    readPrefix("usernamePrefix", &config_.username_prefix);
    readClaim("groupsClaim", &config_.groups_claim);
    readPrefix("groupsPrefix", &config_.groups_prefix);
    readGroupMap();
    readDuration("clockSkew", seconds(0), std::chrono::minutes(10), &config_.clock_skew);
    readDuration("keyRefreshInterval", std::chrono::minutes(1), std::chrono::hours(24),
                 &config_.key_refresh_interval);
    readDuration("minKeyRefreshInterval", seconds(1), std::chrono::hours(1),
                 &config_.min_key_refresh_interval);
    if (Status s = verdict(); !s.isOk()) return s;
    return std::move(config_);
  }

 private:
  void readIssuer() {
    auto issuer = string("issuer");
    if (!issuer || issuer->empty()) {
      if (!doc_.contains("issuer") || issuer)
        fail("issuer",
             "is required: the issuer's URL exactly as its tokens' \"iss\" claim reads, like "
             "https://login.example.com/realms/main");
      return;
    }
    config_.issuer = *issuer;
    if (std::string why = urlProblem(*issuer); !why.empty()) fail("issuer", why);
  }

  void readAudiences() {
    auto it = doc_.find("audiences");
    const std::string what =
        "a list of the audiences (client ids) this server accepts tokens for, like [skiff]";
    if (it == doc_.end() || it->is_null()) {
      fail("audiences", "is required: " + what);
      return;
    }
    if (!it->is_array() || it->empty()) {
      fail("audiences", "must be " + what + ", got " + it->dump());
      return;
    }
    for (size_t i = 0; i < it->size(); ++i) {
      const json& audience = (*it)[i];
      if (!audience.is_string() || audience.get<std::string>().empty()) {
        fail("audiences[" + std::to_string(i) + "]",
             "must be a non-empty string, got " + audience.dump());
        continue;
      }
      config_.audiences.push_back(audience.get<std::string>());
    }
  }

  void readCaFile() {
    auto ca = string("caFile");
    if (!ca || ca->empty()) return;
    config_.ca_file = resolve(*ca);
    if (::access(config_.ca_file.c_str(), R_OK) != 0)
      fail("caFile", "cannot read \"" + config_.ca_file + "\": " + std::strerror(errno));
    else if (config_.issuer.rfind("https://", 0) != 0)
      fail("caFile", "applies only to an https:// issuer");
  }

  void readClaim(const char* field, std::string* out) {
    auto claim = string(field);
    if (!claim) return;
    if (claim->empty()) {
      fail(field, "must name a claim of the token, like \"sub\"");
      return;
    }
    *out = *claim;
  }

  void readPrefix(const char* field, std::string* out) {
    auto prefix = string(field);
    if (!prefix) return;
    if (!validPrefix(*prefix)) {
      fail(field,
           "must be empty or what may begin a DNS label: lowercase letters, digits and '-', "
           "starting with a letter or digit, shorter than 63 characters; got \"" +
               *prefix + "\"");
      return;
    }
    *out = *prefix;
  }

  void readGroupMap() {
    auto it = doc_.find("groupMap");
    if (it == doc_.end() || it->is_null()) return;
    if (!it->is_object()) {
      fail("groupMap",
           "must be a mapping of the issuer's group name to Skiff group, got " + it->dump());
      return;
    }
    std::map<std::string, std::string> map;
    for (auto& [issuer_group, skiff_group] : it->items()) {
      if (!skiff_group.is_string() || !isDnsLabel(skiff_group.get<std::string>())) {
        fail("groupMap." + issuer_group,
             "must be a Skiff group name (a DNS label: lowercase letters, digits and '-'), got " +
                 skiff_group.dump());
        continue;
      }
      map.emplace(issuer_group, skiff_group.get<std::string>());
    }
    config_.group_map = std::move(map);
  }

  void readDuration(const char* field, seconds min, seconds max, seconds* out) {
    auto text = string(field);
    if (!text) return;
    auto value = parseDurationSeconds(*text);
    if (!value || *value < static_cast<double>(min.count()) ||
        *value > static_cast<double>(max.count())) {
      fail(field, "must be a duration between " + formatDuration(min) + " and " +
                      formatDuration(max) + ", like \"" + formatDuration(*out) + "\", got \"" +
                      *text + "\"");
      return;
    }
    *out = seconds(static_cast<int64_t>(*value));
  }

  static std::string formatDuration(seconds d) {
    if (d.count() != 0 && d.count() % 3600 == 0) return std::to_string(d.count() / 3600) + "h";
    if (d.count() != 0 && d.count() % 60 == 0) return std::to_string(d.count() / 60) + "m";
    return std::to_string(d.count()) + "s";
  }

  OidcConfig config_;
};

// ---- Tokens -------------------------------------------------------------------------------

ExternalResult refused(ExternalRefusal refusal, std::string message) {
  ExternalResult r;
  r.refusal = refusal;
  r.message = std::move(message);
  return r;
}

std::string timestampOf(double numeric_date) {
  // Clamped to what an RFC 3339 timestamp can show (years 1970 to 9999).
  const double clamped = std::clamp(numeric_date, 0.0, 253402300799.0);
  return formatTimestamp(
      std::chrono::system_clock::time_point(seconds(static_cast<int64_t>(clamped))));
}

// The strings of a claim that is a string or an array (other entries are ignored).
std::vector<std::string> stringsOf(const json& claims, const std::string& name) {
  std::vector<std::string> out;
  auto it = claims.find(name);
  if (it == claims.end()) return out;
  if (it->is_string()) out.push_back(it->get<std::string>());
  if (it->is_array())
    for (const json& v : *it)
      if (v.is_string()) out.push_back(v.get<std::string>());
  return out;
}

std::string trimTrailingSlash(std::string url) {
  if (!url.empty() && url.back() == '/') url.pop_back();
  return url;
}

}  // namespace

// The keys as last fetched, and how the last attempt went. Replaced whole, never modified.
struct OidcVerifier::Keys {
  std::shared_ptr<const JsonWebKeySet> set;  // null until a fetch succeeds
  std::chrono::steady_clock::time_point fetched_at;
  std::optional<std::chrono::steady_clock::time_point> last_attempt;
  Status last_error;  // of the last attempt; OK when it succeeded
};

Result<OidcConfig> parseOidcConfig(std::string_view text, const std::string& base_dir) {
  auto doc = ConfigFile::parse(text, "OIDC");
  if (!doc.ok()) return doc.status();
  return ConfigReader(*doc, base_dir).read();
}

Result<OidcConfig> loadOidcConfig(const std::string& path) {
  return ConfigFile::load<OidcConfig>(path, "OIDC", parseOidcConfig);
}

OidcFetcher httpsFetcher(const std::string& ca_file) {
  net::TlsClientOptions tls;
  tls.ca_file = ca_file;
  tls.trust_advice = "set caFile in the OIDC configuration to the issuer's CA certificate";
  return [tls](const std::string& url) -> Result<std::string> {
    net::ClientRequest request;
    request.url = url;
    request.headers = {{"Accept", "application/json"}};
    request.timeout = kFetchTimeout;
    request.max_response_bytes = kMaxDocumentBytes;
    auto response = net::fetch(request, tls);
    if (!response.ok()) return response.status();
    if (response->status != 200)
      return unavailable("GET " + url + " answered HTTP " + std::to_string(response->status));
    return std::move(response->body);
  };
}

OidcVerifier::OidcVerifier(OidcConfig config, OidcFetcher fetch, const Clock& clock)
    : config_(std::move(config)),
      fetch_(std::move(fetch)),
      clock_(clock),
      keys_(std::make_shared<const Keys>()) {}

OidcVerifier::~OidcVerifier() = default;

std::string OidcVerifier::describe() const {
  return "OIDC issuer " + config_.issuer + " for audiences " +
         quotedList(config_.audiences, std::string::npos);
}

bool OidcVerifier::recognizes(std::string_view token) const { return looksLikeCompactJws(token); }

std::shared_ptr<const OidcVerifier::Keys> OidcVerifier::currentKeys() const {
  std::lock_guard lock(mu_);
  return keys_;
}

std::shared_ptr<const OidcVerifier::Keys> OidcVerifier::refreshKeys() const {
  std::lock_guard fetching(fetch_mu_);
  std::shared_ptr<const Keys> current = currentKeys();
  const auto now = clock_.monotonic();
  if (current->last_attempt && now - *current->last_attempt < config_.min_key_refresh_interval)
    return current;
  auto fetched = fetchKeys();
  auto next = std::make_shared<Keys>(*current);
  next->last_attempt = now;
  if (fetched.ok()) {
    next->set = std::make_shared<const JsonWebKeySet>(std::move(fetched).value());
    next->fetched_at = now;
    next->last_error = Status::ok();
  } else {
    next->last_error = fetched.status();
  }
  std::lock_guard lock(mu_);
  keys_ = next;
  return next;
}

Result<JsonWebKeySet> OidcVerifier::fetchKeys() const {
  const std::string discovery_url =
      trimTrailingSlash(config_.issuer) + "/.well-known/openid-configuration";
  auto discovery = fetch_(discovery_url);
  if (!discovery.ok())
    return unavailable("cannot fetch the discovery document " + discovery_url + ": " +
                       discovery.status().message());
  auto doc = decodeDocument(*discovery, "application/json");
  if (!doc.ok() || !doc->is_object())
    return unavailable("the discovery document " + discovery_url + " is not a JSON object");
  const json issuer = doc->value("issuer", json());
  if (issuer != config_.issuer)
    return unavailable("the discovery document " + discovery_url + " names the issuer " +
                       (issuer.is_string() ? inQuotes(issuer.get<std::string>()) : issuer.dump()) +
                       ", not " + configured(config_.issuer) +
                       ": the issuer in the OIDC configuration must be exactly the issuer's");
  const json jwks_uri = doc->value("jwks_uri", json());
  if (!jwks_uri.is_string())
    return unavailable("the discovery document " + discovery_url + " has no \"jwks_uri\"");
  const std::string keys_url = jwks_uri.get<std::string>();
  if (std::string why = urlProblem(keys_url); !why.empty())
    return unavailable("the discovery document " + discovery_url + "'s jwks_uri " + why);
  auto keys = fetch_(keys_url);
  if (!keys.ok())
    return unavailable("cannot fetch the issuer's keys " + keys_url + ": " +
                       keys.status().message());
  auto set = parseJsonWebKeySet(*keys);
  if (!set.ok())
    return unavailable("the issuer's keys " + keys_url + ": " + set.status().message());
  return set;
}

Result<ExternalResult> OidcVerifier::verify(std::string_view token) const {
  auto jws = parseCompactJws(token);
  if (!jws.ok())
    return refused(ExternalRefusal::kBadCredentials,
                   "the bearer token is not a valid JWT: " + jws.status().message());
  const std::string& alg = jws->alg;
  if (alg == "none")
    return refused(ExternalRefusal::kBadCredentials,
                   "the token is unsigned (alg \"none\"): only tokens signed by " + config_.issuer +
                       " are accepted");
  if (alg.rfind("HS", 0) == 0)
    return refused(ExternalRefusal::kBadCredentials,
                   "the token is signed with " + inQuotes(alg) +
                       ", a shared-secret algorithm, which is never accepted: the issuer must "
                       "sign with one of " +
                       supportedJwsAlgorithms());
  if (!isSupportedJwsAlgorithm(alg))
    return refused(ExternalRefusal::kBadCredentials,
                   "the token's algorithm " + inQuotes(alg) +
                       " is not supported (supported: " + supportedJwsAlgorithms() + ")");
  if (jws->header.contains("crit"))
    return refused(ExternalRefusal::kBadCredentials,
                   "the token's header has \"crit\" extensions, which Skiff does not understand");
  // The issuer is checked before the signature: a foreign token's keys are not ours to fetch.
  const json iss = jws->payload.value("iss", json());
  if (!iss.is_string())
    return refused(ExternalRefusal::kNotAccepted, "the token has no \"iss\" (issuer) claim");
  if (iss != config_.issuer)
    return refused(ExternalRefusal::kNotAccepted,
                   "the token was issued by " + inQuotes(iss.get<std::string>()) +
                       "; this server accepts tokens of " + configured(config_.issuer) + " only");

  std::shared_ptr<const Keys> keys = currentKeys();
  if (!keys->set || clock_.monotonic() - keys->fetched_at >= config_.key_refresh_interval)
    keys = refreshKeys();
  // The keys that may have signed the token; `known` when the set has the token's key (or,
  // without a kid, any key for its algorithm), `why_not` when that key cannot be used.
  std::vector<const JsonWebKey*> usable;
  bool known = false;
  std::string why_not;
  auto match = [&] {
    usable.clear();
    known = false;
    why_not.clear();
    if (!keys->set) return;
    for (const JsonWebKey& key : keys->set->keys) {
      if (!jws->kid.empty() && key.kid() != jws->kid) continue;
      std::string why = key.unusableFor(alg);
      if (why.empty()) {
        usable.push_back(&key);
      } else if (!jws->kid.empty()) {
        why_not = why + " (key type and algorithm must match)";
      }
    }
    for (const auto& [kid, reason] : keys->set->unusable)
      if (!jws->kid.empty() && kid == jws->kid)
        why_not = "key " + inQuotes(kid) + " of " + config_.issuer + " cannot be used: " + reason;
    known = !usable.empty() || !why_not.empty();
  };
  match();
  if (!known) {  // perhaps the issuer rotated its keys since they were fetched
    keys = refreshKeys();
    match();
  }
  if (!keys->set || (!known && !keys->last_error.isOk()))
    return unavailable("cannot verify the token: the keys of OIDC issuer " + config_.issuer +
                       " are not available (" + keys->last_error.message() +
                       "); Skiff tries again at most every " +
                       std::to_string(config_.min_key_refresh_interval.count()) + "s");
  if (usable.empty()) {
    if (!why_not.empty()) return refused(ExternalRefusal::kBadCredentials, why_not);
    std::vector<std::string> kids;
    for (const JsonWebKey& key : keys->set->keys) kids.push_back(key.kid());
    const std::string published = kids.empty() ? "no usable keys" : "keys " + quotedList(kids);
    return refused(ExternalRefusal::kBadCredentials,
                   jws->kid.empty()
                       ? "the token names no key (kid) and " + config_.issuer +
                             " publishes no key for " + alg + " (it publishes " + published + ")"
                       : "the token is signed with key " + inQuotes(jws->kid) + ", which " +
                             config_.issuer + " does not publish (it publishes " + published + ")");
  }
  const bool verified = std::any_of(usable.begin(), usable.end(), [&](const JsonWebKey* key) {
    return key->verify(alg, jws->signing_input, jws->signature);
  });
  if (!verified)
    return refused(ExternalRefusal::kBadCredentials,
                   "the token's signature does not verify with " +
                       (jws->kid.empty() ? "the keys" : "key " + inQuotes(jws->kid)) + " of " +
                       config_.issuer +
                       ": it was not signed by the issuer, or was altered after signing");
  return checkClaims(*jws);
}

ExternalResult OidcVerifier::checkClaims(const CompactJws& jws) const {
  const json& claims = jws.payload;
  const std::vector<std::string> audiences = stringsOf(claims, "aud");
  if (audiences.empty())
    return refused(ExternalRefusal::kNotAccepted,
                   "the token has no \"aud\" (audience) claim; this server accepts tokens for " +
                       quotedList(config_.audiences, std::string::npos));
  const bool for_us = std::any_of(audiences.begin(), audiences.end(), [&](const std::string& a) {
    return std::find(config_.audiences.begin(), config_.audiences.end(), a) !=
           config_.audiences.end();
  });
  if (!for_us)
    return refused(ExternalRefusal::kNotAccepted,
                   "the token is for audience " + quotedList(audiences) +
                       ", not for this server (it accepts " +
                       quotedList(config_.audiences, std::string::npos) + ")");

  const double now = std::chrono::duration<double>(clock_.now().time_since_epoch()).count();
  const double skew = static_cast<double>(config_.clock_skew.count());
  auto date = [&](const char* name) -> std::optional<double> {
    auto it = claims.find(name);
    if (it == claims.end() || !it->is_number()) return std::nullopt;
    return it->get<double>();
  };
  for (const char* name : {"exp", "nbf", "iat"})
    if (claims.contains(name) && !claims[name].is_number())
      return refused(ExternalRefusal::kNotAccepted,
                     std::string("the token's \"") + name + "\" claim is not a number of seconds");
  const auto exp = date("exp");
  if (!exp)
    return refused(ExternalRefusal::kNotAccepted,
                   "the token has no \"exp\" (expiry) claim: tokens that never expire are not "
                   "accepted");
  if (now >= *exp + skew)
    return refused(ExternalRefusal::kExpired, "the token expired at " + timestampOf(*exp) +
                                                  ": get a new one from " + config_.issuer);
  if (const auto nbf = date("nbf"); nbf && now + skew < *nbf)
    return refused(ExternalRefusal::kNotAccepted, "the token is not valid before " +
                                                      timestampOf(*nbf) + " (now it is " +
                                                      formatTimestamp(clock_.now()) + ")");
  if (const auto iat = date("iat"); iat && now + skew < *iat)
    return refused(ExternalRefusal::kNotAccepted,
                   "the token was issued at " + timestampOf(*iat) + ", in the future (now it is " +
                       formatTimestamp(clock_.now()) +
                       "): check the clocks of the issuer and of this server");

  ExternalResult result;
  ExternalAccount& account = result.account;
  const json name = claims.value(config_.username_claim, json());
  if (!name.is_string())
    return refused(ExternalRefusal::kNotAccepted,
                   "the token has no " + configured(config_.username_claim) +
                       " claim (a string) to take the user name from");
  account.user = config_.username_prefix + name.get<std::string>();
  if (!isDnsLabel(account.user))
    return refused(ExternalRefusal::kNotAccepted,
                   "the token's " + configured(config_.username_claim) + " claim " +
                       inQuotes(name.get<std::string>()) + " makes the user name " +
                       inQuotes(account.user) +
                       ", which is not a DNS label (at most 63 lowercase letters, digits and "
                       "'-', starting and ending with a letter or digit): choose another "
                       "usernameClaim in the OIDC configuration");

  for (const std::string& group : stringsOf(claims, config_.groups_claim)) {
    if (config_.group_map) {
      auto mapped = config_.group_map->find(group);
      if (mapped != config_.group_map->end()) account.groups.push_back(mapped->second);
    } else if (std::string g = config_.groups_prefix + group; isDnsLabel(g)) {
      account.groups.push_back(std::move(g));
    }
  }
  std::sort(account.groups.begin(), account.groups.end());
  account.groups.erase(std::unique(account.groups.begin(), account.groups.end()),
                       account.groups.end());
  if (account.groups.size() > kMaxUserGroups)
    return refused(ExternalRefusal::kNotAccepted,
                   "the token's " + configured(config_.groups_claim) + " claim makes " +
                       std::to_string(account.groups.size()) + " groups, more than the " +
                       std::to_string(kMaxUserGroups) +
                       " a user may have: set groupMap in the OIDC configuration to the groups "
                       "that matter");

  const json display_name = claims.value("name", json());
  if (display_name.is_string() && display_name.get<std::string>().size() <= kMaxDisplayName)
    account.display_name = display_name.get<std::string>();
  const json email = claims.value("email", json());
  if (email.is_string() && email.get<std::string>().size() <= kMaxEmail)
    account.email = email.get<std::string>();
  return result;
}

}  // namespace skiff
