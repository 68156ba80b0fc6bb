// The image store without a registry: commit() from packed layers, references (tag, get by
// digest, remove), lazy unpacking verified against diff IDs, and gc() keeping exactly what
// references and in-use images need.
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "image/image_store.h"
#include "temp_dir_test.h"

namespace skiff::image {
namespace {

namespace fs = std::filesystem;

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class ImageStoreTest : public skiff::testing::TempDirTest {
 protected:
  void SetUp() override {
    TempDirTest::SetUp();
    auto opened = ImageStore::open(dir_ + "/store");
    ASSERT_TRUE(opened.ok()) << opened.status().toString();
    store_ = std::move(opened).value();
  }

  // A layer with one file, packed into the store's tmp dir.
  NewLayer layer(const std::string& name, const std::string& content) {
    std::string src = dir_ + "/src-" + name;
    fs::create_directories(src + "/data");
    std::ofstream(src + "/data/" + name) << content;
    std::string file = store_->tmpDir() + "/" + name + ".tar.gz";
    auto packed = packLayer(src, file);
    EXPECT_TRUE(packed.ok()) << packed.status().toString();
    return NewLayer{file, packed.ok() ? *packed : PackedLayer{}, "ADD " + name};
  }

  std::unique_ptr<ImageStore> store_;
};

TEST_F(ImageStoreTest, CommitsTagsAndUnpacksImages) {
  CommitRequest base;
  base.layers.push_back(layer("one", "1"));
  base.config = ImageConfig{{"/bin/sh", "-c"}, {"echo hi"},      {"PATH=/bin"}, "1000", "/srv",
                            {"8080/tcp"},      {{"team", "web"}}};
  base.created = "2026-01-01T00:00:00Z";
  base.tag = "acme/base:1";
  auto committed = store_->commit(base);
  ASSERT_TRUE(committed.ok()) << committed.status().toString();
  EXPECT_EQ(committed->reference, "docker.io/acme/base:1");
  EXPECT_EQ(committed->media_type, kOciManifest);
  ASSERT_EQ(committed->layers.size(), 1u);
  EXPECT_EQ(committed->layers[0].diff_id, base.layers[0].packed.diff_id);
  EXPECT_EQ(committed->config.exposed_ports, std::vector<std::string>{"8080/tcp"});
  EXPECT_EQ(committed->config.working_dir, "/srv");
  EXPECT_FALSE(fs::exists(base.layers[0].file));  // adopted into the blob store

  CommitRequest child;
  child.parent = "acme/base:1";
  child.layers.push_back(layer("two", "2"));
  child.tag = "127.0.0.1:5000/acme/child";
  auto derived = store_->commit(child);
  ASSERT_TRUE(derived.ok()) << derived.status().toString();
  ASSERT_EQ(derived->layers.size(), 2u);
  EXPECT_EQ(derived->config.cmd, std::vector<std::string>{"echo hi"});  // inherited

  auto by_digest = store_->get(derived->manifest_digest.str());
  ASSERT_TRUE(by_digest.ok()) << by_digest.status().toString();
  EXPECT_EQ(by_digest->manifest_digest, derived->manifest_digest);
  EXPECT_TRUE(store_->get(derived->manifest_digest.hex().substr(0, 12)).ok());

  auto dirs = store_->layerDirs(*derived);
  ASSERT_TRUE(dirs.ok()) << dirs.status().toString();
  ASSERT_EQ(dirs->size(), 2u);
  EXPECT_EQ(slurp((*dirs)[0] + "/data/one"), "1");
  EXPECT_EQ(slurp((*dirs)[1] + "/data/two"), "2");
  // Shared: the base's layer is the child's bottom layer, unpacked once.
  auto base_dirs = store_->layerDirs(*committed);
  ASSERT_TRUE(base_dirs.ok());
  EXPECT_EQ((*base_dirs)[0], (*dirs)[0]);

  ASSERT_TRUE(store_->tag("acme/base:1", "acme/base:stable").isOk());
  auto listed = store_->list();
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 3u);
  EXPECT_EQ((*listed)[0].reference, "127.0.0.1:5000/acme/child:latest");

  auto missing = store_->get("acme/none");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("docker.io/acme/none:latest"), std::string::npos);
}

TEST_F(ImageStoreTest, GcKeepsWhatReferencesAndRunningImagesNeed) {
  CommitRequest base;
  base.layers.push_back(layer("one", "1"));
  base.tag = "base";
  auto b = store_->commit(base);
  ASSERT_TRUE(b.ok());
  CommitRequest child;
  child.parent = "base";
  child.layers.push_back(layer("two", "2"));
  child.tag = "child";
  auto c = store_->commit(child);
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(store_->layerDirs(*c).ok());

  // Untagged but running: kept.
  ASSERT_TRUE(store_->remove("child").isOk());
  auto kept = store_->gc({c->manifest_digest});
  ASSERT_TRUE(kept.ok());
  EXPECT_EQ(kept->blobs_removed, 0u);
  EXPECT_TRUE(store_->layerDirs(*c).ok());

  // Not running any more: its own layer, config and manifest go; the base's stay.
  auto collected = store_->gc();
  ASSERT_TRUE(collected.ok());
  EXPECT_EQ(collected->blobs_removed, 3u);
  EXPECT_EQ(collected->layers_removed, 1u);
  EXPECT_FALSE(store_->blobs().has(c->manifest_digest));
  EXPECT_FALSE(store_->blobs().has(c->layers[1].digest));
  EXPECT_TRUE(store_->blobs().has(c->layers[0].digest));
  auto base_dirs = store_->layerDirs(*b);
  ASSERT_TRUE(base_dirs.ok());
  EXPECT_EQ(slurp((*base_dirs)[0] + "/data/one"), "1");

  EXPECT_EQ(store_->remove("child").code(), StatusCode::kNotFound);
}

TEST_F(ImageStoreTest, UnpackingChecksDiffIds) {
  CommitRequest request;
  NewLayer l = layer("one", "1");
  l.packed.diff_id = Digest::of("not the tar");
  request.layers.push_back(l);
  request.tag = "liar";
  auto committed = store_->commit(request);
  ASSERT_TRUE(committed.ok());
  auto dirs = store_->layerDirs(*committed);
  ASSERT_FALSE(dirs.ok());
  EXPECT_NE(dirs.status().message().find("digest mismatch"), std::string::npos)
      << dirs.status().message();
  EXPECT_TRUE(fs::is_empty(dir_ + "/store/layers"));
}

}  // namespace
}  // namespace skiff::image
