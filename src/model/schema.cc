#include "model/schema.h"

#include <algorithm>
#include <cmath>

#include "model/formats.h"

namespace skiff {
namespace {

bool isIdentifier(std::string_view key) {
  if (key.empty()) return false;
  for (char c : key) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

bool wantsType(const json& schema, std::string_view type) {
  auto t = schema.find("type");
  if (t == schema.end()) return false;
  if (t->is_string()) return t->get_ref<const std::string&>() == type;
  for (const auto& name : *t)
    if (name == type) return true;
  return false;
}

bool matchesType(std::string_view type, const json& value) {
  if (type == "object") return value.is_object();
  if (type == "array") return value.is_array();
  if (type == "string") return value.is_string();
  if (type == "boolean") return value.is_boolean();
  if (type == "integer") return value.is_number_integer();
  if (type == "number") return value.is_number();
  if (type == "null") return value.is_null();
  return false;
}

std::string withArticle(std::string_view type) {
  bool vowel = !type.empty() && std::string_view("aeiou").find(type[0]) != std::string_view::npos;
  return std::string(vowel ? "an " : "a ") + std::string(type);
}

std::string plural(size_t n, const char* word) {
  return std::to_string(n) + " " + word + (n == 1 ? "" : "s");
}

// Unicode characters, not bytes: maxLength counts what the user sees.
size_t characterCount(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s)
    if ((c & 0xC0) != 0x80) ++n;
  return n;
}

size_t editDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::string unknownFieldMessage(const std::string& key, const json& properties) {
  std::string message = "unknown field " + showValue(key);
  std::string best;
  size_t best_distance = 3;
  if (key.size() <= 64) {
    for (auto it = properties.begin(); it != properties.end(); ++it) {
      size_t d = editDistance(key, it.key());
      if (d < best_distance) {
        best_distance = d;
        best = it.key();
      }
    }
  }
  if (!best.empty()) message += " (did you mean " + showValue(best) + "?)";
  return message;
}

// long double holds every 64-bit integer exactly (x86's 64-bit mantissa), so large integers
// compare correctly against the bounds.
long double numberOf(const json& v) {
  if (v.is_number_unsigned()) return static_cast<long double>(v.get<uint64_t>());
  if (v.is_number_integer()) return static_cast<long double>(v.get<int64_t>());
  return static_cast<long double>(v.get<double>());
}

void validateNumber(const json& schema, const json& value, const std::string& path,
                    std::vector<FieldError>& errors) {
  long double v = numberOf(value);
  auto min = schema.find("minimum");
  auto max = schema.find("maximum");
  auto exclusive_min = schema.find("exclusiveMinimum");
  bool below = (min != schema.end() && v < numberOf(*min)) ||
               (exclusive_min != schema.end() && v <= numberOf(*exclusive_min));
  bool above = max != schema.end() && v > numberOf(*max);
  if (!below && !above) return;
  std::string message;
  if (exclusive_min != schema.end()) {
    message = "must be greater than " + showValue(*exclusive_min);
    if (max != schema.end()) message += " and at most " + showValue(*max);
  } else if (min != schema.end() && max != schema.end()) {
    message = "must be between " + showValue(*min) + " and " + showValue(*max);
  } else if (min != schema.end()) {
    message = "must be at least " + showValue(*min);
  } else {
    message = "must be at most " + showValue(*max);
  }
  errors.push_back({path, message + ", got " + showValue(value)});
}

// Returns false if a length rule failed (the format check is then pointless).
bool validateStringLength(const json& schema, const std::string& s, const std::string& path,
                          std::vector<FieldError>& errors) {
  size_t n = characterCount(s);
  if (auto min = schema.find("minLength"); min != schema.end() && n < min->get<size_t>()) {
    errors.push_back({path, min->get<size_t>() == 1
                                ? std::string("must not be empty")
                                : "must be at least " + plural(min->get<size_t>(), "character") +
                                      ", got " + std::to_string(n)});
    return false;
  }
  if (auto max = schema.find("maxLength"); max != schema.end() && n > max->get<size_t>()) {
    errors.push_back({path, "must be at most " + plural(max->get<size_t>(), "character") +
                                ", got " + std::to_string(n)});
    return false;
  }
  return true;
}

}  // namespace

std::string childPath(const std::string& parent, std::string_view key) {
  if (!isIdentifier(key)) return parent + "[" + showValue(std::string(key)) + "]";
  if (parent.empty()) return std::string(key);
  return parent + "." + std::string(key);
}

std::string indexPath(const std::string& parent, size_t index) {
  return parent + "[" + std::to_string(index) + "]";
}

std::string showValue(const json& value) {
  std::string text = value.dump(-1, ' ', false, json::error_handler_t::replace);
  // Messages quote what was sent, not all of a large document.
  if (text.size() > 200) text = text.substr(0, 180) + "...";
  return text;
}

std::string typeName(const json& value) {
  switch (value.type()) {
    case json::value_t::null:
      return "null";
    case json::value_t::boolean:
      return "boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
    case json::value_t::number_float:
      return "number";
    case json::value_t::string:
      return "string";
    case json::value_t::array:
      return "array";
    case json::value_t::object:
      return "object";
    default:
      return "value";
  }
}

void applySchemaDefaults(const json& schema, json& value) {
  if (value.is_number_float() && wantsType(schema, "integer") && !wantsType(schema, "number")) {
    double d = value.get<double>();
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9e15)
      value = static_cast<int64_t>(d);
    return;
  }
  if (value.is_array()) {
    if (auto items = schema.find("items"); items != schema.end())
      for (json& item : value) applySchemaDefaults(*items, item);
    return;
  }
  if (!value.is_object()) return;
  auto properties = schema.find("properties");
  if (properties != schema.end()) {
    for (auto it = properties->begin(); it != properties->end(); ++it) {
      auto present = value.find(it.key());
      if (present != value.end() && present->is_null()) {
        value.erase(present);
        present = value.end();
      }
      if (present == value.end()) {
        auto d = it.value().find("default");
        if (d == it.value().end()) continue;
        present = value.emplace(it.key(), *d).first;
      }
      applySchemaDefaults(it.value(), *present);
    }
  }
  auto additional = schema.find("additionalProperties");
  if (additional != schema.end() && additional->is_object()) {
    for (auto it = value.begin(); it != value.end(); ++it) {
      if (properties != schema.end() && properties->contains(it.key())) continue;
      applySchemaDefaults(*additional, it.value());
    }
  }
}

