// The string formats of the application model (DNS names, durations, quantities, cron
// schedules, image references, ...): checkers used by the schema engine (model/schema.h) and
// parsers for the code that acts on admitted objects (controllers, runtimes), so both read a
// value the same way. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace skiff {

// Checks `value` against the format named `format` (a schema's "format" keyword). Returns an
// empty string when it conforms, else the complete message for the user, e.g.
//   must be a duration like "500ms", "30s", "5m" or "1h30m", got "5 min"
// Unknown format names always conform: formats only narrow a type. Formats apply to strings;
// the quantities also accept non-negative numbers and int-or-percent accepts integers.
std::string checkFormat(std::string_view format, const nlohmann::json& value);
// True if `format` is one checkFormat() knows.
bool isKnownFormat(std::string_view format);

// A DNS subdomain (RFC 1123): dot-separated DNS labels, at most 253 characters.
bool isDnsSubdomain(std::string_view name);
// Label keys and values, as in Kubernetes. Empty string when valid, else the reason.
std::string labelKeyError(std::string_view key);
std::string labelValueError(std::string_view value);

// Go-style duration ("1h30m", "500ms", "1.5s") in seconds; nullopt if malformed or negative.
std::optional<double> parseDurationSeconds(std::string_view text);
// CPU quantity ("500m", "0.5", "2", or a JSON number of cores) in millicores.
std::optional<int64_t> parseCpuMillis(const nlohmann::json& value);
// Memory quantity ("256Mi", "1.5Gi", "512M", "1000000", or a JSON number of bytes) in bytes,
// rounded up.
std::optional<int64_t> parseMemoryBytes(const nlohmann::json& value);
// Empty string if `schedule` is a valid cron schedule, else what is wrong with it.
std::string cronError(std::string_view schedule);

}  // namespace skiff
