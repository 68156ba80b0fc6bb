// ApiClient: the CLI's connection to a Skiff server's REST API (/api/v1). Each call is one
// HTTP/1.1 request on its own connection, through net::fetch: over https:// the server's
// certificate is verified (a CA file, a pinned fingerprint, or the system's trusted CAs) before
// anything is sent, and a server that cannot be verified is an error, never a reason to fall
// back to plain HTTP.
//
// Every failure comes back as a Status: an error answer from the server keeps its reason,
// message and field causes; a server that cannot be reached is kUnavailable with a message
// saying where the CLI looked and how to point it elsewhere. Every request carries the bearer
// token set with setToken(); a 401 answer becomes a kUnauthenticated Status telling the user
// to log in. Not thread-safe; the CLI is single-threaded.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"
#include "model/kinds.h"
#include "model/object.h"
#include "net/http_client.h"

namespace skiff::cli {

inline constexpr const char* kDefaultServer = "https://127.0.0.1:7480";

// --server if given, else $SKIFF_SERVER, else kDefaultServer.
std::string resolveServerUrl(const std::string& flag_value);

// Percent-encodes a path segment or query parameter value (RFC 3986 unreserved characters
// pass through).
std::string urlEncode(const std::string& value);

// What one object call addresses. `tenant` is ignored for platform-scoped kinds.
struct ObjectAddress {
  const KindInfo* kind = nullptr;
  std::string tenant;
  std::string name;
};

struct ListQuery {
  const KindInfo* kind = nullptr;
  std::string tenant;          // ignored for platform-scoped kinds
  bool all_tenants = false;    // list a tenant-scoped kind across every tenant
  std::string label_selector;  // Kubernetes syntax; empty selects everything
};

class ApiClient {
 public:
  // `base_url` is "https://HOST[:PORT]" or "http://HOST[:PORT]"; anything else is kBadRequest
  // saying what is accepted. `tls` says how an https server is verified.
  static Result<ApiClient> connect(const std::string& base_url, net::TlsClientOptions tls = {});

  const std::string& baseUrl() const { return base_url_; }

  // The token sent as "Authorization: Bearer <token>" on every request (none when empty), and
  // what a 401 answer should tell the user to do, e.g. "run skiff login".
  void setToken(std::string token, std::string login_hint = "run skiff login");
  const std::string& token() const { return token_; }
  // How the server is verified, for connections made beside this client (exec's WebSocket).
  const net::TlsClientOptions& tls() const { return tls_; }
  // A transport failure as the user should read it.
  Status unreachable(const Status& failure) const;

  // A request outside the object API (/api/v1/whoami, /api/v1/tokens, ...): `body`, unless
  // null, is sent as JSON; a 2xx answer's JSON body is returned.
  Result<json> request(const std::string& method, const std::string& target,
                       const json& body = nullptr);
  // POST /api/v1/login without a bearer token: a 401 is a kUnauthenticated Status carrying the
  // server's message (wrong password, locked account), not the "run skiff login" advice.
  Result<json> login(const std::string& user, const std::string& password);

  Result<json> get(const ObjectAddress& address);
  // The List document ({"items": [...], "metadata": {"resourceVersion": N}}).
  Result<json> list(const ListQuery& query);
  Result<json> create(const ObjectAddress& address, const json& object, bool dry_run = false);
  // PUT: `object` must carry the metadata.resourceVersion it replaces.
  Result<json> replace(const ObjectAddress& address, const json& object, bool dry_run = false);
  // PATCH with a JSON merge patch (RFC 7386): null removes a key, objects merge, anything else
  // (arrays included) replaces. Applies to the latest version unless the patch pins one.
  Result<json> mergePatch(const ObjectAddress& address, const json& patch);
  // The object's last state.
  Result<json> remove(const ObjectAddress& address);
  // GET /version.
  Result<json> serverVersion();

  // Streams the watch of `query` from `resource_version` (or, when absent, from ADDED events
  // for every existing object), calling `on_event` with each decoded event
  // ({"type": ..., "object": ...}) until it returns false or the server ends the stream.
  Status watch(const ListQuery& query, std::optional<int64_t> resource_version,
               const std::function<bool(const json& event)>& on_event);

  // GET `target` (a path with its query, e.g. "/api/v1/tenants/t/instances/x/log?follow=true")
  // and hand the body to `on_data` as it arrives, until it returns false or the body ends. No
  // read deadline: the answer may be an open-ended stream. An error answer is its Status.
  Status streamGet(const std::string& target,
                   const std::function<bool(std::string_view data)>& on_data);

 private:
  struct Reply {
    int status = 0;
    std::string body;
  };

  ApiClient(std::string base_url, net::TlsClientOptions tls)
      : base_url_(std::move(base_url)), tls_(std::move(tls)) {}
  net::ClientRequest makeRequest(const std::string& method, const std::string& target,
                                 const std::string& body, const std::string& content_type) const;

  // One request; a transport failure is kUnavailable, an HTTP error answer is not (see call()).
  Result<Reply> exchange(const std::string& method, const std::string& target,
                         const std::string& body, const std::string& content_type);
  // exchange() with the answer decoded: 2xx bodies as JSON, error answers as a Status.
  Result<json> call(const std::string& method, const std::string& target,
                    const std::string& body = "", const std::string& content_type = "");
  // statusFromErrorReply(), with 401 answers turned into advice to log in.
  Status errorFromReply(int http_status, const std::string& body) const;

  std::string base_url_;  // without a trailing slash; may have a path prefix
  net::TlsClientOptions tls_;
  std::string token_;
  std::string login_hint_ = "run skiff login";
};

// The Status an HTTP error answer stands for: the server's Status document when the body is
// one, else the HTTP status and body text. 401 and 403 are kUnauthenticated and kForbidden
// whatever the body says.
Status statusFromErrorReply(int http_status, const std::string& body);

}  // namespace skiff::cli
