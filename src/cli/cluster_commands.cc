// `skiff cluster add|ls|rm` (platform admins): the Kubernetes clusters applications may target,
// read from a kubeconfig; and `skiff render APP`: the Kubernetes objects an application
// becomes on a cluster, as YAML, without applying them.
#include <ostream>

#include "cli/output.h"
#include "cli/resource_table.h"
#include "cli/subcommands.h"
#include "common/files.h"
#include "controller/revision_controller.h"
#include "kube/kubeconfig.h"
#include "kube/render.h"
#include "model/codec.h"

namespace skiff::cli {

int runClusterAdd(CommandContext& ctx, const ClusterAddOptions& options) {
  auto text = readWholeFile(options.kubeconfig);
  if (!text.ok())
    return reportError(ctx.err, badRequest("cannot read --kubeconfig " + options.kubeconfig + ": " +
                                           text.status().message()));
  const size_t slash = options.kubeconfig.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : options.kubeconfig.substr(0, slash);
  auto access = kube::readKubeconfig(*text, options.context, dir);
  if (!access.ok()) return reportError(ctx.err, access.status());
  json spec = {{"server", access->server}};
  if (!access->ca_pem.empty()) spec["caData"] = access->ca_pem;
  if (!access->token.empty()) spec["token"] = access->token;
  if (!access->client_certificate_pem.empty()) {
    spec["clientCertificate"] = access->client_certificate_pem;
    spec["clientKey"] = access->client_key_pem;
  }
  if (!options.namespace_prefix.empty()) spec["namespacePrefix"] = options.namespace_prefix;
  json object = {{"apiVersion", "skiff.dev/v1"},
                 {"kind", "Cluster"},
                 {"metadata", {{"name", options.name}}},
                 {"spec", spec}};
  auto created = ctx.client.request("POST", "/api/v1/clusters", object);
  if (!created.ok()) return reportError(ctx.err, created.status());
  ctx.out << "cluster " << options.name << " added (" << access->server
          << "); skiff cluster ls shows whether it is reachable\n";
  return 0;
}

int runClusterList(CommandContext& ctx, const std::string& output) {
  if (Status s = checkTableOutput(output); !s.isOk()) return reportError(ctx.err, s);
  auto listed = ctx.client.request("GET", "/api/v1/clusters");
  if (!listed.ok()) return reportError(ctx.err, listed.status());
  const std::optional<json> items = itemsForTable(*listed, output, ctx.out, ctx.err, "clusters");
  if (!items) return 0;
  Table table({"NAME", "SERVER", "REACHABLE", "VERSION", "LAST ERROR"});
  for (const auto& c : *items) {
    const json spec = c.value("spec", json::object());
    const json status = c.value("status", json::object());
    table.addRow({metadataString(c, "name"), cellText(spec.value("server", json())),
                  status.contains("reachable") ? cellText(status["reachable"]) : "unknown",
                  cellText(status.value("version", json())),
                  cellText(status.value("lastError", json()))});
  }
  ctx.out << table.render();
  return 0;
}

int runClusterRemove(CommandContext& ctx, const std::string& name) {
  auto removed = ctx.client.request("DELETE", "/api/v1/clusters/" + urlEncode(name));
  if (!removed.ok()) return reportError(ctx.err, removed.status());
  ctx.out << "cluster " << name << " removed\n";
  return 0;
}

int runRender(CommandContext& ctx, const RenderOptions& options) {
  if (!options.output.empty() && options.output != "yaml" && options.output != "json")
    return reportError(ctx.err,
                       badRequest("--output must be yaml or json, got \"" + options.output + "\""));
  const std::string tenant = options.tenant.effective();
  const std::string base = "/api/v1/tenants/" + urlEncode(tenant);
  auto app = ctx.client.request("GET", base + "/applications/" + urlEncode(options.application));
  if (!app.ok()) return reportError(ctx.err, app.status());
  kube::RenderInput input;
  input.tenant = tenant;
  input.ns = kube::namespaceOf(options.namespace_prefix, tenant);
  input.application = options.application;
  input.spec = app->value("spec", json::object());
  input.revision = app->value("status", json::object()).value("latestRevision", int64_t{0});
  input.gateway_api = options.gateway_api;
  for (const auto& c : input.spec.value("components", json::array())) {
    for (const std::string& ref : configRefs(c)) {
      const size_t slash = ref.find('/');
      const std::string plural = ref.substr(0, slash) == "secret" ? "secrets" : "configs";
      auto data = ctx.client.request("GET", base + "/" + plural + "/" + ref.substr(slash + 1));
      if (data.ok()) {
        input.data[ref] = data->value("spec", json::object());
      } else if (data.status().code() != StatusCode::kNotFound) {
        return reportError(ctx.err, data.status());
      }
    }
  }
  auto tenant_object = ctx.client.request("GET", "/api/v1/tenants/" + urlEncode(tenant));
  std::vector<json> objects;
  if (tenant_object.ok())
    objects = kube::renderTenant(input.ns, tenant, tenant_object->value("spec", json::object()));
  auto rendered = kube::renderApplication(input);
  if (!rendered.ok()) return reportError(ctx.err, rendered.status());
  objects.insert(objects.end(), rendered->begin(), rendered->end());
  if (options.output == "json") {
    ctx.out << json{{"apiVersion", "v1"}, {"kind", "List"}, {"items", objects}}.dump(2) << "\n";
    return 0;
  }
  bool first = true;
  for (const auto& o : objects) {
    if (!first) ctx.out << "---\n";
    first = false;
    ctx.out << toYaml(o);
  }
  return 0;
}

}  // namespace skiff::cli
