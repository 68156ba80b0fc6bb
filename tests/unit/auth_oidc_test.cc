// OIDC sign-in: the configuration file, JWT signatures checked against keys an in-memory issuer
// publishes (discovery, JWK Set, rotation, outages), the claim checks and the mapping of claims
// to a Skiff user and groups, and the Authenticator admitting what the verifier accepts.
#include "auth/oidc.h"

#include <gtest/gtest.h>
#include <openssl/hmac.h>

#include <fstream>
#include <map>
#include <mutex>

#include "auth/authenticator.h"
#include "auth/jwt.h"
#include "auth_test_support.h"
#include "oidc_test_support.h"

namespace skiff {
namespace {

using testing::FakeClock;
using testing::TestSigningKey;

const std::string kIssuer = "https://issuer.example.test/realms/main";
const std::string kDiscoveryUrl = kIssuer + "/.well-known/openid-configuration";
const std::string kJwksUrl = "https://issuer.example.test/keys";

// Key generation takes a while: each key is made once for the whole test program.
const TestSigningKey& rsaKey() {
  static const TestSigningKey key = TestSigningKey::rsa("rsa-1");
  return key;
}
const TestSigningKey& ecKey() {
  static const TestSigningKey key = TestSigningKey::ec("ec-1");
  return key;
}
const TestSigningKey& ec384Key() {
  static const TestSigningKey key = TestSigningKey::ec("ec-384", "P-384");
  return key;
}
// Not published by the issuer unless a test says so.
const TestSigningKey& rotatedKey() {
  static const TestSigningKey key = TestSigningKey::rsa("rsa-2");
  return key;
}
// Claims to be the issuer's "rsa-1" key, but is another.
const TestSigningKey& impostorKey() {
  static const TestSigningKey key = TestSigningKey::rsa("rsa-1");
  return key;
}

// Serves documents by URL, as an issuer's web server would, and counts the requests.
class FakeIssuer {
 public:
  void serve(const std::string& url, const json& document) {
    std::lock_guard lock(mu_);
    documents_[url] = document.dump();
  }
  void publishKeys(const std::vector<json>& keys) { serve(kJwksUrl, {{"keys", keys}}); }
  void setDown(bool down) {
    std::lock_guard lock(mu_);
    down_ = down;
  }
  int fetches(const std::string& url) const {
    std::lock_guard lock(mu_);
    auto it = fetches_.find(url);
    return it == fetches_.end() ? 0 : it->second;
  }
  OidcFetcher fetcher() {
    return [this](const std::string& url) -> Result<std::string> {
      std::lock_guard lock(mu_);
      ++fetches_[url];
      if (down_)
        return unavailable("cannot connect to issuer.example.test:443: Connection refused");
      auto it = documents_.find(url);
      if (it == documents_.end()) return unavailable("GET " + url + " answered HTTP 404");
      return it->second;
    };
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::string> documents_;
  std::map<std::string, int> fetches_;
  bool down_ = false;
};

OidcConfig baseConfig() {
  OidcConfig config;
  config.issuer = kIssuer;
  config.audiences = {"skiff"};
  return config;
}

class OidcVerifierTest : public ::testing::Test {
 protected:
  void SetUp() override {
    issuer_.serve(kDiscoveryUrl, {{"issuer", kIssuer},
                                  {"jwks_uri", kJwksUrl},
                                  {"id_token_signing_alg_values_supported", {"RS256", "ES256"}}});
    issuer_.publishKeys({rsaKey().jwk("RS256"), ecKey().jwk("ES256")});
  }

  std::unique_ptr<OidcVerifier> makeVerifier(OidcConfig config = baseConfig()) {
    return std::make_unique<OidcVerifier>(std::move(config), issuer_.fetcher(), clock_);
  }
  int64_t now() const {
    return std::chrono::duration_cast<std::chrono::seconds>(clock_.now().time_since_epoch())
        .count();
  }
  // Claims of a token that is valid now.
  json claims() const {
    return {{"iss", kIssuer},          {"aud", "skiff"},
            {"sub", "alice"},          {"iat", now()},
            {"exp", now() + 300},      {"groups", {"dev"}},
            {"name", "Alice Liddell"}, {"email", "alice@example.test"}};
  }
  // verify() must answer; returns its result.
  ExternalResult verify(const OidcVerifier& verifier, const std::string& token) {
    auto result = verifier.verify(token);
    EXPECT_TRUE(result.ok()) << result.status().toString();
    return result.ok() ? *result : ExternalResult{ExternalRefusal::kUnknownUser, "no answer", {}};
  }
  // The token must be refused for `refusal` with a message containing `words`.
  void expectRefused(const OidcVerifier& verifier, const std::string& token,
                     ExternalRefusal refusal, const std::string& words) {
    ExternalResult r = verify(verifier, token);
    EXPECT_EQ(r.refusal, refusal) << r.message;
    EXPECT_NE(r.message.find(words), std::string::npos) << r.message;
    EXPECT_EQ(r.message.find(token), std::string::npos) << "the message quotes the token";
  }

