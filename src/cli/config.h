// The CLI's saved settings and where its credentials come from.
//
// `skiff login` keeps the server it logged in to and the session token in a JSON file,
// {"server": "http://...", "token": "skf_..."}, at $SKIFF_CONFIG, else
// $XDG_CONFIG_HOME/skiff/config.json, else ~/.config/skiff/config.json. The file holds a
// secret: it is written atomically with mode 0600, and directories created for it get 0700.
//
// Which token a command sends: --token, else $SKIFF_TOKEN, else the saved one, but only when
// it was saved for the server in use (the saved server is also the default when neither
// --server nor $SKIFF_SERVER names one). Plain values and functions; thread-compatible.
#pragma once

#include <string>

#include "common/status.h"

namespace skiff::cli {

// The process environment variables the CLI reads, gathered so tests can supply their own.
struct CliEnvironment {
  std::string skiff_config;     // $SKIFF_CONFIG: the config file's path
  std::string xdg_config_home;  // $XDG_CONFIG_HOME
  std::string home;             // $HOME
  std::string skiff_server;     // $SKIFF_SERVER
  std::string skiff_token;      // $SKIFF_TOKEN

  static CliEnvironment fromProcess();
};

// The config file's path; kBadRequest when the environment names none (no HOME).
Result<std::string> configPath(const CliEnvironment& env);

struct CliConfig {
  std::string server;  // the server `token` was issued by
  std::string token;   // empty after logout
  bool operator==(const CliConfig&) const = default;
};

// The saved config; an empty one when the file does not exist. A file that cannot be read or
// is not a config is an error naming the file.
Result<CliConfig> loadConfig(const std::string& path);

// Replaces the file at `path` with `config` (readers see the old or the new file), mode 0600,
// creating missing directories with mode 0700.
Status saveConfig(const std::string& path, const CliConfig& config);

// "http://host:7480/" and "http://host:7480" are the same server.
std::string normalizeServerUrl(const std::string& url);

// The server the config's token is for: its server (normalized), else kDefaultServer.
std::string savedServer(const CliConfig& config);

enum class TokenSource { kNone, kFlag, kEnvironment, kConfig };

struct Credentials {
  std::string server;  // the server to talk to
  std::string token;   // empty: send no Authorization header
  TokenSource source = TokenSource::kNone;
};

// Server: --server, else $SKIFF_SERVER, else the config's, else kDefaultServer. Token: --token,
// else $SKIFF_TOKEN, else the config's when it was saved for that server.
Credentials resolveCredentials(const std::string& flag_server, const std::string& flag_token,
                               const CliEnvironment& env, const CliConfig& config);

}  // namespace skiff::cli
