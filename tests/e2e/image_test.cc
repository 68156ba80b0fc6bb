// End-to-end tests of `skiff image` against a real registry: Debian's docker-registry (CNCF
// Distribution) started by the test on a loopback port with its storage in a temporary
// directory, anonymous, with htpasswd (Basic) auth, or with bearer tokens from
// tests/e2e/registry_token_server.py. The image is made from busybox-static with
// `skiff image import`, pushed, removed locally, pulled back and compared digest by digest and
// file by file. Failures must say what went wrong: a missing tag, refused credentials, an
// unreachable registry, a corrupted blob (which must leave no image behind).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "e2e/harness.h"
#include "e2e/registry.h"
#include "image/image_store.h"

namespace skiff::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class ImageE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fs::exists("/usr/bin/docker-registry")) << "install docker-registry";
    ASSERT_TRUE(fs::exists("/usr/bin/busybox")) << "install busybox-static";
    rootfs_ = tmp_.path() + "/rootfs";
    fs::create_directories(rootfs_ + "/bin");
    fs::create_directories(rootfs_ + "/etc");
    fs::copy_file("/usr/bin/busybox", rootfs_ + "/bin/busybox");
    fs::permissions(rootfs_ + "/bin/busybox", fs::perms(0755));
    fs::create_symlink("busybox", rootfs_ + "/bin/sh");
    std::ofstream(rootfs_ + "/etc/motd") << "made by the skiff image e2e test\n";
  }

  std::string store(const std::string& name) { return tmp_.path() + "/store-" + name; }

  // `skiff image ARGS --store STORE` with no registry credentials from the environment.
  CommandResult image(std::vector<std::string> args, const std::string& store_dir,
                      const std::string& stdin_data = "",
                      std::map<std::string, std::string> env = {}) {
    args.insert(args.begin(), "image");
    args.insert(args.begin() + 2, {"--store", store_dir});
    env.emplace("SKIFF_REGISTRY_USERNAME", "");
    env.emplace("SKIFF_REGISTRY_PASSWORD", "");
    env.emplace("HOME", tmp_.path());
    return runSkiff(args, "", stdin_data, env);
  }

  // Imports the busybox rootfs as `ref` into `store_dir`; returns the manifest digest.
  std::string importBusybox(const std::string& store_dir, const std::string& ref) {
    auto r = image({"import", rootfs_, ref, "--cmd", "/bin/sh", "--env", "PATH=/bin"}, store_dir);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return trimmed(r.out);
  }

  static std::string trimmed(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
    return s;
  }

  json inspect(const std::string& store_dir, const std::string& ref) {
    auto r = image({"inspect", ref}, store_dir);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return json::parse(r.out, nullptr, false);
  }

  // The image's layers unpacked by the store, as the runtime asks for them.
  std::vector<std::string> layerDirs(const std::string& store_dir, const std::string& ref) {
    auto s = image::ImageStore::open(store_dir);
    EXPECT_TRUE(s.ok()) << s.status().toString();
    if (!s.ok()) return {};
    auto img = (*s)->get(ref);
    EXPECT_TRUE(img.ok()) << img.status().toString();
    if (!img.ok()) return {};
    auto dirs = (*s)->layerDirs(*img);
    EXPECT_TRUE(dirs.ok()) << dirs.status().toString();
    return dirs.ok() ? *dirs : std::vector<std::string>{};
  }

  TempDir tmp_;
  std::string rootfs_;
};

