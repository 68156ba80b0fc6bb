#include "cli/resource_table.h"

#include <cstdio>
#include <string_view>

#include "cli/output.h"

namespace skiff::cli {

namespace {

bool is(const KindInfo& kind, std::string_view name) { return kind.kind == name; }

const json& field(const json& object, const char* section, const char* name) {
  static const json kNull;
  auto s = object.find(section);
  if (s == object.end() || !s->is_object()) return kNull;
  auto f = s->find(name);
  return f == s->end() ? kNull : *f;
}

std::string componentImages(const json& app) {
  const json& components = field(app, "spec", "components");
  if (!components.is_array()) return "-";
  std::string out;
  for (const auto& c : components) {
    if (!c.is_object() || !c.contains("image") || !c["image"].is_string()) continue;
    if (!out.empty()) out += ',';
    out += c["image"].get<std::string>();
  }
  return out.empty() ? "-" : out;
}

}  // namespace

std::string metadataString(const json& object, const char* f) {
  const json& v = field(object, "metadata", f);
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number()) return v.dump();
  return "";
}

std::map<std::string, std::string> metadataMap(const json& object, const char* f) {
  std::map<std::string, std::string> out;
  const json& v = field(object, "metadata", f);
  if (!v.is_object()) return out;
  for (auto it = v.begin(); it != v.end(); ++it)
    out[it.key()] = it->is_string() ? it->get<std::string>() : it->dump();
  return out;
}

// 1536 -> "1.5Ki", as Kubernetes writes quantities.
std::string bytesText(int64_t bytes) {
  const char* units[] = {"", "Ki", "Mi", "Gi", "Ti"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f%s" : "%.1f%s", v, units[u]);
  return buf;
}

std::string conditionStatus(const json& object, const std::string& type) {
  auto s = object.find("status");
  if (s == object.end() || !s->is_object()) return "-";
  const json* c = findCondition(*s, type);
  return c ? cellText(c->value("status", json())) : "-";
}

ResourceTable::ResourceTable(const KindInfo& kind, bool all_tenants, bool wide)
    : kind_(kind), all_tenants_(all_tenants && kind.scope == Scope::kTenant), wide_(wide) {}

std::vector<std::string> ResourceTable::headers() const {
  std::vector<std::string> h;
  if (all_tenants_) h.push_back("TENANT");
  h.push_back("NAME");
  if (is(kind_, "Application")) {
    h.insert(h.end(), {"COMPONENTS", "REVISION", "READY", "AGE"});
    if (wide_) h.push_back("IMAGES");
  } else if (is(kind_, "Revision")) {
    h.insert(h.end(), {"APPLICATION", "REVISION", "AGE"});
    if (wide_) h.push_back("CHANGE-CAUSE");
  } else if (is(kind_, "Tenant")) {
    h.insert(h.end(), {"DISPLAY NAME", "AGE"});
  } else if (is(kind_, "Instance")) {
    h.insert(h.end(), {"APPLICATION", "COMPONENT", "REVISION", "PHASE", "READY", "AGE"});
    if (wide_) h.insert(h.end(), {"ADDRESS", "DRIVER"});
  } else if (is(kind_, "Volume")) {
    h.insert(h.end(), {"APPLICATION", "COMPONENT", "SIZE", "USED", "ENFORCED", "AGE"});
  } else {
    h.push_back("AGE");
  }
  if (wide_) h.push_back("LABELS");
  return h;
}

std::vector<std::string> ResourceTable::row(const json& object,
                                            std::chrono::system_clock::time_point now) const {
  std::vector<std::string> r;
  if (all_tenants_) r.push_back(metadataString(object, "tenant"));
  r.push_back(metadataString(object, "name"));
  const std::string age = ageOf(metadataString(object, "createdAt"), now);
  if (is(kind_, "Application")) {
    const json& components = field(object, "spec", "components");
    r.push_back(std::to_string(components.is_array() ? components.size() : 0));
    r.push_back(cellText(field(object, "status", "latestRevision")));
    r.push_back(conditionStatus(object, "Ready"));
    r.push_back(age);
    if (wide_) r.push_back(componentImages(object));
  } else if (is(kind_, "Revision")) {
    r.push_back(cellText(field(object, "spec", "application")));
    r.push_back(cellText(field(object, "spec", "revision")));
    r.push_back(age);
    if (wide_) {
      auto annotations = metadataMap(object, "annotations");
      auto cause = annotations.find(kChangeCauseAnnotation);
      r.push_back(cause == annotations.end() ? "<none>" : cause->second);
    }
  } else if (is(kind_, "Tenant")) {
    r.push_back(cellText(field(object, "spec", "displayName")));
    r.push_back(age);
  } else if (is(kind_, "Instance")) {
    json application = field(object, "spec", "application");
    if (application.is_null()) {
      auto labels = metadataMap(object, "labels");
      if (auto it = labels.find(kApplicationLabel); it != labels.end()) application = it->second;
    }
    r.push_back(cellText(application));
    r.push_back(cellText(field(object, "spec", "component")));
    r.push_back(cellText(field(object, "spec", "revision")));
    r.push_back(cellText(field(object, "status", "phase")));
    std::string ready = conditionStatus(object, "Ready");
    if (ready == "-" && field(object, "status", "ready").is_boolean())
      ready = field(object, "status", "ready").get<bool>() ? "True" : "False";
    r.push_back(ready);
    r.push_back(age);
    if (wide_) {
      r.push_back(cellText(field(object, "status", "address")));
      r.push_back(cellText(field(object, "status", "driver")));
    }
  } else if (is(kind_, "Volume")) {
    r.push_back(cellText(field(object, "spec", "application")));
    r.push_back(cellText(field(object, "spec", "component")));
    r.push_back(cellText(field(object, "spec", "size")));
    const json& used = field(object, "status", "usedBytes");
    r.push_back(used.is_number() ? bytesText(used.get<int64_t>()) : "-");
    r.push_back(cellText(field(object, "status", "sizeEnforced")));
    r.push_back(age);
  } else {
    r.push_back(age);
  }
  if (wide_) r.push_back(formatLabels(metadataMap(object, "labels")));
  return r;
}

}  // namespace skiff::cli