  FakeClock clock_;
  FakeIssuer issuer_;
};

TEST_F(OidcVerifierTest, AcceptsAValidRs256Token) {
  auto verifier = makeVerifier();
  ExternalResult r = verify(*verifier, rsaKey().sign(claims(), "RS256"));
  ASSERT_TRUE(r.ok()) << r.message;
  EXPECT_EQ(r.account.user, "alice");
  EXPECT_EQ(r.account.groups, std::vector<std::string>{"dev"});
  EXPECT_EQ(r.account.display_name, "Alice Liddell");
  EXPECT_EQ(r.account.email, "alice@example.test");
  EXPECT_EQ(verifier->source(), "oidc");
  // Discovery and keys were fetched once and are kept for the next token.
  EXPECT_TRUE(verify(*verifier, rsaKey().sign(claims(), "RS256")).ok());
  EXPECT_EQ(issuer_.fetches(kDiscoveryUrl), 1);
  EXPECT_EQ(issuer_.fetches(kJwksUrl), 1);
}

TEST_F(OidcVerifierTest, AcceptsAValidEs256Token) {
  auto verifier = makeVerifier();
  ExternalResult r = verify(*verifier, ecKey().sign(claims(), "ES256"));
  ASSERT_TRUE(r.ok()) << r.message;
  EXPECT_EQ(r.account.user, "alice");
}

TEST_F(OidcVerifierTest, AcceptsEverySupportedAlgorithmWithAMatchingKey) {
  // Without "alg" in its JWK an RSA key verifies every RSA algorithm.
  issuer_.publishKeys({rsaKey().jwk(), ec384Key().jwk()});
  auto verifier = makeVerifier();
  for (const char* alg : {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}) {
    ExternalResult r = verify(*verifier, rsaKey().sign(claims(), alg));
    EXPECT_TRUE(r.ok()) << alg << ": " << r.message;
  }
  ExternalResult r = verify(*verifier, ec384Key().sign(claims(), "ES384"));
  EXPECT_TRUE(r.ok()) << r.message;
}

TEST_F(OidcVerifierTest, RefusesAnExpiredTokenAfterTheClockSkew) {
  auto verifier = makeVerifier();
  json c = claims();
  c["exp"] = now() - 30;  // within the 60s skew
  EXPECT_TRUE(verify(*verifier, rsaKey().sign(c, "RS256")).ok());
  c["exp"] = now() - 61;
  expectRefused(*verifier, rsaKey().sign(c, "RS256"), ExternalRefusal::kExpired,
                "the token expired at 2025-12-31T23:58:59Z");
}

TEST_F(OidcVerifierTest, RefusesATokenWithoutExpiry) {
  auto verifier = makeVerifier();
  json c = claims();
  c.erase("exp");
  expectRefused(*verifier, rsaKey().sign(c, "RS256"), ExternalRefusal::kNotAccepted, "no \"exp\"");
  c["exp"] = "tomorrow";
  expectRefused(*verifier, rsaKey().sign(c, "RS256"), ExternalRefusal::kNotAccepted,
                "\"exp\" claim is not a number");
}

TEST_F(OidcVerifierTest, RefusesATokenNotYetValid) {
  auto verifier = makeVerifier();
  json c = claims();
  c["nbf"] = now() + 30;  // within the skew
  EXPECT_TRUE(verify(*verifier, rsaKey().sign(c, "RS256")).ok());
  c["nbf"] = now() + 600;
  expectRefused(*verifier, rsaKey().sign(c, "RS256"), ExternalRefusal::kNotAccepted,
                "not valid before 2026-01-01T00:10:00Z");
  c = claims();
  c["iat"] = now() + 600;
  expectRefused(*verifier, rsaKey().sign(c, "RS256"), ExternalRefusal::kNotAccepted,
                "issued at 2026-01-01T00:10:00Z, in the future");
}

TEST_F(OidcVerifierTest, RefusesATokenForAnotherAudience) {
  auto verifier = makeVerifier();
  json c = claims();
  c["aud"] = "grafana";
  expectRefused(*verifier, rsaKey().sign(c, "RS256"), ExternalRefusal::kNotAccepted,
                "the token is for audience \"grafana\", not for this server");
  c.erase("aud");
  expectRefused(*verifier, rsaKey().sign(c, "RS256"), ExternalRefusal::kNotAccepted, "no \"aud\"");
  // An array of audiences needs to contain one of ours.
  c["aud"] = {"grafana", "skiff"};
  EXPECT_TRUE(verify(*verifier, rsaKey().sign(c, "RS256")).ok());
  OidcConfig two = baseConfig();
  two.audiences = {"cli", "skiff-web"};
  auto other = makeVerifier(two);
  c["aud"] = "skiff-web";
  EXPECT_TRUE(verify(*other, rsaKey().sign(c, "RS256")).ok());
}

TEST_F(OidcVerifierTest, RefusesATokenOfAnotherIssuerWithoutFetchingKeys) {
  auto verifier = makeVerifier();
  json c = claims();
  c["iss"] = "https://evil.example.test";
  expectRefused(*verifier, rsaKey().sign(c, "RS256"), ExternalRefusal::kNotAccepted,
                "the token was issued by \"https://evil.example.test\"; this server accepts "
                "tokens of \"" +
                    kIssuer + "\" only");
  // Exactly: a trailing slash is another issuer.
  c["iss"] = kIssuer + "/";
  expectRefused(*verifier, rsaKey().sign(c, "RS256"), ExternalRefusal::kNotAccepted, "issued by");
  EXPECT_EQ(issuer_.fetches(kDiscoveryUrl), 0);
}

TEST_F(OidcVerifierTest, RefusesATokenSignedByAKeyTheIssuerDoesNotPublish) {
  auto verifier = makeVerifier();
  // Names the issuer's key, but another key signed it.
  expectRefused(*verifier, impostorKey().sign(claims(), "RS256"), ExternalRefusal::kBadCredentials,
                "the token's signature does not verify with key \"rsa-1\" of " + kIssuer);
  // Names a key the issuer does not have.
  expectRefused(*verifier, rotatedKey().sign(claims(), "RS256"), ExternalRefusal::kBadCredentials,
                "signed with key \"rsa-2\", which " + kIssuer +
                    " does not publish (it publishes keys \"rsa-1\", \"ec-1\")");
}

TEST_F(OidcVerifierTest, RefusesATamperedToken) {
  auto verifier = makeVerifier();
  const std::string token = rsaKey().sign(claims(), "RS256");
  json forged = claims();
  forged["sub"] = "admin";
  const size_t first = token.find('.');
  const size_t second = token.find('.', first + 1);
  const std::string tampered =
      token.substr(0, first + 1) + testing::base64Url(forged.dump()) + token.substr(second);
  expectRefused(*verifier, tampered, ExternalRefusal::kBadCredentials, "signature does not verify");
  // A signature cut short, or altered in one byte, fails as well.
  expectRefused(*verifier, token.substr(0, token.size() - 4), ExternalRefusal::kBadCredentials,
                "signature does not verify");
  std::string flipped = token;
  flipped[second + 10] = flipped[second + 10] == 'A' ? 'B' : 'A';
  expectRefused(*verifier, flipped, ExternalRefusal::kBadCredentials, "signature does not verify");
}

TEST_F(OidcVerifierTest, RefusesUnsignedTokens) {
  auto verifier = makeVerifier();
  const std::string unsigned_token =
      testing::compactJws({{"alg", "none"}, {"typ", "JWT"}}, claims(), "");
  EXPECT_TRUE(verifier->recognizes(unsigned_token));
  expectRefused(*verifier, unsigned_token, ExternalRefusal::kBadCredentials,
                "the token is unsigned (alg \"none\")");
  // Not even with a signature attached, nor with a kid of a real key.
  expectRefused(*verifier,
                testing::compactJws({{"alg", "none"}, {"kid", "rsa-1"}}, claims(), "xyz"),
                ExternalRefusal::kBadCredentials, "unsigned");
}

TEST_F(OidcVerifierTest, RefusesAlgorithmsThatDoNotFitTheKey) {
  issuer_.publishKeys({rsaKey().jwk(), ecKey().jwk()});
  auto verifier = makeVerifier();
  // The classic confusion: HMAC with the issuer's public key as the secret.
  const json rsa_public = rsaKey().jwk();
  const std::string input = testing::base64Url(json{{"alg", "HS256"}, {"kid", "rsa-1"}}.dump()) +
                            "." + testing::base64Url(claims().dump());
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_length = 0;
  const std::string secret = rsa_public.dump();
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &mac_length);
  expectRefused(
      *verifier,
      input + "." + testing::base64Url(std::string_view(reinterpret_cast<char*>(mac), mac_length)),
      ExternalRefusal::kBadCredentials, "\"HS256\", a shared-secret algorithm");
  // An EC algorithm naming an RSA key, and the other way round.
  expectRefused(*verifier, ecKey().signWithHeader({{"alg", "ES256"}, {"kid", "rsa-1"}}, claims()),
                ExternalRefusal::kBadCredentials,
                "key \"rsa-1\" is an RSA key: it cannot verify ES256");
  expectRefused(*verifier, ecKey().signWithHeader({{"alg", "RS256"}, {"kid", "ec-1"}}, claims()),
                ExternalRefusal::kBadCredentials,
                "key \"ec-1\" is an EC key: it cannot verify RS256");
  // A JWK that names its algorithm verifies only that one.
  issuer_.publishKeys({rsaKey().jwk("RS256")});
  auto strict = makeVerifier();
  expectRefused(*strict, rsaKey().sign(claims(), "PS256"), ExternalRefusal::kBadCredentials,
                "key \"rsa-1\" is for RS256: it cannot verify PS256");
  expectRefused(*strict, testing::compactJws({{"alg", "EdDSA"}, {"kid", "rsa-1"}}, claims(), "sig"),
                ExternalRefusal::kBadCredentials, "algorithm \"EdDSA\" is not supported");
}

TEST_F(OidcVerifierTest, AnUnknownKeyFetchesTheKeysAgainSoRotationWorks) {
  auto verifier = makeVerifier();
  ASSERT_TRUE(verify(*verifier, rsaKey().sign(claims(), "RS256")).ok());
  ASSERT_EQ(issuer_.fetches(kJwksUrl), 1);
  // The issuer rotates: rsa-2 signs from now on, rsa-1 is still published for a while.
  issuer_.publishKeys({rsaKey().jwk("RS256"), rotatedKey().jwk("RS256")});
  clock_.advance(std::chrono::seconds(30));
  ExternalResult r = verify(*verifier, rotatedKey().sign(claims(), "RS256"));
  EXPECT_TRUE(r.ok()) << r.message;
  EXPECT_EQ(issuer_.fetches(kJwksUrl), 2);
  EXPECT_TRUE(verify(*verifier, rotatedKey().sign(claims(), "RS256")).ok());
  EXPECT_EQ(issuer_.fetches(kJwksUrl), 2);
}

TEST_F(OidcVerifierTest, UnknownKeysFetchAtMostOncePerInterval) {
  auto verifier = makeVerifier();
  ASSERT_TRUE(verify(*verifier, rsaKey().sign(claims(), "RS256")).ok());
  // Tokens naming made-up keys cannot make Skiff hammer the issuer.
  for (int i = 0; i < 20; ++i) {
    TestSigningKey forged = TestSigningKey::ec("forged-" + std::to_string(i));
    expectRefused(*verifier, forged.sign(claims(), "ES256"), ExternalRefusal::kBadCredentials,
                  "does not publish");
  }
  EXPECT_EQ(issuer_.fetches(kJwksUrl), 1);
  // Once the interval passed, the next unknown key fetches again, and a key published
  // meanwhile is found.
  issuer_.publishKeys({rsaKey().jwk("RS256"), rotatedKey().jwk("RS256")});
  clock_.advance(std::chrono::seconds(10));
  EXPECT_TRUE(verify(*verifier, rotatedKey().sign(claims(), "RS256")).ok());
  EXPECT_EQ(issuer_.fetches(kJwksUrl), 2);
}

TEST_F(OidcVerifierTest, KeysOlderThanTheRefreshIntervalAreFetchedAgain) {
  auto verifier = makeVerifier();
  ASSERT_TRUE(verify(*verifier, rsaKey().sign(claims(), "RS256")).ok());
  // The issuer withdraws rsa-1 (say it leaked): within the hour Skiff notices.
  issuer_.publishKeys({ecKey().jwk("ES256")});
  clock_.advance(std::chrono::hours(1));
  expectRefused(*verifier, rsaKey().sign(claims(), "RS256"), ExternalRefusal::kBadCredentials,
                "which " + kIssuer + " does not publish");
  EXPECT_EQ(issuer_.fetches(kJwksUrl), 2);
}

TEST_F(OidcVerifierTest, AnIssuerThatIsDownMakesVerificationUnavailableUntilItIsBack) {
  issuer_.setDown(true);
  auto verifier = makeVerifier();  // constructing does not need the issuer
  const std::string token = rsaKey().sign(claims(), "RS256");
  auto r = verifier->verify(token);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(r.status().message().find("the keys of OIDC issuer " + kIssuer + " are not available"),
            std::string::npos)
      << r.status().message();
  EXPECT_NE(r.status().message().find("Connection refused"), std::string::npos);
  EXPECT_EQ(r.status().message().find(token), std::string::npos);
  EXPECT_EQ(issuer_.fetches(kDiscoveryUrl), 1);
  // Within the interval Skiff does not ask again; afterwards it does, and succeeds.
  issuer_.setDown(false);
  EXPECT_FALSE(verifier->verify(token).ok());
  EXPECT_EQ(issuer_.fetches(kDiscoveryUrl), 1);
  clock_.advance(std::chrono::seconds(10));
  EXPECT_TRUE(verify(*verifier, token).ok());
  // Keys once fetched keep working while the issuer is down, even past the refresh interval.
  issuer_.setDown(true);
  clock_.advance(std::chrono::hours(2));
  EXPECT_TRUE(verify(*verifier, rsaKey().sign(claims(), "RS256")).ok());
  EXPECT_EQ(issuer_.fetches(kDiscoveryUrl), 3);
  // But a key Skiff has not seen cannot be told from a forged one: unavailable, not refused.
  clock_.advance(std::chrono::seconds(10));
  auto unseen = verifier->verify(rotatedKey().sign(claims(), "RS256"));
  ASSERT_FALSE(unseen.ok());
  EXPECT_EQ(unseen.status().code(), StatusCode::kUnavailable);
}

TEST_F(OidcVerifierTest, DiscoveryMustNameTheConfiguredIssuer) {
  issuer_.serve(kDiscoveryUrl, {{"issuer", kIssuer + "/"}, {"jwks_uri", kJwksUrl}});
  auto verifier = makeVerifier();
  auto r = verifier->verify(rsaKey().sign(claims(), "RS256"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(r.status().message().find("names the issuer \"" + kIssuer + "/\", not \"" + kIssuer),
            std::string::npos)
      << r.status().message();
  // A plain-http jwks_uri is refused as well.
  issuer_.serve(kDiscoveryUrl, {{"issuer", kIssuer}, {"jwks_uri", "http://keys.example.test/"}});
  clock_.advance(std::chrono::seconds(10));
  r = verifier->verify(rsaKey().sign(claims(), "RS256"));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("jwks_uri must be an https:// URL"), std::string::npos)
      << r.status().message();
}

TEST_F(OidcVerifierTest, UnusableKeysAreRefusedWithTheReason) {
  const TestSigningKey weak = TestSigningKey::rsa("weak", 1024);
  json encryption = rsaKey().jwk();
  encryption["kid"] = "enc";
  encryption["use"] = "enc";
  issuer_.publishKeys({weak.jwk(), encryption, rsaKey().jwk("RS256")});
  auto verifier = makeVerifier();
  expectRefused(*verifier, weak.sign(claims(), "RS256"), ExternalRefusal::kBadCredentials,
                "key \"weak\" of " + kIssuer +
                    " cannot be used: the RSA key has 1024 bits; at least 2048 are required");
  EXPECT_TRUE(verify(*verifier, rsaKey().sign(claims(), "RS256")).ok());
}

TEST_F(OidcVerifierTest, RecognizesJwtsOnly) {
  auto verifier = makeVerifier();
  EXPECT_TRUE(verifier->recognizes(rsaKey().sign(claims(), "RS256")));
  EXPECT_TRUE(verifier->recognizes("eyJh.eyJi.c2ln"));
  EXPECT_FALSE(verifier->recognizes("skf_0123456789abcdef_" + std::string(43, 'a')));
  EXPECT_FALSE(verifier->recognizes("eyJh.eyJi"));
  EXPECT_FALSE(verifier->recognizes("eyJh.eyJi.c2ln.more"));
  EXPECT_FALSE(verifier->recognizes(".eyJi.c2ln"));
  EXPECT_FALSE(verifier->recognizes("eyJh.eyJi.c2l="));
  EXPECT_FALSE(verifier->recognizes("eyJh.ey Ji.c2ln"));
  // Recognized but malformed: refused saying what is wrong.
  expectRefused(*verifier, "eyJh.eyJi.c2ln", ExternalRefusal::kBadCredentials,
                "the bearer token is not a valid JWT: the token's header is not");
}

TEST_F(OidcVerifierTest, MapsClaimsWithPrefixes) {
  OidcConfig config = baseConfig();
  config.username_prefix = "oidc-";
  config.groups_prefix = "idp-";
  auto verifier = makeVerifier(config);
  json c = claims();
  c["groups"] = {"dev", "Ops Team", "qa", "dev", 42};
  ExternalResult r = verify(*verifier, rsaKey().sign(c, "RS256"));
  ASSERT_TRUE(r.ok()) << r.message;
  EXPECT_EQ(r.account.user, "oidc-alice");
  // "Ops Team" cannot be a group name: skipped; duplicates and non-strings too.
  EXPECT_EQ(r.account.groups, (std::vector<std::string>{"idp-dev", "idp-qa"}));
  // One group as a string, from another claim; no groups claim at all is no groups.
  config.groups_claim = "roles";
  auto roles = makeVerifier(config);
  c["roles"] = "admin";
  r = verify(*roles, rsaKey().sign(c, "RS256"));
  EXPECT_EQ(r.account.groups, std::vector<std::string>{"idp-admin"});
  c.erase("roles");
  r = verify(*roles, rsaKey().sign(c, "RS256"));
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r.account.groups.empty());
}

TEST_F(OidcVerifierTest, AGroupMapKeepsOnlyMappedGroups) {
  OidcConfig config = baseConfig();
  config.groups_prefix = "idp-";  // not applied to mapped groups
  config.group_map = std::map<std::string, std::string>{
      {"Ops Team", "ops"}, {"dev", "developers"}, {"/platform/admins", "ops"}};
  auto verifier = makeVerifier(config);
  json c = claims();
  c["groups"] = {"dev", "Ops Team", "qa", "/platform/admins"};
  ExternalResult r = verify(*verifier, rsaKey().sign(c, "RS256"));
  ASSERT_TRUE(r.ok()) << r.message;
  EXPECT_EQ(r.account.groups, (std::vector<std::string>{"developers", "ops"}));
}

TEST_F(OidcVerifierTest, RefusesClaimsThatMakeNoValidUserName) {
  OidcConfig config = baseConfig();
  config.username_claim = "email";
  auto verifier = makeVerifier(config);
  expectRefused(*verifier, rsaKey().sign(claims(), "RS256"), ExternalRefusal::kNotAccepted,
                "the token's \"email\" claim \"alice@example.test\" makes the user name "
                "\"alice@example.test\", which is not a DNS label");
  config.username_claim = "preferred_username";
  auto preferred = makeVerifier(config);
  expectRefused(*preferred, rsaKey().sign(claims(), "RS256"), ExternalRefusal::kNotAccepted,
                "the token has no \"preferred_username\" claim");
  json c = claims();
  c["preferred_username"] = "Alice";
  expectRefused(*preferred, rsaKey().sign(c, "RS256"), ExternalRefusal::kNotAccepted,
                "claim \"Alice\" makes the user name \"Alice\", which is not a DNS label");
  c["preferred_username"] = std::string(60, 'a');
  config.username_prefix = "oidc-";
  auto prefixed = makeVerifier(config);
  expectRefused(*prefixed, rsaKey().sign(c, "RS256"), ExternalRefusal::kNotAccepted,
                "not a DNS label");
  // Too many groups for a User to hold.
  json many = claims();
  many["groups"] = json::array();
  for (int i = 0; i < 65; ++i) many["groups"].push_back("g" + std::to_string(i));
  expectRefused(*makeVerifier(), rsaKey().sign(many, "RS256"), ExternalRefusal::kNotAccepted,
                "makes 65 groups, more than the 64");
}

TEST_F(OidcVerifierTest, MalformedTokensAreRefusedSayingWhy) {
  auto verifier = makeVerifier();
  expectRefused(*verifier, testing::compactJws({{"kid", "rsa-1"}}, claims(), "sig"),
                ExternalRefusal::kBadCredentials, "the token's header has no \"alg\"");
  expectRefused(
      *verifier,
      testing::base64Url(R"({"alg":"RS256"})") + "." + testing::base64Url("[1,2]") + ".c2ln",
      ExternalRefusal::kBadCredentials, "the token's payload is not a JSON object");
  expectRefused(
      *verifier,
      rsaKey().signWithHeader({{"alg", "RS256"}, {"kid", "rsa-1"}, {"crit", {"exp"}}}, claims()),
      ExternalRefusal::kBadCredentials, "\"crit\"");
  // Duplicate claims are ambiguous: refused rather than read one way or the other.
  const std::string duplicate = testing::base64Url(R"({"alg":"RS256","kid":"rsa-1"})") + "." +
                                testing::base64Url(R"({"sub":"alice","sub":"admin"})");
  expectRefused(*verifier,
                duplicate + "." + testing::base64Url(rsaKey().signature("RS256", duplicate)),
                ExternalRefusal::kBadCredentials, "payload is not a JSON object");
}

// ---- Configuration ------------------------------------------------------------------------

// The FieldError of `status` at `path`, or "" if none.
std::string fieldError(const Status& status, const std::string& path) {
  for (const FieldError& f : status.fields())
    if (f.path == path) return f.message;
  return "";
}

TEST(OidcConfigTest, ReadsEveryField) {
  const std::string dir = ::testing::TempDir();
  {
    std::ofstream ca(dir + "/oidc-ca.pem");
    ca << "-----BEGIN CERTIFICATE-----\n";
  }
  auto config = parseOidcConfig(R"(
issuer: https://login.example.com/realms/main
audiences: [skiff, skiff-cli]
caFile: oidc-ca.pem
usernameClaim: preferred_username
usernamePrefix: "sso-"
groupsClaim: roles
groupsPrefix: sso-
groupMap: {"Platform Admins": platform-admins, dev: developers}
clockSkew: 30s
keyRefreshInterval: 30m
minKeyRefreshInterval: 5s
)",
                                dir);
  ASSERT_TRUE(config.ok()) << config.status().toString();
  EXPECT_EQ(config->issuer, "https://login.example.com/realms/main");
  EXPECT_EQ(config->audiences, (std::vector<std::string>{"skiff", "skiff-cli"}));
  EXPECT_EQ(config->ca_file, dir + "/oidc-ca.pem");
  EXPECT_EQ(config->username_claim, "preferred_username");
  EXPECT_EQ(config->username_prefix, "sso-");
  EXPECT_EQ(config->groups_claim, "roles");
  EXPECT_EQ(config->groups_prefix, "sso-");
  ASSERT_TRUE(config->group_map.has_value());
  EXPECT_EQ(config->group_map->at("Platform Admins"), "platform-admins");
  EXPECT_EQ(config->clock_skew, std::chrono::seconds(30));
  EXPECT_EQ(config->key_refresh_interval, std::chrono::minutes(30));
  EXPECT_EQ(config->min_key_refresh_interval, std::chrono::seconds(5));
}

TEST(OidcConfigTest, DefaultsAndLoopbackHttp) {
  auto config = parseOidcConfig("issuer: http://127.0.0.1:5556/dex\naudiences: [skiff]\n", "");
  ASSERT_TRUE(config.ok()) << config.status().toString();
  EXPECT_EQ(config->username_claim, "sub");
  EXPECT_EQ(config->username_prefix, "");
  EXPECT_EQ(config->groups_claim, "groups");
  EXPECT_FALSE(config->group_map.has_value());
  EXPECT_EQ(config->clock_skew, std::chrono::seconds(60));
  EXPECT_EQ(config->min_key_refresh_interval, std::chrono::seconds(10));
}

TEST(OidcConfigTest, RefusesBadFieldsNamingThemAndWhatIsAllowed) {
  auto config = parseOidcConfig(R"(
issuer: http://login.example.com
audience: skiff
usernamePrefix: "SSO:"
groupMap: {admins: "Platform Admins"}
clockSkew: 2h
caFile: /nonexistent/ca.pem
)",
                                "");
  ASSERT_FALSE(config.ok());
  const Status& s = config.status();
  EXPECT_EQ(s.code(), StatusCode::kInvalid);
  EXPECT_NE(fieldError(s, "issuer")
                .find("must be an https:// URL (http:// is allowed only for a "
                      "loopback host)"),
            std::string::npos)
      << s.toString();
  EXPECT_NE(fieldError(s, "audience")
                .find("is not a field of the OIDC configuration; the fields "
                      "are issuer, audiences,"),
            std::string::npos)
      << s.toString();
  EXPECT_NE(fieldError(s, "audiences").find("is required"), std::string::npos) << s.toString();
  EXPECT_NE(fieldError(s, "usernamePrefix").find("lowercase letters, digits and '-'"),
            std::string::npos);
  EXPECT_NE(fieldError(s, "groupMap.admins").find("must be a Skiff group name"), std::string::npos);
  EXPECT_NE(fieldError(s, "clockSkew").find("must be a duration between 0s and 10m"),
            std::string::npos)
      << s.toString();
  EXPECT_NE(fieldError(s, "caFile").find("cannot read \"/nonexistent/ca.pem\""), std::string::npos);

