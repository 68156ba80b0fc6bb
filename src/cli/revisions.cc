#include "cli/revisions.h"

#include <algorithm>

#include "cli/resource_table.h"

namespace skiff::cli {

int64_t revisionNumber(const json& revision) {
  auto spec = revision.find("spec");
  if (spec == revision.end() || !spec->is_object()) return 0;
  const json n = spec->value("revision", json());
  return n.is_number_integer() ? n.get<int64_t>() : 0;
}

std::string changeCause(const json& revision) {
  auto annotations = metadataMap(revision, "annotations");
  auto it = annotations.find(kChangeCauseAnnotation);
  return it == annotations.end() || it->second.empty() ? "<none>" : it->second;
}

std::string changedBy(const json& revision) {
  auto annotations = metadataMap(revision, "annotations");
  auto it = annotations.find(kChangedByAnnotation);
  return it == annotations.end() || it->second.empty() ? "<unknown>" : it->second;
}

Result<std::vector<json>> applicationRevisions(ApiClient& client, const std::string& tenant,
                                               const std::string& application) {
  ListQuery query;
  query.kind = findKind("Revision");
  query.tenant = tenant;
  query.label_selector = std::string(kApplicationLabel) + "=" + application;
  auto listed = client.list(query);
  if (!listed.ok()) return listed.status();
  std::vector<json> out;
  for (auto& item : listed->value("items", json::array())) out.push_back(item);
  std::stable_sort(out.begin(), out.end(), [](const json& a, const json& b) {
    return revisionNumber(a) < revisionNumber(b);
  });
  return out;
}

}  // namespace skiff::cli
