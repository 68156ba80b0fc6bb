// The platform's own logs as files: addPlatformLogFile() makes the process's default spdlog
// logger also write each message into DIR/current.log, as "<time> <stdout|stderr> <level>
// <message>" (the form LogFileWriter gives instances' lines; warnings and errors as stderr),
// rotated the same way. So `skiff server` (DATA/logs/server) and its gateway
// (DATA/gateway/logs) are searched like instances (LocalLogSource::searchPlatform()).
//
// Call it once, at start, before other threads log: spdlog's list of sinks is not guarded.
// The sink itself is thread-safe.
#pragma once

#include <string>

#include "common/status.h"
#include "runtime/local/driver.h"

namespace skiff::runtime {

// 10 MiB files, 5 of them: the newest 50 MiB of a platform component's log.
inline constexpr LogLimits kPlatformLogLimits{10 << 20, 5};

Status addPlatformLogFile(const std::string& dir, LogLimits limits = kPlatformLogLimits);

}  // namespace skiff::runtime
