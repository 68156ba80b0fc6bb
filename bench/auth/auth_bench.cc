// What authentication and authorisation add to an API request: the Gatekeeper in front of a
// handler that answers at once, against the same handler called directly, for callers with
// platform and tenant roles and for a list across tenants. Prints p50/p99 per request.
//
//   build/bin/skiff_auth_bench [iterations]
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "api/gatekeeper.h"
#include "audit/audit_log.h"
#include "auth/authenticator.h"
#include "auth/rbac.h"
#include "common/clock.h"
#include "model/validation.h"
#include "store/sqlite_store.h"

namespace skiff {
namespace {

using Clock_ = std::chrono::steady_clock;

struct Percentiles {
  double p50_us, p99_us;
};

Percentiles measure(int iterations, const std::function<void()>& call) {
  std::vector<double> us;
  us.reserve(iterations);
  for (int i = 0; i < iterations / 10; ++i) call();  // warm up
  for (int i = 0; i < iterations; ++i) {
    const auto start = Clock_::now();
    call();
    us.push_back(std::chrono::duration<double, std::micro>(Clock_::now() - start).count());
  }
  std::sort(us.begin(), us.end());
  return {us[us.size() / 2], us[us.size() * 99 / 100]};
}

void put(Store& store, const std::string& yaml_json) {
  auto doc = nlohmann::json::parse(yaml_json);
  auto object = admitObject(doc, {doc["kind"], doc["metadata"].value("tenant", "")});
  if (!object.ok() || !store.create(std::move(object).value()).ok()) {
    std::fprintf(stderr, "cannot create %s\n", yaml_json.c_str());
    std::exit(1);
  }
}

int run(int iterations) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("skiff-auth-bench-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  SqliteStore::Options options;
  options.path = (dir / "skiff.db").string();
  auto store = SqliteStore::open(options);
  if (!store.ok()) return 1;
  Store& s = **store;
  const Clock& clock = SystemClock::instance();
  Authenticator authn(s, clock);
  Authorizer authz(s);
  auto audit = AuditLog::open((dir / "audit").string());
  if (!audit.ok()) return 1;
  Gatekeeper gate(authn, authz, **audit);

  put(s, R"({"kind":"Tenant","metadata":{"name":"acme"}})");
  // Bindings like a busy platform's: 50 tenants, each with a few.
  for (int t = 0; t < 50; ++t) {
    const std::string tenant = "t" + std::to_string(t);
    put(s, R"({"kind":"Tenant","metadata":{"name":")" + tenant + R"("}})");
    put(s, R"({"kind":"RoleBinding","metadata":{"name":"devs","tenant":")" + tenant +
               R"("},"spec":{"role":"developer","subjects":[{"kind":"Group","name":"g)" +
               std::to_string(t) + R"("}]}})");
  }
  for (const char* user : {"root", "dev"})
    put(s, std::string(R"({"kind":"User","metadata":{"name":")") + user + R"("}})");
  put(s, R"({"kind":"PlatformRoleBinding","metadata":{"name":"roots"},"spec":{"role":)"
         R"("platform-admin","subjects":[{"kind":"User","name":"root"}]}})");
  put(s, R"({"kind":"RoleBinding","metadata":{"name":"dev","tenant":"acme"},"spec":{"role":)"
         R"("developer","subjects":[{"kind":"User","name":"dev"}]}})");
  auto root = authn.createToken({"root", {}, {}, std::chrono::seconds(0), ""});
  auto dev = authn.createToken({"dev", {}, {}, std::chrono::seconds(0), ""});
  if (!root.ok() || !dev.ok()) return 1;

  const HttpHandler next = [](HttpRequest&) {
    HttpResponse r;
    r.body = "{}";
    return r;
  };
  auto request = [](const std::string& path, const std::string& token) {
    HttpRequest r;
    r.method = "GET";
    r.path = path;
    r.headers["authorization"] = "Bearer " + token;
    return r;
  };
  struct Case {
    const char* name;
    HttpRequest request;
  };
  std::vector<Case> cases = {
      {"platform-admin, get an application",
       request("/api/v1/tenants/acme/applications/shop", root->token)},
      {"developer in 1 of 51 tenants, get an application",
       request("/api/v1/tenants/acme/applications/shop", dev->token)},
      {"developer, list applications across tenants", request("/api/v1/applications", dev->token)},
  };
  std::printf("%-52s %10s %10s\n", "request (gatekeeper minus bare handler)", "p50 us", "p99 us");
  HttpRequest bare_request = cases[0].request;
  const Percentiles bare = measure(iterations, [&] {
    HttpRequest r = bare_request;
    (void)next(r);
  });
  std::printf("%-52s %10.2f %10.2f\n", "bare handler (baseline)", bare.p50_us, bare.p99_us);
  for (const Case& c : cases) {
    const Percentiles p = measure(iterations, [&] {
      HttpRequest r = c.request;
      HttpResponse out = gate.handle(r, next);
      if (out.status != 200) {
        std::fprintf(stderr, "%s: %d %s\n", c.name, out.status, out.body.c_str());
        std::exit(1);
      }
    });
    std::printf("%-52s %10.2f %10.2f\n", c.name, p.p50_us - bare.p50_us, p.p99_us - bare.p99_us);
  }
  store->reset();
  std::filesystem::remove_all(dir);
  return 0;
}

}  // namespace
}  // namespace skiff

int main(int argc, char** argv) { return skiff::run(argc > 1 ? std::atoi(argv[1]) : 100000); }