void validateSchema(const json& schema, const json& value, const std::string& path,
                    std::vector<FieldError>& errors) {
  if (auto type = schema.find("type"); type != schema.end()) {
    std::vector<std::string> types;
    if (type->is_string()) {
      types.push_back(type->get<std::string>());
    } else {
      for (const auto& t : *type) types.push_back(t.get<std::string>());
    }
    bool matched = false;
    for (const auto& t : types) matched = matched || matchesType(t, value);
    if (!matched) {
      std::string message = "must be ";
      for (size_t i = 0; i < types.size(); ++i) {
        if (i > 0) message += i + 1 == types.size() ? " or " : ", ";
        message += withArticle(types[i]);
      }
      // A fractional number where an integer belongs is better shown than named.
      bool fractional = value.is_number_float() &&
                        std::find(types.begin(), types.end(), "integer") != types.end();
      message += ", got " + (fractional ? showValue(value) : typeName(value));
      errors.push_back({path, message});
      return;
    }
  }

  if (auto allowed = schema.find("enum"); allowed != schema.end()) {
    if (std::find(allowed->begin(), allowed->end(), value) == allowed->end()) {
      std::string list;
      for (const auto& a : *allowed) {
        if (!list.empty()) list += ", ";
        list += a.is_string() ? a.get<std::string>() : showValue(a);
      }
      errors.push_back({path, "must be one of " + list + ", got " + showValue(value)});
      return;
    }
  }

  if (value.is_number()) validateNumber(schema, value, path, errors);

  bool length_ok = true;
  if (value.is_string())
    length_ok = validateStringLength(schema, value.get_ref<const std::string&>(), path, errors);
  if (auto format = schema.find("format"); format != schema.end() && length_ok) {
    std::string message = checkFormat(format->get<std::string>(), value);
    if (!message.empty()) errors.push_back({path, std::move(message)});
  }

  if (value.is_array()) {
    size_t n = value.size();
    if (auto min = schema.find("minItems"); min != schema.end() && n < min->get<size_t>())
      errors.push_back({path, "must have at least " + plural(min->get<size_t>(), "item") +
                                  ", got " + std::to_string(n)});
    if (auto max = schema.find("maxItems"); max != schema.end() && n > max->get<size_t>())
      errors.push_back({path, "must have at most " + plural(max->get<size_t>(), "item") + ", got " +
                                  std::to_string(n)});
    if (auto items = schema.find("items"); items != schema.end())
      for (size_t i = 0; i < n; ++i) validateSchema(*items, value[i], indexPath(path, i), errors);
  }

  if (value.is_object()) {
    static const json kNoProperties = json::object();
    auto found = schema.find("properties");
    const json& properties = found != schema.end() ? *found : kNoProperties;
    if (auto required = schema.find("required"); required != schema.end()) {
      for (const auto& name : *required) {
        const auto& key = name.get_ref<const std::string&>();
        if (!value.contains(key)) errors.push_back({childPath(path, key), "is required"});
      }
    }
    auto additional = schema.find("additionalProperties");
    for (auto it = value.begin(); it != value.end(); ++it) {
      std::string child = childPath(path, it.key());
      if (auto p = properties.find(it.key()); p != properties.end()) {
        validateSchema(*p, it.value(), child, errors);
      } else if (additional != schema.end() && additional->is_object()) {
        validateSchema(*additional, it.value(), child, errors);
      } else if (additional != schema.end() && *additional == false) {
        errors.push_back({child, unknownFieldMessage(it.key(), properties)});
      }
    }
  }
}