TEST_F(ImageE2eTest, PushRemovePullKeepsDigestsAndContent) {
  fs::create_directories(tmp_.path() + "/registry");
  Registry registry(tmp_.path() + "/registry", Registry::Auth::kNone);
  const std::string ref = registry.host() + "/e2e/busybox:1.0";
  const std::string store_dir = store("a");
  const std::string digest = importBusybox(store_dir, ref);
  ASSERT_TRUE(digest.starts_with("sha256:")) << digest;
  json before = inspect(store_dir, ref);
  EXPECT_EQ(before["config"]["Cmd"], json::array({"/bin/sh"}));

  auto pushed = image({"push", ref}, store_dir);
  ASSERT_EQ(pushed.exit_code, 0) << pushed.err;
  EXPECT_EQ(trimmed(pushed.out), digest);  // only the digest when not on a terminal
  auto served = httpRequest(registry.url(), "GET", "/v2/e2e/busybox/tags/list");
  EXPECT_NE(served.body.find("1.0"), std::string::npos) << served.body;

  auto removed = image({"rm", ref}, store_dir);
  ASSERT_EQ(removed.exit_code, 0) << removed.err;
  auto pruned = image({"prune"}, store_dir);
  ASSERT_EQ(pruned.exit_code, 0) << pruned.err;
  EXPECT_TRUE(fs::is_empty(store_dir + "/blobs/sha256")) << pruned.out;
  EXPECT_NE(image({"inspect", ref}, store_dir).exit_code, 0);

  auto pulled = image({"pull", ref}, store_dir);
  ASSERT_EQ(pulled.exit_code, 0) << pulled.err;
  EXPECT_EQ(trimmed(pulled.out), digest);
  json after = inspect(store_dir, ref);
  EXPECT_EQ(after["digest"], before["digest"]);
  EXPECT_EQ(after["configDigest"], before["configDigest"]);
  EXPECT_EQ(after["layers"], before["layers"]);
  EXPECT_EQ(after["config"]["Env"], json::array({"PATH=/bin"}));

  auto dirs = layerDirs(store_dir, ref);
  ASSERT_EQ(dirs.size(), 1u);
  EXPECT_EQ(slurp(dirs[0] + "/bin/busybox"), slurp("/usr/bin/busybox"));
  EXPECT_EQ(fs::status(dirs[0] + "/bin/busybox").permissions(), fs::perms(0755));
  EXPECT_EQ(fs::read_symlink(dirs[0] + "/bin/sh"), "busybox");
  EXPECT_EQ(slurp(dirs[0] + "/etc/motd"), "made by the skiff image e2e test\n");

  // Another store, another name for the same image, and the listing.
  const std::string other = store("b");
  ASSERT_EQ(image({"pull", ref}, other).exit_code, 0);
  ASSERT_EQ(image({"tag", ref, "local/copy:v2"}, other).exit_code, 0);
  auto listed = image({"ls", "-o", "json"}, other);
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  json images = json::parse(listed.out, nullptr, false);
  ASSERT_EQ(images.size(), 2u) << listed.out;
  EXPECT_EQ(images[0]["digest"], digest);
  EXPECT_EQ(images[1]["digest"], digest);
  auto table = image({"ls"}, other);
  EXPECT_NE(table.out.find("docker.io/local/copy:v2"), std::string::npos) << table.out;
}

TEST_F(ImageE2eTest, MissingTagAndUnreachableRegistrySayWhatIsWrong) {
  fs::create_directories(tmp_.path() + "/registry");
  Registry registry(tmp_.path() + "/registry", Registry::Auth::kNone);
  const std::string store_dir = store("a");
  importBusybox(store_dir, registry.host() + "/e2e/busybox:1.0");
  ASSERT_EQ(image({"push", registry.host() + "/e2e/busybox:1.0"}, store_dir).exit_code, 0);
  auto by_digest = image(
      {"push", inspect(store_dir, registry.host() + "/e2e/busybox:1.0")["digest"]}, store_dir);
  EXPECT_NE(by_digest.err.find("give the reference to push it to"), std::string::npos)
      << by_digest.err;

  auto missing = image({"pull", registry.host() + "/e2e/busybox:nope"}, store_dir);
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("image " + registry.host() +
                             "/e2e/busybox:nope not found in "
                             "registry " +
                             registry.host()),
            std::string::npos)
      << missing.err;
  auto no_repo = image({"pull", registry.host() + "/e2e/nothing:1"}, store_dir);
  EXPECT_NE(no_repo.err.find("not found in registry"), std::string::npos) << no_repo.err;

  const std::string closed = "127.0.0.1:" + std::to_string(freePort());
  auto unreachable = image({"pull", closed + "/e2e/busybox:1.0"}, store_dir);
  EXPECT_EQ(unreachable.exit_code, 1);
  EXPECT_NE(unreachable.err.find("cannot reach registry " + closed), std::string::npos)
      << unreachable.err;
}

