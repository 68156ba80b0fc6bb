// libFuzzer harness for the metrics query language (observe/query.h), whose text comes from
// any signed-in caller of the metrics API. Beyond not crashing: a query that parses prints in
// a canonical form that parses to the same form, and evaluating it over a small store, instant
// and over a range, confined to one tenant, never yields another tenant's series.
// Built and run by scripts/fuzz.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "observe/query.h"
#include "observe/tsdb.h"

namespace {

void check(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "invariant broken: %s\n", what);
  std::abort();
}

const skiff::observe::TimeSeriesStore& store() {
  static skiff::observe::TimeSeriesStore* s = [] {
    auto* t = new skiff::observe::TimeSeriesStore(skiff::observe::TsdbOptions{});
    for (int i = 0; i < 30; ++i) {
      const int64_t at = 1'000'000 + i * 10'000;
      for (const char* tenant : {"a", "b"}) {
        t->append("x_total", {{"tenant", tenant}, {"app", "shop"}}, at, i * 3.0);
        t->append("y", {{"tenant", tenant}, {"le", i % 2 ? "0.1" : "+Inf"}}, at, i);
      }
    }
    return t;
  }();
  return *s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  auto parsed = skiff::observe::parseQuery(input);
  if (!parsed.ok()) return 0;
  const std::string canonical = (*parsed)->toString();
  auto again = skiff::observe::parseQuery(canonical);
  // The canonical form parenthesises every operation, so a query at the nesting limit may go
  // past it when printed; anything else must parse back to itself.
  const bool too_deep =
      !again.ok() && again.status().message().find("nests too deeply") != std::string::npos;
  check(again.ok() || too_deep, "the canonical form parses");
  check(too_deep || (*again)->toString() == canonical, "the canonical form is stable");
  skiff::observe::QueryOptions options;
  options.confine = {skiff::observe::LabelMatcher::equal("tenant", "a")};
  options.max_samples = 100'000;
  auto instant = skiff::observe::instantQuery(store(), **parsed, 1'200'000, options);
  if (instant.ok())
    for (const auto& s : instant->series)
      check(s.labels.count("tenant") == 0 || s.labels.at("tenant") == "a", "confined (instant)");
  auto range = skiff::observe::rangeQuery(store(), **parsed, 1'000'000, 1'300'000, 15'000, options);
  if (range.ok())
    for (const auto& s : range->series)
      check(s.labels.count("tenant") == 0 || s.labels.at("tenant") == "a", "confined (range)");
  return 0;
}
