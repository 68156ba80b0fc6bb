// Unit tests of the CLI's config file: where it is, how it is written (0600, atomically), and
// which server and token a command uses.
#include "cli/config.h"

#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "temp_dir_test.h"

#include "cli/api_client.h"

namespace skiff::cli {
namespace {

class CliConfigTest : public skiff::testing::TempDirTest {
 protected:
};

TEST_F(CliConfigTest, PathComesFromSkiffConfigThenXdgThenHome) {
  CliEnvironment env;
  env.home = "/home/alice";
  EXPECT_EQ(*configPath(env), "/home/alice/.config/skiff/config.json");
  env.xdg_config_home = "/xdg";
  EXPECT_EQ(*configPath(env), "/xdg/skiff/config.json");
  env.skiff_config = "/etc/skiff.json";
  EXPECT_EQ(*configPath(env), "/etc/skiff.json");
}

TEST_F(CliConfigTest, RelativeXdgConfigHomeIsIgnored) {
  CliEnvironment env;
  env.home = "/home/alice";
  env.xdg_config_home = "relative/dir";  // the XDG spec: ignore it
  EXPECT_EQ(*configPath(env), "/home/alice/.config/skiff/config.json");
}

TEST_F(CliConfigTest, NoHomeIsAnErrorThatSaysWhatToSet) {
  auto path = configPath(CliEnvironment{});
  ASSERT_FALSE(path.ok());
  EXPECT_NE(path.status().message().find("SKIFF_CONFIG"), std::string::npos);
}

TEST_F(CliConfigTest, MissingFileIsAnEmptyConfig) {
  auto config = loadConfig(dir_ + "/nothing/config.json");
  ASSERT_TRUE(config.ok()) << config.status().message();
  EXPECT_EQ(*config, CliConfig{});
}

TEST_F(CliConfigTest, SaveCreatesPrivateFileAndDirectoriesAndLoadReadsItBack) {
  const std::string path = dir_ + "/xdg/skiff/config.json";
  const CliConfig config{"http://127.0.0.1:7480", "skf_0123456789abcdef_secret"};
  ASSERT_TRUE(saveConfig(path, config).isOk());
  EXPECT_EQ(modeOf(path), 0600u);
  EXPECT_EQ(modeOf(dir_ + "/xdg/skiff"), 0700u);
  EXPECT_EQ(modeOf(dir_ + "/xdg"), 0700u);
  auto loaded = loadConfig(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  EXPECT_EQ(*loaded, config);
  // Nothing but the config is left beside it (no temporary files).
  int entries = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir_ + "/xdg/skiff"))
    ++entries;
  EXPECT_EQ(entries, 1);
}

TEST_F(CliConfigTest, SaveReplacesAReadableFileWithAPrivateOne) {
  const std::string path = dir_ + "/config.json";
  std::ofstream(path) << R"({"server": "http://old:1", "token": "skf_old"})";
  ::chmod(path.c_str(), 0644);
  ASSERT_TRUE(saveConfig(path, CliConfig{"http://new:2", "skf_new"}).isOk());
  EXPECT_EQ(modeOf(path), 0600u);
  EXPECT_EQ(loadConfig(path)->token, "skf_new");
}

TEST_F(CliConfigTest, SaveLeavesExistingDirectoriesAlone) {
  ::chmod(dir_.c_str(), 0755);
  ASSERT_TRUE(saveConfig(dir_ + "/config.json", CliConfig{"http://a:1", "t"}).isOk());
  EXPECT_EQ(modeOf(dir_), 0755u);
}

TEST_F(CliConfigTest, AnEmptyTokenIsLeftOutOfTheFile) {
  const std::string path = dir_ + "/config.json";
  ASSERT_TRUE(saveConfig(path, CliConfig{"http://a:1", ""}).isOk());
  std::ifstream in(path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text.find("token"), std::string::npos) << text;
  EXPECT_EQ(*loadConfig(path), (CliConfig{"http://a:1", ""}));
}

TEST_F(CliConfigTest, MalformedFileIsAnErrorNamingIt) {
  const std::string path = dir_ + "/config.json";
  std::ofstream(path) << "{not json";
  auto config = loadConfig(path);
  ASSERT_FALSE(config.ok());
  EXPECT_NE(config.status().message().find(path), std::string::npos);

  std::ofstream(path, std::ios::trunc) << R"({"server": 7})";
  config = loadConfig(path);
  ASSERT_FALSE(config.ok());
  EXPECT_NE(config.status().message().find("\"server\""), std::string::npos);
}

TEST_F(CliConfigTest, SaveIntoAFileInTheWayOfTheDirectoryFails) {
  std::ofstream(dir_ + "/skiff") << "a file";
  Status s = saveConfig(dir_ + "/skiff/config.json", CliConfig{"http://a:1", "t"});
  EXPECT_FALSE(s.isOk());
}

// resolveCredentials ---------------------------------------------------------------------------

const CliConfig kSaved{"http://saved:7480", "skf_saved"};

TEST(CliCredentialsTest, NoServerGivenUsesTheSavedServerAndToken) {
  Credentials c = resolveCredentials("", "", CliEnvironment{}, kSaved);
  EXPECT_EQ(c.server, "http://saved:7480");
  EXPECT_EQ(c.token, "skf_saved");
  EXPECT_EQ(c.source, TokenSource::kConfig);
}

TEST(CliCredentialsTest, NothingAnywhereMeansTheDefaultServerAndNoToken) {
  Credentials c = resolveCredentials("", "", CliEnvironment{}, CliConfig{});
  EXPECT_EQ(c.server, kDefaultServer);
  EXPECT_EQ(c.token, "");
  EXPECT_EQ(c.source, TokenSource::kNone);
}

TEST(CliCredentialsTest, SavedTokenOnlyGoesToTheServerItCameFrom) {
  CliEnvironment env;
  env.skiff_server = "http://other:7480";
  Credentials c = resolveCredentials("", "", env, kSaved);
  EXPECT_EQ(c.server, "http://other:7480");
  EXPECT_EQ(c.token, "");
  EXPECT_EQ(c.source, TokenSource::kNone);

  c = resolveCredentials("http://other:1", "", CliEnvironment{}, kSaved);
  EXPECT_EQ(c.server, "http://other:1");
  EXPECT_EQ(c.token, "");
}

TEST(CliCredentialsTest, SavedTokenGoesToItsServerNamedExplicitly) {
  CliEnvironment env;
  env.skiff_server = "http://saved:7480/";  // a trailing slash names the same server
  Credentials c = resolveCredentials("", "", env, kSaved);
  EXPECT_EQ(c.server, "http://saved:7480");
  EXPECT_EQ(c.token, "skf_saved");
  c = resolveCredentials("http://saved:7480", "", CliEnvironment{}, kSaved);
  EXPECT_EQ(c.token, "skf_saved");
}

TEST(CliCredentialsTest, ServerFlagBeatsEnvironmentBeatsConfig) {
  CliEnvironment env;
  env.skiff_server = "http://env:1";
  EXPECT_EQ(resolveCredentials("http://flag:1", "", env, kSaved).server, "http://flag:1");
  EXPECT_EQ(resolveCredentials("", "", env, kSaved).server, "http://env:1");
}

TEST(CliCredentialsTest, TokenFlagBeatsEnvironmentBeatsConfig) {
  CliEnvironment env;
  env.skiff_token = "skf_env";
  Credentials c = resolveCredentials("", "skf_flag", env, kSaved);
  EXPECT_EQ(c.token, "skf_flag");
  EXPECT_EQ(c.source, TokenSource::kFlag);
  c = resolveCredentials("", "", env, kSaved);
  EXPECT_EQ(c.token, "skf_env");
  EXPECT_EQ(c.source, TokenSource::kEnvironment);
  // SKIFF_TOKEN is sent to whichever server is in use.
  env.skiff_server = "http://other:1";
  EXPECT_EQ(resolveCredentials("", "", env, kSaved).token, "skf_env");
}

TEST(CliCredentialsTest, ConfigWithoutServerBelongsToTheDefaultServer) {
  const CliConfig token_only{"", "skf_t"};
  EXPECT_EQ(resolveCredentials("", "", CliEnvironment{}, token_only).token, "skf_t");
  EXPECT_EQ(resolveCredentials(kDefaultServer, "", CliEnvironment{}, token_only).token, "skf_t");
  EXPECT_EQ(resolveCredentials("http://other:1", "", CliEnvironment{}, token_only).token, "");
}

TEST(CliCredentialsTest, EnvironmentIsReadFromTheProcess) {
  const CliEnvironment before = CliEnvironment::fromProcess();
  ::setenv("SKIFF_CONFIG", "/tmp/x.json", 1);
  ::setenv("SKIFF_TOKEN", "skf_process", 1);
  const CliEnvironment env = CliEnvironment::fromProcess();
  for (auto [name, value] : {std::pair{"SKIFF_CONFIG", before.skiff_config},
                             std::pair{"SKIFF_TOKEN", before.skiff_token}}) {
    if (value.empty()) {
      ::unsetenv(name);
    } else {
      ::setenv(name, value.c_str(), 1);
    }
  }
  EXPECT_EQ(env.skiff_config, "/tmp/x.json");
  EXPECT_EQ(env.skiff_token, "skf_process");
}

constexpr const char* kPin =
    "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

TEST_F(CliConfigTest, TrustPerServerIsSavedAndReadBack) {
  const std::string path = dir_ + "/config.json";
  CliConfig config{"https://a:7480", "skf_a"};
  config.trust["https://a:7480"] = {"/etc/skiff/a.crt", ""};
  config.trust["https://b:7480"] = {"", kPin};
  ASSERT_TRUE(saveConfig(path, config).isOk());
  EXPECT_EQ(*loadConfig(path), config);
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_NE(text.str().find("\"https://b:7480\": {\n      \"fingerprint\""), std::string::npos)
      << text.str();
}

TEST_F(CliConfigTest, TrustThatIsNotAnObjectIsAnErrorNamingTheFile) {
  const std::string path = dir_ + "/config.json";
  std::ofstream(path) << R"({"server": "https://a:1", "trust": {"https://a:1": {"ca": 7}}})";
  auto config = loadConfig(path);
  ASSERT_FALSE(config.ok());
  EXPECT_NE(config.status().message().find(path), std::string::npos);
  EXPECT_NE(config.status().message().find("\"ca\" is not a string"), std::string::npos)
      << config.status().message();
}

TEST(CliTrustTest, FlagsBeatEnvironmentBeatConfigForThatServer) {
  CliConfig config{"https://a:7480", "skf_a"};
  config.trust["https://a:7480"] = {"/saved/a.crt", ""};
  CliEnvironment env;

  auto saved = resolveTrust("https://a:7480/", {}, env, config);
  ASSERT_TRUE(saved.ok());
  EXPECT_EQ(saved->source, TrustSource::kConfig);
  EXPECT_EQ(saved->trust.ca_file, "/saved/a.crt");

  auto other = resolveTrust("https://b:7480", {}, env, config);
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(other->source, TrustSource::kNone);
  EXPECT_TRUE(other->trust.empty());

  env.skiff_fingerprint = "SHA256:" + std::string(kPin).substr(7);
  auto from_env = resolveTrust("https://a:7480", {}, env, config);
  ASSERT_TRUE(from_env.ok());
  EXPECT_EQ(from_env->source, TrustSource::kEnvironment);
  EXPECT_EQ(from_env->trust, (ServerTrust{"", kPin}));  // normalized; the saved CA is not mixed in

  auto from_flag = resolveTrust("https://a:7480", {"/flag/ca.pem", ""}, env, config);
  ASSERT_TRUE(from_flag.ok());
  EXPECT_EQ(from_flag->source, TrustSource::kFlag);
  EXPECT_EQ(from_flag->trust, (ServerTrust{"/flag/ca.pem", ""}));
}

TEST(CliTrustTest, MalformedFingerprintSaysWhereItCameFrom) {
  CliEnvironment env;
  env.skiff_fingerprint = "sha256:abc";
  auto r = resolveTrust("https://a:7480", {}, env, CliConfig{});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kBadRequest);
  EXPECT_EQ(r.status().message().rfind("SKIFF_FINGERPRINT: ", 0), 0u) << r.status().message();
}

TEST(CliTrustTest, DefaultServerIsHttps) {
  EXPECT_EQ(std::string(kDefaultServer), "https://127.0.0.1:7480");
}

}  // namespace
}  // namespace skiff::cli
