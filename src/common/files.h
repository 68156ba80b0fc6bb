// Small file helpers shared by the processes that keep state on disk (server, gateway, shims).
// Thread-safe (they share nothing).
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>

#include "common/status.h"

namespace skiff {

// What a replaced file promises after the machine crashes.
enum class Durability {
  kDurable,  // the old or the new contents (fsync of the file, then of its directory)
  // Nothing: for files about processes that a machine crash ends anyway (a running instance's
  // bundle and state), where two fsyncs per file would be most of their cost.
  kVolatile,
};

// Replaces `path` with `contents` so that readers see the old or the new file, never a mix
// (temporary file, rename). The file has `mode` from its creation on: 0600 keeps secrets from
// ever being readable by others.
Status writeFileAtomically(const std::string& path, std::string_view contents, mode_t mode = 0644,
                           Durability durability = Durability::kDurable);

// The whole file; kNotFound if it does not exist.
Result<std::string> readWholeFile(const std::string& path);

// pread() until `n` bytes, the end of the file or an error: the bytes read, or -1 (errno set)
// when an error came before any byte.
ssize_t preadFully(int fd, char* buf, size_t n, off_t at);

}  // namespace skiff
