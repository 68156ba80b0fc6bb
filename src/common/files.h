// Small file helpers shared by the processes that keep state on disk (server, gateway, shims).
// Thread-safe (they share nothing).
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>

#include "common/status.h"

namespace skiff {

// Replaces `path` with `contents` so that readers see the old or the new file, never a mix,
// also after a machine crash (temporary file, fsync, rename, fsync of the directory). The file
// has `mode` from its creation on: 0600 keeps secrets from ever being readable by others.
Status writeFileAtomically(const std::string& path, std::string_view contents, mode_t mode = 0644);

// The whole file; kNotFound if it does not exist.
Result<std::string> readWholeFile(const std::string& path);

// pread() until `n` bytes, the end of the file or an error: the bytes read, or -1 (errno set)
// when an error came before any byte.
ssize_t preadFully(int fd, char* buf, size_t n, off_t at);

}  // namespace skiff
