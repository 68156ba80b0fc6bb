#include "api/metrics_handler.h"

#include <charconv>
#include <cmath>
#include <cstdio>

#include "api/errors.h"
#include "model/formats.h"
#include "model/object.h"
#include "observe/exposition.h"
#include "observe/query.h"
#include "observe/tsdb.h"

namespace skiff {

namespace {

constexpr const char* kPlatformPath = "/api/v1/metrics";
constexpr const char* kExpositionPath = "/metrics";

bool tenantPath(const std::string& path, std::string* tenant) {
  static const std::string prefix = "/api/v1/tenants/";
  static const std::string suffix = "/metrics";
  if (path.size() <= prefix.size() + suffix.size() || path.rfind(prefix, 0) != 0 ||
      path.compare(path.size() - suffix.size(), suffix.size(), suffix) != 0)
    return false;
  std::string t = path.substr(prefix.size(), path.size() - prefix.size() - suffix.size());
  if (t.empty() || t.find('/') != std::string::npos) return false;
  *tenant = std::move(t);
  return true;
}

Status badParameter(const std::string& name, const std::string& value, const std::string& what) {
  return Status(StatusCode::kBadRequest, "the query parameter " + name + " is invalid",
                {{name, "must be " + what + ", got \"" + value + "\""}});
}

// RFC 3339 or Unix seconds (with a fraction), in milliseconds.
Result<int64_t> timeParam(const HttpRequest& request, const std::string& name, int64_t fallback) {
  const std::string* text = request.queryParam(name);
  if (text == nullptr || text->empty()) return fallback;
  std::chrono::system_clock::time_point t;
  if (parsePreciseTimestamp(*text, &t))
    return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  double seconds = 0;
  auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), seconds);
  if (ec == std::errc() && end == text->data() + text->size() && std::isfinite(seconds))
    return static_cast<int64_t>(std::llround(seconds * 1000));
  return badParameter(name, *text, "an RFC 3339 time or Unix seconds");
}

json point(const observe::Sample& s) {
  return json::array({static_cast<double>(s.t_ms) / 1000.0, observe::formatSampleValue(s.v)});
}

json resultJson(const observe::QueryResult& result, int64_t t_ms) {
  json out = json::object();
  json items = json::array();
  switch (result.kind) {
    case observe::QueryResult::kScalar:
      out["resultType"] = "scalar";
      out["result"] = point({t_ms, result.scalar});
      return out;
    case observe::QueryResult::kVector:
      out["resultType"] = "vector";
      for (const auto& s : result.series) {
        if (s.samples.empty()) continue;
        json metric = s.labels;
        if (!s.name.empty()) metric["__name__"] = s.name;
        items.push_back({{"metric", metric}, {"value", point(s.samples.back())}});
      }
      break;
    case observe::QueryResult::kMatrix:
      out["resultType"] = "matrix";
      for (const auto& s : result.series) {
        json metric = s.labels;
        if (!s.name.empty()) metric["__name__"] = s.name;
        json values = json::array();
        for (const auto& sample : s.samples) values.push_back(point(sample));
        items.push_back({{"metric", metric}, {"values", values}});
      }
      break;
  }
  out["result"] = items;
  return out;
}

}  // namespace

MetricsHandler::MetricsHandler(const observe::TimeSeriesStore& series, const Clock& clock,
                               std::function<std::vector<observe::MetricFamily>()> families,
                               std::chrono::milliseconds lookback)
    : series_(series), clock_(clock), families_(std::move(families)), lookback_(lookback) {}

bool MetricsHandler::handles(const HttpRequest& request) {
  std::string tenant;
  return request.path == kExpositionPath || request.path == kPlatformPath ||
         tenantPath(request.path, &tenant);
}

HttpResponse MetricsHandler::handle(HttpRequest& request) {
  if (request.method != "GET") return methodNotAllowed(request, request.path, "GET");
  if (request.path == kExpositionPath) {
    // Thousands of series: rendered off the event loops.
    return deferred([this] {
      const int64_t now_ms =
          std::chrono::duration_cast<std::chrono::milliseconds>(clock_.now().time_since_epoch())
              .count();
      HttpResponse r;
      r.content_type = "text/plain; version=0.0.4; charset=utf-8";
      r.body = observe::renderExposition(series_, families_(), now_ms, lookback_);
      return r;
    });
  }
  std::string tenant;
  if (request.path != kPlatformPath) tenantPath(request.path, &tenant);
  return deferred([this, request, tenant] { return query(request, tenant); });
}

HttpResponse MetricsHandler::query(const HttpRequest& request, const std::string& tenant) const {
  const std::string* text = request.queryParam("query");
  if (text == nullptr || text->empty())
    return errorResponse(Status(StatusCode::kBadRequest, "a metrics query needs a query",
                                {{"query",
                                  "is required, e.g. "
                                  "sum by (application) "
                                  "(rate(skiff_gateway_responses_total[1m]))"}}));
  const int64_t now_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(clock_.now().time_since_epoch())
          .count();
  observe::QueryOptions options;
  options.lookback = lookback_;
  // The confinement is applied to every selector at evaluation: no query text escapes it.
  if (!tenant.empty()) options.confine = {observe::LabelMatcher::equal("tenant", tenant)};
  Result<observe::QueryResult> result = observe::QueryResult{};
  int64_t at_ms = now_ms;
  if (request.queryParam("start") != nullptr || request.queryParam("end") != nullptr) {
    auto start = timeParam(request, "start", now_ms - 3600 * 1000);
    if (!start.ok()) return errorResponse(start.status());
    auto end = timeParam(request, "end", now_ms);
    if (!end.ok()) return errorResponse(end.status());
    int64_t step_ms = 60 * 1000;
    if (const std::string* step = request.queryParam("step")) {
      auto seconds = parseDurationSeconds(*step);
      double plain = 0;
      if (!seconds) {
        auto [p, ec] = std::from_chars(step->data(), step->data() + step->size(), plain);
        if (ec == std::errc() && p == step->data() + step->size()) seconds = plain;
      }
      if (!seconds || *seconds <= 0 || !std::isfinite(*seconds))
        return errorResponse(badParameter("step", *step, "a positive duration (15s) or seconds"));
      step_ms = std::max<int64_t>(1, static_cast<int64_t>(std::llround(*seconds * 1000)));
    }
    if (*end < *start)
      return errorResponse(Status(StatusCode::kBadRequest, "the query's range is empty",
                                  {{"end", "must not be before start"}}));
    result = observe::rangeQuery(series_, *text, *start, *end, step_ms, options);
  } else {
    auto at = timeParam(request, "time", now_ms);
    if (!at.ok()) return errorResponse(at.status());
    at_ms = *at;
    result = observe::instantQuery(series_, *text, *at, options);
  }
  if (!result.ok()) return errorResponse(result.status());
  HttpResponse r;
  r.body = resultJson(*result, at_ms).dump();
  return r;
}

}  // namespace skiff
