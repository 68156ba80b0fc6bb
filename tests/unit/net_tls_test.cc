// Unit tests of the TLS material helpers: self-signed certificates (names, modes, fingerprint),
// server contexts from PEM files and their errors, fingerprint spelling, loopback hosts.
#include "net/tls.h"

#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <boost/asio/ssl/context.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "temp_dir_test.h"

namespace skiff::net {
namespace {

class NetTlsTest : public skiff::testing::TempDirTest {
 protected:
  // Generates a pair named `name` under dir_; returns its fingerprint.
  std::string generate(const std::string& name, std::vector<std::string> hosts = {}) {
    SelfSignedRequest request;
    request.cert_file = dir_ + "/" + name + ".crt";
    request.key_file = dir_ + "/" + name + ".key";
    request.hosts = std::move(hosts);
    auto fingerprint = generateSelfSigned(request);
    EXPECT_TRUE(fingerprint.ok()) << fingerprint.status().toString();
    return fingerprint.ok() ? *fingerprint : std::string();
  }

  static X509* readCert(const std::string& path) {
    FILE* f = std::fopen(path.c_str(), "r");
    if (f == nullptr) return nullptr;
    X509* cert = PEM_read_X509(f, nullptr, nullptr, nullptr);
    std::fclose(f);
    return cert;
  }
};

TEST_F(NetTlsTest, SelfSignedCertificateNamesTheHostsAndLoopback) {
  const std::string fingerprint = generate("server", {"skiff.example.test", "10.1.2.3"});
  X509* cert = readCert(dir_ + "/server.crt");
  ASSERT_NE(cert, nullptr);
  EXPECT_EQ(X509_check_host(cert, "skiff.example.test", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_host(cert, "localhost", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_ip_asc(cert, "10.1.2.3", 0), 1);
  EXPECT_EQ(X509_check_ip_asc(cert, "127.0.0.1", 0), 1);
  EXPECT_EQ(X509_check_ip_asc(cert, "::1", 0), 1);
  EXPECT_NE(X509_check_host(cert, "other.example.test", 0, 0, nullptr), 1);
  EXPECT_NE(X509_check_ip_asc(cert, "10.1.2.4", 0), 1);
  // About a year, from about now.
  EXPECT_LT(X509_cmp_current_time(X509_get0_notBefore(cert)), 0);
  int days = 0;
  int seconds = 0;
  ASN1_TIME_diff(&days, &seconds, X509_get0_notBefore(cert), X509_get0_notAfter(cert));
  EXPECT_GE(days, 365);
  EXPECT_LE(days, 366);
  // An EC P-256 key.
  EVP_PKEY* key = X509_get0_pubkey(cert);
  ASSERT_NE(key, nullptr);
  EXPECT_EQ(EVP_PKEY_get_base_id(key), EVP_PKEY_EC);
  EXPECT_EQ(EVP_PKEY_get_bits(key), 256);
  X509_free(cert);

  EXPECT_EQ(*certificateFingerprint(dir_ + "/server.crt"), fingerprint);
  EXPECT_EQ(fingerprint.rfind("sha256:", 0), 0u);
  EXPECT_EQ(fingerprint.size(), 7u + 64u);
}

TEST_F(NetTlsTest, CertificateNamesHostAnswersAsAClientWould) {
  generate("server", {"skiff.example.test"});
  const std::string cert = dir_ + "/server.crt";
  EXPECT_TRUE(*certificateNamesHost(cert, "skiff.example.test"));
  EXPECT_TRUE(*certificateNamesHost(cert, "[::1]"));
  EXPECT_TRUE(*certificateNamesHost(cert, "127.0.0.1"));
  EXPECT_FALSE(*certificateNamesHost(cert, "10.9.9.9"));
  EXPECT_FALSE(*certificateNamesHost(cert, "other.example.test"));
  EXPECT_FALSE(certificateNamesHost(dir_ + "/missing.crt", "localhost").ok());
}

TEST_F(NetTlsTest, KeyIsReadableOnlyByItsOwner) {
  generate("server");
  EXPECT_EQ(modeOf(dir_ + "/server.key"), 0600u);
  EXPECT_EQ(modeOf(dir_ + "/server.crt"), 0644u);
}

TEST_F(NetTlsTest, WildcardListenAddressIsNoName) {
  generate("server", {"0.0.0.0", "[::]"});
  X509* cert = readCert(dir_ + "/server.crt");
  ASSERT_NE(cert, nullptr);
  EXPECT_NE(X509_check_ip_asc(cert, "0.0.0.0", 0), 1);
  EXPECT_NE(X509_check_ip_asc(cert, "::", 0), 1);
  EXPECT_EQ(X509_check_ip_asc(cert, "127.0.0.1", 0), 1);
  X509_free(cert);
}

TEST_F(NetTlsTest, EachGenerationIsANewCertificate) { EXPECT_NE(generate("a"), generate("b")); }

TEST_F(NetTlsTest, ServerContextLoadsAMatchingPair) {
  generate("server");
  auto context = makeServerTlsContext(dir_ + "/server.crt", dir_ + "/server.key");
  ASSERT_TRUE(context.ok()) << context.status().toString();
  EXPECT_NE(*context, nullptr);
}

TEST_F(NetTlsTest, ServerContextRefusesAKeyOfAnotherCertificate) {
  generate("a");
  generate("b");
  auto context = makeServerTlsContext(dir_ + "/a.crt", dir_ + "/b.key");
  ASSERT_FALSE(context.ok());
  EXPECT_NE(context.status().message().find("does not belong to the certificate"),
            std::string::npos)
      << context.status().message();
  EXPECT_NE(context.status().message().find(dir_ + "/b.key"), std::string::npos);
}

TEST_F(NetTlsTest, ServerContextNamesAMissingOrBrokenFile) {
  generate("server");
  auto missing = makeServerTlsContext(dir_ + "/nope.crt", dir_ + "/server.key");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find(dir_ + "/nope.crt"), std::string::npos);

  std::ofstream(dir_ + "/junk.crt") << "not a certificate\n";
  auto junk = makeServerTlsContext(dir_ + "/junk.crt", dir_ + "/server.key");
  ASSERT_FALSE(junk.ok());
  EXPECT_NE(junk.status().message().find("is not a usable PEM certificate"), std::string::npos)
      << junk.status().message();

  auto swapped = makeServerTlsContext(dir_ + "/server.crt", dir_ + "/server.crt");
  ASSERT_FALSE(swapped.ok());
  EXPECT_NE(swapped.status().message().find("is not a usable PEM private key"), std::string::npos)
      << swapped.status().message();
}

TEST_F(NetTlsTest, CertificateFingerprintOfAFileWithoutCertificateIsAnError) {
  std::ofstream(dir_ + "/junk.crt") << "hello\n";
  auto fingerprint = certificateFingerprint(dir_ + "/junk.crt");
  ASSERT_FALSE(fingerprint.ok());
  EXPECT_NE(fingerprint.status().message().find("holds no PEM certificate"), std::string::npos);
}

TEST(NetFingerprintTest, FingerprintOfDerIsSha256InHex) {
  // SHA-256 of the empty string.
  EXPECT_EQ(fingerprintOfDer(""),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(NetFingerprintTest, CommonSpellingsNormalize) {
  const std::string canonical =
      "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
  EXPECT_EQ(*normalizeFingerprint(canonical), canonical);
  EXPECT_EQ(*normalizeFingerprint(
                "SHA256:E3:B0:C4:42:98:FC:1C:14:9A:FB:F4:C8:99:6F:B9:24:27:AE:41:E4:64:9B:93:4C:"
                "A4:95:99:1B:78:52:B8:55"),
            canonical);
  EXPECT_EQ(
      *normalizeFingerprint("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
      canonical);
}

TEST(NetFingerprintTest, WrongLengthsAndCharactersAreRefused) {
  for (const char* bad :
       {"", "sha256:", "sha256:abcd", "md5:e3b0c44298fc1c149afbf4c8996fb924",
        "sha256:z3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85500"}) {
    auto normalized = normalizeFingerprint(bad);
    ASSERT_FALSE(normalized.ok()) << bad;
    EXPECT_EQ(normalized.status().code(), StatusCode::kBadRequest);
    EXPECT_NE(normalized.status().message().find("64 hex digits"), std::string::npos);
  }
}

TEST(NetLoopbackTest, LoopbackHosts) {
  for (const char* host : {"localhost", "127.0.0.1", "127.1.2.3", "::1", "[::1]"})
    EXPECT_TRUE(isLoopbackHost(host)) << host;
  for (const char* host : {"0.0.0.0", "::", "[::]", "10.0.0.1", "example.com", "", "192.168.1.1"})
    EXPECT_FALSE(isLoopbackHost(host)) << host;
}

}  // namespace
}  // namespace skiff::net
