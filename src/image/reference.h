// Image references as people write them ("busybox", "registry.local:5000/acme/web:1.4.2",
// "ghcr.io/x/y@sha256:...") parsed and normalised the way Docker does: no registry host means
// docker.io, a one-component repository on docker.io lives under library/, and no tag and no
// digest means the tag "latest". Plain values; thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"
#include "image/digest.h"

namespace skiff::image {

inline constexpr std::string_view kDockerHub = "docker.io";

struct Reference {
  std::string registry;          // "docker.io", "127.0.0.1:5000", "[::1]:5000"
  std::string repository;        // "library/busybox", "acme/web"
  std::string tag;               // empty only when a digest is given without a tag
  std::optional<Digest> digest;  // pinned content, checked against what the registry serves

  // The normalised form: "docker.io/library/busybox:latest", "host:5000/a/b@sha256:...".
  std::string str() const;
  // "registry/repository", without tag or digest.
  std::string name() const;
  // What to ask the registry's manifest endpoint for: the digest when pinned, else the tag.
  std::string manifestKey() const;
  // The host:port the distribution API is served on (docker.io is served by
  // registry-1.docker.io).
  std::string apiHost() const;

  bool operator==(const Reference&) const = default;
};

// kBadRequest naming `text` and what is wrong with it.
Result<Reference> parseReference(std::string_view text);

}  // namespace skiff::image
