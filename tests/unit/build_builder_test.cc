// The image builder with real runc and overlayfs: a busybox image built from scratch, RUN
// steps captured as layers, the cache, multi-stage COPY --from, and refusals.
#include "build/builder.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "common/files.h"
#include "temp_dir_test.h"

namespace skiff::build {
namespace {

namespace fs = std::filesystem;

class BuilderTest : public testing::TempDirTest {
 protected:
  void SetUp() override {
    TempDirTest::SetUp();
    if (::geteuid() != 0 || ::access("/usr/bin/busybox", X_OK) != 0 ||
        ::access("/usr/sbin/runc", X_OK) != 0)
      GTEST_SKIP() << "needs root, runc and busybox-static";
    auto store = image::ImageStore::open(dir_ + "/store");
    ASSERT_TRUE(store.ok()) << store.status().toString();
    store_ = std::move(store).value();
    context_ = dir_ + "/context";
    fs::create_directories(context_ + "/site");
    fs::copy_file("/usr/bin/busybox", context_ + "/busybox");
    ASSERT_TRUE(writeFileAtomically(context_ + "/site/index.html", "hello\n").isOk());
  }

  Result<image::Image> build(const std::string& dockerfile, const std::string& tag,
                             std::map<std::string, std::string> args = {}) {
    EXPECT_TRUE(writeFileAtomically(context_ + "/Dockerfile", dockerfile).isOk());
    BuildOptions options;
    options.context_dir = context_;
    options.tag = tag;
    options.build_args = std::move(args);
    options.log = [this](const std::string& line) { log_ += line + "\n"; };
    return buildImage(*store_, options);
  }

  // The file at `path` in the image, read through its layers (top-most wins).
  std::string fileIn(const image::Image& image, const std::string& path) {
    auto dirs = store_->layerDirs(image);
    EXPECT_TRUE(dirs.ok());
    for (auto it = dirs->rbegin(); it != dirs->rend(); ++it)
      if (auto text = readWholeFile(*it + path); text.ok()) return *text;
    return "<missing>";
  }

  std::unique_ptr<image::ImageStore> store_;
  std::string context_;
  std::string log_;  // the builds' output, shown when a test fails
};

constexpr const char* kBase = R"(FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
)";

TEST_F(BuilderTest, BuildsFromScratchWithRunStepsAndConfig) {
  auto image = build(std::string(kBase) + R"DF(ARG GREETING=hi
ENV APP_HOME=/srv/app MODE=${GREETING}
WORKDIR $APP_HOME
COPY site/ ./public/
RUN echo "$MODE from $(pwd)" > made-by-run && rm /bin/true
USER 1000:1000
EXPOSE 8080
LABEL team=shop
ENTRYPOINT ["/bin/httpd", "-f"]
CMD ["-p", "8080"]
)DF",
                     "127.0.0.1:5000/test/web:1", {{"GREETING", "hello"}});
  ASSERT_TRUE(image.ok()) << image.status().toString() << "\n" << log_;
  EXPECT_EQ(image->layers.size(), 4u);  // busybox, --install, COPY, RUN
  EXPECT_EQ(image->config.working_dir, "/srv/app");
  EXPECT_EQ(image->config.user, "1000:1000");
  EXPECT_EQ(image->config.entrypoint, (std::vector<std::string>{"/bin/httpd", "-f"}));
  EXPECT_EQ(image->config.cmd, (std::vector<std::string>{"-p", "8080"}));
  EXPECT_EQ(image->config.labels.at("team"), "shop");
  EXPECT_NE(std::find(image->config.env.begin(), image->config.env.end(), "MODE=hello"),
            image->config.env.end());
  EXPECT_EQ(image->config.exposed_ports, (std::vector<std::string>{"8080/tcp"}));
  EXPECT_EQ(fileIn(*image, "/srv/app/public/index.html"), "hello\n");
  EXPECT_EQ(fileIn(*image, "/srv/app/made-by-run"), "hello from /srv/app\n");
  // The RUN deleted a file of a lower layer: its layer holds a whiteout for it.
  auto dirs = store_->layerDirs(*image);
  ASSERT_TRUE(dirs.ok());
  struct stat st {};
  ASSERT_EQ(::lstat((dirs->back() + "/bin/true").c_str(), &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode) && st.st_rdev == 0) << "no whiteout for /bin/true";
  EXPECT_TRUE(store_->get("127.0.0.1:5000/test/web:1").ok());
}

