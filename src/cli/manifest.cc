#include "cli/manifest.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "model/codec.h"

namespace skiff::cli {

namespace {

namespace fs = std::filesystem;

std::string knownKinds() {
  std::string out;
  for (const auto& k : allKinds()) {
    if (!out.empty()) out += ", ";
    out += k.kind;
  }
  return out;
}

Result<Manifest> checkDocument(json doc, const std::string& source,
                               const ManifestOptions& options) {
  if (!doc.is_object())
    return badRequest(source +
                      ": expected an object with apiVersion, kind, metadata and spec, got " +
                      std::string(doc.type_name()));
  const json kind_field = doc.value("kind", json());
  if (!kind_field.is_string() || kind_field.get<std::string>().empty())
    return badRequest(source + ": kind is missing (one of " + knownKinds() + ")");
  const std::string kind_name = kind_field.get<std::string>();
  const KindInfo* kind = findKind(kind_name);
  if (kind == nullptr || kind_name != kind->kind)
    return badRequest(source + ": unknown kind \"" + kind_name + "\"" +
                      (kind ? " (did you mean " + std::string(kind->kind) + "?)"
                            : " (one of " + knownKinds() + ")"));
  if (options.writable_only && !kind->api_writable)
    return badRequest(source + ": " + kind->plural +
                      " are written only by Skiff itself and cannot be applied or deleted");

  json& meta = doc["metadata"];
  if (meta.is_null()) meta = json::object();
  if (!meta.is_object()) return badRequest(source + ": metadata must be an object");
  const json name = meta.value("name", json());
  if (!name.is_string() || name.get<std::string>().empty())
    return badRequest(source + ": metadata.name is missing: every " + kind->kind + " needs a name");

  Manifest m;
  m.address.kind = kind;
  m.address.name = name.get<std::string>();
  m.source = source;
  if (kind->scope == Scope::kTenant) {
    const json tenant = meta.value("tenant", json());
    if (!tenant.is_null() && !tenant.is_string())
      return badRequest(source + ": metadata.tenant must be a string");
    std::string doc_tenant = tenant.is_string() ? tenant.get<std::string>() : "";
    if (!doc_tenant.empty() && options.tenant_explicit && doc_tenant != options.default_tenant)
      return badRequest(source + ": metadata.tenant is \"" + doc_tenant +
                        "\" but --tenant says \"" + options.default_tenant +
                        "\": remove one of them");
    m.address.tenant = doc_tenant.empty() ? options.default_tenant : doc_tenant;
    meta["tenant"] = m.address.tenant;
  }
  m.document = std::move(doc);
  return m;
}

Result<std::string> readFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return badRequest("cannot read " + path.string() + ": no such file or not readable");
  std::stringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return badRequest("cannot read " + path.string());
  return ss.str();
}

bool isManifestFile(const fs::path& p) {
  const std::string ext = p.extension().string();
  return ext == ".yaml" || ext == ".yml" || ext == ".json";
}

}  // namespace

Result<std::vector<Manifest>> parseManifests(std::string_view text, const std::string& source,
                                             const ManifestOptions& options) {
  auto docs = decodeDocuments(text);
  if (!docs.ok()) return badRequest(source + ": " + docs.status().message());
  std::vector<Manifest> out;
  for (size_t i = 0; i < docs->size(); ++i) {
    const std::string where =
        docs->size() == 1 ? source : source + " (document " + std::to_string(i + 1) + ")";
    auto m = checkDocument(std::move((*docs)[i]), where, options);
    if (!m.ok()) return m.status();
    out.push_back(std::move(m).value());
  }
  return out;
}

Result<std::vector<Manifest>> loadManifests(const std::string& path, std::istream& stdin_stream,
                                            const ManifestOptions& options) {
  std::vector<Manifest> all;
  auto add = [&](std::string_view text, const std::string& source) -> Status {
    auto parsed = parseManifests(text, source, options);
    if (!parsed.ok()) return parsed.status();
    for (auto& m : *parsed) all.push_back(std::move(m));
    return Status::ok();
  };

  if (path == "-") {
    std::stringstream ss;
    ss << stdin_stream.rdbuf();
    if (Status s = add(ss.str(), "stdin"); !s.isOk()) return s;
  } else {
    std::error_code ec;
    const fs::file_status st = fs::status(path, ec);
    if (ec || !fs::exists(st))
      return badRequest("cannot read " + path + ": no such file or directory");
    if (fs::is_directory(st)) {
      std::vector<fs::path> files;
      for (const auto& entry : fs::directory_iterator(path, ec))
        if (entry.is_regular_file() && isManifestFile(entry.path())) files.push_back(entry.path());
      if (ec) return badRequest("cannot list " + path + ": " + ec.message());
      if (files.empty()) return badRequest(path + " holds no .yaml, .yml or .json files");
      std::sort(files.begin(), files.end());
      for (const auto& f : files) {
        auto text = readFile(f);
        if (!text.ok()) return text.status();
        if (Status s = add(*text, f.string()); !s.isOk()) return s;
      }
    } else {
      auto text = readFile(path);
      if (!text.ok()) return text.status();
      if (Status s = add(*text, path); !s.isOk()) return s;
    }
  }
  if (all.empty())
    return badRequest((path == "-" ? std::string("stdin") : path) + " holds no objects");
  std::stable_partition(all.begin(), all.end(), [](const Manifest& m) {
    return m.address.kind->kind == std::string_view("Tenant");
  });
  return all;
}

}  // namespace skiff::cli
