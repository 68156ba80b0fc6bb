#include "image/registry_client.h"

#include <algorithm>
#include <cctype>

#include <nlohmann/json.hpp>

namespace skiff::image {
namespace {

using nlohmann::json;

std::string base64(std::string_view in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out.push_back(kAlphabet[(v >> s) & 63]);
  }
  if (i + 1 == in.size()) {
    uint32_t v = uint8_t(in[i]) << 16;
    out += {kAlphabet[(v >> 18) & 63], kAlphabet[(v >> 12) & 63], '=', '='};
  } else if (i + 2 == in.size()) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
    out += {kAlphabet[(v >> 18) & 63], kAlphabet[(v >> 12) & 63], kAlphabet[(v >> 6) & 63], '='};
  }
  return out;
}

std::string urlEncode(std::string_view in) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : in) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out += {'%', kHex[c >> 4], kHex[c & 15]};
    }
  }
  return out;
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// A WWW-Authenticate challenge: its scheme and parameters (realm, service, scope).
struct Challenge {
  std::string scheme;  // lowercase
  std::map<std::string, std::string> params;
};

Challenge parseChallenge(std::string_view header) {
  Challenge c;
  size_t space = header.find(' ');
  c.scheme = lower(std::string(header.substr(0, space)));
  if (space == std::string_view::npos) return c;
  std::string_view rest = header.substr(space + 1);
  size_t i = 0;
  while (i < rest.size()) {
    while (i < rest.size() && (rest[i] == ' ' || rest[i] == ',')) ++i;
    size_t eq = rest.find('=', i);
    if (eq == std::string_view::npos) break;
    std::string key = lower(std::string(rest.substr(i, eq - i)));
    i = eq + 1;
    std::string value;
    if (i < rest.size() && rest[i] == '"') {
      for (++i; i < rest.size() && rest[i] != '"'; ++i) {
        if (rest[i] == '\\' && i + 1 < rest.size()) ++i;
        value.push_back(rest[i]);
      }
      ++i;
    } else {
      size_t end = rest.find(',', i);
      if (end == std::string_view::npos) end = rest.size();
      value = std::string(rest.substr(i, end - i));
      i = end;
    }
    c.params[key] = value;
  }
  return c;
}

bool isRedirect(int status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

// Resolves a Location header against the URL it answered.
std::string resolveLocation(const std::string& base_url, const std::string& location) {
  if (location.starts_with("http://") || location.starts_with("https://")) return location;
  auto url = net::parseUrl(base_url);
  if (!url.ok()) return location;
  std::string origin = url->scheme + "://" + url->authority();
  if (location.starts_with("/")) return origin + location;
  std::string dir = url->target.substr(0, url->target.rfind('/') + 1);
  return origin + dir + location;
}

}  // namespace

bool isInsecureRegistry(const std::string& registry, const std::vector<std::string>& insecure) {
  std::string host = registry;
  if (host.starts_with("[")) {
    host = host.substr(1, host.find(']') - 1);
  } else if (auto colon = host.find(':'); colon != std::string::npos) {
    host = host.substr(0, colon);
  }
  const bool ipv4_literal = host.find_first_not_of("0123456789.") == std::string::npos;
  if (host == "localhost" || (ipv4_literal && host.starts_with("127.")) || host == "::1")
    return true;
  for (const auto& entry : insecure)
    if (entry == registry || entry == host) return true;
  return false;
}

std::string registryErrorCode(const std::string& body) {
  json doc = json::parse(body, nullptr, false);
  if (doc.is_object() && doc.contains("errors") && doc["errors"].is_array() &&
      !doc["errors"].empty() && doc["errors"][0].is_object() && doc["errors"][0].contains("code") &&
      doc["errors"][0]["code"].is_string())
    return doc["errors"][0]["code"].get<std::string>();
  return "";
}

RegistryClient::RegistryClient(std::string registry, RegistryOptions options)
    : registry_(std::move(registry)), options_(std::move(options)) {
  base_url_ =
      (isInsecureRegistry(registry_, options_.insecure_registries) ? "http://" : "https://") +
      registry_;
  if (options_.credentials) credentials_ = options_.credentials(registry_);
}

std::string RegistryClient::credentialsText() const {
  if (!credentials_) return "no credentials were given";
  return "the credentials of user \"" + credentials_->username + "\" were refused";
}

