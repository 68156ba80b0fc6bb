// `skiff logs APP[/COMPONENT]`: prints the logs of an application's instances (merged by time,
// each line prefixed with its instance when several are shown), read from the server's
// /api/v1/tenants/{t}/applications/{app}/logs endpoint. With -f the answer is a stream, printed
// as it arrives until the server ends it or the user interrupts.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <ostream>
#include <vector>

#include "cli/api_client.h"
#include "cli/subcommands.h"
#include "model/formats.h"

namespace skiff::cli {

namespace {

// The query parameters --since stands for: a duration back from now, or an RFC 3339 time.
Result<std::string> sinceParameter(const std::string& since) {
  if (since.find('T') != std::string::npos) return "since=" + urlEncode(since);
  auto seconds = parseDurationSeconds(since);
  if (!seconds || *seconds <= 0)
    return badRequest(
        "--since must be a duration like 30s, 5m or 1h30m, or an RFC 3339 time "
        "like 2026-11-22T05:09:30Z, got \"" +
        since + "\"");
  return "sinceSeconds=" + std::to_string(std::max<int64_t>(1, std::llround(std::ceil(*seconds))));
}

}  // namespace

int runLogs(CommandContext& ctx, const LogsOptions& options) {
  std::string app = options.target;
  std::string component;
  if (size_t slash = app.find('/'); slash != std::string::npos) {
    component = app.substr(slash + 1);
    app.resize(slash);
    if (component.empty() || component.find('/') != std::string::npos)
      return reportError(ctx.err, badRequest("cannot read \"" + options.target +
                                             "\": write APPLICATION or APPLICATION/COMPONENT"));
  }
  if (app.empty())
    return reportError(ctx.err, badRequest("cannot read \"" + options.target +
                                           "\": the application name is missing"));
  if (options.tail && *options.tail < 0)
    return reportError(ctx.err, badRequest("--tail must be 0 or more lines, got " +
                                           std::to_string(*options.tail)));

  std::vector<std::string> query;
  if (!component.empty()) query.push_back("component=" + urlEncode(component));
  if (!options.instance.empty()) query.push_back("instance=" + urlEncode(options.instance));
  if (!options.since.empty()) {
    auto since = sinceParameter(options.since);
    if (!since.ok()) return reportError(ctx.err, since.status());
    query.push_back(*since);
  }
  if (options.tail) query.push_back("tailLines=" + std::to_string(*options.tail));
  if (options.previous) query.push_back("previous=true");
  if (options.follow) query.push_back("follow=true");
  if (options.timestamps) query.push_back("timestamps=true");
  std::string target =
      "/api/v1/tenants/" + options.tenant.effective() + "/applications/" + app + "/logs";
  for (size_t i = 0; i < query.size(); ++i) target += (i == 0 ? "?" : "&") + query[i];

  Status s = ctx.client.streamGet(target, [&](std::string_view data) {
    ctx.out.write(data.data(), static_cast<std::streamsize>(data.size()));
    ctx.out.flush();
    return static_cast<bool>(ctx.out);
  });
  if (!s.isOk()) return reportError(ctx.err, s);
  return 0;
}

}  // namespace skiff::cli