TEST_F(ImageE2eTest, BasicAuthUsesTheGivenCredentials) {
  fs::create_directories(tmp_.path() + "/registry");
  Registry registry(tmp_.path() + "/registry", Registry::Auth::kBasic);
  const std::string ref = registry.host() + "/e2e/private:1";
  const std::string store_dir = store("a");
  const std::string digest = importBusybox(store_dir, ref);

  auto anonymous = image({"push", ref}, store_dir);
  EXPECT_EQ(anonymous.exit_code, 1);
  EXPECT_NE(anonymous.err.find("no credentials were given"), std::string::npos) << anonymous.err;

  auto pushed = image({"push", ref, "--username", kRegistryUser, "--password-stdin"}, store_dir,
                      std::string(kRegistryPassword) + "\n");
  ASSERT_EQ(pushed.exit_code, 0) << pushed.err;
  EXPECT_EQ(trimmed(pushed.out), digest);

  const std::string other = store("b");
  auto wrong =
      image({"pull", ref}, other, "",
            {{"SKIFF_REGISTRY_USERNAME", kRegistryUser}, {"SKIFF_REGISTRY_PASSWORD", "wrong"}});
  EXPECT_EQ(wrong.exit_code, 1);
  EXPECT_NE(wrong.err.find("credentials of user \"alice\" were refused"), std::string::npos)
      << wrong.err;
  EXPECT_EQ(wrong.err.find("wrong"), std::string::npos) << "the password leaked: " << wrong.err;

  auto right = image(
      {"pull", ref}, other, "",
      {{"SKIFF_REGISTRY_USERNAME", kRegistryUser}, {"SKIFF_REGISTRY_PASSWORD", kRegistryPassword}});
  ASSERT_EQ(right.exit_code, 0) << right.err;
  EXPECT_EQ(trimmed(right.out), digest);
}

TEST_F(ImageE2eTest, BearerTokenFlow) {
  fs::create_directories(tmp_.path() + "/registry");
  Registry registry(tmp_.path() + "/registry", Registry::Auth::kToken);
  const std::string ref = registry.host() + "/e2e/tokens:1";
  const std::string store_dir = store("a");
  const std::string digest = importBusybox(store_dir, ref);

  auto pushed = image({"push", ref, "-u", kRegistryUser, "--password-stdin"}, store_dir,
                      std::string(kRegistryPassword) + "\n");
  ASSERT_EQ(pushed.exit_code, 0) << pushed.err << registry.tokenLog();
  EXPECT_NE(registry.tokenLog().find("token user=alice scope=repository:e2e/tokens:pull,push"),
            std::string::npos)
      << registry.tokenLog();

  const std::string other = store("b");
  auto wrong = image({"pull", ref, "-u", kRegistryUser, "--password-stdin"}, other, "wrong\n");
  EXPECT_EQ(wrong.exit_code, 1);
  EXPECT_NE(wrong.err.find("refused to issue a token"), std::string::npos) << wrong.err;
  EXPECT_NE(wrong.err.find("\"alice\""), std::string::npos) << wrong.err;

  // Anonymous: the token server hands out a token without access, which the registry refuses.
  auto anonymous = image({"pull", ref}, other);
  EXPECT_EQ(anonymous.exit_code, 1);
  EXPECT_NE(anonymous.err.find("no credentials were given"), std::string::npos) << anonymous.err;

  auto pulled = image({"pull", ref, "-u", kRegistryUser, "--password-stdin"}, other,
                      std::string(kRegistryPassword) + "\n");
  ASSERT_EQ(pulled.exit_code, 0) << pulled.err;
  EXPECT_EQ(trimmed(pulled.out), digest);
  EXPECT_EQ(layerDirs(other, ref).size(), 1u);
}

TEST_F(ImageE2eTest, CorruptedBlobIsRefusedAndLeavesNoImage) {
  fs::create_directories(tmp_.path() + "/registry");
  Registry registry(tmp_.path() + "/registry", Registry::Auth::kNone);
  const std::string ref = registry.host() + "/e2e/corrupt:1";
  const std::string store_dir = store("a");
  importBusybox(store_dir, ref);
  ASSERT_EQ(image({"push", ref}, store_dir).exit_code, 0);
  json pushed = inspect(store_dir, ref);
  const std::string layer = pushed["layers"][0]["digest"];

  // Same size, different bytes: only the digest check can tell.
  const std::string data = registry.blobData(layer);
  std::string bytes = slurp(data);
  ASSERT_FALSE(bytes.empty()) << data;
  bytes[bytes.size() / 2] ^= 0x5a;
  std::ofstream(data, std::ios::binary | std::ios::trunc) << bytes;

  const std::string other = store("b");
  auto pulled = image({"pull", ref}, other);
  EXPECT_EQ(pulled.exit_code, 1);
  EXPECT_NE(pulled.err.find("digest mismatch"), std::string::npos) << pulled.err;
  EXPECT_NE(pulled.err.find(layer), std::string::npos) << pulled.err;
  EXPECT_NE(image({"inspect", ref}, other).exit_code, 0);
  auto listed = image({"ls", "-o", "json"}, other);
  EXPECT_EQ(json::parse(listed.out, nullptr, false), json::array()) << listed.out;
  EXPECT_FALSE(fs::exists(other + "/blobs/sha256/" + layer.substr(7)));
  EXPECT_TRUE(fs::is_empty(other + "/tmp"));
}

}  // namespace
}  // namespace skiff::test
