#include "auth/tokens.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "auth/authenticator.h"
#include "auth_test_support.h"
#include "model/kinds.h"
#include "model/well_known.h"

namespace skiff {
namespace {

using std::chrono::hours;

TEST(AuthTokenFormatTest, TokensCarryTheirIdAndARandomSecret) {
  GeneratedToken a = generateToken();
  GeneratedToken b = generateToken();
  EXPECT_EQ(a.id.size(), kTokenIdLength);
  EXPECT_EQ(a.token.rfind("skf_" + a.id + "_", 0), 0u) << a.token;
  EXPECT_EQ(a.token.size(), 4 + 16 + 1 + 43u);
  EXPECT_NE(a.id, b.id);
  EXPECT_NE(a.token, b.token);
  EXPECT_EQ(tokenIdOf(a.token), a.id);
  EXPECT_TRUE(isDnsLabel(a.id));
}

TEST(AuthTokenFormatTest, MalformedTokensHaveNoId) {
  GeneratedToken t = generateToken();
  std::string secret = t.token.substr(21);
  for (const std::string& bad :
       {std::string(), std::string("skf_"), "Bearer " + t.token, "skx_" + t.token.substr(4),
        t.token.substr(0, t.token.size() - 1), t.token + "A",
        "skf_" + std::string(16, 'G') + "_" + secret, "skf_" + std::string(16, 'A') + "_" + secret,
        "skf_" + t.id + "-" + secret, "skf_" + t.id + "_" + secret.substr(1) + "=",
        "skf_" + t.id + "_" + secret.substr(1) + "/"})
    EXPECT_FALSE(tokenIdOf(bad).has_value()) << bad;
}

TEST(AuthTokenFormatTest, DigestsAreSha256InHex) {
  EXPECT_EQ(tokenDigest("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_TRUE(digestsEqual(tokenDigest("x"), tokenDigest("x")));
  EXPECT_FALSE(digestsEqual(tokenDigest("x"), tokenDigest("y")));
  EXPECT_FALSE(digestsEqual("ab", "abc"));
}

class AuthTokenTest : public testing::AuthStoreTest {
 protected:
  void SetUp() override {
    AuthStoreTest::SetUp();
    AuthenticatorOptions options;
    options.argon2 = testArgon2Params();
    auth_ = std::make_unique<Authenticator>(*store_, clock_, options);
    addUser("bob", {"ops"});
    addUser("alice");
  }
  std::unique_ptr<Authenticator> auth_;
};

TEST_F(AuthTokenTest, CreateResolveExpire) {
  auto created = auth_->createToken({"bob", {"viewer"}, {"acme"}, hours(2), "ci deploys"});
  ASSERT_TRUE(created.ok()) << created.status().toString();
  const Object t = created->object->object();
  EXPECT_EQ(t.spec["user"], "bob");
  EXPECT_EQ(t.spec["type"], "api");
  EXPECT_EQ(t.spec["roles"], json({"viewer"}));
  EXPECT_EQ(t.spec["tenants"], json({"acme"}));
  EXPECT_EQ(t.spec["expiresAt"], "2026-01-01T02:00:00Z");
  EXPECT_EQ(t.spec["description"], "ci deploys");
  EXPECT_EQ(t.metadata.labels.at(kUserLabel), "bob");
  EXPECT_EQ(tokenIdOf(created->token), t.metadata.name);

  auto who = auth_->authenticateBearer(created->token);
  ASSERT_TRUE(who.ok());
  ASSERT_TRUE(who->ok()) << who->message;
  EXPECT_EQ(who->identity.user, "bob");
  EXPECT_EQ(who->identity.token_id, t.metadata.name);
  ASSERT_TRUE(who->identity.scope.has_value());
  EXPECT_EQ(who->identity.scope->roles, std::vector<std::string>{"viewer"});
  EXPECT_EQ(who->identity.scope->tenants, std::vector<std::string>{"acme"});

  clock_.advance(hours(2) - std::chrono::seconds(1));
  EXPECT_TRUE(auth_->authenticateBearer(created->token)->ok());
  clock_.advance(std::chrono::seconds(1));
  auto expired = auth_->authenticateBearer(created->token);
  EXPECT_EQ(expired->failure, AuthnFailure::kTokenExpired);
  EXPECT_NE(expired->message.find("2026-01-01T02:00:00Z"), std::string::npos);
}

TEST_F(AuthTokenTest, UnscopedTokensCarryTheUsersPermissions) {
  auto created = auth_->createToken({"bob", {}, {}, hours(0), ""});
  ASSERT_TRUE(created.ok());
  EXPECT_EQ(created->object->object().spec["expiresAt"], "2026-01-31T00:00:00Z");  // default 30d
  auto who = auth_->authenticateBearer(created->token);
  ASSERT_TRUE(who->ok());
  EXPECT_FALSE(who->identity.scope.has_value());
}

TEST_F(AuthTokenTest, ForgedAndTamperedTokensAreRefused) {
  auto created = auth_->createToken({"bob", {}, {}, hours(1), ""});
  ASSERT_TRUE(created.ok());
  std::string tampered = created->token;
  tampered.back() = tampered.back() == 'A' ? 'B' : 'A';
  GeneratedToken forged = generateToken();
  for (const std::string& bad : {tampered, forged.token, std::string("garbage"), std::string()}) {
    auto r = auth_->authenticateBearer(bad);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->failure, AuthnFailure::kBadCredentials) << bad;
  }
}

TEST_F(AuthTokenTest, RevokedTokensStopWorking) {
  auto created = auth_->createToken({"bob", {}, {}, hours(1), ""});
  ASSERT_TRUE(created.ok());
  const std::string id = created->object->metadata.name;
  ASSERT_TRUE(auth_->revokeToken(id).isOk());
  EXPECT_EQ(auth_->authenticateBearer(created->token)->failure, AuthnFailure::kBadCredentials);
  EXPECT_FALSE(store_->get({kTokenSecretKind, "", id}).ok());
  EXPECT_EQ(auth_->revokeToken(id).code(), StatusCode::kNotFound);

  // Deleting the Token object through the generic API revokes it too.
  auto other = auth_->createToken({"bob", {}, {}, hours(1), ""});
  ASSERT_TRUE(store_->remove(other->object->key()).ok());
  EXPECT_EQ(auth_->authenticateBearer(other->token)->failure, AuthnFailure::kBadCredentials);
}

TEST_F(AuthTokenTest, LogoutEndsOnlyThePresentedSession) {
  ASSERT_TRUE(auth_->setPassword("bob", "Correct-Horse-9").isOk());
  auto one = auth_->login("bob", "Correct-Horse-9");
  auto two = auth_->login("bob", "Correct-Horse-9");
  ASSERT_TRUE(one.ok() && two.ok());
  ASSERT_TRUE(auth_->logout(one->session.token).isOk());
  EXPECT_FALSE(auth_->authenticateBearer(one->session.token)->ok());
  EXPECT_TRUE(auth_->authenticateBearer(two->session.token)->ok());
  EXPECT_EQ(auth_->logout(one->session.token).code(), StatusCode::kNotFound);
  // Knowing a session's id is not enough to end it.
  EXPECT_EQ(auth_->logout("skf_" + two->session.id + "_" + std::string(43, 'A')).code(),
            StatusCode::kNotFound);
}

TEST_F(AuthTokenTest, ListForgetAndPurge) {
  ASSERT_TRUE(auth_->createToken({"bob", {}, {}, hours(1), "short"}).ok());
  ASSERT_TRUE(auth_->createToken({"bob", {}, {}, hours(48), "long"}).ok());
  ASSERT_TRUE(auth_->createToken({"alice", {}, {}, hours(1), ""}).ok());
  EXPECT_EQ(auth_->listTokens("bob").size(), 2u);
  EXPECT_EQ(auth_->listTokens("alice").size(), 1u);

  clock_.advance(hours(2));
  auto purged = auth_->purgeExpiredTokens();
  ASSERT_TRUE(purged.ok());
  EXPECT_EQ(*purged, 2u);
  ASSERT_EQ(auth_->listTokens("bob").size(), 1u);
  EXPECT_EQ(auth_->listTokens("bob")[0]->object().spec["description"], "long");
  EXPECT_EQ(store_->list(kTokenSecretKind, {}).items.size(), 1u);

  ASSERT_TRUE(auth_->setPassword("bob", "Correct-Horse-9").isOk());
  ASSERT_TRUE(auth_->forgetUser("bob").isOk());
  EXPECT_TRUE(auth_->listTokens("bob").empty());
  EXPECT_FALSE(store_->get({kCredentialKind, "", "bob"}).ok());
  EXPECT_EQ(store_->list(kTokenSecretKind, {}).items.size(), 0u);
  EXPECT_TRUE(auth_->forgetUser("bob").isOk());
}

TEST_F(AuthTokenTest, BadRequestsAreInvalid) {
  auto unknown_user = auth_->createToken({"nobody", {}, {}, hours(1), ""});
  EXPECT_EQ(unknown_user.status().code(), StatusCode::kInvalid);
  auto unknown_role = auth_->createToken({"bob", {"viewer", "wizard"}, {}, hours(1), ""});
  ASSERT_FALSE(unknown_role.ok());
  EXPECT_EQ(unknown_role.status().fields()[0].path, "spec.roles[1]");
  auto too_long = auth_->createToken({"bob", {}, {}, hours(24 * 400), ""});
  ASSERT_FALSE(too_long.ok());
  EXPECT_EQ(too_long.status().fields()[0].path, "spec.expiresAt");
  auto bad_tenant = auth_->createToken({"bob", {}, {"Not A Tenant"}, hours(1), ""});
  EXPECT_EQ(bad_tenant.status().code(), StatusCode::kInvalid);
  EXPECT_TRUE(store_->list("Token", {}).items.empty());
  EXPECT_TRUE(store_->list(kTokenSecretKind, {}).items.empty());
}

TEST_F(AuthTokenTest, NoSecretIsStoredInPlainText) {
  const std::string password = "Plain-Text-Password-7";
  ASSERT_TRUE(auth_->setPassword("bob", password).isOk());
  auto session = auth_->login("bob", password);
  ASSERT_TRUE(session.ok() && session->authentication.ok());
  auto token = auth_->createToken({"bob", {}, {}, hours(1), ""});
  ASSERT_TRUE(token.ok());
  const std::string api_secret = token->token.substr(21);
  const std::string session_secret = session->session.token.substr(21);

  std::vector<std::string> kinds = {kCredentialKind, kTokenSecretKind};
  for (const auto& k : allKinds()) kinds.push_back(k.kind);
  for (const auto& kind : kinds) {
    for (const auto& o : store_->list(kind, {}).items) {
      EXPECT_EQ(o->jsonText().find(password), std::string::npos) << kind;
      EXPECT_EQ(o->jsonText().find(api_secret), std::string::npos) << kind;
      EXPECT_EQ(o->jsonText().find(session_secret), std::string::npos) << kind;
    }
  }
  // Nor in the database file on disk (WAL included).
  store_ = nullptr;
  sqlite_.reset();
  for (const char* file : {"skiff.db", "skiff.db-wal"}) {
    std::ifstream in(dir_ / file, std::ios::binary);
    std::stringstream bytes;
    bytes << in.rdbuf();
    EXPECT_EQ(bytes.str().find(password), std::string::npos) << file;
    EXPECT_EQ(bytes.str().find(api_secret), std::string::npos) << file;
    EXPECT_EQ(bytes.str().find(session_secret), std::string::npos) << file;
  }
  // The Token object (what the API serves) holds neither the digest nor the secret.
  EXPECT_TRUE(token->object->object().status.empty());
  EXPECT_EQ(token->object->jsonText().find(tokenDigest(token->token)), std::string::npos);
}

}  // namespace
}  // namespace skiff
