#include "api/log_handler.h"

#include <algorithm>
#include <charconv>
#include <ctime>
#include <deque>
#include <set>
#include <vector>

#include "api/errors.h"
#include "api/resource_path.h"
#include "common/clock.h"
#include "runtime/local/log_search.h"

namespace skiff {

using runtime::FoundLogLine;
using runtime::LogCursor;
using runtime::LoggedInstance;
using runtime::LogLine;
using runtime::LogMatcher;
using runtime::LogQuery;
using runtime::LogSearchQuery;
using runtime::LogSearchResult;
using std::chrono::steady_clock;
using std::chrono::system_clock;

namespace {

constexpr std::string_view kTenantsPrefix = "/api/v1/tenants/";
constexpr std::string_view kPlatformLogsPath = "/api/v1/platform/logs";
// The most lines one search answers.
constexpr int64_t kMaxSearchLimit = 100000;
constexpr int64_t kDefaultSearchLimit = 1000;
// A search still reading after this answers what it found, marked incomplete: a pattern that
// leaves every line a candidate cannot hold a server thread for long.
constexpr std::chrono::seconds kSearchBudget{10};
// Text read from one instance per round, so one busy instance cannot starve the others (or
// the other follows) and a backlog goes out in pieces.
constexpr size_t kReadBytesPerRound = 256 * 1024;
// Queued bytes a follow may hold for a slow client before it is disconnected.
constexpr size_t kMaxQueuedBytes = 64 << 20;
// How often an application's follow looks for new instances, and a quiet follow checks that
// its client is still there.
constexpr std::chrono::seconds kRelistPeriod{1};

struct LogPath {
  std::string tenant;
  std::string instance;     // the instance form
  std::string application;  // the application form
  bool platform = false;    // the platform's own logs
};

std::optional<LogPath> parseLogPath(std::string_view path) {
  if (path == kPlatformLogsPath) return LogPath{"", "", "", true};
  if (path.substr(0, kTenantsPrefix.size()) != kTenantsPrefix) return std::nullopt;
  const std::vector<std::string> seg = splitPath(path.substr(kTenantsPrefix.size()));
  // {t}/instances/{name}/log or {t}/applications/{app}/logs
  if (seg.size() != 4) return std::nullopt;
  if (seg[1] == "instances" && seg[3] == "log") return LogPath{seg[0], seg[2], ""};
  if (seg[1] == "applications" && seg[3] == "logs") return LogPath{seg[0], "", seg[2]};
  return std::nullopt;
}

Status badParam(const std::string& name, const std::string& value, const std::string& allowed) {
  return badRequest("query parameter " + name + " must be " + allowed + ", got \"" + value + "\"");
}

Result<bool> boolParam(const HttpRequest& request, const char* name) {
  const std::string* v = request.queryParam(name);
  if (v == nullptr || *v == "false" || *v == "0") return false;
  if (v->empty() || *v == "true" || *v == "1") return true;
  return badParam(name, *v, "true or false");
}

Result<std::optional<int64_t>> countParam(const HttpRequest& request, const char* name, int64_t min,
                                          const std::string& allowed) {
  const std::string* v = request.queryParam(name);
  if (v == nullptr) return std::optional<int64_t>();
  int64_t n = 0;
  auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
  if (v->empty() || ec != std::errc() || end != v->data() + v->size() || n < min)
    return badParam(name, *v, allowed);
  return std::optional<int64_t>(n);
}

// "2026-11-22T05:09:30.123Z", as the log files hold it.
std::string formatMillis(system_clock::time_point t) {
  using namespace std::chrono;
  const int64_t ms = duration_cast<milliseconds>(t.time_since_epoch()).count();
  time_t secs = static_cast<time_t>(ms / 1000);
  int millis = static_cast<int>(ms % 1000);
  if (millis < 0) {
    millis += 1000;
    secs -= 1;
  }
  struct tm tm_utc;
  gmtime_r(&secs, &tm_utc);
  char buf[64];
  snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm_utc.tm_year + 1900,
           tm_utc.tm_mon + 1, tm_utc.tm_mday, tm_utc.tm_hour, tm_utc.tm_min, tm_utc.tm_sec, millis);
  return buf;
}

using Flag = std::pair<const char*, bool*>;

// What a log request asks for, validated.
struct LogRequest {
  LogPath path;
  std::string component;  // application and platform forms: only this component's instances
  std::string instance;   // application form: only this instance
  LogQuery query;
  bool timestamps = false;
  // A search: the newest `search_query.limit` lines that `matcher` keeps.
  bool search = false;
  LogSearchQuery search_query;
  bool json = false;
  // A search's pattern, or (with follow) the filter of the followed lines; null: every line.
  std::shared_ptr<const LogMatcher> matcher;
};

// "sinceSeconds"/"since" or "untilSeconds"/"until": a time back from now or an RFC 3339 time.
Result<std::optional<system_clock::time_point>> timeParam(const HttpRequest& request,
                                                          const std::string& name) {
  const std::string seconds_name = name + "Seconds";
  auto seconds = countParam(
      request, seconds_name.c_str(), name == "since" ? 1 : 0,
      "a whole number of seconds, " + std::string(name == "since" ? "1" : "0") + " or more");
  if (!seconds.ok()) return seconds.status();
  const std::string* time = request.queryParam(name);
  if (*seconds && time != nullptr)
    return badRequest("query parameters " + seconds_name + " and " + name +
                      " exclude each other: give one");
  if (*seconds) {
    if (**seconds > 100LL * 365 * 24 * 3600)
      return badParam(seconds_name, std::to_string(**seconds), "at most 100 years of seconds");
    return std::optional<system_clock::time_point>(system_clock::now() -
                                                   std::chrono::seconds(**seconds));
  }
  if (time == nullptr) return std::optional<system_clock::time_point>();
  system_clock::time_point t;
  if (!parsePreciseTimestamp(*time, &t))
    return badParam(name, *time,
                    "an RFC 3339 time in UTC, like 2026-11-22T05:09:30Z or "
                    "2026-11-22T05:09:30.123Z");
  return std::optional<system_clock::time_point>(t);
}

Result<LogRequest> parseLogRequest(const HttpRequest& request, LogPath path) {
  const bool app = !path.application.empty();
  const bool platform = path.platform;
  static const std::set<std::string> kInstanceParams = {"previous",  "sinceSeconds", "since",
                                                        "tailLines", "follow",       "timestamps"};
  static const std::set<std::string> kSearchParams = {
      "grep", "regex", "ignoreCase", "untilSeconds", "until", "limit", "format"};
  static const std::set<std::string> kPlatformParams = {
      "component",    "grep",  "regex", "ignoreCase", "sinceSeconds", "since",
      "untilSeconds", "until", "limit", "format",     "timestamps"};
  for (const auto& [name, value] : request.query) {
    if (platform) {
      if (kPlatformParams.count(name)) continue;
      return badRequest("unknown query parameter \"" + name +
                        "\": the platform log endpoint takes component, grep, regex, ignoreCase, "
                        "sinceSeconds, since, untilSeconds, until, limit, format and timestamps");
    }
    if (kInstanceParams.count(name) ||
        (app && (name == "component" || name == "instance" || kSearchParams.count(name))))
      continue;
    return badRequest("unknown query parameter \"" + name + "\": the " +
                      (app ? "application log endpoint takes component, instance, "
                           : "instance log endpoint takes ") +
                      "previous, sinceSeconds, since, tailLines, follow and timestamps" +
                      (app ? "; and to search, grep, regex, ignoreCase, untilSeconds, until, "
                             "limit and format"
                           : ""));
  }
  LogRequest r;
  r.path = std::move(path);
  if (app || platform) {
    if (const std::string* v = request.queryParam("component")) r.component = *v;
  }
  if (app) {
    if (const std::string* v = request.queryParam("instance")) r.instance = *v;
  }
  for (auto [name, field] : {Flag{"previous", &r.query.previous}, Flag{"follow", &r.query.follow},
                             Flag{"timestamps", &r.timestamps}}) {
    auto b = boolParam(request, name);
    if (!b.ok()) return b.status();
    *field = *b;
  }
  auto tail = countParam(request, "tailLines", 0, "a whole number of lines, 0 or more");
  if (!tail.ok()) return tail.status();
  r.query.tail_lines = *tail;
  auto since = timeParam(request, "since");
  if (!since.ok()) return since.status();
  r.query.since = *since;
  if (!app && !platform) return r;

  // Searching.
  bool regex = false, ignore_case = false;
  for (auto [name, field] : {Flag{"regex", &regex}, Flag{"ignoreCase", &ignore_case}}) {
    auto b = boolParam(request, name);
    if (!b.ok()) return b.status();
    *field = *b;
  }
  const std::string* grep = request.queryParam("grep");
  if ((regex || ignore_case) && grep == nullptr)
    return badRequest("query parameters regex and ignoreCase say how to read grep: give grep too");
  auto until = timeParam(request, "until");
  if (!until.ok()) return until.status();
  auto limit = countParam(request, "limit", 1,
                          "a whole number of lines from 1 to " + std::to_string(kMaxSearchLimit));
  if (!limit.ok()) return limit.status();
  if (*limit && **limit > kMaxSearchLimit)
    return badParam("limit", std::to_string(**limit),
                    "a whole number of lines from 1 to " + std::to_string(kMaxSearchLimit));
  const std::string* format = request.queryParam("format");
  if (format != nullptr && *format != "text" && *format != "json")
    return badParam("format", *format, "text or json");
  auto matcher = LogMatcher::compile(grep != nullptr ? *grep : "", regex, ignore_case);
  if (!matcher.ok()) return badRequest("query parameter grep: " + matcher.status().message());
  r.matcher = std::make_shared<const LogMatcher>(std::move(matcher).value());
  const bool searching = grep != nullptr || *until || *limit || format != nullptr ||
                         request.queryParam("regex") || request.queryParam("ignoreCase");
  if (r.query.follow) {
    if (*until || *limit || format != nullptr)
      return badRequest(
          "query parameters until, untilSeconds, limit and format make a search, which does "
          "not follow: drop follow=true, or those (grep, regex and ignoreCase filter a follow)");
    if (grep == nullptr) r.matcher = nullptr;
    return r;
  }
  r.search = platform || searching;
  if (!r.search) {
    r.matcher = nullptr;
    return r;
  }
  if (r.query.previous || r.query.tail_lines)
    return badRequest(
        "a search (grep, until, limit or format) covers every run of each instance that is "
        "kept: previous and tailLines do not apply to it; limit bounds the lines (the newest "
        "are kept)");
  if (r.query.since && *until && *r.query.since >= **until)
    return badRequest("query parameter since must be before until");
  r.search_query.pattern = grep != nullptr ? *grep : "";
  r.search_query.regex = regex;
  r.search_query.ignore_case = ignore_case;
  r.search_query.since = r.query.since;
  r.search_query.until = *until;
  r.search_query.limit = static_cast<size_t>(limit->value_or(kDefaultSearchLimit));
  r.json = format != nullptr && *format == "json";
  return r;
}

HttpResponse textResponse(std::string body) {
  HttpResponse r;
  r.content_type = "text/plain; charset=utf-8";
  r.body = std::move(body);
  return r;
}

void appendLine(std::string& out, const LogLine& line, const std::string& prefix, bool timestamps) {
  if (!prefix.empty()) {
    out += '[';
    out += prefix;
    out += "] ";
  }
  if (timestamps) {
    out += formatMillis(line.time);
    out += ' ';
  }
  out += line.text;
  out += '\n';
}

std::string names(const std::vector<LoggedInstance>& instances, bool components) {
  std::set<std::string> unique;
  for (const auto& i : instances) unique.insert(components ? i.component : i.name);
  std::string out;
  for (const auto& n : unique) out += (out.empty() ? "" : ", ") + n;
  return out.empty() ? "none" : out;
}

// A log stream to one client: a larger queue than a watch's, since a backlog of log text can
// be large.
class LogStream final : public EventStream {
 public:
  LogStream() : EventStream(kMaxQueuedBytes) {}
};

}  // namespace