TEST_F(BuilderTest, CachedStepsAreReusedAndChangedOnesRebuilt) {
  const std::string file = std::string(kBase) + "RUN date +%s%N > /stamp\nCOPY site /site\n";
  auto first = build(file, "local/cache:1");
  ASSERT_TRUE(first.ok()) << first.status().toString();
  auto again = build(file, "local/cache:2");
  ASSERT_TRUE(again.ok()) << again.status().toString();
  // A rerun RUN would write another time stamp, and so another layer. (The manifests may still
  // differ: the config records when each image was built, to the second.)
  ASSERT_EQ(again->layers.size(), first->layers.size());
  for (size_t i = 0; i < first->layers.size(); ++i)
    EXPECT_EQ(again->layers[i].digest, first->layers[i].digest) << "layer " << i;
  ASSERT_TRUE(writeFileAtomically(context_ + "/site/index.html", "changed\n").isOk());
  auto changed = build(file, "local/cache:3");
  ASSERT_TRUE(changed.ok()) << changed.status().toString();
  EXPECT_EQ(changed->layers[2].digest, first->layers[2].digest) << "the RUN before the COPY";
  EXPECT_NE(changed->layers[3].digest, first->layers[3].digest);
  EXPECT_EQ(fileIn(*changed, "/site/index.html"), "changed\n");
}

TEST_F(BuilderTest, MultiStageCopiesFromAnEarlierStage) {
  auto image = build(std::string("FROM scratch AS tools\nCOPY busybox /bin/busybox\n") +
                         "RUN [\"/bin/busybox\", \"sh\", \"-c\", \"echo built > /artifact\"]\n"
                         "FROM scratch\nCOPY --from=tools /artifact /out/artifact\n",
                     "local/multi:1");
  ASSERT_TRUE(image.ok()) << image.status().toString();
  ASSERT_EQ(image->layers.size(), 1u);
  EXPECT_EQ(fileIn(*image, "/out/artifact"), "built\n");
  EXPECT_EQ(fileIn(*image, "/bin/busybox"), "<missing>");
}

TEST_F(BuilderTest, FailuresNameTheLineAndTagNothing) {
  auto failed = build(std::string(kBase) + "RUN exit 3\n", "local/bad:1");
  ASSERT_FALSE(failed.ok());
  EXPECT_NE(failed.status().message().find("line 4 (RUN)"), std::string::npos)
      << failed.status().message();
  EXPECT_NE(failed.status().message().find("code 3"), std::string::npos);
  EXPECT_FALSE(store_->get("local/bad:1").ok());

  auto escape = build("FROM scratch\nCOPY ../outside /x\n", "local/bad:2");
  ASSERT_FALSE(escape.ok());
  EXPECT_NE(escape.status().message().find("outside the build context"), std::string::npos)
      << escape.status().message();
  auto missing = build("FROM scratch\nCOPY nothing-here /x\n", "local/bad:3");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("line 2 (COPY)"), std::string::npos);
  auto unsupported = build("FROM scratch\nHEALTHCHECK NONE\n", "local/bad:4");
  ASSERT_FALSE(unsupported.ok());
  EXPECT_NE(unsupported.status().message().find("line 2"), std::string::npos);
  // Nothing of the failed builds stays mounted.
  EXPECT_EQ(readWholeFile("/proc/self/mountinfo")->find(dir_), std::string::npos);
}

}  // namespace
}  // namespace skiff::build
