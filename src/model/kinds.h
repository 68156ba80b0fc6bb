// The resource kinds the API serves, and how each is addressed. Constant data; thread-safe.
#pragma once

#include <string_view>
#include <vector>

namespace skiff {

enum class Scope { kPlatform, kTenant };

struct KindInfo {
  const char* kind;        // "Application"
  const char* plural;      // "applications": the URL segment
  const char* short_name;  // "app": accepted by the CLI
  Scope scope;
  // False for kinds only Skiff itself writes (Revision): the API serves them read-only.
  bool api_writable;
};

const std::vector<KindInfo>& allKinds();
// Finds a kind by its name, plural or short name, case-insensitively; nullptr if unknown.
const KindInfo* findKind(std::string_view name);

}  // namespace skiff
