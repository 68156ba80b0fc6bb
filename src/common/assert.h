// SKIFF_ASSERT: for states that cannot happen unless Skiff itself is wrong. It aborts with a
// clear message in every build type. Never use it for anything user input can trigger.
#pragma once

#include <string>

namespace skiff {
[[noreturn]] void assertFailed(const char* file, int line, const char* expr,
                               const std::string& message);
}  // namespace skiff

#define SKIFF_ASSERT(cond, message)                                           \
  do {                                                                        \
    if (!(cond)) ::skiff::assertFailed(__FILE__, __LINE__, #cond, (message)); \
  } while (0)
