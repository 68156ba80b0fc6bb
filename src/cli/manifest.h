// Manifests: the objects a user hands to apply, delete -f and diff, read from a file, a
// directory or stdin and checked locally, so that bad input is reported (naming the file,
// document and field) before anything is sent to the server. Pure apart from reading files;
// thread-compatible.
#pragma once

#include <istream>
#include <string>
#include <vector>

#include "cli/api_client.h"
#include "common/status.h"
#include "model/object.h"

namespace skiff::cli {

struct Manifest {
  json document;          // as written by the user, metadata.tenant filled in
  ObjectAddress address;  // kind, tenant (empty for platform kinds) and name
  std::string source;     // "app.yaml (document 2)", for messages
};

struct ManifestOptions {
  // The tenant of tenant-scoped objects whose document names none (--tenant, or "default").
  std::string default_tenant;
  // True when the user gave --tenant: a document naming another tenant is then an error.
  bool tenant_explicit = false;
  // Refuse kinds only Skiff writes (Revision), for commands that write.
  bool writable_only = true;
};

// Reads every object of `path`: a file, a directory (its *.yaml, *.yml and *.json files, in name
// order) or "-" for `stdin`. Each document must name a known kind and metadata.name. Tenants
// come first, so that objects in a tenant created by the same files can follow; otherwise the
// order of the files is kept. Fails with kBadRequest on the first bad file or document.
Result<std::vector<Manifest>> loadManifests(const std::string& path, std::istream& stdin_stream,
                                            const ManifestOptions& options);

// Manifests from text already read (`source` names it in messages); what loadManifests()
// does per file, without the reordering.
Result<std::vector<Manifest>> parseManifests(std::string_view text, const std::string& source,
                                             const ManifestOptions& options);

}  // namespace skiff::cli