Status RegistryClient::unauthorized(const std::string& what,
                                    const net::ClientResponse& response) const {
  std::string advice = credentials_ ? ": check the user name and password"
                                    : ": give a user name and password for it";
  std::string code = registryErrorCode(response.body);
  if (response.status == 403 || code == "DENIED")
    return Status(
        StatusCode::kForbidden,
        "registry " + registry_ + " denied " + what + " (" +
            (credentials_ ? "as user \"" + credentials_->username + "\"" : "anonymously") +
            "): the account lacks access to it");
  return Status(StatusCode::kUnauthenticated, "registry " + registry_ +
                                                  " requires authentication for " + what + " and " +
                                                  credentialsText() + advice);
}

Result<std::string> RegistryClient::authorize(const std::string& header, const std::string& scope) {
  Challenge challenge = parseChallenge(header);
  if (challenge.scheme == "basic") {
    if (!credentials_) return std::string();
    return "Basic " + base64(credentials_->username + ":" + credentials_->password);
  }
  if (challenge.scheme != "bearer" || challenge.params["realm"].empty())
    return unavailable("registry " + registry_ +
                       " asks for an authentication scheme Skiff "
                       "does not speak: \"" +
                       header + "\"");
  std::string url = challenge.params["realm"];
  char sep = url.find('?') == std::string::npos ? '?' : '&';
  if (!challenge.params["service"].empty()) {
    url += sep + std::string("service=") + urlEncode(challenge.params["service"]);
    sep = '&';
  }
  // Our own scope rather than the challenge's: a push's first request (a blob check) is
  // challenged for pull only, and one token for pull and push saves a second round trip.
  std::string want = scope.empty() ? challenge.params["scope"] : scope;
  if (!want.empty()) url += sep + std::string("scope=") + urlEncode(want);
  net::ClientRequest request;
  request.url = url;
  request.timeout = options_.timeout;
  if (credentials_)
    request.headers.emplace_back(
        "Authorization", "Basic " + base64(credentials_->username + ":" + credentials_->password));
  auto response = net::fetch(request, options_.tls);
  if (!response.ok())
    return unavailable("cannot get a token for registry " + registry_ + " from " +
                       challenge.params["realm"] + ": " + response.status().message());
  if (response->status == 401 || response->status == 403)
    return Status(StatusCode::kUnauthenticated,
                  "the token server of registry " + registry_ + " (" + challenge.params["realm"] +
                      ") refused to issue a token: " +
                      (credentials_ ? "the credentials of user \"" + credentials_->username +
                                          "\" were refused; check the user name and password"
                                    : "no credentials were given; give a user name and password"));
  if (response->status != 200)
    return unavailable("the token server of registry " + registry_ + " (" +
                       challenge.params["realm"] + ") answered HTTP " +
                       std::to_string(response->status));
  json doc = json::parse(response->body, nullptr, false);
  std::string token;
  if (doc.is_object()) {
    if (doc.contains("token") && doc["token"].is_string()) token = doc["token"].get<std::string>();
    if (token.empty() && doc.contains("access_token") && doc["access_token"].is_string())
      token = doc["access_token"].get<std::string>();
  }
  if (token.empty())
    return unavailable("the token server of registry " + registry_ + " (" +
                       challenge.params["realm"] + ") answered without a token");
  return "Bearer " + token;
}

Result<net::ClientResponse> RegistryClient::send(
    net::ClientRequest request, const std::string& repository, Access access,
    const std::function<bool(std::string_view)>* sink) {
  const std::string scope =
      "repository:" + repository + (access == Access::kPush ? ":pull,push" : ":pull");
  if (!request.url.starts_with("http")) request.url = base_url_ + request.url;
  request.timeout = std::max(request.timeout, options_.timeout);
  const auto base_headers = request.headers;

  auto exchange = [&](const net::ClientRequest& r) {
    return sink ? net::fetchStreaming(r, *sink, options_.tls) : net::fetch(r, options_.tls);
  };
  auto with_auth = [&](const std::string& authorization) {
    net::ClientRequest r = request;
    r.headers = base_headers;
    if (!authorization.empty()) r.headers.emplace_back("Authorization", authorization);
    return r;
  };

  bool authorized_fresh = false;
  std::string authorization = authorization_.count(scope) ? authorization_[scope] : "";
  for (int redirects = 0;;) {
    auto response = exchange(with_auth(authorization));
    if (!response.ok())
      return unavailable("cannot reach registry " + registry_ + ": " + response.status().message() +
                         (base_url_.starts_with("http://")
                              ? ""
                              : " (if it serves plain HTTP, list it as an insecure registry)"));
    if (response->status == 401 && !authorized_fresh) {
      std::string challenge = response->header("WWW-Authenticate");
      if (challenge.empty()) return *response;
      auto auth = authorize(challenge, scope);
      if (!auth.ok()) return auth.status();
      if (auth->empty()) return *response;  // Basic without credentials: the caller explains
      authorization = *auth;
      authorization_[scope] = authorization;
      authorized_fresh = true;
      continue;
    }
    if (isRedirect(response->status) && !response->header("Location").empty()) {
      if (++redirects > 5)
        return unavailable("registry " + registry_ + " redirected " + request.url +
                           " more than 5 times");
      // Blob storage behind a redirect (S3, a CDN) gets no registry credentials: the URL it
      // hands out is pre-signed.
      request.url = resolveLocation(request.url, response->header("Location"));
      request.method = response->status == 303 ? "GET" : request.method;
      authorization.clear();
      authorized_fresh = true;
      continue;
    }
    return response;
  }
}

