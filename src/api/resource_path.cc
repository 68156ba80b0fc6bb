#include "api/resource_path.h"

namespace skiff {

std::vector<std::string> splitPath(std::string_view path) {
  std::vector<std::string> out;
  while (!path.empty()) {
    size_t slash = path.find('/');
    if (slash != 0) out.emplace_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path = path.substr(slash + 1);
  }
  return out;
}

Result<ResourcePath> parseResourcePath(std::string_view path) {
  std::vector<std::string> seg = splitPath(path.substr(kApiPrefix.size()));
  auto unknown = [&] { return notFound("no API resource at " + std::string(path)); };
  if (seg.empty()) return unknown();
  ResourcePath r;
  const KindInfo* first = findKind(seg[0]);
  if (first == nullptr || seg[0] != first->plural) return unknown();
  if (first->scope == Scope::kTenant) {  // /api/v1/applications: across tenants
    if (seg.size() != 1) return unknown();
    r.kind = first;
    return r;
  }
  r.kind = first;
  if (seg.size() == 1) return r;
  r.name = seg[1];
  if (seg.size() == 2) return r;
  if (first->kind != std::string_view("Tenant")) {
    if (seg.size() == 3 && seg[2] == "status") {
      r.status = true;
      return r;
    }
    return unknown();
  }
  if (seg.size() == 3 && seg[2] == "status") {
    r.status = true;
    return r;
  }
  // /api/v1/tenants/{t}/{plural}[/{name}[/status]]
  const KindInfo* inner = findKind(seg[2]);
  if (inner == nullptr || seg[2] != inner->plural || inner->scope != Scope::kTenant)
    return unknown();
  r.kind = inner;
  r.tenant = std::move(r.name);
  r.name.clear();
  if (seg.size() >= 4) r.name = seg[3];
  if (seg.size() == 5 && seg[4] == "status") r.status = true;
  if (seg.size() > 5 || (seg.size() == 5 && !r.status)) return unknown();
  return r;
}

}  // namespace skiff
