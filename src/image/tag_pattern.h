// TagPattern: which tags of an image an application follows for auto-deploy, and which of them
// is the newest. A pattern is a glob ("1.4.*", "release-*": `*` matches any run of characters
// but '/') or a semver range (">=1.4.0 <2", "^1.4", "~1.4.2", "1.x"), both matched against the
// tag with an optional leading "v". The newest of several matching tags is the highest version
// (tags that are no version sort below those that are, then by name). Pure; thread-safe.
#pragma once

#include <compare>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace skiff::image {

// A version as semver orders it: major.minor.patch, then a pre-release sorts before none.
struct Version {
  int64_t major = 0, minor = 0, patch = 0;
  std::string prerelease;
  std::strong_ordering operator<=>(const Version& other) const;
  bool operator==(const Version&) const = default;
};
// "1.4.2", "v1.4", "1.4.2-rc.1": missing parts are 0; nullopt when the tag is no version.
std::optional<Version> parseVersion(const std::string& tag);

class TagPattern {
 public:
  // kInvalid naming what is wrong with `pattern`.
  static Result<TagPattern> parse(const std::string& pattern);

  bool matches(const std::string& tag) const;
  // The newest of `tags` that match; nullopt when none does.
  std::optional<std::string> newest(const std::vector<std::string>& tags) const;
  // Whether `tag` is newer than `than` by the order newest() uses.
  static bool newer(const std::string& tag, const std::string& than);

 private:
  struct Comparator {
    std::string op;  // ">=", ">", "<=", "<", "="
    Version version;
  };
  std::string glob_;                     // when a glob
  std::vector<Comparator> comparators_;  // when a range: all must hold
};

}  // namespace skiff::image
