// Layers: unpacking tar streams into overlay lower-dir format (whiteouts, opaque directories,
// hardlinks, symlinks, refusal of entries that escape the target), flattening layers with
// applyLayers(), and packLayer() round trips with deterministic digests. Runs as root (device
// nodes, trusted.* xattrs, ownership), as the image store does.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "image/layer.h"
#include "temp_dir_test.h"

namespace skiff::image {
namespace {

namespace fs = std::filesystem;

// A minimal ustar writer, so tests can make the archives a hostile registry could serve.
class TarBuilder {
 public:
  TarBuilder& file(const std::string& name, const std::string& content, int mode = 0644,
                   int uid = 0, int gid = 0) {
    header(name, '0', content.size(), mode, uid, gid, "");
    data_ += content;
    data_.append((512 - content.size() % 512) % 512, '\0');
    return *this;
  }
  TarBuilder& dir(const std::string& name, int mode = 0755) {
    header(name, '5', 0, mode, 0, 0, "");
    return *this;
  }
  TarBuilder& symlink(const std::string& name, const std::string& target) {
    header(name, '2', 0, 0777, 0, 0, target);
    return *this;
  }
  TarBuilder& hardlink(const std::string& name, const std::string& target) {
    header(name, '1', 0, 0644, 0, 0, target);
    return *this;
  }
  std::string finish() const { return data_ + std::string(1024, '\0'); }
  void writeTo(const std::string& path) const { std::ofstream(path, std::ios::binary) << finish(); }

