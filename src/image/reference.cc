#include "image/reference.h"

#include <vector>

namespace skiff::image {
namespace {

bool isLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// A repository path component: [a-z0-9]+ joined by ".", "_", "__" or "-"+ (the distribution
// spec's grammar).
bool validComponent(std::string_view c) {
  if (c.empty() || !isLowerAlnum(c.front()) || !isLowerAlnum(c.back())) return false;
  for (size_t i = 0; i < c.size();) {
    if (isLowerAlnum(c[i])) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < c.size() && !isLowerAlnum(c[j])) ++j;
    std::string_view sep = c.substr(i, j - i);
    bool ok = sep == "." || sep == "_" || sep == "__" ||
              sep.find_first_not_of('-') == std::string_view::npos;
    if (!ok) return false;
    i = j;
  }
  return true;
}

bool validTag(std::string_view t) {
  if (t.empty() || t.size() > 128) return false;
  auto word = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  };
  if (!word(t.front())) return false;
  for (char c : t)
    if (!word(c) && c != '.' && c != '-') return false;
  return true;
}

bool validHost(std::string_view h) {
  if (h.empty()) return false;
  std::string_view host = h;
  std::string_view port;
  if (host.front() == '[') {
    size_t close = host.find(']');
    if (close == std::string_view::npos) return false;
    std::string_view inner = host.substr(1, close - 1);
    if (inner.empty() ||
        inner.find_first_not_of("0123456789abcdefABCDEF:.") != std::string_view::npos)
      return false;
    std::string_view rest = host.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return false;
      port = rest.substr(1);
      if (port.empty()) return false;
    }
  } else {
    size_t colon = host.find(':');
    if (colon != std::string_view::npos) {
      port = host.substr(colon + 1);
      host = host.substr(0, colon);
      if (port.empty()) return false;
    }
    if (host.empty()) return false;
    for (char c : host)
      if (!(isLowerAlnum(c) || (c >= 'A' && c <= 'Z') || c == '.' || c == '-')) return false;
  }
  if (port.size() > 5 || port.find_first_not_of("0123456789") != std::string_view::npos)
    return false;
  return true;
}

Status bad(std::string_view text, const std::string& why) {
  return badRequest("image reference \"" + std::string(text) + "\" is invalid: " + why);
}

}  // namespace

std::string Reference::name() const { return registry + "/" + repository; }

std::string Reference::str() const {
  std::string out = name();
  if (!tag.empty()) out += ":" + tag;
  if (digest) out += "@" + digest->str();
  return out;
}

std::string Reference::manifestKey() const { return digest ? digest->str() : tag; }

std::string Reference::apiHost() const {
  return registry == kDockerHub ? "registry-1.docker.io" : registry;
}

Result<Reference> parseReference(std::string_view text) {
  if (text.empty()) return badRequest("image reference is empty: give one like busybox:latest");
  if (text.size() > 512) return bad(text.substr(0, 64), "it is longer than 512 characters");
  Reference ref;
  std::string_view rest = text;

  size_t at = rest.find('@');
  if (at != std::string_view::npos) {
    auto digest = Digest::parse(rest.substr(at + 1));
    if (!digest.ok()) return bad(text, "the part after @ must be sha256:<64 lowercase hex digits>");
    ref.digest = *digest;
    rest = rest.substr(0, at);
  }

  // The first component is a registry host when it looks like one (has "." or ":", or is
  // localhost); Docker's rule, so "acme/web" is docker.io/acme/web.
  size_t slash = rest.find('/');
  if (slash != std::string_view::npos) {
    std::string_view first = rest.substr(0, slash);
    if (first.find_first_of(".:") != std::string_view::npos || first == "localhost" ||
        first.front() == '[') {
      if (!validHost(first))
        return bad(text, "\"" + std::string(first) + "\" is not a valid registry host[:port]");
      ref.registry = std::string(first);
      rest = rest.substr(slash + 1);
    }
  }
  if (ref.registry.empty()) ref.registry = std::string(kDockerHub);
  if (ref.registry == "index.docker.io" || ref.registry == "registry-1.docker.io")
    ref.registry = std::string(kDockerHub);

  // A ":" after the last "/" starts the tag.
  size_t last_slash = rest.rfind('/');
  size_t colon = rest.rfind(':');
  if (colon != std::string_view::npos &&
      (last_slash == std::string_view::npos || colon > last_slash)) {
    std::string_view tag = rest.substr(colon + 1);
    if (!validTag(tag))
      return bad(text, "tag \"" + std::string(tag) +
                           "\" must be 1-128 letters, digits, '_', '.' or '-', not starting with "
                           "'.' or '-'");
    ref.tag = std::string(tag);
    rest = rest.substr(0, colon);
  }
  if (rest.empty()) return bad(text, "the repository name is missing");

  std::vector<std::string_view> components;
  for (size_t start = 0;;) {
    size_t end = rest.find('/', start);
    components.push_back(rest.substr(start, end == std::string_view::npos ? end : end - start));
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  for (std::string_view c : components)
    if (!validComponent(c))
      return bad(text, "repository component \"" + std::string(c) +
                           "\" must be lowercase letters and digits, separated by '.', '_', "
                           "'__' or '-'");
  ref.repository = std::string(rest);
  if (ref.registry == kDockerHub && components.size() == 1)
    ref.repository = "library/" + ref.repository;
  if (ref.repository.size() > 255)
    return bad(text, "the repository name is longer than 255 characters");
  if (ref.tag.empty() && !ref.digest) ref.tag = "latest";
  return ref;
}

}  // namespace skiff::image
