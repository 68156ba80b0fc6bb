// `skiff logs APP[/COMPONENT]`: prints the logs of an application's instances (merged by time,
// each line prefixed with its instance when several are shown), read from the server's
// /api/v1/tenants/{t}/applications/{app}/logs endpoint. With -f the answer is a stream, printed
// as it arrives until the server ends it or the user interrupts (--grep then filters it).
//
// Searching (--grep, --until, --limit, --export, --format, or --platform for the platform's own
// logs at /api/v1/platform/logs) asks the endpoint for the newest matching lines as JSON and
// prints them the same way, or writes them to the --export file as text or JSON lines; when
// more lines matched than the limit, it says so on stderr.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <fstream>
#include <ostream>
#include <tuple>
#include <vector>

#include "cli/api_client.h"
#include "cli/log_export.h"
#include "cli/subcommands.h"
#include "model/formats.h"

namespace skiff::cli {

namespace {

// The query parameter --since or --until stands for: a duration back from now (NAMESeconds),
// or an RFC 3339 time (NAME).
Result<std::string> timeParameter(const std::string& flag, const std::string& name,
                                  const std::string& value) {
  if (value.find('T') != std::string::npos) return name + "=" + urlEncode(value);
  auto seconds = parseDurationSeconds(value);
  if (!seconds || *seconds <= 0)
    return badRequest(flag +
                      " must be a duration like 30s, 5m or 1h30m, or an RFC 3339 time "
                      "like 2026-11-22T05:09:30Z, got \"" +
                      value + "\"");
  return name +
         "Seconds=" + std::to_string(std::max<int64_t>(1, std::llround(std::ceil(*seconds))));
}

bool endsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Prints or exports the answer of a search; 0, or 1 when the file cannot be written.
int writeFound(CommandContext& ctx, const LogsOptions& options, const json& answer) {
  const json lines = answer.value("lines", json::array());
  const bool prefix = answer.value("instances", json::array()).size() > 1;
  const LogExportFormat format = logExportFormat(options.export_path, options.format);
  std::ofstream file;
  if (!options.export_path.empty()) {
    file.open(options.export_path, std::ios::out | std::ios::trunc | std::ios::binary);
    if (!file)
      return reportError(ctx.err,
                         badRequest("cannot write --export file \"" + options.export_path + "\""));
  }
  std::ostream& out = options.export_path.empty() ? ctx.out : file;
  for (const auto& line : lines) {
    if (format == LogExportFormat::kJson || !options.export_path.empty()) {
      out << exportLogLine(line, format);
      continue;
    }
    if (prefix) out << '[' << line.value("instance", "") << "] ";
    if (options.timestamps) out << line.value("time", "") << ' ';
    out << line.value("line", "") << '\n';
  }
  out.flush();
  if (!out)
    return reportError(ctx.err,
                       internalError("writing " +
                                     (options.export_path.empty() ? std::string("the output")
                                                                  : options.export_path) +
                                     " failed"));
  if (answer.value("truncated", false)) {
    const int64_t limit = answer.value("limit", static_cast<int64_t>(lines.size()));
    ctx.err << "skiff: more lines matched than the limit of " << limit << ": only the newest "
            << lines.size() << " are " << (options.export_path.empty() ? "shown" : "exported")
            << "; narrow --since/--until, or raise --limit (at most 100000)\n";
  }
  if (answer.value("incomplete", false))
    ctx.err << "skiff: the search stopped before reading everything in range (it took too long): "
               "older matches may be missing; narrow --since/--until, or give a pattern with more "
               "plain text\n";
  if (!options.export_path.empty())
    ctx.out << "exported " << lines.size() << " line" << (lines.size() == 1 ? "" : "s") << " to "
            << options.export_path << " (" << (format == LogExportFormat::kJson ? "json" : "text")
            << ")\n";
  return 0;
}

}  // namespace

LogExportFormat logExportFormat(const std::string& path, const std::string& format) {
  if (format == "json") return LogExportFormat::kJson;
  if (format == "text") return LogExportFormat::kText;
  return endsWith(path, ".jsonl") || endsWith(path, ".json") ? LogExportFormat::kJson
                                                             : LogExportFormat::kText;
}

std::string exportLogLine(const json& found, LogExportFormat format) {
  auto field = [&](const char* name) {
    auto it = found.find(name);
    return it != found.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  if (format == LogExportFormat::kText)
    return field("time") + " [" + field("instance") + "] " + field("line") + "\n";
  nlohmann::ordered_json out;  // in the documented order
  out["time"] = field("time");
  out["instance"] = field("instance");
  out["component"] = field("component");
  if (found.contains("stream")) out["stream"] = field("stream");
  out["line"] = field("line");
  return out.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
}

int runLogs(CommandContext& ctx, const LogsOptions& options) {
  std::string app = options.target;
  std::string component = options.component;
  if (options.platform) {
    if (!app.empty())
      return reportError(ctx.err, badRequest("--platform reads the platform's own logs: give no "
                                             "application (got \"" +
                                             app + "\")"));
    if (options.follow || options.previous || options.tail || !options.instance.empty())
      return reportError(ctx.err,
                         badRequest("--platform searches: -f, --previous, --tail and --instance "
                                    "do not apply (use --since, --until, --grep, --limit)"));
  } else {
    if (size_t slash = app.find('/'); slash != std::string::npos) {
      std::string named = app.substr(slash + 1);
      app.resize(slash);
      if (named.empty() || named.find('/') != std::string::npos)
        return reportError(ctx.err, badRequest("cannot read \"" + options.target +
                                               "\": write APPLICATION or APPLICATION/COMPONENT"));
      if (!component.empty() && component != named)
        return reportError(ctx.err, badRequest("the component is named twice, differently: \"" +
                                               named + "\" and --component \"" + component + "\""));
      component = named;
    }
    if (app.empty())
      return reportError(
          ctx.err,
          badRequest(options.target.empty() ? std::string("give an APPLICATION (or --platform)")
                                            : "cannot read \"" + options.target +
                                                  "\": the application name is missing"));
  }
  if (options.tail && *options.tail < 0)
    return reportError(ctx.err, badRequest("--tail must be 0 or more lines, got " +
                                           std::to_string(*options.tail)));
  if (options.limit && (*options.limit < 1 || *options.limit > 100000))
    return reportError(ctx.err, badRequest("--limit must be from 1 to 100000 lines, got " +
                                           std::to_string(*options.limit)));
  if ((options.regex || options.ignore_case) && options.grep.empty())
    return reportError(ctx.err,
                       badRequest("-E/--regex and -i/--ignore-case say how to read --grep: give "
                                  "--grep PATTERN too"));
  // -f with --grep is a filtered follow, not a search.
  const bool search =
      options.platform ||
      (!options.follow && (!options.grep.empty() || !options.until.empty() || options.limit ||
                           !options.export_path.empty() || !options.format.empty()));
  if (options.follow && (!options.until.empty() || options.limit || !options.export_path.empty() ||
                         !options.format.empty()))
    return reportError(ctx.err, badRequest("-f follows new lines: --until, --limit, --export and "
                                           "--format are for searching what was written"));

  std::vector<std::string> query;
  if (!component.empty()) query.push_back("component=" + urlEncode(component));
  if (!options.instance.empty()) query.push_back("instance=" + urlEncode(options.instance));
  for (const auto& [flag, name, value] :
       {std::tuple<std::string, std::string, std::string>{"--since", "since", options.since},
        {"--until", "until", options.until}}) {
    if (value.empty()) continue;
    auto param = timeParameter(flag, name, value);
    if (!param.ok()) return reportError(ctx.err, param.status());
    query.push_back(*param);
  }
  if (options.tail) query.push_back("tailLines=" + std::to_string(*options.tail));
  if (options.previous) query.push_back("previous=true");
  if (options.follow) query.push_back("follow=true");
  if (options.timestamps && !search) query.push_back("timestamps=true");
  if (!options.grep.empty()) query.push_back("grep=" + urlEncode(options.grep));
  if (options.regex) query.push_back("regex=true");
  if (options.ignore_case) query.push_back("ignoreCase=true");
  if (options.limit) query.push_back("limit=" + std::to_string(*options.limit));
  if (search) query.push_back("format=json");
  std::string target = options.platform ? std::string("/api/v1/platform/logs")
                                        : "/api/v1/tenants/" + options.tenant.effective() +
                                              "/applications/" + app + "/logs";
  for (size_t i = 0; i < query.size(); ++i) target += (i == 0 ? "?" : "&") + query[i];

  if (search) {
    auto answer = ctx.client.request("GET", target);
    if (!answer.ok()) return reportError(ctx.err, answer.status());
    return writeFound(ctx, options, *answer);
  }
  Status s = ctx.client.streamGet(target, [&](std::string_view data) {
    ctx.out.write(data.data(), static_cast<std::streamsize>(data.size()));
    ctx.out.flush();
    return static_cast<bool>(ctx.out);
  });
  if (!s.isOk()) return reportError(ctx.err, s);
  return 0;
}

}  // namespace skiff::cli
