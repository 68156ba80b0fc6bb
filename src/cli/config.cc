#include "cli/config.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "cli/api_client.h"
#include "common/files.h"
#include "model/object.h"
#include "net/tls.h"

namespace skiff::cli {

namespace {

std::string envOrEmpty(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? std::string() : std::string(value);
}

Status fileError(const std::string& what, const std::string& path) {
  return unavailable(what + " " + path + ": " + std::strerror(errno));
}

// Creates `dir` and its missing parents with mode 0700; existing directories are left as
// they are (the user may share ~/.config on purpose).
Status makeDirectories(const std::string& dir) {
  if (dir.empty()) return Status::ok();
  struct stat st;
  if (::stat(dir.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return Status::ok();
    return unavailable("cannot create the directory " + dir + ": a file is in the way");
  }
  if (size_t slash = dir.find_last_of('/'); slash != std::string::npos && slash > 0) {
    Status parent = makeDirectories(dir.substr(0, slash));
    if (!parent.isOk()) return parent;
  }
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
    return fileError("cannot create the directory", dir);
  return Status::ok();
}

Status writeAll(int fd, const std::string& data, const std::string& path) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fileError("cannot write", path);
    }
    off += static_cast<size_t>(n);
  }
  return Status::ok();
}

}  // namespace

CliEnvironment CliEnvironment::fromProcess() {
  CliEnvironment env;
  env.skiff_config = envOrEmpty("SKIFF_CONFIG");
  env.xdg_config_home = envOrEmpty("XDG_CONFIG_HOME");
  env.home = envOrEmpty("HOME");
  env.skiff_server = envOrEmpty("SKIFF_SERVER");
  env.skiff_token = envOrEmpty("SKIFF_TOKEN");
  env.skiff_ca = envOrEmpty("SKIFF_CA");
  env.skiff_fingerprint = envOrEmpty("SKIFF_FINGERPRINT");
  return env;
}

Result<std::string> configPath(const CliEnvironment& env) {
  if (!env.skiff_config.empty()) return env.skiff_config;
  // The XDG Base Directory spec says to ignore a relative XDG_CONFIG_HOME.
  if (!env.xdg_config_home.empty() && env.xdg_config_home.front() == '/')
    return env.xdg_config_home + "/skiff/config.json";
  if (!env.home.empty()) return env.home + "/.config/skiff/config.json";
  return badRequest(
      "cannot tell where to keep the CLI's config: HOME is not set (set SKIFF_CONFIG to a file "
      "path)");
}

Result<CliConfig> loadConfig(const std::string& path) {
  auto text = readWholeFile(path);
  if (!text.ok()) {
    if (text.status().code() == StatusCode::kNotFound) return CliConfig{};
    return text.status();
  }
  json doc = json::parse(*text, nullptr, false);
  auto bad = [&](const std::string& why) {
    return badRequest("the CLI config " + path + " " + why +
                      ": fix it, or delete it and run skiff login");
  };
  if (!doc.is_object()) return bad("is not a JSON object");
  CliConfig config;
  for (auto [field, target] :
       {std::pair{"server", &config.server}, std::pair{"token", &config.token}}) {
    auto it = doc.find(field);
    if (it == doc.end() || it->is_null()) continue;
    if (!it->is_string()) return bad(std::string("has a \"") + field + "\" that is not a string");
    *target = it->get<std::string>();
  }
  if (auto trust = doc.find("trust"); trust != doc.end() && !trust->is_null()) {
    if (!trust->is_object()) return bad("has a \"trust\" that is not an object");
    for (const auto& [server, entry] : trust->items()) {
      if (!entry.is_object())
        return bad("has a trust entry for " + server + " that is not an object");
      ServerTrust t;
      for (auto [field, target] :
           {std::pair{"ca", &t.ca_file}, std::pair{"fingerprint", &t.fingerprint}}) {
        auto it = entry.find(field);
        if (it == entry.end() || it->is_null()) continue;
        if (!it->is_string())
          return bad("has a trust entry for " + server + " whose \"" + field +
                     "\" is not a string");
        *target = it->get<std::string>();
      }
      if (!t.empty()) config.trust[normalizeServerUrl(server)] = std::move(t);
    }
  }
  return config;
}

