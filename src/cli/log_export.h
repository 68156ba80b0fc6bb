// How `skiff logs` writes the lines a search found (the "lines" of the API's format=json
// answer, api/log_handler.h) to an --export file: as text, "TIME [INSTANCE] LINE", or as JSON
// lines, {"time", "instance", "component", "stream", "line"} ("stream" only when the server
// said). Pure functions; thread-safe.
#pragma once

#include <string>

#include "model/object.h"

namespace skiff::cli {

enum class LogExportFormat { kText, kJson };

// `format` ("text" or "json") when given, else json for a .json or .jsonl `path`, else text.
LogExportFormat logExportFormat(const std::string& path, const std::string& format);
// One found line, with its newline.
std::string exportLogLine(const json& found, LogExportFormat format);

}  // namespace skiff::cli
