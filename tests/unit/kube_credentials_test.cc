// When cluster credentials expire (kube/credentials.h): a JWT bearer token's "exp", and
// nothing for what carries no date. (The client certificate's notAfter is tested end to end
// against a real API server in KubeBackendTest.)
#include "kube/credentials.h"

#include <gtest/gtest.h>

namespace skiff::kube {
namespace {

// base64url of {"alg":"RS256","kid":"k"} and {"sub":"system:serviceaccount:a:b","exp":1800000000}.
const char* kToken =
    "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsifQ."
    "eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6YTpiIiwiZXhwIjoxODAwMDAwMDAwfQ.c2ln";

TEST(KubeCredentialsTest, AJwtTokenExpiresAtItsExpClaim) {
  auto expiry = credentialExpiry("", kToken);
  ASSERT_TRUE(expiry.has_value());
  EXPECT_EQ(expiry->what, "token");
  EXPECT_EQ(expiry->at, std::chrono::system_clock::time_point(std::chrono::seconds(1800000000)));
}

TEST(KubeCredentialsTest, OpaqueTokensAndUnreadableCertificatesSayNothing) {
  EXPECT_FALSE(credentialExpiry("", "abcdef.0123456789abcdef").has_value());
  EXPECT_FALSE(credentialExpiry("", "").has_value());
  EXPECT_FALSE(credentialExpiry("-----BEGIN CERTIFICATE-----\nnot base64\n", "").has_value());
}

}  // namespace
}  // namespace skiff::kube
