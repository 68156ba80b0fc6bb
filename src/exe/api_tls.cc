#include "exe/api_tls.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include <spdlog/spdlog.h>

#include "cli/config.h"
#include "net/tls.h"

namespace skiff {

namespace {

bool exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

}  // namespace

Status checkApiSecurityOptions(const ApiSecurityOptions& options) {
  if (options.tls_cert.empty() != options.tls_key.empty())
    return Status(StatusCode::kInvalid,
                  "--tls-cert and --tls-key go together: give both (PEM files), or neither for a "
                  "self-signed certificate");
  if (options.insecure_http && !options.tls_cert.empty())
    return Status(StatusCode::kInvalid,
                  "--insecure-http serves plain HTTP, so --tls-cert and --tls-key would go "
                  "unused: give one or the other");
  if (options.insecure_http && !net::isLoopbackHost(options.listen_host))
    return Status(StatusCode::kInvalid,
                  "--insecure-http is refused on " + options.listen_host +
                      ": plain HTTP would expose passwords and tokens to the network; listen on a "
                      "loopback address (127.0.0.1, ::1), or leave --insecure-http out to serve "
                      "HTTPS");
  return Status::ok();
}

std::string localHostFor(const std::string& listen_host) {
  if (listen_host == "0.0.0.0") return "127.0.0.1";
  if (listen_host == "::") return "::1";
  return listen_host;
}

Result<ApiSecurity> prepareApiSecurity(const ApiSecurityOptions& options) {
  ApiSecurity security;
  if (options.insecure_http) {
    spdlog::warn("the API serves plain HTTP (--insecure-http), on {} only", options.listen_host);
    return security;
  }
  std::string key_file = options.tls_key;
  security.cert_file = options.tls_cert;
  if (security.cert_file.empty()) {
    const std::string dir = options.data_dir + "/tls";
    security.cert_file = dir + "/server.crt";
    key_file = dir + "/server.key";
    // Both, or a new pair: a lone file is what a crash between the two writes leaves.
    if (!exists(security.cert_file) || !exists(key_file)) {
      std::error_code ec;
      std::filesystem::create_directories(dir, ec);
      if (ec) return unavailable("cannot create the directory " + dir + ": " + ec.message());
      ::chmod(dir.c_str(), 0700);
      net::SelfSignedRequest request;
      request.cert_file = security.cert_file;
      request.key_file = key_file;
      request.hosts = {options.listen_host};
      auto fingerprint = net::generateSelfSigned(request);
      if (!fingerprint.ok()) return fingerprint.status();
      security.generated = true;
    } else if (auto named =
                   net::certificateNamesHost(security.cert_file, localHostFor(options.listen_host));
               named.ok() && !*named) {
      spdlog::warn(
          "the self-signed certificate {} does not name {}: clients connecting to that address "
          "need --fingerprint; delete {} to generate a certificate that names it",
          security.cert_file, options.listen_host, dir);
    }
  }
  auto context = net::makeServerTlsContext(security.cert_file, key_file);
  if (!context.ok()) return context.status();
  security.tls = std::move(context).value();
  auto fingerprint = net::certificateFingerprint(security.cert_file);
  if (!fingerprint.ok()) return fingerprint.status();
  security.fingerprint = *fingerprint;

  if (security.generated) {
    // On the terminal, like the admin password: the operator hands it to the CLI's users.
    std::printf(
        "\nskiff: created a self-signed TLS certificate for the API: %s\n"
        "       fingerprint %s\n"
        "       (clients verify it with --ca %s or --fingerprint %s)\n\n",
        security.cert_file.c_str(), security.fingerprint.c_str(), security.cert_file.c_str(),
        security.fingerprint.c_str());
    std::fflush(stdout);
  }
  spdlog::info("API TLS certificate {} (fingerprint {})", security.cert_file, security.fingerprint);
  return security;
}

void writeAdminCliConfig(const std::string& data_dir, const std::string& url,
                         const ApiSecurity& security) {
  const std::string path = data_dir + "/admin.config.json";
  if (exists(path)) return;
  cli::CliConfig config;
  config.server = cli::normalizeServerUrl(url);
  if (security.tls) {
    config.trust[config.server] = {std::filesystem::absolute(security.cert_file).lexically_normal(),
                                   ""};
  }
  if (Status s = cli::saveConfig(path, config); !s.isOk()) {
    spdlog::warn("cannot write the admin's CLI config: {}", s.toString());
    return;
  }
  std::printf(
      "skiff: wrote a CLI config for the admin: %s\n"
      "       (sign in with: SKIFF_CONFIG=%s skiff login admin)\n\n",
      path.c_str(), path.c_str());
  std::fflush(stdout);
}

}  // namespace skiff