 private:
  void header(const std::string& name, char type, size_t size, int mode, int uid, int gid,
              const std::string& link) {
    char h[512] = {};
    std::snprintf(h, 100, "%s", name.c_str());
    std::snprintf(h + 100, 8, "%07o", mode);
    std::snprintf(h + 108, 8, "%07o", uid);
    std::snprintf(h + 116, 8, "%07o", gid);
    std::snprintf(h + 124, 12, "%011zo", size);
    std::snprintf(h + 136, 12, "%011o", 1700000000);
    std::memset(h + 148, ' ', 8);
    h[156] = type;
    std::snprintf(h + 157, 100, "%s", link.c_str());
    std::memcpy(h + 257, "ustar", 6);
    std::memcpy(h + 263, "00", 2);
    unsigned sum = 0;
    for (unsigned char c : h) sum += c;
    std::snprintf(h + 148, 8, "%06o", sum);
    data_.append(h, 512);
  }
  std::string data_;
};

std::string readAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

bool isWhiteout(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0);
}

std::string xattr(const std::string& path, const char* name) {
  char buf[16];
  ssize_t n = ::lgetxattr(path.c_str(), name, buf, sizeof buf);
  return n > 0 ? std::string(buf, n) : "";
}

class ImageLayerTest : public skiff::testing::TempDirTest {
 protected:
  std::string mkdir(const std::string& name) {
    std::string path = dir_ + "/" + name;
    fs::create_directories(path);
    return path;
  }
  Result<UnpackedLayer> unpack(const TarBuilder& tar, const std::string& dest) {
    tar.writeTo(dir_ + "/layer.tar");
    return unpackLayer(dir_ + "/layer.tar", dest, kOciLayerTar);
  }
};

TEST_F(ImageLayerTest, UnpacksIntoOverlayLowerDirFormat) {
  std::string dest = mkdir("lower");
  TarBuilder tar;
  tar.dir("etc/")
      .file("etc/passwd", "root:x:0:0\n", 0600, 0, 0)
      .file("etc/owned", "x", 04755, 1000, 1001)
      .file("etc/.wh.shadow", "")
      .dir("var/cache/")
      .file("var/cache/.wh..wh..opq", "")
      .file("var/cache/new", "fresh")
      .symlink("bin", "usr/bin")
      .hardlink("etc/passwd-link", "etc/passwd")
      .file("deep/parent/missing", "parents are created");
  auto unpacked = unpack(tar, dest);
  ASSERT_TRUE(unpacked.ok()) << unpacked.status().toString();
  EXPECT_EQ(unpacked->diff_id, Digest::of(tar.finish()));

  EXPECT_EQ(readAll(dest + "/etc/passwd"), "root:x:0:0\n");
  EXPECT_EQ(modeOf(dest + "/etc/passwd"), 0600u);
  struct stat st;
  ASSERT_EQ(::lstat((dest + "/etc/owned").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 1000u);
  EXPECT_EQ(st.st_gid, 1001u);
  EXPECT_EQ(st.st_mode & 07777, 04755u);  // setuid survives chown
  EXPECT_EQ(st.st_mtime, 1700000000);

  EXPECT_TRUE(isWhiteout(dest + "/etc/shadow"));
  EXPECT_FALSE(fs::exists(fs::symlink_status(dest + "/etc/.wh.shadow")));
  EXPECT_EQ(xattr(dest + "/var/cache", "trusted.overlay.opaque"), "y");
  EXPECT_FALSE(fs::exists(dest + "/var/cache/.wh..wh..opq"));
  EXPECT_EQ(readAll(dest + "/var/cache/new"), "fresh");
  EXPECT_EQ(fs::read_symlink(dest + "/bin"), "usr/bin");

  struct stat a, b;
  ASSERT_EQ(::stat((dest + "/etc/passwd").c_str(), &a), 0);
  ASSERT_EQ(::stat((dest + "/etc/passwd-link").c_str(), &b), 0);
  EXPECT_EQ(a.st_ino, b.st_ino);
  EXPECT_EQ(readAll(dest + "/deep/parent/missing"), "parents are created");
}

TEST_F(ImageLayerTest, RefusesEntriesThatEscapeTheTarget) {
  std::string outside = mkdir("outside");
  struct Case {
    std::string name;
    TarBuilder tar;
    std::string entry;  // the error names it
  };
  std::vector<Case> cases;
  cases.push_back({"absolute", TarBuilder().file("/etc/evil", "x"), "/etc/evil"});
  cases.push_back({"dotdot", TarBuilder().file("a/../../evil", "x"), "a/../../evil"});
  cases.push_back({"through-symlink", TarBuilder().symlink("link", outside).file("link/evil", "x"),
                   "link/evil"});
  cases.push_back(
      {"hardlink-out", TarBuilder().hardlink("evil", "../outside/secret"), "../outside/secret"});
  cases.push_back({"hardlink-through-symlink",
                   TarBuilder().symlink("link", outside).hardlink("evil", "link/secret"), "evil"});
  std::ofstream(outside + "/secret") << "secret";
  for (auto& c : cases) {
    SCOPED_TRACE(c.name);
    std::string dest = mkdir("dest-" + c.name);
    auto unpacked = unpack(c.tar, dest);
    ASSERT_FALSE(unpacked.ok());
    EXPECT_NE(unpacked.status().message().find(c.entry), std::string::npos)
        << unpacked.status().message();
    EXPECT_FALSE(fs::exists(outside + "/evil"));
    EXPECT_FALSE(fs::exists(dir_ + "/evil"));
    EXPECT_FALSE(fs::exists("/etc/evil"));
  }
  EXPECT_EQ(fs::directory_iterator(outside)->path().filename(), "secret");
}

TEST_F(ImageLayerTest, RefusesWhatIsNotALayer) {
  std::ofstream(dir_ + "/garbage") << "this is not a tar archive at all, not even close";
  std::string dest = mkdir("dest");
  EXPECT_FALSE(unpackLayer(dir_ + "/garbage", dest, kOciLayerGzip).ok());
  EXPECT_FALSE(
      unpackLayer(dir_ + "/garbage", dest, "application/vnd.oci.image.config.v1+json").ok());
}

TEST_F(ImageLayerTest, ApplyLayersHonoursWhiteoutsAndOpaqueDirectories) {
  std::string l1 = mkdir("l1"), l2 = mkdir("l2"), root = mkdir("root");
  ASSERT_TRUE(unpack(TarBuilder()
                         .file("keep", "base")
                         .file("gone", "deleted above")
                         .file("replaced", "old")
                         .file("opaque/old", "hidden above")
                         .file("dir-to-file/x", "x")
                         .file("links/a", "linked")
                         .hardlink("links/b", "links/a"),
                     l1)
                  .ok());
  ASSERT_TRUE(unpack(TarBuilder()
                         .file(".wh.gone", "")
                         .file("replaced", "new", 0700)
                         .dir("opaque/")
                         .file("opaque/.wh..wh..opq", "")
                         .file("opaque/new", "visible")
                         .file("dir-to-file", "now a file")
                         .symlink("sl", "keep"),
                     l2)
                  .ok());
  Status s = applyLayers({l1, l2}, root);
  ASSERT_TRUE(s.isOk()) << s.toString();
  EXPECT_EQ(readAll(root + "/keep"), "base");
  EXPECT_FALSE(fs::exists(fs::symlink_status(root + "/gone")));
  EXPECT_EQ(readAll(root + "/replaced"), "new");
  EXPECT_EQ(modeOf(root + "/replaced"), 0700u);
  EXPECT_FALSE(fs::exists(root + "/opaque/old"));
  EXPECT_EQ(readAll(root + "/opaque/new"), "visible");
  EXPECT_EQ(xattr(root + "/opaque", "trusted.overlay.opaque"), "");
  EXPECT_EQ(readAll(root + "/dir-to-file"), "now a file");
  EXPECT_EQ(fs::read_symlink(root + "/sl"), "keep");
  struct stat a, b;
  ASSERT_EQ(::stat((root + "/links/a").c_str(), &a), 0);
  ASSERT_EQ(::stat((root + "/links/b").c_str(), &b), 0);
  EXPECT_EQ(a.st_ino, b.st_ino);
}

TEST_F(ImageLayerTest, PackUnpackRoundTripIsDeterministic) {
  std::string upper = mkdir("upper");
  fs::create_directories(upper + "/usr/bin");
  fs::create_directories(upper + "/var/lib");
  std::ofstream(upper + "/usr/bin/tool") << "#!/bin/sh\necho hi\n";
  ::chmod((upper + "/usr/bin/tool").c_str(), 0755);
  ::chown((upper + "/usr/bin/tool").c_str(), 1000, 1000);
  ::link((upper + "/usr/bin/tool").c_str(), (upper + "/usr/bin/tool2").c_str());
  fs::create_symlink("tool", upper + "/usr/bin/alias");
  ASSERT_EQ(::mknod((upper + "/removed").c_str(), S_IFCHR, makedev(0, 0)), 0);
  ASSERT_EQ(::setxattr((upper + "/var/lib").c_str(), "trusted.overlay.opaque", "y", 1, 0), 0);

  auto first = packLayer(upper, dir_ + "/a.tar.gz");
  ASSERT_TRUE(first.ok()) << first.status().toString();
  auto second = packLayer(upper, dir_ + "/b.tar.gz");
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(first->digest, second->digest);
  EXPECT_EQ(first->diff_id, second->diff_id);
  EXPECT_EQ(first->digest, Digest::of(readAll(dir_ + "/a.tar.gz")));
  EXPECT_EQ(first->size, fs::file_size(dir_ + "/a.tar.gz"));
  EXPECT_NE(first->digest, first->diff_id);

  std::string lower = mkdir("lower");
  auto unpacked = unpackLayer(dir_ + "/a.tar.gz", lower, kOciLayerGzip);
  ASSERT_TRUE(unpacked.ok()) << unpacked.status().toString();
  EXPECT_EQ(unpacked->diff_id, first->diff_id);
  EXPECT_EQ(readAll(lower + "/usr/bin/tool"), "#!/bin/sh\necho hi\n");
  EXPECT_EQ(modeOf(lower + "/usr/bin/tool"), 0755u);
  struct stat a, b;
  ASSERT_EQ(::stat((lower + "/usr/bin/tool").c_str(), &a), 0);
  ASSERT_EQ(::stat((lower + "/usr/bin/tool2").c_str(), &b), 0);
  EXPECT_EQ(a.st_ino, b.st_ino);
  EXPECT_EQ(a.st_uid, 1000u);
  EXPECT_EQ(fs::read_symlink(lower + "/usr/bin/alias"), "tool");
  EXPECT_TRUE(isWhiteout(lower + "/removed"));
  EXPECT_EQ(xattr(lower + "/var/lib", "trusted.overlay.opaque"), "y");

  // A change in content changes the digests.
  std::ofstream(upper + "/usr/bin/tool", std::ios::app) << "more\n";
  auto third = packLayer(upper, dir_ + "/c.tar.gz");
  ASSERT_TRUE(third.ok());
  EXPECT_NE(third->digest, first->digest);
}

}  // namespace
}  // namespace skiff::image