Status saveConfig(const std::string& path, const CliConfig& config) {
  const size_t slash = path.find_last_of('/');
  const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash);
  if (slash != std::string::npos && slash > 0) {
    Status made = makeDirectories(dir);
    if (!made.isOk()) return made;
  }
  json doc = json::object();
  if (!config.server.empty()) doc["server"] = config.server;
  if (!config.token.empty()) doc["token"] = config.token;
  for (const auto& [server, t] : config.trust) {
    if (t.empty()) continue;
    json entry = json::object();
    if (!t.ca_file.empty()) entry["ca"] = t.ca_file;
    if (!t.fingerprint.empty()) entry["fingerprint"] = t.fingerprint;
    doc["trust"][server] = std::move(entry);
  }
  const std::string contents = doc.dump(2) + "\n";

  // A unique temporary name (two logins at once must not write into each other's file),
  // created 0600 by mkstemp so the token is never readable by others, not even briefly.
  std::string tmp = path + ".XXXXXX";
  int fd = ::mkstemp(tmp.data());
  if (fd < 0) return fileError("cannot create a file beside", path);
  Status st = writeAll(fd, contents, tmp);
  if (st.isOk() && ::fchmod(fd, 0600) != 0) st = fileError("cannot set the mode of", tmp);
  if (st.isOk() && ::fsync(fd) != 0) st = fileError("cannot fsync", tmp);
  ::close(fd);
  if (st.isOk() && ::rename(tmp.c_str(), path.c_str()) != 0) st = fileError("cannot replace", path);
  if (!st.isOk()) {
    ::unlink(tmp.c_str());
    return st;
  }
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);  // best effort: the rename is already visible
    ::close(dfd);
  }
  return Status::ok();
}

std::string normalizeServerUrl(const std::string& url) {
  std::string out = url;
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  return out;
}

std::string savedServer(const CliConfig& config) {
  return normalizeServerUrl(config.server.empty() ? kDefaultServer : config.server);
}

Credentials resolveCredentials(const std::string& flag_server, const std::string& flag_token,
                               const CliEnvironment& env, const CliConfig& config) {
  const std::string config_server = savedServer(config);
  Credentials c;
  if (!flag_server.empty()) {
    c.server = normalizeServerUrl(flag_server);
  } else if (!env.skiff_server.empty()) {
    c.server = normalizeServerUrl(env.skiff_server);
  } else {
    c.server = config_server;
  }
  if (!flag_token.empty()) {
    c.token = flag_token;
    c.source = TokenSource::kFlag;
  } else if (!env.skiff_token.empty()) {
    c.token = env.skiff_token;
    c.source = TokenSource::kEnvironment;
  } else if (!config.token.empty() && c.server == config_server) {
    c.token = config.token;
    c.source = TokenSource::kConfig;
  }
  return c;
}

Result<ResolvedTrust> resolveTrust(const std::string& server, const ServerTrust& flags,
                                   const CliEnvironment& env, const CliConfig& config) {
  ResolvedTrust r;
  std::string origin;
  if (!flags.empty()) {
    r = {flags, TrustSource::kFlag};
    origin = "--fingerprint";
  } else if (!env.skiff_ca.empty() || !env.skiff_fingerprint.empty()) {
    r = {{env.skiff_ca, env.skiff_fingerprint}, TrustSource::kEnvironment};
    origin = "SKIFF_FINGERPRINT";
  } else if (auto it = config.trust.find(normalizeServerUrl(server)); it != config.trust.end()) {
    r = {it->second, TrustSource::kConfig};
    origin = "the fingerprint saved for " + it->first;
  }
  if (!r.trust.fingerprint.empty()) {
    auto normalized = net::normalizeFingerprint(r.trust.fingerprint);
    if (!normalized.ok()) return badRequest(origin + ": " + normalized.status().message());
    r.trust.fingerprint = *normalized;
  }
  return r;
}

}  // namespace skiff::cli
