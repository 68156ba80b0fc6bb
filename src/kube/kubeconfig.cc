#include "kube/kubeconfig.h"

#include "auth/random.h"
#include "common/files.h"
#include "model/codec.h"

namespace skiff::kube {
namespace {

Status invalid(const std::string& message) {
  return Status(StatusCode::kInvalid, "kubeconfig: " + message);
}

// The entry named `name` in the list `key` ("clusters", "users", "contexts"), or null.
const json* entry(const json& config, const char* key, const std::string& name) {
  auto list = config.find(key);
  if (list == config.end() || !list->is_array()) return nullptr;
  for (const auto& e : *list) {
    if (e.is_object() && e.value("name", "") == name) {
      auto body = e.find(std::string(key).substr(0, std::string(key).size() - 1));
      if (body != e.end() && body->is_object()) return &*body;
    }
  }
  return nullptr;
}

// PEM text from `<field>-data` (standard base64) or `<field>` (a file); empty when neither.
Result<std::string> pemOf(const json& body, const std::string& field, const std::string& where,
                          const std::string& base_dir) {
  if (auto data = body.find(field + "-data"); data != body.end() && data->is_string()) {
    std::string text;
    for (char c : data->get<std::string>()) {
      if (c == '+')
        text += '-';
      else if (c == '/')
        text += '_';
      else if (c != '\n' && c != '\r' && c != ' ')
        text += c;
    }
    auto decoded = base64UrlDecode(text);
    if (!decoded) return invalid(where + "." + field + "-data is not base64");
    return *decoded;
  }
  if (auto file = body.find(field); file != body.end() && file->is_string()) {
    std::string path = file->get<std::string>();
    if (!path.empty() && path[0] != '/') path = base_dir + "/" + path;
    auto content = readWholeFile(path);
    if (!content.ok()) return invalid(where + "." + field + ": cannot read " + path);
    return *content;
  }
  return std::string();
}

}  // namespace

Result<ClusterAccess> readKubeconfig(std::string_view text, const std::string& context,
                                     const std::string& base_dir) {
  auto parsed = decodeDocument(text, "application/yaml");
  if (!parsed.ok()) return invalid(parsed.status().message());
  const json& config = *parsed;
  if (!config.is_object()) return invalid("not a kubeconfig (expected a mapping)");
  const std::string name = context.empty() ? config.value("current-context", "") : context;
  if (name.empty()) return invalid("no current-context; name one with --context");
  const json* ctx = entry(config, "contexts", name);
  if (ctx == nullptr) return invalid("no context named \"" + name + "\"");
  const std::string cluster_name = ctx->value("cluster", "");
  const std::string user_name = ctx->value("user", "");
  const json* cluster = entry(config, "clusters", cluster_name);
  if (cluster == nullptr)
    return invalid("context \"" + name + "\" names cluster \"" + cluster_name +
                   "\", which is not in clusters");
  ClusterAccess access;
  access.server = cluster->value("server", "");
  if (access.server.rfind("https://", 0) != 0)
    return invalid("cluster \"" + cluster_name + "\".server must be an https:// URL, not \"" +
                   access.server + "\"");
  if (cluster->value("insecure-skip-tls-verify", false))
    return invalid("cluster \"" + cluster_name +
                   "\" skips TLS verification; Skiff always verifies: give its CA instead");
  auto ca = pemOf(*cluster, "certificate-authority", "cluster \"" + cluster_name + "\"", base_dir);
  if (!ca.ok()) return ca.status();
  access.ca_pem = *ca;

  const json* user = entry(config, "users", user_name);
  if (user == nullptr)
    return invalid("context \"" + name + "\" names user \"" + user_name +
                   "\", which is not in users");
  const std::string where = "user \"" + user_name + "\"";
  for (const char* unsupported : {"exec", "auth-provider", "username", "password"}) {
    if (user->contains(unsupported))
      return invalid(where + " uses " + unsupported +
                     ", which Skiff does not support: use a token or a client certificate");
  }
  access.token = user->value("token", "");
  if (access.token.empty() && user->contains("tokenFile")) {
    std::string path = user->value("tokenFile", "");
    if (!path.empty() && path[0] != '/') path = base_dir + "/" + path;
    auto content = readWholeFile(path);
    if (!content.ok()) return invalid(where + ".tokenFile: cannot read " + path);
    access.token = *content;
    while (!access.token.empty() && std::isspace(static_cast<unsigned char>(access.token.back())))
      access.token.pop_back();
  }
  auto cert = pemOf(*user, "client-certificate", where, base_dir);
  if (!cert.ok()) return cert.status();
  auto key = pemOf(*user, "client-key", where, base_dir);
  if (!key.ok()) return key.status();
  access.client_certificate_pem = *cert;
  access.client_key_pem = *key;
  if (access.client_certificate_pem.empty() != access.client_key_pem.empty())
    return invalid(where + " has a client certificate without its key, or a key without it");
  if (access.token.empty() && access.client_certificate_pem.empty())
    return invalid(where + " has neither a token nor a client certificate");
  return access;
}

}  // namespace skiff::kube
