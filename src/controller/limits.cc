#include "controller/limits.h"

#include "model/formats.h"
#include "model/schema.h"

namespace skiff {

namespace {

using nlohmann::json;

// The request and the limit a component's resources give for one resource (cpu or memory);
// the shorthand {cpu: X} sets both.
struct Amounts {
  const json* request = nullptr;
  const json* limit = nullptr;
};

Amounts amountsOf(const json& resources, const char* resource) {
  Amounts a;
  if (auto it = resources.find(resource); it != resources.end()) a.request = a.limit = &*it;
  for (auto [field, out] : {std::pair{"requests", &a.request}, std::pair{"limits", &a.limit}}) {
    auto section = resources.find(field);
    if (section == resources.end() || !section->is_object()) continue;
    if (auto it = section->find(resource); it != section->end()) *out = &*it;
  }
  return a;
}

std::optional<int64_t> amount(const char* resource, const json& value) {
  return std::string_view(resource) == "cpu" ? parseCpuMillis(value) : parseMemoryBytes(value);
}

}  // namespace

Status applyTenantLimits(const json& tenant_spec, const std::string& tenant, json& app_spec) {
  const json limits = tenant_spec.value("limits", json::object());
  if (!limits.is_object() || limits.empty()) return Status::ok();
  const json defaults[] = {limits.value("defaultRequest", json::object()),
                           limits.value("default", json::object())};
  const json max = limits.value("max", json::object());
  std::vector<FieldError> errors;
  json& components = app_spec["components"];
  for (size_t i = 0; i < components.size(); ++i) {
    json& component = components[i];
    json& resources = component["resources"];
    if (!resources.is_object()) resources = json::object();
    const std::string path = indexPath("spec.components", i) + ".resources";
    for (const char* resource : {"cpu", "memory"}) {
      Amounts have = amountsOf(resources, resource);
      // The shorthand stands for both; otherwise fill each missing side from the defaults.
      if (have.request == nullptr && defaults[0].contains(resource))
        resources["requests"][resource] = defaults[0][resource];
      if (have.limit == nullptr && defaults[1].contains(resource))
        resources["limits"][resource] = defaults[1][resource];
      have = amountsOf(resources, resource);
      if (!max.contains(resource)) continue;
      const json* given = have.limit != nullptr ? have.limit : have.request;
      if (given == nullptr) continue;
      auto ceiling = amount(resource, max[resource]);
      auto wanted = amount(resource, *given);
      if (ceiling && wanted && *wanted > *ceiling)
        errors.push_back(
            {path + (have.limit != nullptr && have.limit != have.request ? ".limits." : ".") +
                 resource,
             "is " + showValue(*given) + ", above the most an instance may have in tenant \"" +
                 tenant + "\" (spec.limits.max." + resource + ": " + showValue(max[resource]) +
                 ")"});
    }
    if (resources.empty()) component.erase("resources");
  }
  if (errors.empty()) return Status::ok();
  return Status(StatusCode::kInvalid,
                "the application asks for more than tenant \"" + tenant + "\" allows per instance",
                std::move(errors));
}

}  // namespace skiff