Result<FetchedManifest> RegistryClient::getManifest(const std::string& repository,
                                                    const std::string& key,
                                                    const std::string& image) {
  net::ClientRequest request;
  request.url = "/v2/" + repository + "/manifests/" + key;
  request.headers.emplace_back("Accept", std::string(kOciIndex) + ", " + std::string(kOciManifest) +
                                             ", " + std::string(kDockerManifestList) + ", " +
                                             std::string(kDockerManifest));
  request.max_response_bytes = 4 << 20;
  auto response = send(request, repository, Access::kPull);
  if (!response.ok()) return response.status();
  if (response->status == 401 || response->status == 403)
    return unauthorized("image " + image, *response);
  if (response->status == 404) {
    std::string code = registryErrorCode(response->body);
    if (code == "NAME_UNKNOWN")
      return notFound("image " + image + " not found in registry " + registry_ +
                      ": the repository " + repository + " does not exist");
    return notFound("image " + image + " not found in registry " + registry_ + ": no tag or " +
                    "digest \"" + key + "\" in repository " + repository);
  }
  if (response->status != 200)
    return unavailable("registry " + registry_ + " answered HTTP " +
                       std::to_string(response->status) + " for the manifest of " + image);
  FetchedManifest manifest;
  manifest.body = std::move(response->body);
  manifest.digest = Digest::of(manifest.body);
  json doc = json::parse(manifest.body, nullptr, false);
  if (!doc.is_object())
    return Status(StatusCode::kInvalid, "registry " + registry_ + " served a manifest for " +
                                            image + " that is not JSON");
  if (doc.contains("mediaType") && doc["mediaType"].is_string())
    manifest.media_type = doc["mediaType"].get<std::string>();
  if (manifest.media_type.empty()) {
    manifest.media_type = response->header("Content-Type");
    if (auto semi = manifest.media_type.find(';'); semi != std::string::npos)
      manifest.media_type.resize(semi);
  }
  if (key.starts_with("sha256:") && manifest.digest.str() != key)
    return Status(StatusCode::kInvalid, "digest mismatch for the manifest of " + image +
                                            " from registry " + registry_ + ": expected " + key +
                                            ", got " + manifest.digest.str());
  return manifest;
}

Status RegistryClient::getBlob(const std::string& repository, const Digest& digest,
                               const std::function<bool(std::string_view)>& sink) {
  net::ClientRequest request;
  request.url = "/v2/" + repository + "/blobs/" + digest.str();
  auto response = send(request, repository, Access::kPull, &sink);
  if (!response.ok()) return response.status();
  if (response->status == 401 || response->status == 403)
    return unauthorized("blob " + digest.str() + " of " + repository, *response);
  if (response->status == 404)
    return notFound("blob " + digest.str() + " of " + repository + " is missing in registry " +
                    registry_);
  if (response->status / 100 != 2)
    return unavailable("registry " + registry_ + " answered HTTP " +
                       std::to_string(response->status) + " for blob " + digest.str());
  return Status::ok();
}

Result<bool> RegistryClient::hasBlob(const std::string& repository, const Digest& digest) {
  // A GET abandoned at its first bytes rather than a HEAD: net::fetch reads a body for every
  // answer, and a HEAD answer declares a Content-Length without sending one.
  net::ClientRequest request;
  request.url = "/v2/" + repository + "/blobs/" + digest.str();
  const std::function<bool(std::string_view)> stop = [](std::string_view) { return false; };
  auto response = send(request, repository, Access::kPush, &stop);
  if (!response.ok()) return response.status();
  if (response->status / 100 == 2) return true;
  if (response->status == 404) return false;
  if (response->status == 401 || response->status == 403)
    return unauthorized("pushing to " + repository, *response);
  return unavailable("registry " + registry_ + " answered HTTP " +
                     std::to_string(response->status) + " when asked for blob " + digest.str());
}

