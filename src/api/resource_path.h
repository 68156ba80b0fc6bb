// ResourcePath: what a /api/v1/... path of the resource API addresses (a kind, a tenant, a
// name, the status subresource), parsed once for the handler that serves it and for the
// gatekeeper that authorises it. Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "model/kinds.h"

namespace skiff {

inline constexpr std::string_view kApiPrefix = "/api/v1/";

struct ResourcePath {
  const KindInfo* kind = nullptr;
  std::string tenant;   // for tenant-scoped kinds; empty for a cross-tenant list
  std::string name;     // empty for a collection
  bool status = false;  // the status subresource
};

// The path's segments after the leading slash, empty ones dropped: "/a//b/" -> {"a", "b"}.
std::vector<std::string> splitPath(std::string_view path);

// kNotFound for a path that names no resource:
//   /api/v1/{platform plural}[/{name}[/status]]
//   /api/v1/{tenant-scoped plural}                       (across tenants)
//   /api/v1/tenants/{t}/{tenant-scoped plural}[/{name}[/status]]
Result<ResourcePath> parseResourcePath(std::string_view path);

}  // namespace skiff
