// ConfigFile: reading the YAML configuration of a sign-in source (auth/ldap.h, auth/oidc.h)
// with errors that name each field. A source's reader derives from it and adds its fields'
// rules; unknown fields are refused listing the known ones, relative paths in the file are
// taken from the file's directory. Not thread-safe; one reader per file.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "model/object.h"

namespace skiff {

class ConfigFile {
 public:
  // `what` names the configuration in messages ("LDAP"); `fields` are its known fields.
  ConfigFile(const json& doc, std::string base_dir, std::string what,
             std::vector<std::string> fields);

  // The document as YAML; kInvalid naming `what` when it is not.
  static Result<json> parse(std::string_view text, const std::string& what);

  // Reads `path` and hands its text and directory to `parse` (a parseXConfig function);
  // errors say which file.
  template <class Config, class Parse>
  static Result<Config> load(const std::string& path, const std::string& what, Parse parse) {
    auto text = readText(path, what);
    if (!text.ok()) return text.status();
    const size_t slash = path.rfind('/');
    Result<Config> config =
        parse(*text, slash == std::string::npos ? std::string(".") : path.substr(0, slash));
    if (!config.ok())
      return Status(config.status().code(), config.status().message() + " (" + path + ")",
                    config.status().fields());
    return config;
  }

 protected:
  // kInvalid unless the document is a mapping (`hint` says of what); records unknown fields.
  Status checkFields(const std::string& hint);
  // OK, or kInvalid "the X configuration is invalid" with every recorded error.
  Status verdict();

  void fail(const std::string& path, std::string message);
  // The string at `field`; nullopt when absent or (with an error recorded) not a string.
  std::optional<std::string> string(const char* field);
  bool present(const char* field) const;
  // `path` relative to the configuration file's directory.
  std::string resolve(const std::string& path) const;

  const json& doc_;

 private:
  static Result<std::string> readText(const std::string& path, const std::string& what);

  const std::string base_dir_;
  const std::string what_;
  const std::vector<std::string> fields_;
  std::vector<FieldError> errors_;
};

}  // namespace skiff