json toOpenApiSchema(const json& schema) {
  if (!schema.is_object()) return schema;
  json out = json::object();
  for (auto it = schema.begin(); it != schema.end(); ++it) {
    const std::string& key = it.key();
    if (key == "properties") {
      json props = json::object();
      for (auto p = it->begin(); p != it->end(); ++p) props[p.key()] = toOpenApiSchema(*p);
      out[key] = std::move(props);
    } else if (key == "items" || (key == "additionalProperties" && it->is_object())) {
      out[key] = toOpenApiSchema(*it);
    } else if (key == "exclusiveMinimum") {
      out["minimum"] = *it;
      out["exclusiveMinimum"] = true;
    } else {
      out[key] = *it;
    }
  }
  if (out.value("format", "") == "int-or-percent") {
    out.erase("format");
    out["oneOf"] = json::array({{{"type", "integer"}, {"minimum", 0}},
                                {{"type", "string"}, {"pattern", "^(100|[1-9]?[0-9])%$"}}});
    return out;
  }
  if (auto type = out.find("type"); type != out.end() && type->is_array()) {
    // OpenAPI 3.0 has no type lists: give each type its own branch with the keywords that
    // apply to it.
    static const char* kNumeric[] = {"minimum", "maximum", "exclusiveMinimum"};
    static const char* kString[] = {"minLength", "maxLength", "format", "pattern"};
    json branches = json::array();
    for (const auto& t : *type) {
      json branch = {{"type", t}};
      if (t == "integer" || t == "number")
        for (const char* k : kNumeric)
          if (out.contains(k)) branch[k] = out[k];
      if (t == "string")
        for (const char* k : kString)
          if (out.contains(k)) branch[k] = out[k];
      branches.push_back(std::move(branch));
    }
    out.erase("type");
    for (const char* k : kNumeric) out.erase(k);
    for (const char* k : kString) out.erase(k);
    out["oneOf"] = std::move(branches);
  }
  return out;
}

}  // namespace skiff