// One instance whose lines a request reads.
struct LogMember {
  std::string name;  // the prefix when several are shown
  std::unique_ptr<LogCursor> cursor;
  bool ended = false;
};

struct LogHandler::Follow {
  LogRequest request;
  std::shared_ptr<EventStream> stream;
  std::vector<LogMember> members;
  std::set<std::string> seen;  // instances with a member, ended ones included
  bool prefix = false;
  bool any_live = true;  // the application still has live instances
  bool busy = false;     // more lines could be read at once
  steady_clock::time_point next_relist{}, next_probe{};
};

namespace {

// The instances an application request selects, with their cursors opened.
struct Selection {
  std::vector<LogMember> members;
  bool prefix = false;
  bool any_live = false;
  std::set<std::string> seen;
};

// The instances an application request names: all of them with logs, or those of its component,
// or the one it asks for.
Result<std::vector<LoggedInstance>> chooseInstances(const Store& store, runtime::LogSource& source,
                                                    const LogRequest& r) {
  const std::string& tenant = r.path.tenant;
  const std::string& app = r.path.application;
  auto application = store.get({"Application", tenant, app});
  auto all = source.instancesOf(tenant, app);
  if (!all.ok()) return all.status();
  if (!application.ok() && all->empty())
    return notFound("application \"" + app + "\" not found in tenant \"" + tenant +
                    "\", and no logs of it are kept (logs of deleted instances are kept for " +
                    std::to_string(source.retention().count() / 3600) + "h)");
  std::vector<LoggedInstance> chosen;
  for (const auto& i : *all)
    if (r.component.empty() || i.component == r.component) chosen.push_back(i);
  if (!r.component.empty() && chosen.empty()) {
    bool declared = false;
    if (application.ok()) {
      for (const auto& c : (*application)->object().spec.value("components", json::array()))
        declared = declared || c.value("name", "") == r.component;
    }
    if (!declared)
      return notFound("application \"" + app + "\" has no component \"" + r.component +
                      "\" with logs (its instances with logs belong to: " + names(*all, true) +
                      ")");
  }
  if (!r.instance.empty()) {
    auto it = std::find_if(chosen.begin(), chosen.end(),
                           [&](const LoggedInstance& i) { return i.name == r.instance; });
    if (it == chosen.end())
      return notFound("application \"" + app + "\" has no instance \"" + r.instance + "\"" +
                      (r.component.empty() ? "" : " of component \"" + r.component + "\"") +
                      " with logs (it has: " + names(chosen, false) + ")");
    chosen = {*it};
  }
  return chosen;
}

Result<Selection> select(const Store& store, runtime::LogSource& source, const LogRequest& r) {
  Selection sel;
  const std::string& tenant = r.path.tenant;
  if (!store.get({"Tenant", "", tenant}).ok())
    return notFound("tenant \"" + tenant + "\" not found");
  if (!r.path.instance.empty()) {
    auto cursor = source.open(tenant, r.path.instance, r.query);
    if (!cursor.ok()) return cursor.status();
    sel.members.push_back({r.path.instance, std::move(cursor).value()});
    sel.seen.insert(r.path.instance);
    sel.any_live = store.get({"Instance", tenant, r.path.instance}).ok();
    return sel;
  }
  const std::string& app = r.path.application;
  auto all_chosen = chooseInstances(store, source, r);
  if (!all_chosen.ok()) return all_chosen.status();
  const std::vector<LoggedInstance>& chosen = *all_chosen;
  for (const auto& i : chosen) {
    sel.any_live = sel.any_live || i.live;
    sel.seen.insert(i.name);
    auto cursor = source.open(tenant, i.name, r.query);
    if (!cursor.ok()) {
      // Not every instance has been restarted: --previous shows those that were.
      if (r.query.previous && r.instance.empty() && cursor.status().code() == StatusCode::kNotFound)
        continue;
      return cursor.status();
    }
    sel.members.push_back({i.name, std::move(cursor).value()});
  }
  if (r.query.previous && sel.members.empty() && !chosen.empty())
    return notFound("no instance of application \"" + app +
                    "\" has a previous run: none of them has been restarted (or those logs "
                    "expired)");
  sel.prefix = chosen.size() > 1;
  return sel;
}

// Every line of `members`, merged by time (a stable merge keeps each instance's own order).
Result<std::string> readAll(std::vector<LogMember>& members, bool prefix, bool timestamps) {
  struct Tagged {
    LogLine line;
    size_t member;
  };
  std::vector<Tagged> all;
  for (size_t m = 0; m < members.size(); ++m) {
    for (;;) {
      std::vector<LogLine> lines;
      auto state = members[m].cursor->read(&lines, 1 << 20);
      if (!state.ok()) return state.status();
      for (auto& l : lines) all.push_back({std::move(l), m});
      if (*state != LogCursor::State::kMore) break;
    }
  }
  std::stable_sort(all.begin(), all.end(),
                   [](const Tagged& a, const Tagged& b) { return a.line.time < b.line.time; });
  std::string out;
  static const std::string kNone;
  for (const auto& t : all)
    appendLine(out, t.line, prefix ? members[t.member].name : kNone, timestamps);
  return out;
}

// The newest lines of `instances` that a search keeps, read through their cursors: for instances
// a LogSearcher has no files of. Holds no more than the lines it answers.
Result<LogSearchResult> searchThroughCursors(runtime::LogSource& source, const std::string& tenant,
                                             const std::vector<LoggedInstance>& instances,
                                             const LogMatcher& matcher,
                                             const LogSearchQuery& query) {
  LogSearchResult result;
  const size_t limit = std::max<size_t>(query.limit, 1);
  for (const auto& instance : instances) {
    LogQuery read;
    read.since = query.since;
    auto cursor = source.open(tenant, instance.name, read);
    if (!cursor.ok()) {
      if (cursor.status().code() == StatusCode::kNotFound) continue;  // it left no logs
      return cursor.status();
    }
    std::deque<FoundLogLine> newest;
    for (;;) {
      std::vector<LogLine> lines;
      auto state = (*cursor)->read(&lines, 1 << 20);
      if (!state.ok()) return state.status();
      if (query.deadline && steady_clock::now() >= *query.deadline) {
        result.incomplete = true;
        break;
      }
      for (auto& l : lines) {
        result.scanned_bytes += l.text.size() + 1;
        if (query.until && l.time >= *query.until) continue;
        if (!matcher.matches(l.text)) continue;
        newest.push_back({std::move(l), instance.name, instance.component});
        if (newest.size() > limit) {
          newest.pop_front();
          result.truncated = true;
        }
      }
      if (*state != LogCursor::State::kMore) break;
    }
    for (auto& l : newest) result.lines.push_back(std::move(l));
  }
  return result;
}

// `more` merged into `into` by time; the newest `limit` lines kept.
void mergeFound(LogSearchResult& into, LogSearchResult&& more, size_t limit) {
  into.truncated = into.truncated || more.truncated;
  into.incomplete = into.incomplete || more.incomplete;
  into.scanned_bytes += more.scanned_bytes;
  for (auto& l : more.lines) into.lines.push_back(std::move(l));
  std::stable_sort(
      into.lines.begin(), into.lines.end(),
      [](const FoundLogLine& a, const FoundLogLine& b) { return a.line.time < b.line.time; });
  if (into.lines.size() > limit) {
    into.lines.erase(into.lines.begin(),
                     into.lines.begin() + static_cast<std::ptrdiff_t>(into.lines.size() - limit));
    into.truncated = true;
  }
}

HttpResponse searchResponse(const LogRequest& r, const LogSearchResult& result,
                            const std::vector<std::string>& searched) {
  if (r.json) {
    json lines = json::array();
    for (const auto& l : result.lines)
      lines.push_back({{"time", formatMillis(l.line.time)},
                       {"instance", l.instance},
                       {"component", l.component},
                       {"stream", l.line.is_stderr ? "stderr" : "stdout"},
                       {"line", l.line.text}});
    json doc = {{"lines", std::move(lines)},       {"truncated", result.truncated},
                {"incomplete", result.incomplete}, {"limit", r.search_query.limit},
                {"instances", searched},           {"scannedBytes", result.scanned_bytes}};
    HttpResponse response;
    // Log text need not be UTF-8: invalid bytes become U+FFFD rather than failing the answer.
    response.body = doc.dump(-1, ' ', false, json::error_handler_t::replace);
    return response;
  }
  std::string out;
  static const std::string kNone;
  const bool prefix = searched.size() > 1;
  for (const auto& l : result.lines)
    appendLine(out, l.line, prefix ? l.instance : kNone, r.timestamps);
  HttpResponse response = textResponse(std::move(out));
  if (result.truncated) response.headers.push_back({"X-Skiff-Truncated", "true"});
  if (result.incomplete) response.headers.push_back({"X-Skiff-Incomplete", "true"});
  return response;
}

HttpResponse runSearch(const Store& store, runtime::LogSource& source,
                       runtime::LogSearcher* searcher, LogRequest r) {
  r.search_query.deadline = steady_clock::now() + kSearchBudget;
  LogSearchResult result;
  std::vector<std::string> searched;
  if (r.path.platform) {
    if (searcher == nullptr)
      return errorResponse(unavailable("this server keeps no platform logs to search"));
    std::vector<std::string> components;
    if (!r.component.empty()) components.push_back(r.component);
    auto found = searcher->searchPlatform(components, r.search_query);
    if (!found.ok()) return errorResponse(found.status());
    result = std::move(found).value();
    searched = components.empty() ? searcher->platformComponents() : components;
    return searchResponse(r, result, searched);
  }
  const std::string& tenant = r.path.tenant;
  if (!store.get({"Tenant", "", tenant}).ok())
    return errorResponse(notFound("tenant \"" + tenant + "\" not found"));
  auto chosen = chooseInstances(store, source, r);
  if (!chosen.ok()) return errorResponse(chosen.status());
  for (const auto& i : *chosen) searched.push_back(i.name);
  std::set<std::string> elsewhere(searched.begin(), searched.end());
  if (searcher != nullptr) {
    auto found = searcher->search(tenant, *chosen, r.search_query);
    if (!found.ok()) return errorResponse(found.status());
    result = std::move(found).value();
    elsewhere = std::set<std::string>(result.not_searched.begin(), result.not_searched.end());
  }
  std::vector<LoggedInstance> rest;
  for (const auto& i : *chosen)
    if (elsewhere.count(i.name) && i.live) rest.push_back(i);
  if (!rest.empty()) {
    auto more = searchThroughCursors(source, tenant, rest, *r.matcher, r.search_query);
    if (!more.ok()) return errorResponse(more.status());
    mergeFound(result, std::move(more).value(), std::max<size_t>(r.search_query.limit, 1));
  }
  return searchResponse(r, result, searched);
}

}  // namespace