  auto missing = parseOidcConfig("audiences: []\n", "");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(fieldError(missing.status(), "issuer").find("is required"), std::string::npos);
  EXPECT_NE(fieldError(missing.status(), "audiences").find("must be a list"), std::string::npos);
  auto query = parseOidcConfig("issuer: https://x.example/?tenant=1\naudiences: [a]\n", "");
  ASSERT_FALSE(query.ok());
  EXPECT_NE(fieldError(query.status(), "issuer").find("no query or fragment"), std::string::npos);
  auto not_yaml = parseOidcConfig("issuer: [", "");
  ASSERT_FALSE(not_yaml.ok());
  EXPECT_NE(not_yaml.status().message().find("not valid YAML"), std::string::npos);
  auto no_file = loadOidcConfig("/nonexistent/oidc.yaml");
  ASSERT_FALSE(no_file.ok());
  EXPECT_NE(no_file.status().message().find("/nonexistent/oidc.yaml"), std::string::npos);
}

// ---- The Authenticator with the verifier -----------------------------------------------------

class OidcSignInTest : public testing::AuthStoreTest {
 protected:
  void SetUp() override {
    AuthStoreTest::SetUp();
    issuer_.serve(kDiscoveryUrl, {{"issuer", kIssuer}, {"jwks_uri", kJwksUrl}});
    issuer_.publishKeys({rsaKey().jwk("RS256")});
    OidcConfig config = baseConfig();
    config.username_prefix = "oidc-";
    verifier_ = std::make_unique<OidcVerifier>(config, issuer_.fetcher(), clock_);
    authenticator_ = std::make_unique<Authenticator>(*store_, clock_);
    authenticator_->setBearerVerifier(verifier_.get());
  }
  std::string token(const std::string& sub, int64_t expires_in = 300) {
    const int64_t now =
        std::chrono::duration_cast<std::chrono::seconds>(clock_.now().time_since_epoch()).count();
    return rsaKey().sign({{"iss", kIssuer},
                          {"aud", "skiff"},
                          {"sub", sub},
                          {"exp", now + expires_in},
                          {"groups", {"ops"}}},
                         "RS256");
  }

