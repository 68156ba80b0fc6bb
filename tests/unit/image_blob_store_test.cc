// The blob store: content lands under its digest only after verification; a mismatch leaves
// nothing behind and says which digests disagreed.
#include <filesystem>

#include <gtest/gtest.h>

#include "image/blob_store.h"
#include "temp_dir_test.h"

namespace skiff::image {
namespace {

namespace fs = std::filesystem;

class ImageBlobStoreTest : public skiff::testing::TempDirTest {};

size_t filesIn(const std::string& dir) {
  size_t n = 0;
  for ([[maybe_unused]] const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file()) ++n;
  return n;
}

TEST_F(ImageBlobStoreTest, StoresVerifiedContentUnderItsDigest) {
  BlobStore store(dir_);
  ASSERT_TRUE(store.init().isOk());
  Digest expected = Digest::of("hello layer");
  auto writer = store.writer(expected, 11);
  ASSERT_TRUE(writer.ok());
  ASSERT_TRUE(writer->write("hello ").isOk());
  ASSERT_TRUE(writer->write("layer").isOk());
  auto digest = writer->commit();
  ASSERT_TRUE(digest.ok()) << digest.status().toString();
  EXPECT_EQ(*digest, expected);
  EXPECT_TRUE(store.has(expected));
  EXPECT_EQ(*store.read(expected), "hello layer");
  EXPECT_EQ(store.path(expected), dir_ + "/blobs/sha256/" + expected.hex());
  EXPECT_EQ(store.list(), std::vector<Digest>{expected});
  EXPECT_EQ(filesIn(store.tmpDir()), 0u);
  ASSERT_TRUE(store.remove(expected).isOk());
  EXPECT_FALSE(store.has(expected));
}

TEST_F(ImageBlobStoreTest, DigestMismatchLeavesNothingAndNamesBothDigests) {
  BlobStore store(dir_);
  ASSERT_TRUE(store.init().isOk());
  Digest expected = Digest::of("the real content");
  auto writer = store.writer(expected, std::nullopt, "registry 127.0.0.1:5000 (web)");
  ASSERT_TRUE(writer.ok());
  ASSERT_TRUE(writer->write("corrupted content").isOk());
  auto digest = writer->commit();
  ASSERT_FALSE(digest.ok());
  const std::string& message = digest.status().message();
  EXPECT_NE(message.find(expected.str()), std::string::npos) << message;
  EXPECT_NE(message.find(Digest::of("corrupted content").str()), std::string::npos) << message;
  EXPECT_NE(message.find("127.0.0.1:5000"), std::string::npos) << message;
  EXPECT_EQ(filesIn(dir_), 0u);
}

TEST_F(ImageBlobStoreTest, SizeMismatchAndAbandonedWritesLeaveNothing) {
  BlobStore store(dir_);
  ASSERT_TRUE(store.init().isOk());
  {
    auto writer = store.writer(Digest::of("abc"), 4);
    ASSERT_TRUE(writer.ok());
    ASSERT_TRUE(writer->write("abc").isOk());
    EXPECT_FALSE(writer->commit().ok());
  }
  {
    auto writer = store.writer();
    ASSERT_TRUE(writer.ok());
    ASSERT_TRUE(writer->write("never committed").isOk());
  }
  EXPECT_EQ(filesIn(dir_), 0u);
}

}  // namespace
}  // namespace skiff::image
