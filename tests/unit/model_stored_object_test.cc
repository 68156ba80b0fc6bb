#include <gtest/gtest.h>

#include <string>

#include "model/object.h"

namespace skiff {
namespace {

Object application(int i) {
  Object o;
  o.kind = "Application";
  o.metadata.name = "app-" + std::to_string(i);
  o.metadata.tenant = "acme";
  o.metadata.labels = {{"team", "t" + std::to_string(i % 7)}};
  o.metadata.resource_version = 100 + i;
  o.spec = {{"components",
             {{{"name", "web"},
               {"image", "registry.test/shop:1." + std::to_string(i)},
               {"replicas", i % 5},
               {"ports", {{{"name", "http"}, {"port", 8080}, {"protocol", "http"}}}},
               {"env", {{{"name", "N"}, {"value", std::string(i % 40, 'x')}}}}}}}};
  o.status = {{"observedGeneration", i}};
  return o;
}

TEST(StoredObjectTest,
     SnapshotsOfACommonKindUnpackToExactlyTheirJsonAndShrinkOnceItHasADictionary) {
  // The dictionary is the process's: which application it is depends on the tests before this
  // one, so the last snapshot is compared with its own text packed alone.
  size_t last_packed = 0, last_alone = 0;
  for (int i = 0; i < 300; ++i) {
    const Object o = application(i);
    const StoredObjectPtr stored = makeStored(o);
    ASSERT_EQ(stored->jsonText(), o.toJson().dump()) << i;
    const Object back = stored->object();
    EXPECT_EQ(back.metadata.name, o.metadata.name);
    EXPECT_EQ(back.spec, o.spec);
    last_packed = stored->packed_json.packedSize();
    last_alone = PackedText(stored->jsonText()).packedSize();
  }
  // Packed against another application's text, one takes less than it takes alone.
  EXPECT_LT(last_packed, last_alone);
}

TEST(StoredObjectTest, SensitiveKindsArePackedAlone) {
  // No secret's text may become a dictionary that outlives it: however many there are, each is
  // packed on its own, so none gets much smaller than the first.
  size_t first_packed = 0, smallest = SIZE_MAX;
  for (int i = 0; i < 300; ++i) {
    Object o;
    o.kind = "Secret";
    o.metadata.name = "s-" + std::to_string(i);
    o.metadata.tenant = "acme";
    o.spec = {{"data", {{"password", "pw-" + std::to_string(i)}}}};
    const StoredObjectPtr stored = makeStored(o);
    ASSERT_EQ(stored->jsonText(), o.toJson().dump());
    if (i == 0) first_packed = stored->packed_json.packedSize();
    smallest = std::min(smallest, stored->packed_json.packedSize());
  }
  EXPECT_GE(smallest + 4, first_packed);
}

}  // namespace
}  // namespace skiff