  FakeIssuer issuer_;
  std::unique_ptr<OidcVerifier> verifier_;
  std::unique_ptr<Authenticator> authenticator_;
};

TEST_F(OidcSignInTest, AValidTokenSignsInAndCreatesTheUser) {
  auto a = authenticator_->authenticateBearer(token("alice"));
  ASSERT_TRUE(a.ok()) << a.status().toString();
  ASSERT_TRUE(a->ok()) << a->message;
  EXPECT_EQ(a->identity.user, "oidc-alice");
  EXPECT_EQ(a->identity.groups, std::vector<std::string>{"ops"});
  auto user = store_->get({"User", "", "oidc-alice"});
  ASSERT_TRUE(user.ok());
  EXPECT_EQ((*user)->object().spec.value("source", ""), "oidc");
  // Skiff's own tokens still go their own way.
  auto own = authenticator_->authenticateBearer("skf_0123456789abcdef_" + std::string(43, 'a'));
  ASSERT_TRUE(own.ok());
  EXPECT_EQ(own->failure, AuthnFailure::kBadCredentials);
}

TEST_F(OidcSignInTest, RefusalsBecomeFailedAuthentications) {
  auto expired = authenticator_->authenticateBearer(token("alice", -3600));
  ASSERT_TRUE(expired.ok());
  EXPECT_EQ(expired->failure, AuthnFailure::kTokenExpired);
  EXPECT_NE(expired->message.find("expired"), std::string::npos);
  // A local user's name cannot be taken over through the issuer.
  addUser("oidc-bob");
  auto local = authenticator_->authenticateBearer(token("bob"));
  ASSERT_TRUE(local.ok());
  EXPECT_EQ(local->failure, AuthnFailure::kBadCredentials);
  EXPECT_NE(local->message.find("not a oidc user"), std::string::npos) << local->message;
  issuer_.setDown(true);
  clock_.advance(std::chrono::hours(2));
  const int64_t now =
      std::chrono::duration_cast<std::chrono::seconds>(clock_.now().time_since_epoch()).count();
  auto down = authenticator_->authenticateBearer(rotatedKey().sign(
      {{"iss", kIssuer}, {"aud", "skiff"}, {"sub", "carol"}, {"exp", now + 300}}, "RS256"));
  EXPECT_FALSE(down.ok());
  EXPECT_EQ(down.status().code(), StatusCode::kUnavailable);
}

}  // namespace
}  // namespace skiff
