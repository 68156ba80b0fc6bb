// The trash: a discarded directory is out of the way at once and deleted in the background;
// what an earlier process left in the trash is deleted too.
#include "runtime/local/trash.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "temp_dir_test.h"

namespace skiff::runtime {
namespace {

namespace fs = std::filesystem;

class TrashTest : public skiff::testing::TempDirTest {
 protected:
  // DIR/a/b/file and DIR/c: a tree with nested directories and files.
  void makeTree(const std::string& dir) {
    fs::create_directories(dir + "/a/b");
    fs::create_directories(dir + "/c");
    std::ofstream(dir + "/a/b/file") << "data";
  }
  bool empty(const std::string& dir) {
    std::error_code ec;
    return !fs::exists(dir) || fs::is_empty(dir, ec);
  }
};

TEST_F(TrashTest, ADiscardedDirectoryIsGoneAtOnceAndDeletedAfter) {
  Trash trash(dir_ + "/trash");
  for (const char* name : {"one", "two"}) makeTree(dir_ + "/" + name);
  ASSERT_TRUE(trash.discard(dir_ + "/one").isOk());
  ASSERT_TRUE(trash.discard(dir_ + "/two").isOk());
  EXPECT_FALSE(fs::exists(dir_ + "/one"));
  EXPECT_FALSE(fs::exists(dir_ + "/two"));
  // The same name again: a new directory where the discarded one was.
  makeTree(dir_ + "/one");
  ASSERT_TRUE(trash.discard(dir_ + "/one").isOk());
  trash.drain();
  EXPECT_TRUE(empty(dir_ + "/trash"));
  // Nothing else in the parent was touched.
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 1);
}

TEST_F(TrashTest, WhatAnEarlierProcessLeftIsDeleted) {
  makeTree(dir_ + "/trash/1234-1-instance");
  makeTree(dir_ + "/trash/1234-2-bundle");
  Trash trash(dir_ + "/trash");
  trash.drain();
  EXPECT_TRUE(empty(dir_ + "/trash"));
}

TEST_F(TrashTest, AMissingPathIsFineAndAFileIsDeletedToo) {
  Trash trash(dir_ + "/trash");
  EXPECT_TRUE(trash.discard(dir_ + "/never-was").isOk());
  std::ofstream(dir_ + "/file") << "x";
  ASSERT_TRUE(trash.discard(dir_ + "/file").isOk());
  EXPECT_FALSE(fs::exists(dir_ + "/file"));
  trash.drain();
  EXPECT_TRUE(empty(dir_ + "/trash"));
}

TEST_F(TrashTest, APathOnAnotherFilesystemIsDeletedAtOnce) {
  struct stat here, shm;
  if (::stat(dir_.c_str(), &here) != 0 || ::stat("/dev/shm", &shm) != 0 ||
      here.st_dev == shm.st_dev)
    GTEST_SKIP() << "needs /dev/shm on another filesystem than " << dir_;
  const std::string other = "/dev/shm/" + fs::path(dir_).filename().string();
  makeTree(other);
  Trash trash(dir_ + "/trash");
  Status s = trash.discard(other);
  EXPECT_FALSE(fs::exists(other));
  fs::remove_all(other);
  ASSERT_TRUE(s.isOk()) << s.toString();
  EXPECT_TRUE(empty(dir_ + "/trash"));
}

TEST_F(TrashTest, GoingAwayWithWorkLeftNeitherHangsNorLosesIt) {
  {
    Trash trash(dir_ + "/trash");
    for (int i = 0; i < 50; ++i) {
      makeTree(dir_ + "/t" + std::to_string(i));
      ASSERT_TRUE(trash.discard(dir_ + "/t" + std::to_string(i)).isOk());
    }
  }
  // Whatever the first did not delete, the next one does.
  Trash again(dir_ + "/trash");
  again.drain();
  EXPECT_TRUE(empty(dir_ + "/trash"));
}

}  // namespace
}  // namespace skiff::runtime
