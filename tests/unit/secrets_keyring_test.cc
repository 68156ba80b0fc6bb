#include "secrets/keyring.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "store/sqlite_store.h"

namespace skiff {
namespace {

namespace fs = std::filesystem;

class KeyringTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("skiff-keyring-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::unique_ptr<Keyring> open() {
    auto ring = Keyring::load(keyFile());
    EXPECT_TRUE(ring.ok()) << ring.status().toString();
    return ring.ok() ? std::move(ring).value() : nullptr;
  }
  std::string keyFile() const { return (dir_ / "secrets.key").string(); }
  std::string dbFile() const { return (dir_ / "skiff.db").string(); }
  static std::string contents(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

  fs::path dir_;
};

TEST_F(KeyringTest, SealsAndOpensAndDetectsTampering) {
  auto ring = open();
  ASSERT_TRUE(ring);
  struct stat st {};
  ASSERT_EQ(::stat(keyFile().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_TRUE(ring->seals("Secret"));
  EXPECT_FALSE(ring->seals("Config"));

  auto sealed = ring->seal("{\"password\":\"p\"}");
  ASSERT_TRUE(sealed.ok());
  EXPECT_TRUE(ring->isSealed(*sealed));
  EXPECT_FALSE(ring->isSealed("{\"kind\":\"Secret\"}"));
  EXPECT_EQ(sealed->find("password"), std::string::npos);
  EXPECT_NE(*ring->seal("x"), *ring->seal("x")) << "a fresh nonce per seal";
  auto opened = ring->open(*sealed);
  ASSERT_TRUE(opened.ok()) << opened.status().toString();
  EXPECT_EQ(*opened, "{\"password\":\"p\"}");

  std::string tampered = *sealed;
  tampered[tampered.size() - 5] = tampered[tampered.size() - 5] == 'A' ? 'B' : 'A';
  auto refused = ring->open(tampered);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("failed authentication"), std::string::npos);

  // The same file opens the same keys; another file cannot open what this one sealed.
  auto again = open();
  ASSERT_TRUE(again);
  EXPECT_EQ(*again->open(*sealed), "{\"password\":\"p\"}");
  fs::remove(keyFile());
  auto other = open();
  ASSERT_TRUE(other);
  EXPECT_FALSE(other->open(*sealed).ok());
}

TEST_F(KeyringTest, RefusesAKeyFileOthersCanReadOrThatIsDamaged) {
  ASSERT_TRUE(open());
  ASSERT_EQ(::chmod(keyFile().c_str(), 0644), 0);
  auto readable = Keyring::load(keyFile());
  ASSERT_FALSE(readable.ok());
  EXPECT_NE(readable.status().message().find("mode 644"), std::string::npos)
      << readable.status().message();
  std::ofstream(keyFile(), std::ios::trunc) << R"({"primary":"k-1","keys":{"k-1":"c2hvcnQ"}})";
  ASSERT_EQ(::chmod(keyFile().c_str(), 0600), 0);
  auto damaged = Keyring::load(keyFile());
  ASSERT_FALSE(damaged.ok());
  EXPECT_NE(damaged.status().message().find("key \"k-1\" is not 32 bytes"), std::string::npos)
      << damaged.status().message();
}

TEST_F(KeyringTest, StoreSealsSecretsOnDiskAndRotationResealsThem) {
  auto ring = open();
  ASSERT_TRUE(ring);
  SqliteStore::Options options;
  options.path = dbFile();
  options.cipher = ring.get();
  auto opened_store = SqliteStore::open(options);
  ASSERT_TRUE(opened_store.ok());
  std::unique_ptr<SqliteStore> sqlite = std::move(opened_store).value();
  Store* store = sqlite.get();  // through the interface, as its clients use it
  Object secret;
  secret.kind = "Secret";
  secret.metadata.name = "db";
  secret.metadata.tenant = "default";
  secret.spec = {{"data", {{"password", "plain-secret-value"}}}};
  ASSERT_TRUE(store->create(secret).ok());
  Object config = secret;
  config.kind = "Config";
  config.spec = {{"data", {{"greeting", "plain-config-value"}}}};
  ASSERT_TRUE(store->create(config).ok());
  auto onDisk = [&] { return contents(dbFile()) + contents(dbFile() + "-wal"); };
  EXPECT_EQ(onDisk().find("plain-secret-value"), std::string::npos);
  EXPECT_NE(onDisk().find("plain-config-value"), std::string::npos) << "configs are not sealed";
  const std::string old_key = ring->primaryId();

  auto rotated = ring->rotate([&] { return sqlite->reseal(); });
  ASSERT_TRUE(rotated.ok()) << rotated.status().toString();
  EXPECT_NE(rotated->key_id, old_key);
  EXPECT_EQ(rotated->resealed, 2u) << "the object row and its event";
  EXPECT_EQ(rotated->retired, std::vector<std::string>{old_key});
  EXPECT_EQ(ring->keyCount(), 1u);
  EXPECT_EQ(onDisk().find("$" + old_key + "$"), std::string::npos);
  EXPECT_EQ(onDisk().find("plain-secret-value"), std::string::npos);

  // Writes keep working after the exclusive re-seal, and a reopened store reads everything.
  secret.spec["data"]["password"] = "second-secret-value";
  secret.metadata.resource_version = (*store->get(secret.key()))->resourceVersion();
  ASSERT_TRUE(store->update(secret).ok());
  sqlite.reset();
  auto reopened = SqliteStore::open(options);
  ASSERT_TRUE(reopened.ok()) << reopened.status().toString();
  auto got = (*reopened)->get(secret.key());
  ASSERT_TRUE(got.ok());
  EXPECT_EQ((*got)->object().spec["data"]["password"], "second-secret-value");

  // Without the key the database does not open, and says why.
  reopened->reset();
  SqliteStore::Options keyless = options;
  keyless.cipher = nullptr;
  auto refused = SqliteStore::open(keyless);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("no key was given"), std::string::npos)
      << refused.status().message();
}

}  // namespace
}  // namespace skiff
