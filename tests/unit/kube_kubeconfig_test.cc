// Reading kubeconfig files (kube/kubeconfig.h): contexts, inline and file credentials, and
// clear refusals of what Skiff cannot use.
#include <gtest/gtest.h>

#include <fstream>

#include "kube/kubeconfig.h"
#include "temp_dir_test.h"

namespace skiff::kube {
namespace {

class KubeKubeconfigTest : public skiff::testing::TempDirTest {};

constexpr const char* kConfig = R"(
apiVersion: v1
kind: Config
current-context: prod
clusters:
  - name: prod-cluster
    cluster:
      server: https://10.0.0.1:6443
      certificate-authority-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCkFBQQ==
  - name: dev-cluster
    cluster: {server: "https://dev:6443", certificate-authority: ca.pem}
users:
  - name: admin
    user: {token: abc.def}
  - name: dev
    user: {client-certificate: dev.crt, client-key: dev.key}
  - name: plugin
    user: {exec: {command: aws}}
contexts:
  - name: prod
    context: {cluster: prod-cluster, user: admin}
  - name: dev
    context: {cluster: dev-cluster, user: dev}
  - name: plugin
    context: {cluster: prod-cluster, user: plugin}
  - name: dangling
    context: {cluster: nowhere, user: admin}
)";

TEST_F(KubeKubeconfigTest, ReadsTheCurrentContextWithInlineData) {
  auto access = readKubeconfig(kConfig, "", dir_);
  ASSERT_TRUE(access.ok()) << access.status().toString();
  EXPECT_EQ(access->server, "https://10.0.0.1:6443");
  EXPECT_EQ(access->ca_pem, "-----BEGIN CERTIFICATE-----\nAAA");
  EXPECT_EQ(access->token, "abc.def");
}

TEST_F(KubeKubeconfigTest, ReadsFilesRelativeToTheKubeconfig) {
  std::ofstream(dir_ + "/ca.pem") << "CA";
  std::ofstream(dir_ + "/dev.crt") << "CERT";
  std::ofstream(dir_ + "/dev.key") << "KEY";
  auto access = readKubeconfig(kConfig, "dev", dir_);
  ASSERT_TRUE(access.ok()) << access.status().toString();
  EXPECT_EQ(access->ca_pem, "CA");
  EXPECT_EQ(access->client_certificate_pem, "CERT");
  EXPECT_EQ(access->client_key_pem, "KEY");
  EXPECT_TRUE(access->token.empty());
}

TEST_F(KubeKubeconfigTest, RefusesWhatItCannotUse) {
  auto plugin = readKubeconfig(kConfig, "plugin", dir_);
  EXPECT_NE(plugin.status().message().find("uses exec"), std::string::npos);
  auto dangling = readKubeconfig(kConfig, "dangling", dir_);
  EXPECT_NE(dangling.status().message().find("cluster \"nowhere\""), std::string::npos);
  auto missing = readKubeconfig(kConfig, "staging", dir_);
  EXPECT_NE(missing.status().message().find("no context named \"staging\""), std::string::npos);
  auto files = readKubeconfig(kConfig, "dev", dir_);  // ca.pem not written
  EXPECT_NE(files.status().message().find("ca.pem"), std::string::npos);
  auto garbage = readKubeconfig("[1, 2", "", dir_);
  EXPECT_EQ(garbage.status().code(), StatusCode::kInvalid);
}

}  // namespace
}  // namespace skiff::kube