LogHandler::LogHandler(const Store& store, runtime::LogSource& source,
                       runtime::LogSearcher* searcher)
    : store_(store), source_(source), searcher_(searcher) {}

LogHandler::~LogHandler() { stop(); }

bool LogHandler::handles(const HttpRequest& request) {
  return parseLogPath(request.path).has_value();
}

HttpResponse LogHandler::handle(HttpRequest& request) {
  auto path = parseLogPath(request.path);
  if (!path) return errorResponse(notFound("no log endpoint at " + request.path));
  if (request.method != "GET")
    return errorResponse(Status(StatusCode::kMethodNotAllowed,
                                "method " + request.method + " is not allowed on logs: use GET"));
  auto parsed = parseLogRequest(request, std::move(*path));
  if (!parsed.ok()) return errorResponse(parsed.status());
  // Opening and reading files may wait on the disk: off the event loops.
  HttpResponse deferred;
  if (parsed->search) {
    deferred.deferred = [this, r = std::move(parsed).value()]() {
      return runSearch(store_, source_, searcher_, r);
    };
    return deferred;
  }
  deferred.deferred = [this, r = std::move(parsed).value()]() mutable -> HttpResponse {
    auto sel = select(store_, source_, r);
    if (!sel.ok()) return errorResponse(sel.status());
    if (!r.query.follow) {
      auto text = readAll(sel->members, sel->prefix, r.timestamps);
      return text.ok() ? textResponse(std::move(text).value()) : errorResponse(text.status());
    }
    auto follow = std::make_unique<Follow>();
    follow->stream = std::make_shared<LogStream>();
    follow->members = std::move(sel->members);
    follow->seen = std::move(sel->seen);
    follow->prefix = sel->prefix;
    follow->any_live = sel->any_live;
    follow->request = std::move(r);
    follow->next_relist = steady_clock::now() + kRelistPeriod;
    HttpResponse response;
    response.content_type = "text/plain; charset=utf-8";
    response.stream = follow->stream;
    {
      std::lock_guard lock(mu_);
      if (stopping_) return errorResponse(unavailable("the server is shutting down"));
      follows_.push_back(std::move(follow));
      if (!follower_.joinable()) follower_ = std::thread([this] { followLoop(); });
    }
    wake_.notify_all();
    return response;
  };
  return deferred;
}

