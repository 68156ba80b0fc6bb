#include "auth/authenticator.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include "auth/rbac.h"
#include "auth_test_support.h"
#include "model/kinds.h"

namespace skiff {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;

constexpr const char* kGood = "Correct-Horse-9";

class AuthenticatorTest : public testing::AuthStoreTest {
 protected:
  void SetUp() override {
    AuthStoreTest::SetUp();
    options_.argon2 = testArgon2Params();
    options_.policy.max_age = hours(24 * 90);
    auth_ = std::make_unique<Authenticator>(*store_, clock_, options_);
    addUser("bob", {"ops"});
    ASSERT_TRUE(auth_->setPassword("bob", kGood).isOk());
  }

  AuthnFailure loginFailure(const std::string& user, const std::string& password) {
    auto r = auth_->login(user, password);
    EXPECT_TRUE(r.ok()) << r.status().toString();
    return r.ok() ? r->authentication.failure : AuthnFailure::kNone;
  }

  json credential(const std::string& user) {
    auto c = store_->get({kCredentialKind, "", user});
    EXPECT_TRUE(c.ok());
    return c.ok() ? (*c)->object().spec : json();
  }

  AuthenticatorOptions options_;
  std::unique_ptr<Authenticator> auth_;
};

TEST_F(AuthenticatorTest, LoginStartsASessionThatResolvesToTheUser) {
  auto r = auth_->login("bob", kGood);
  ASSERT_TRUE(r.ok()) << r.status().toString();
  ASSERT_TRUE(r->authentication.ok()) << r->authentication.message;
  EXPECT_EQ(r->authentication.identity.user, "bob");
  EXPECT_EQ(r->session.expires_at, clock_.now() + options_.session_ttl);

  auto who = auth_->authenticateBearer(r->session.token);
  ASSERT_TRUE(who.ok());
  ASSERT_TRUE(who->ok()) << who->message;
  EXPECT_EQ(who->identity.user, "bob");
  EXPECT_EQ(who->identity.groups, std::vector<std::string>{"ops"});
  EXPECT_EQ(who->identity.token_id, r->session.id);
  EXPECT_FALSE(who->identity.scope.has_value());

  auto token = store_->get({"Token", "", r->session.id});
  ASSERT_TRUE(token.ok());
  EXPECT_EQ((*token)->object().spec["type"], "session");

  clock_.advance(options_.session_ttl);
  EXPECT_EQ(auth_->authenticateBearer(r->session.token)->failure, AuthnFailure::kTokenExpired);
}

TEST_F(AuthenticatorTest, WrongPasswordAndUnknownUserLookTheSame) {
  auto wrong = auth_->login("bob", "Correct-Horse-8");
  auto unknown = auth_->login("nobody", kGood);
  ASSERT_TRUE(wrong.ok() && unknown.ok());
  EXPECT_EQ(wrong->authentication.failure, AuthnFailure::kBadCredentials);
  EXPECT_EQ(unknown->authentication.failure, AuthnFailure::kBadCredentials);
  EXPECT_EQ(wrong->authentication.message, unknown->authentication.message);
  EXPECT_TRUE(wrong->session.token.empty());
  // A user without a Credential (never given a password) cannot log in either.
  addUser("carol");
  EXPECT_EQ(loginFailure("carol", ""), AuthnFailure::kBadCredentials);
}

TEST_F(AuthenticatorTest, RepeatedFailuresLockTheAccountUntilTheLockoutPasses) {
  for (int i = 1; i < options_.max_failed_logins; ++i) {
    EXPECT_EQ(loginFailure("bob", "wrong"), AuthnFailure::kBadCredentials) << i;
    EXPECT_EQ(credential("bob")["failedAttempts"], i);
  }
  auto locking = auth_->login("bob", "wrong");
  ASSERT_TRUE(locking.ok());
  EXPECT_EQ(locking->authentication.failure, AuthnFailure::kLockedOut);
  EXPECT_NE(locking->authentication.message.find("try again after 2026-01-01T00:15:00Z"),
            std::string::npos)
      << locking->authentication.message;

  // Locked: even the right password is refused, and failures do not extend the lock.
  EXPECT_EQ(loginFailure("bob", kGood), AuthnFailure::kLockedOut);
  clock_.advance(minutes(14));
  EXPECT_EQ(loginFailure("bob", "wrong"), AuthnFailure::kLockedOut);
  EXPECT_EQ(loginFailure("bob", kGood), AuthnFailure::kLockedOut);
  EXPECT_EQ(credential("bob")["lockedUntil"], "2026-01-01T00:15:00Z");

  clock_.advance(minutes(1));
  EXPECT_EQ(loginFailure("bob", kGood), AuthnFailure::kNone);
  EXPECT_EQ(credential("bob")["failedAttempts"], 0);
  EXPECT_FALSE(credential("bob").contains("lockedUntil"));
}

TEST_F(AuthenticatorTest, AnExpiredLockStartsTheCountAfresh) {
  for (int i = 0; i < options_.max_failed_logins; ++i) (void)loginFailure("bob", "wrong");
  clock_.advance(options_.lockout);
  EXPECT_EQ(loginFailure("bob", "wrong"), AuthnFailure::kBadCredentials);
  EXPECT_EQ(credential("bob")["failedAttempts"], 1);
}

TEST_F(AuthenticatorTest, SuccessResetsTheFailureCount) {
  for (int i = 1; i < options_.max_failed_logins; ++i) (void)loginFailure("bob", "wrong");
  EXPECT_EQ(loginFailure("bob", kGood), AuthnFailure::kNone);
  for (int i = 1; i < options_.max_failed_logins; ++i)
    EXPECT_EQ(loginFailure("bob", "wrong"), AuthnFailure::kBadCredentials);
  EXPECT_EQ(loginFailure("bob", kGood), AuthnFailure::kNone);
}

TEST_F(AuthenticatorTest, AnAdministratorResetClearsTheLock) {
  for (int i = 0; i < options_.max_failed_logins; ++i) (void)loginFailure("bob", "wrong");
  ASSERT_TRUE(auth_->setPassword("bob", "Another-Horse-1").isOk());
  EXPECT_EQ(loginFailure("bob", "Another-Horse-1"), AuthnFailure::kNone);
}

TEST_F(AuthenticatorTest, ExpiredPasswordsMustBeChanged) {
  clock_.advance(hours(24 * 90));
  auto r = auth_->login("bob", kGood);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->authentication.failure, AuthnFailure::kPasswordExpired);
  EXPECT_NE(r->authentication.message.find("expired on 2026-04-01T00:00:00Z"), std::string::npos)
      << r->authentication.message;
  EXPECT_TRUE(r->session.token.empty());