Result<std::vector<std::string>> RegistryClient::listTags(const std::string& repository) {
  std::vector<std::string> tags;
  std::string next = "/v2/" + repository + "/tags/list?n=1000";
  // Pages until the registry sends no Link to a next one; bounded against a looping registry.
  for (int page = 0; !next.empty() && page < 100; ++page) {
    net::ClientRequest request;
    request.url = next;
    request.max_response_bytes = 8 << 20;
    auto response = send(request, repository, Access::kPull);
    if (!response.ok()) return response.status();
    if (response->status == 401 || response->status == 403)
      return unauthorized("the tags of " + repository, *response);
    if (response->status == 404)
      return notFound("registry " + registry_ + " has no repository " + repository);
    if (response->status != 200)
      return unavailable("registry " + registry_ + " answered HTTP " +
                         std::to_string(response->status) + " for the tags of " + repository);
    json doc = json::parse(response->body, nullptr, false);
    if (!doc.is_object())
      return Status(StatusCode::kInvalid,
                    "registry " + registry_ + " sent tags of " + repository + " that are not JSON");
    for (const auto& tag : doc.value("tags", json::array()))
      if (tag.is_string()) tags.push_back(tag.get<std::string>());
    // Link: </v2/name/tags/list?n=1000&last=x>; rel="next"
    const std::string link = response->header("Link");
    const size_t open = link.find('<'), close = link.find('>');
    next = open != std::string::npos && close != std::string::npos && close > open &&
                   link.find("rel=\"next\"") != std::string::npos
               ? link.substr(open + 1, close - open - 1)
               : "";
  }
  return tags;
}

Status RegistryClient::pushBlob(const std::string& repository, const Digest& digest,
                                const std::string& content) {
  net::ClientRequest start;
  start.method = "POST";
  start.url = "/v2/" + repository + "/blobs/uploads/";
  auto started = send(start, repository, Access::kPush);
  if (!started.ok()) return started.status();
  if (started->status == 401 || started->status == 403)
    return unauthorized("pushing to " + repository, *started);
  if (started->status != 202 || started->header("Location").empty())
    return unavailable("registry " + registry_ + " did not start an upload to " + repository +
                       " (HTTP " + std::to_string(started->status) + ")");
  std::string location = resolveLocation(base_url_ + start.url, started->header("Location"));
  net::ClientRequest put;
  put.method = "PUT";
  put.url = location + (location.find('?') == std::string::npos ? "?" : "&") +
            "digest=" + urlEncode(digest.str());
  put.headers.emplace_back("Content-Type", "application/octet-stream");
  put.body = content;
  // A layer may take a while on a slow link: allow about 1 MB/s on top of the usual timeout.
  put.timeout = options_.timeout + std::chrono::milliseconds(content.size() / 1000);
  auto done = send(put, repository, Access::kPush);
  if (!done.ok()) return done.status();
  if (done->status == 401 || done->status == 403)
    return unauthorized("pushing to " + repository, *done);
  if (done->status != 201) {
    std::string code = registryErrorCode(done->body);
    return unavailable("registry " + registry_ + " refused blob " + digest.str() + " (HTTP " +
                       std::to_string(done->status) + (code.empty() ? "" : " " + code) + ")");
  }
  return Status::ok();
}

Result<Digest> RegistryClient::putManifest(const std::string& repository, const std::string& key,
                                           const std::string& media_type, const std::string& body) {
  net::ClientRequest request;
  request.method = "PUT";
  request.url = "/v2/" + repository + "/manifests/" + key;
  request.headers.emplace_back("Content-Type", media_type);
  request.body = body;
  auto response = send(request, repository, Access::kPush);
  if (!response.ok()) return response.status();
  if (response->status == 401 || response->status == 403)
    return unauthorized("pushing to " + repository, *response);
  if (response->status != 201) {
    std::string code = registryErrorCode(response->body);
    return Status(StatusCode::kInvalid, "registry " + registry_ + " refused the manifest for " +
                                            repository + ":" + key + " (HTTP " +
                                            std::to_string(response->status) +
                                            (code.empty() ? "" : " " + code) + ")");
  }
  Digest digest = Digest::of(body);
  std::string served = response->header("Docker-Content-Digest");
  if (!served.empty() && served != digest.str())
    return Status(StatusCode::kInvalid, "digest mismatch: registry " + registry_ +
                                            " stored the manifest as " + served + ", expected " +
                                            digest.str());
  return digest;
}

}  // namespace skiff::image
