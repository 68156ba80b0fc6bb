// Line-based unified diff (the format of `diff -u` and `git diff`), used by `skiff diff` to show
// how applying a file would change live objects. Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace skiff::cli {

struct UnifiedDiffOptions {
  std::string old_label;  // the "--- " header
  std::string new_label;  // the "+++ " header
  int context = 3;        // unchanged lines shown around each change
};

// The unified diff turning `old_text` into `new_text`, or "" when they are equal. Hunk headers
// follow GNU diff: "@@ -start,count +start,count @@", the count omitted when it is 1, and the
// start being the line before the hunk when the count is 0.
std::string unifiedDiff(std::string_view old_text, std::string_view new_text,
                        const UnifiedDiffOptions& options);

}  // namespace skiff::cli