  auto reused = auth_->changePassword("bob", kGood, kGood);
  ASSERT_FALSE(reused.ok());
  EXPECT_EQ(reused.status().code(), StatusCode::kInvalid);
  auto weak = auth_->changePassword("bob", kGood, "weak");
  ASSERT_FALSE(weak.ok());
  EXPECT_EQ(weak.status().fields()[0].path, "password");

  auto changed = auth_->changePassword("bob", kGood, "Fresh-Horse-2");
  ASSERT_TRUE(changed.ok()) << changed.status().toString();
  EXPECT_TRUE(changed->ok());
  EXPECT_EQ(loginFailure("bob", "Fresh-Horse-2"), AuthnFailure::kNone);
  EXPECT_EQ(loginFailure("bob", kGood), AuthnFailure::kBadCredentials);
}

TEST_F(AuthenticatorTest, ChangingThePasswordNeedsTheCurrentOne) {
  auto r = auth_->changePassword("bob", "wrong", "Fresh-Horse-2");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->failure, AuthnFailure::kBadCredentials);
  EXPECT_EQ(credential("bob")["failedAttempts"], 1);
  EXPECT_EQ(loginFailure("bob", kGood), AuthnFailure::kNone);
}

TEST_F(AuthenticatorTest, PasswordHistoryIsKept) {
  for (const char* p : {"Second-Horse-2", "Third-Horse-3", "Fourth-Horse-4", "Fifth-Horse-5"})
    ASSERT_TRUE(auth_->setPassword("bob", p).isOk()) << p;
  // history = 5: the current and the four before it.
  EXPECT_EQ(credential("bob")["previousHashes"].size(), 4u);
  EXPECT_FALSE(auth_->setPassword("bob", kGood).isOk());
  ASSERT_TRUE(auth_->setPassword("bob", "Sixth-Horse-6").isOk());
  EXPECT_EQ(credential("bob")["previousHashes"].size(), 4u);
  EXPECT_TRUE(auth_->setPassword("bob", kGood).isOk());  // now six passwords ago
}

