#include <gtest/gtest.h>
#include <set>

#include "auth/password.h"
#include "auth/random.h"

namespace skiff {
namespace {

TEST(AuthPasswordTest, HashVerifiesTheRightPasswordOnly) {
  auto hash = hashPassword("Correct-Horse-9", testArgon2Params());
  ASSERT_TRUE(hash.ok()) << hash.status().toString();
  EXPECT_EQ(hash->rfind("$argon2id$v=19$m=64,t=1,p=1$", 0), 0u) << *hash;
  auto right = verifyPassword("Correct-Horse-9", *hash);
  ASSERT_TRUE(right.ok());
  EXPECT_TRUE(*right);
  auto wrong = verifyPassword("Correct-Horse-8", *hash);
  ASSERT_TRUE(wrong.ok());
  EXPECT_FALSE(*wrong);
  EXPECT_FALSE(*verifyPassword("", *hash));
}

TEST(AuthPasswordTest, EachHashHasItsOwnSalt) {
  auto a = hashPassword("same", testArgon2Params());
  auto b = hashPassword("same", testArgon2Params());
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(*a, *b);
  EXPECT_TRUE(*verifyPassword("same", *a));
  EXPECT_TRUE(*verifyPassword("same", *b));
}

TEST(AuthPasswordTest, DefaultParametersAreOwaspsArgon2idMinimum) {
  auto hash = hashPassword("x", Argon2Params{});
  ASSERT_TRUE(hash.ok());
  EXPECT_EQ(hash->rfind("$argon2id$v=19$m=19456,t=2,p=1$", 0), 0u) << *hash;
  auto params = parsePhc(*hash);
  ASSERT_TRUE(params.ok()) << params.status().toString();
  EXPECT_EQ(*params, Argon2Params{});
  EXPECT_FALSE(needsRehash(*hash, Argon2Params{}));
  EXPECT_TRUE(needsRehash(*hash, testArgon2Params()));
}

TEST(AuthPasswordTest, OverlongPasswordsAreRefusedBeforeHashing) {
  std::string huge(kMaxPasswordBytes + 1, 'a');
  auto hash = hashPassword(huge, testArgon2Params());
  ASSERT_FALSE(hash.ok());
  EXPECT_EQ(hash.status().code(), StatusCode::kInvalid);
  auto stored = hashPassword("short", testArgon2Params());
  EXPECT_FALSE(*verifyPassword(huge, *stored));
}

TEST(AuthPasswordTest, MalformedPhcStringsAreRejectedWithTheReason) {
  const std::string salt = "c2FsdHNhbHRzYWx0c2FsdA";                   // 16 bytes
  const std::string hash = "aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGg";  // 29 bytes
  struct Case {
    std::string phc;
    std::string reason;  // a fragment of the message
  };
  const std::vector<Case> cases = {
      {"", "must look like"},
      {"plaintext", "must look like"},
      {"$argon2id$v=19$m=64,t=1,p=1$" + salt, "must look like"},
      {"$argon2i$v=19$m=64,t=1,p=1$" + salt + "$" + hash, "must be argon2id"},
      {"$argon2d$v=19$m=64,t=1,p=1$" + salt + "$" + hash, "must be argon2id"},
      {"$argon2id$v=16$m=64,t=1,p=1$" + salt + "$" + hash, "v=19"},
      {"$argon2id$m=64,t=1,p=1$" + salt + "$" + hash + "$x", "v=19"},
      {"$argon2id$v=19$m=64,t=1$" + salt + "$" + hash, "m=<KiB>"},
      {"$argon2id$v=19$m=x,t=1,p=1$" + salt + "$" + hash, "m=<KiB>"},
      {"$argon2id$v=19$t=1,m=64,p=1$" + salt + "$" + hash, "m=<KiB>"},
      {"$argon2id$v=19$m=64,t=0,p=1$" + salt + "$" + hash, "t must be"},
      {"$argon2id$v=19$m=64,t=1,p=0$" + salt + "$" + hash, "p must be"},
      {"$argon2id$v=19$m=4,t=1,p=1$" + salt + "$" + hash, "m must be"},
      {"$argon2id$v=19$m=99999999,t=1,p=1$" + salt + "$" + hash, "m must be"},
      {"$argon2id$v=19$m=64,t=1,p=1$" + salt + "$", "unpadded base64"},
      {"$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + hash + "==", "unpadded base64"},
      {"$argon2id$v=19$m=64,t=1,p=1$sa!t$" + hash, "unpadded base64"},
      {"$argon2id$v=19$m=64,t=1,p=1$c2FsdA$" + hash, "salt must be at least"},
      {"$argon2id$v=19$m=64,t=1,p=1$" + salt + "$aGFzaA", "hash must be at least"},
  };
  for (const Case& c : cases) {
    auto parsed = parsePhc(c.phc);
    ASSERT_FALSE(parsed.ok()) << c.phc;
    EXPECT_EQ(parsed.status().code(), StatusCode::kInvalid) << c.phc;
    EXPECT_NE(parsed.status().message().find(c.reason), std::string::npos)
        << c.phc << " -> " << parsed.status().message();
    auto verified = verifyPassword("anything", c.phc);
    EXPECT_FALSE(verified.ok()) << c.phc;
    EXPECT_TRUE(needsRehash(c.phc, testArgon2Params()));
  }
  // A well-formed string with a hash that does not match is a mismatch, not an error.
  auto mismatch = verifyPassword("anything", "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + hash);
  ASSERT_TRUE(mismatch.ok()) << mismatch.status().toString();
  EXPECT_FALSE(*mismatch);
}

std::string policyMessage(const PasswordPolicy& policy, const std::string& password) {
  Status s = policy.check(password);
  if (s.isOk()) return "";
  EXPECT_EQ(s.code(), StatusCode::kInvalid);
  EXPECT_EQ(s.fields().size(), 1u);
  EXPECT_EQ(s.fields()[0].path, "password");
  return s.fields()[0].message;
}

TEST(AuthPasswordTest, PolicyNamesEverythingMissing) {
  PasswordPolicy policy;
  EXPECT_EQ(policyMessage(policy, "Correct-Horse-9"), "");
  EXPECT_EQ(policyMessage(policy, "short"),
            "must be at least 12 characters (got 5) and contain an uppercase letter and a digit");
  EXPECT_EQ(policyMessage(policy, "alllowercaseletters"),
            "must contain an uppercase letter and a digit");
  EXPECT_EQ(policyMessage(policy, "ALLUPPERCASE1"), "must contain a lowercase letter");
  EXPECT_EQ(policyMessage(policy, "Abcdefghijk1"), "");
  EXPECT_EQ(policyMessage(policy, "Abcdefghij1"), "must be at least 12 characters (got 11)");

  policy.require_symbol = true;
  EXPECT_EQ(policyMessage(policy, "Abcdefghijk1"), "must contain a symbol (not a letter or digit)");
  EXPECT_EQ(policyMessage(policy, "Abcdefghijk1!"), "");

  policy = PasswordPolicy{};
  policy.max_length = 16;
  EXPECT_EQ(policyMessage(policy, "Abcdefghijk1-Abcdefghijk1"),
            "must be at most 16 characters (got 25)");

  policy = PasswordPolicy{};
  policy.min_length = 4;
  policy.require_lowercase = policy.require_uppercase = policy.require_digit = false;
  EXPECT_EQ(policyMessage(policy, "pass"), "");
}

TEST(AuthPasswordTest, PolicyRefusesTheLastPasswordsOnly) {
  PasswordPolicy policy;
  policy.history = 3;
  std::vector<std::string> previous;  // newest first
  for (const char* p : {"Password-4", "Password-3", "Password-2", "Password-1"})
    previous.push_back(*hashPassword(p, testArgon2Params()));
  for (const char* p : {"Password-4", "Password-3", "Password-2"}) {
    Status s = policy.checkNotReused(p, previous);
    ASSERT_FALSE(s.isOk()) << p;
    EXPECT_EQ(s.fields()[0].message, "must differ from the last 3 passwords of this user");
  }
  EXPECT_TRUE(policy.checkNotReused("Password-1", previous).isOk());
  EXPECT_TRUE(policy.checkNotReused("Password-5", previous).isOk());
  previous.insert(previous.begin(), "damaged");
  EXPECT_TRUE(policy.checkNotReused("Password-5", previous).isOk());
}

TEST(AuthPasswordTest, PasswordsExpireOnlyWithAMaxAge) {
  PasswordPolicy policy;
  auto changed = std::chrono::system_clock::time_point(std::chrono::hours(1000));
  EXPECT_FALSE(policy.expired(changed, changed + std::chrono::hours(24 * 3650)));
  policy.max_age = std::chrono::hours(24 * 90);
  EXPECT_FALSE(policy.expired(changed, changed + std::chrono::hours(24 * 90 - 1)));
  EXPECT_TRUE(policy.expired(changed, changed + std::chrono::hours(24 * 90)));
}

TEST(AuthPasswordTest, RandomPasswordsPassTheStrictestPolicy) {
  PasswordPolicy policy;
  policy.require_symbol = true;
  policy.min_length = 24;
  std::set<std::string> seen;
  for (int i = 0; i < 50; ++i) {
    std::string p = randomPassword(24);
    EXPECT_EQ(p.size(), 24u);
    EXPECT_TRUE(policy.check(p).isOk()) << p;
    seen.insert(p);
  }
  EXPECT_EQ(seen.size(), 50u);
}

TEST(AuthPasswordTest, Base64UrlMatchesRfc4648Vectors) {
  EXPECT_EQ(base64UrlEncode(""), "");
  EXPECT_EQ(base64UrlEncode("f"), "Zg");
  EXPECT_EQ(base64UrlEncode("fo"), "Zm8");
  EXPECT_EQ(base64UrlEncode("foo"), "Zm9v");
  EXPECT_EQ(base64UrlEncode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(base64UrlEncode("\xfb\xff"), "-_8");
  EXPECT_EQ(hexEncode("\x01\xab"), "01ab");
}

}  // namespace
}  // namespace skiff