void LogHandler::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (follower_.joinable()) follower_.join();
  std::lock_guard lock(mu_);
  for (auto& f : follows_) f->stream->close();
  follows_.clear();
}

void LogHandler::followLoop() {
  std::list<std::unique_ptr<Follow>> active;
  std::unique_lock lock(mu_);
  while (!stopping_) {
    active.splice(active.end(), follows_);
    lock.unlock();
    bool busy = false;
    for (auto it = active.begin(); it != active.end();) {
      if (pump(**it)) {
        busy = busy || (*it)->busy;
        ++it;
      } else {
        (*it)->stream->close();
        it = active.erase(it);
      }
    }
    lock.lock();
    if (!busy)
      wake_.wait_for(lock, kPollInterval, [this] { return stopping_ || !follows_.empty(); });
  }
  lock.unlock();
  for (auto& f : active) f->stream->close();
}

bool LogHandler::pump(Follow& f) {
  struct Tagged {
    LogLine line;
    size_t member;
  };
  std::vector<Tagged> batch;
  f.busy = false;
  for (size_t m = 0; m < f.members.size(); ++m) {
    LogMember& member = f.members[m];
    if (member.ended) continue;
    std::vector<LogLine> lines;
    auto state = member.cursor->read(&lines, kReadBytesPerRound);
    if (!state.ok()) {
      member.ended = true;
      lines.push_back(
          {system_clock::now(), true,
           "skiff: reading the log of " + member.name + " failed: " + state.status().message()});
    } else if (*state == LogCursor::State::kEnd) {
      member.ended = true;
    } else if (*state == LogCursor::State::kMore) {
      f.busy = true;
    }
    for (auto& l : lines)
      if (f.request.matcher == nullptr || f.request.matcher->matches(l.text))
        batch.push_back({std::move(l), m});
  }

  const auto now = steady_clock::now();
  const LogRequest& r = f.request;
  if (!r.path.application.empty() && r.instance.empty() && now >= f.next_relist) {
    // Instances started since (a scale-up, a rollout) join the follow from their first line.
    f.next_relist = now + kRelistPeriod;
    if (auto all = source_.instancesOf(r.path.tenant, r.path.application); all.ok()) {
      f.any_live = false;
      for (const auto& i : *all) {
        if (!r.component.empty() && i.component != r.component) continue;
        f.any_live = f.any_live || i.live;
        if (!i.live || f.seen.count(i.name)) continue;
        LogQuery query;
        query.follow = true;
        query.since = r.query.since;
        auto cursor = source_.open(r.path.tenant, i.name, query);
        if (!cursor.ok()) continue;
        f.seen.insert(i.name);
        f.members.push_back({i.name, std::move(cursor).value()});
        f.prefix = f.prefix || f.members.size() > 1;
        f.busy = true;
      }
    }
  }

  if (!batch.empty()) {
    std::stable_sort(batch.begin(), batch.end(),
                     [](const Tagged& a, const Tagged& b) { return a.line.time < b.line.time; });
    std::string chunk;
    static const std::string kNone;
    for (const auto& t : batch)
      appendLine(chunk, t.line, f.prefix ? f.members[t.member].name : kNone, r.timestamps);
    if (!f.stream->push(std::move(chunk))) return false;
    f.next_probe = now + kRelistPeriod;
  } else if (now >= f.next_probe) {
    // An empty chunk is not sent; pushing it only tells whether the stream was closed (the
    // client left, or the server is stopping).
    if (!f.stream->push(std::string())) return false;
    f.next_probe = now + kRelistPeriod;
  }
  const bool all_ended =
      std::all_of(f.members.begin(), f.members.end(), [](const LogMember& m) { return m.ended; });
  if (!all_ended) return true;
  if (r.path.application.empty() || !r.instance.empty()) return false;
  // An application's follow waits for instances while the application exists.
  return f.any_live || store_.get({"Application", r.path.tenant, r.path.application}).ok();
}

}  // namespace skiff
