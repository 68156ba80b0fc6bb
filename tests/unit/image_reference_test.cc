// Image references: Docker's normalisation and the errors for malformed ones; digests.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "image/digest.h"
#include "image/reference.h"
#include "image/registry_client.h"

namespace skiff::image {
namespace {

Reference parsed(const std::string& text) {
  auto ref = parseReference(text);
  EXPECT_TRUE(ref.ok()) << text << ": " << ref.status().toString();
  return ref.ok() ? *ref : Reference{};
}

TEST(ImageReference, NormalisesLikeDocker) {
  EXPECT_EQ(parsed("busybox").str(), "docker.io/library/busybox:latest");
  EXPECT_EQ(parsed("busybox:1.36").str(), "docker.io/library/busybox:1.36");
  EXPECT_EQ(parsed("acme/web").str(), "docker.io/acme/web:latest");
  EXPECT_EQ(parsed("docker.io/busybox").str(), "docker.io/library/busybox:latest");
  EXPECT_EQ(parsed("index.docker.io/library/busybox").str(), "docker.io/library/busybox:latest");
  EXPECT_EQ(parsed("localhost/web").str(), "localhost/web:latest");
  EXPECT_EQ(parsed("localhost:5000/web").registry, "localhost:5000");

  Reference r = parsed("registry.local:5000/acme/team/web:1.4.2");
  EXPECT_EQ(r.registry, "registry.local:5000");
  EXPECT_EQ(r.repository, "acme/team/web");
  EXPECT_EQ(r.tag, "1.4.2");
  EXPECT_FALSE(r.digest);
  EXPECT_EQ(r.apiHost(), "registry.local:5000");
  EXPECT_EQ(parsed("busybox").apiHost(), "registry-1.docker.io");

  const std::string hex(64, 'a');
  Reference pinned = parsed("127.0.0.1:5000/web@sha256:" + hex);
  EXPECT_EQ(pinned.tag, "");
  ASSERT_TRUE(pinned.digest);
  EXPECT_EQ(pinned.manifestKey(), "sha256:" + hex);
  EXPECT_EQ(pinned.str(), "127.0.0.1:5000/web@sha256:" + hex);
  EXPECT_EQ(parsed("web:v1@sha256:" + hex).str(), "docker.io/library/web:v1@sha256:" + hex);
  EXPECT_EQ(parsed("[::1]:5000/a/b:t").registry, "[::1]:5000");
  EXPECT_EQ(parsed("acme/a.b-c__d---e").repository, "acme/a.b-c__d---e");
  EXPECT_EQ(parsed("a.b/c").registry, "a.b");  // a first component with a dot is a host
}

TEST(ImageReference, RefusesMalformedReferencesNamingThem) {
  for (const std::string& bad : std::vector<std::string>{
           "", "Busybox", "busybox:", "busybox:-x", "busybox@sha256:abc", "busybox@md5:abc",
           "host:port/web", "a//b", "/web", "web/", "registry.local:5000/",
           "web:" + std::string(129, 'a'), "a..b", "a_-b", "-web"}) {
    auto ref = parseReference(bad);
    EXPECT_FALSE(ref.ok()) << bad << " parsed as " << (ref.ok() ? ref->str() : "");
    if (!ref.ok() && !bad.empty()) {
      EXPECT_NE(ref.status().message().find("\"" + bad + "\""), std::string::npos)
          << ref.status().message();
    }
  }
  EXPECT_NE(parseReference("Busybox").status().message().find("lowercase"), std::string::npos);
}

TEST(ImageDigest, ParsesAndHashes) {
  Digest d = Digest::of("hello");
  EXPECT_EQ(d.str(), "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
  auto parsed = Digest::parse(d.str());
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(*parsed, d);
  Sha256 streaming;
  streaming.update("he");
  streaming.update("llo");
  EXPECT_EQ(streaming.finish(), d);
  EXPECT_FALSE(Digest::parse("sha256:" + std::string(64, 'A')).ok());
  EXPECT_FALSE(Digest::parse("sha512:" + std::string(64, 'a')).ok());
  EXPECT_FALSE(Digest::parse("sha256:" + std::string(63, 'a')).ok());
}

TEST(ImageRegistry, PlainHttpOnlyForLoopbackAndListedRegistries) {
  EXPECT_TRUE(isInsecureRegistry("127.0.0.1:5000", {}));
  EXPECT_TRUE(isInsecureRegistry("localhost:5000", {}));
  EXPECT_TRUE(isInsecureRegistry("[::1]:5000", {}));
  EXPECT_FALSE(isInsecureRegistry("registry.local:5000", {}));
  EXPECT_FALSE(isInsecureRegistry("docker.io", {}));
  EXPECT_TRUE(isInsecureRegistry("registry.local:5000", {"registry.local:5000"}));
  EXPECT_TRUE(isInsecureRegistry("registry.local:5000", {"registry.local"}));
  EXPECT_FALSE(isInsecureRegistry("registry.local:5000", {"registry.local:6000"}));
  // A DNS name that starts like a loopback address is not one.
  EXPECT_FALSE(isInsecureRegistry("127.0.0.1.evil.example:5000", {}));
}

TEST(ImageRegistry, ReadsErrorCodes) {
  EXPECT_EQ(registryErrorCode(R"({"errors":[{"code":"MANIFEST_UNKNOWN","message":"x"}]})"),
            "MANIFEST_UNKNOWN");
  EXPECT_EQ(registryErrorCode("not json"), "");
  EXPECT_EQ(registryErrorCode(R"({"errors":[]})"), "");
}

}  // namespace
}  // namespace skiff::image
