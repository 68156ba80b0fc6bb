// The CLI's saved settings and where its credentials come from.
//
// `skiff login` keeps the server it logged in to, the session token, and how to verify each
// server's certificate in a JSON file,
//   {"server": "https://...", "token": "skf_...",
//    "trust": {"https://...": {"ca": "/path/ca.pem", "fingerprint": "sha256:..."}}},
// at $SKIFF_CONFIG, else $XDG_CONFIG_HOME/skiff/config.json, else ~/.config/skiff/config.json.
// The file holds a secret: it is written atomically with mode 0600, and directories created
// for it get 0700. `skiff server` writes one for the platform admin, without a token.
//
// Which token a command sends: --token, else $SKIFF_TOKEN, else the saved one, but only when
// it was saved for the server in use (the saved server is also the default when neither
// --server nor $SKIFF_SERVER names one). How the server is verified: --ca/--fingerprint, else
// $SKIFF_CA/$SKIFF_FINGERPRINT, else what was saved for that server, else the system's trusted
// CAs. Plain values and functions; thread-compatible.
#pragma once

#include <map>
#include <string>

#include "common/status.h"

namespace skiff::cli {

// The process environment variables the CLI reads, gathered so tests can supply their own.
struct CliEnvironment {
  std::string skiff_config;       // $SKIFF_CONFIG: the config file's path
  std::string xdg_config_home;    // $XDG_CONFIG_HOME
  std::string home;               // $HOME
  std::string skiff_server;       // $SKIFF_SERVER
  std::string skiff_token;        // $SKIFF_TOKEN
  std::string skiff_ca;           // $SKIFF_CA
  std::string skiff_fingerprint;  // $SKIFF_FINGERPRINT

  static CliEnvironment fromProcess();
};

// The config file's path; kBadRequest when the environment names none (no HOME).
Result<std::string> configPath(const CliEnvironment& env);

// How the CLI verifies one server's certificate; both empty: the system's trusted CAs.
struct ServerTrust {
  std::string ca_file;      // PEM certificates to trust (an absolute path once saved)
  std::string fingerprint;  // "sha256:<hex>" of the server's certificate; when set, it decides
  bool empty() const { return ca_file.empty() && fingerprint.empty(); }
  bool operator==(const ServerTrust&) const = default;
};

struct CliConfig {
  std::string server;  // the server `token` was issued by
  std::string token;   // empty after logout
  // By normalized server URL; kept after logout. (An initializer, so that {server, token} stays
  // a complete CliConfig.)
  std::map<std::string, ServerTrust> trust = {};
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

enum class TrustSource { kNone, kFlag, kEnvironment, kConfig };

struct ResolvedTrust {
  ServerTrust trust;
  TrustSource source = TrustSource::kNone;
};

// How to verify `server` (normalized): --ca/--fingerprint if either is given, else
// $SKIFF_CA/$SKIFF_FINGERPRINT if either is set, else the config's entry for that server. A
// fingerprint is returned normalized; one that is not a fingerprint is kBadRequest naming where
// it came from.
Result<ResolvedTrust> resolveTrust(const std::string& server, const ServerTrust& flags,
                                   const CliEnvironment& env, const CliConfig& config);

}  // namespace skiff::cli
