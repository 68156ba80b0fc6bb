#include <gtest/gtest.h>

#include <string>
#include <vector>

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

TEST(StoredObjectTest, ReadersOfTheSameSnapshotShareOneParse) {
  const StoredObjectPtr first = makeStored(application(1));
  const StoredObjectPtr second = makeStored(application(2));
  const auto parsed = parsedObject(first);
  EXPECT_EQ(parsed->spec, application(1).spec);
  EXPECT_EQ(parsed->metadata.labels, application(1).metadata.labels);
  // The same snapshot: the same parse. Another snapshot: its own.
  EXPECT_EQ(parsedObject(first).get(), parsed.get());
  EXPECT_EQ(parsedObject(second)->metadata.name, "app-2");
  EXPECT_NE(parsedObject(second).get(), parsed.get());
  // The ring holds a few dozen: once many other snapshots were parsed, the first is parsed again,
  // to the same object.
  std::vector<StoredObjectPtr> others;
  for (int i = 0; i < 100; ++i) {
    others.push_back(makeStored(application(i)));
    (void)parsedObject(others.back());
  }
  const auto again = parsedObject(first);
  EXPECT_NE(again.get(), parsed.get());
  EXPECT_EQ(again->spec, parsed->spec);
}

TEST(StoredObjectTest, AWrittenObjectIsKeptAsAParseOfItsTextWouldGiveIt) {
  Object o = application(3);
  o.status = json();  // null: its text reads back as an empty object
  o.spec["count"] = 7u;
  const StoredObjectPtr stored = makeStored(o);
  const auto kept = parsedObject(stored);
  const Object parsed = stored->object();
  EXPECT_EQ(kept->spec, parsed.spec);
  EXPECT_EQ(kept->status, parsed.status);
  EXPECT_TRUE(kept->status.is_object());
  EXPECT_EQ(kept->metadata.labels, parsed.metadata.labels);
  EXPECT_EQ(kept->metadata.resource_version, parsed.metadata.resource_version);
}

TEST(StoredObjectTest, AWrittenSnapshotsReadersGetTheObjectWrittenWithoutAParse) {
  Object o = application(4);
  o.spec["count"] = 7;  // a signed integer: a parse of the text would read it as unsigned
  const StoredObjectPtr stored = makeStored(o);
  const auto kept = parsedObject(stored);
  EXPECT_TRUE(kept->spec["count"].is_number_integer() && !kept->spec["count"].is_number_unsigned())
      << "parsed from the text rather than kept from the write";
  EXPECT_TRUE(stored->object().spec["count"].is_number_unsigned());
  EXPECT_EQ(kept->spec, stored->object().spec);  // equal all the same
}

TEST(StoredObjectTest, SensitiveKindsAreNotKeptParsed) {
  Object o;
  o.kind = "Secret";
  o.metadata.name = "db";
  o.metadata.tenant = "acme";
  o.spec = {{"data", {{"password", "pw"}}}};
  const StoredObjectPtr stored = makeStored(o);
  const auto parsed = parsedObject(stored);
  EXPECT_EQ(parsed->spec, o.spec);
  // Nothing keeps it: each reader parses its own.
  EXPECT_NE(parsedObject(stored).get(), parsed.get());
}

}  // namespace
}  // namespace skiff