TEST_F(AuthenticatorTest, SetPasswordNeedsAnExistingUser) {
  Status s = auth_->setPassword("nobody", kGood);
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_FALSE(store_->get({kCredentialKind, "", "nobody"}).ok());
}

TEST_F(AuthenticatorTest, DisabledUsersCannotLogInOrUseTokens) {
  auto token = auth_->createToken({"bob", {}, {}, hours(1), "ci"});
  ASSERT_TRUE(token.ok()) << token.status().toString();
  auto user = store_->get({"User", "", "bob"});
  Object u = (*user)->object();
  u.spec["disabled"] = true;
  ASSERT_TRUE(store_->update(u).ok());
  EXPECT_EQ(loginFailure("bob", kGood), AuthnFailure::kUserDisabled);
  // Told only to someone with the right password.
  EXPECT_EQ(loginFailure("bob", "wrong"), AuthnFailure::kBadCredentials);
  EXPECT_EQ(auth_->authenticateBearer(token->token)->failure, AuthnFailure::kUserDisabled);
  auto refused = auth_->createToken({"bob", {}, {}, hours(1), ""});
  EXPECT_EQ(refused.status().code(), StatusCode::kConflict);
}

TEST_F(AuthenticatorTest, StrongerParametersReachOldHashesAtTheNextLogin) {
  std::string before = credential("bob")["passwordHash"];
  AuthenticatorOptions stronger = options_;
  stronger.argon2.iterations = 2;
  Authenticator upgraded(*store_, clock_, stronger);
  auto r = upgraded.login("bob", kGood);
  ASSERT_TRUE(r.ok() && r->authentication.ok());
  std::string after = credential("bob")["passwordHash"];
  EXPECT_NE(before, after);
  EXPECT_NE(after.find("t=2"), std::string::npos) << after;
  EXPECT_EQ(loginFailure("bob", kGood), AuthnFailure::kNone);
}

TEST_F(AuthenticatorTest, BootstrapCreatesTheAdminOnceWithAPrivatePasswordFile) {
  auto first = auth_->bootstrapAdmin(dir_.string());
  ASSERT_TRUE(first.ok()) << first.status().toString();
  ASSERT_TRUE(first->created);
  EXPECT_GE(first->password.size(), 24u);
  EXPECT_EQ(first->password_file, (dir_ / "admin-password").string());

  struct stat st {};
  ASSERT_EQ(::stat(first->password_file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  std::ifstream in(first->password_file);
  std::stringstream content;
  content << in.rdbuf();
  EXPECT_EQ(content.str(), first->password + "\n");

  auto r = auth_->login(kAdminUser, first->password);
  ASSERT_TRUE(r.ok() && r->authentication.ok());
  Authorizer authorizer(*store_);
  EXPECT_TRUE(authorizer.authorize(r->authentication.identity, {"delete", "users", ""}).allowed);
  EXPECT_TRUE(
      authorizer.authorize(r->authentication.identity, {"create", "applications", "acme"}).allowed);

  auto again = auth_->bootstrapAdmin(dir_.string());
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->created);
  EXPECT_TRUE(again->password.empty());
  std::ifstream in2(first->password_file);
  std::stringstream content2;
  content2 << in2.rdbuf();
  EXPECT_EQ(content2.str(), first->password + "\n");
}

TEST_F(AuthenticatorTest, BootstrapFinishesAfterAnInterruptedStart) {
  // A start that created the user and binding but died before the credential.
  create("User", "", kAdminUser, json::object());
  auto r = auth_->bootstrapAdmin(dir_.string());
  ASSERT_TRUE(r.ok()) << r.status().toString();
  EXPECT_TRUE(r->created);
  EXPECT_EQ(loginFailure(kAdminUser, r->password), AuthnFailure::kNone);
  EXPECT_TRUE(store_->get({"PlatformRoleBinding", "", kAdminBinding}).ok());
}

TEST_F(AuthenticatorTest, BootstrapFailsCleanlyWhenTheFileCannotBeWritten) {
  auto r = auth_->bootstrapAdmin((dir_ / "missing" / "dir").string());
  ASSERT_FALSE(r.ok());
  EXPECT_FALSE(store_->get({kCredentialKind, "", kAdminUser}).ok());
}

}  // namespace
}  // namespace skiff
