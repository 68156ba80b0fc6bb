#include "auth/config_file.h"

#include "common/files.h"
#include "model/codec.h"

namespace skiff {

ConfigFile::ConfigFile(const json& doc, std::string base_dir, std::string what,
                       std::vector<std::string> fields)
    : doc_(doc),
      base_dir_(std::move(base_dir)),
      what_(std::move(what)),
      fields_(std::move(fields)) {}

Result<json> ConfigFile::parse(std::string_view text, const std::string& what) {
  auto doc = decodeDocument(text, "application/yaml");
  if (!doc.ok())
    return Status(StatusCode::kInvalid,
                  "the " + what + " configuration is not valid YAML: " + doc.status().message());
  return doc;
}

Result<std::string> ConfigFile::readText(const std::string& path, const std::string& what) {
  auto text = readWholeFile(path);
  if (!text.ok())
    return Status(StatusCode::kInvalid, "cannot read the " + what + " configuration " + path +
                                            ": " + text.status().message());
  return text;
}

Status ConfigFile::checkFields(const std::string& hint) {
  if (!doc_.is_object())
    return Status(StatusCode::kInvalid,
                  "the " + what_ + " configuration must be a mapping of fields such as " + hint);
  for (auto& [key, value] : doc_.items()) {
    if (std::find(fields_.begin(), fields_.end(), key) != fields_.end()) continue;
    std::string known;
    for (const auto& f : fields_) known += (known.empty() ? "" : ", ") + f;
    fail(key, "is not a field of the " + what_ + " configuration; the fields are " + known);
  }
  return Status::ok();
}

Status ConfigFile::verdict() {
  if (errors_.empty()) return Status::ok();
  return Status(StatusCode::kInvalid, "the " + what_ + " configuration is invalid",
                std::move(errors_));
}

void ConfigFile::fail(const std::string& path, std::string message) {
  errors_.push_back({path, std::move(message)});
}

std::optional<std::string> ConfigFile::string(const char* field) {
  auto it = doc_.find(field);
  if (it == doc_.end() || it->is_null()) return std::nullopt;
  if (!it->is_string()) {
    fail(field, "must be a string, got " + it->dump());
    return std::nullopt;
  }
  return it->get<std::string>();
}

bool ConfigFile::present(const char* field) const {
  auto it = doc_.find(field);
  return it != doc_.end() && !it->is_null();
}

std::string ConfigFile::resolve(const std::string& path) const {
  if (path.empty() || path[0] == '/' || base_dir_.empty()) return path;
  return base_dir_ + "/" + path;
}

}  // namespace skiff
