#include <gtest/gtest.h>

#include <random>
#include <string>
#include <thread>
#include <vector>

#include "common/packed_text.h"

namespace skiff {
namespace {

std::string jsonLike(int i) {
  std::string text = R"({"kind":"Application","metadata":{"name":"app-)" + std::to_string(i) +
                     R"("},"spec":{"components":[)";
  for (int c = 0; c < 20; ++c)
    text += R"({"name":"c)" + std::to_string(c) +
            R"(","replicas":1,"ports":[{"port":8080,"protocol":"http"}]},)";
  text += "{}]}}";
  return text;
}

TEST(PackedTextTest, RepetitiveTextIsHeldInLessThanHalfItsSizeAndUnpacksExactly) {
  const std::string text = jsonLike(7);
  const PackedText packed(text);
  EXPECT_EQ(packed.size(), text.size());
  EXPECT_LT(packed.packedSize(), text.size() / 2);
  EXPECT_EQ(packed.unpack(), text);
}

TEST(PackedTextTest, TextThatDoesNotShrinkIsHeldAsItIs) {
  std::mt19937 random(42);
  std::string noise(4096, '\0');
  for (char& c : noise) c = static_cast<char>(random());
  const PackedText packed(noise);
  EXPECT_EQ(packed.packedSize(), noise.size());
  EXPECT_EQ(packed.unpack(), noise);

  const PackedText empty{std::string_view()};
  EXPECT_TRUE(empty.empty());
  EXPECT_EQ(empty.unpack(), "");
  EXPECT_TRUE(PackedText().unpack().empty());
}

TEST(PackedTextTest, ATextLargerThanTheKeptScratchPacksAndTheThreadGoesOnPacking) {
  std::string large;
  for (int i = 0; large.size() < (1 << 20); ++i) large += jsonLike(i);
  const PackedText packed_large(large);
  EXPECT_EQ(packed_large.unpack(), large);
  const std::string small = jsonLike(3);
  EXPECT_EQ(PackedText(small).unpack(), small);
}

TEST(PackedTextTest, AppendToAddsAfterWhatIsThere) {
  const std::string a = jsonLike(1), b = jsonLike(2);
  std::string out = "[";
  PackedText(a).appendTo(out);
  out += ',';
  PackedText(b).appendTo(out);
  EXPECT_EQ(out, "[" + a + "," + b);
}

TEST(PackedTextTest, ThreadsPackAndUnpackAtOnce) {
  // Each thread has its own zstd contexts; one packed text is read by every thread.
  const std::string shared_text = jsonLike(0);
  const PackedText shared(shared_text);
  std::vector<std::thread> threads;
  std::vector<int> mismatches(4, 0);
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 500; ++i) {
        const std::string own = jsonLike(t * 1000 + i);
        if (PackedText(own).unpack() != own) ++mismatches[t];
        if (shared.unpack() != shared_text) ++mismatches[t];
      }
    });
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(mismatches, std::vector<int>(4, 0));
}

}  // namespace
}  // namespace skiff
