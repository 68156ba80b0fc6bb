// libFuzzer harness for everything that reads user documents: decodeDocument (JSON and YAML),
// decodeDocuments, admission of every kind, and the YAML output round trip
// (decodeDocument(toYaml(x)) == x). Built and run by scripts/fuzz.
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "model/codec.h"
#include "model/kinds.h"
#include "model/validation.h"

namespace {

void admitAsEveryKind(const skiff::json& doc) {
  for (const auto& kind : skiff::allKinds()) {
    std::string tenant = kind.scope == skiff::Scope::kTenant ? "acme" : "";
    auto object = skiff::admitObject(doc, {kind.kind, tenant});
    if (object.ok()) {
      // An admitted object must serialize (valid UTF-8) and admit again unchanged: defaults
      // are idempotent.
      skiff::json again = object->toJson();
      std::string text = again.dump();
      auto second = skiff::admitObject(again, {kind.kind, tenant});
      if (!second.ok() || second->spec != object->spec) {
        std::fprintf(stderr, "re-admission changed the object:\n%s\n", text.c_str());
        std::abort();
      }
    }
  }
}

void checkRoundTrip(const skiff::json& value) {
  std::string yaml = skiff::toYaml(value);
  auto back = skiff::decodeDocument(yaml, "application/yaml");
  if (!back.ok() || *back != value) {
    std::fprintf(stderr, "YAML round trip failed\nvalue: %s\nyaml:\n%s\nerror: %s\nback: %s\n",
                 value.dump(-1, ' ', false, skiff::json::error_handler_t::replace).c_str(),
                 yaml.c_str(), back.status().toString().c_str(),
                 back.ok()
                     ? back->dump(-1, ' ', false, skiff::json::error_handler_t::replace).c_str()
                     : "-");
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  for (std::string_view type : {"application/json", "application/yaml"}) {
    auto doc = skiff::decodeDocument(text, type);
    if (!doc.ok()) continue;
    (void)doc->dump();  // throws (and so crashes the fuzzer) on invalid UTF-8
    checkRoundTrip(*doc);
    admitAsEveryKind(*doc);
  }
  auto docs = skiff::decodeDocuments(text);
  if (docs.ok())
    for (const auto& doc : *docs) checkRoundTrip(doc);
  return 0;
}
