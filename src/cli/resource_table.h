// The columns `skiff get` shows for each kind (NAME plus what a user checks first), and the
// readers of the object fields they come from. Constant after construction; thread-compatible.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "model/kinds.h"
#include "model/object.h"
#include "model/well_known.h"

namespace skiff::cli {

class ResourceTable {
 public:
  // `all_tenants` adds a TENANT column first; `wide` adds the kind's extra columns and LABELS.
  ResourceTable(const KindInfo& kind, bool all_tenants, bool wide);

  std::vector<std::string> headers() const;
  std::vector<std::string> row(const json& object, std::chrono::system_clock::time_point now) const;

 private:
  const KindInfo& kind_;
  const bool all_tenants_;
  const bool wide_;
};

// Field readers that tolerate absent or mistyped fields (objects come from the server, but the
// CLI must not crash on a newer or older one).
std::string metadataString(const json& object, const char* field);
std::map<std::string, std::string> metadataMap(const json& object, const char* field);
// The status ("True", "False", "Unknown") of condition `type`, or "-".
std::string conditionStatus(const json& object, const std::string& type);

}  // namespace skiff::cli
