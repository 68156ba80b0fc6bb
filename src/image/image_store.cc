#include "image/image_store.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "common/files.h"

namespace skiff::image {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// An flock() held until destruction.
class FileLock {
 public:
  static Result<FileLock> take(const std::string& path, bool exclusive) {
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
      return unavailable("cannot open the image store's lock " + path + ": " +
                         std::strerror(errno));
    while (::flock(fd, exclusive ? LOCK_EX : LOCK_SH) != 0) {
      if (errno == EINTR) continue;
      int e = errno;
      ::close(fd);
      return unavailable("cannot lock " + path + ": " + std::strerror(e));
    }
    return FileLock(fd);
  }
  FileLock(FileLock&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  FileLock& operator=(FileLock&&) = delete;
  ~FileLock() {
    if (fd_ >= 0) ::close(fd_);  // closing releases the flock
  }

 private:
  explicit FileLock(int fd) : fd_(fd) {}
  int fd_;
};

std::string nowRfc3339() {
  std::time_t t = std::time(nullptr);
  std::tm tm;
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::vector<std::string> stringList(const json& doc, const char* key) {
  std::vector<std::string> out;
  if (doc.contains(key) && doc[key].is_array())
    for (const auto& v : doc[key])
      if (v.is_string()) out.push_back(v.get<std::string>());
  return out;
}

std::string stringField(const json& doc, const char* key) {
  return doc.is_object() && doc.contains(key) && doc[key].is_string() ? doc[key].get<std::string>()
                                                                      : "";
}

ImageConfig parseRuntimeConfig(const json& c) {
  ImageConfig config;
  if (!c.is_object()) return config;
  config.entrypoint = stringList(c, "Entrypoint");
  config.cmd = stringList(c, "Cmd");
  config.env = stringList(c, "Env");
  config.user = stringField(c, "User");
  config.working_dir = stringField(c, "WorkingDir");
  if (c.contains("ExposedPorts") && c["ExposedPorts"].is_object())
    for (const auto& [port, _] : c["ExposedPorts"].items()) config.exposed_ports.push_back(port);
  if (c.contains("Labels") && c["Labels"].is_object())
    for (const auto& [k, v] : c["Labels"].items())
      if (v.is_string()) config.labels[k] = v.get<std::string>();
  return config;
}

void writeRuntimeConfig(const ImageConfig& config, json& c) {
  if (!c.is_object()) c = json::object();
  auto set_list = [&](const char* key, const std::vector<std::string>& values) {
    if (values.empty())
      c.erase(key);
    else
      c[key] = values;
  };
  set_list("Entrypoint", config.entrypoint);
  set_list("Cmd", config.cmd);
  set_list("Env", config.env);
  if (config.user.empty())
    c.erase("User");
  else
    c["User"] = config.user;
  if (config.working_dir.empty())
    c.erase("WorkingDir");
  else
    c["WorkingDir"] = config.working_dir;
  c.erase("ExposedPorts");
  for (const auto& port : config.exposed_ports) c["ExposedPorts"][port] = json::object();
  c.erase("Labels");
  for (const auto& [k, v] : config.labels) c["Labels"][k] = v;
}

bool isManifestType(std::string_view t) { return t == kOciManifest || t == kDockerManifest; }
bool isIndexType(std::string_view t) { return t == kOciIndex || t == kDockerManifestList; }

struct ParsedManifest {
  std::string media_type;
  Digest config;
  uint64_t config_size = 0;
  std::vector<LayerInfo> layers;
};

Result<ParsedManifest> parseManifest(const std::string& body, std::string media_type,
                                     const std::string& what) {
  json doc = json::parse(body, nullptr, false);
  auto bad = [&](const std::string& why) {
    return Status(StatusCode::kInvalid, "the manifest of " + what + " is malformed: " + why);
  };
  if (!doc.is_object()) return bad("it is not a JSON object");
  std::string declared = stringField(doc, "mediaType");
  ParsedManifest m;
  m.media_type = declared.empty() ? media_type : declared;
  if (m.media_type.empty() && doc.contains("config")) m.media_type = std::string(kOciManifest);
  if (!isManifestType(m.media_type))
    return Status(StatusCode::kInvalid,
                  what + " has manifest type \"" + m.media_type +
                      "\"; Skiff supports OCI image manifests and Docker schema 2");
  if (!doc.contains("config") || !doc["config"].is_object()) return bad("it has no config");
  auto config = Digest::parse(stringField(doc["config"], "digest"));
  if (!config.ok()) return bad("config: " + config.status().message());
  m.config = *config;
  if (doc["config"].contains("size") && doc["config"]["size"].is_number_unsigned())
    m.config_size = doc["config"]["size"].get<uint64_t>();
  if (!doc.contains("layers") || !doc["layers"].is_array()) return bad("it has no layers");
  for (const auto& l : doc["layers"]) {
    LayerInfo layer;
    auto digest = Digest::parse(stringField(l, "digest"));
    if (!digest.ok()) return bad("layer: " + digest.status().message());
    layer.digest = *digest;
    layer.media_type = stringField(l, "mediaType");
    if (l.contains("size") && l["size"].is_number_unsigned())
      layer.size = l["size"].get<uint64_t>();
    m.layers.push_back(std::move(layer));
  }
  return m;
}

// The linux/amd64 manifest of an index or Docker manifest list.
Result<std::pair<Digest, std::string>> selectPlatform(const std::string& body,
                                                      const std::string& what) {
  json doc = json::parse(body, nullptr, false);
  if (doc.is_object() && doc.contains("manifests") && doc["manifests"].is_array()) {
    std::vector<std::string> seen;
    for (const auto& m : doc["manifests"]) {
      const json platform = m.contains("platform") ? m["platform"] : json::object();
      std::string os = stringField(platform, "os"), arch = stringField(platform, "architecture");
      seen.push_back(os + "/" + arch);
      if (os != "linux" || arch != "amd64") continue;
      auto digest = Digest::parse(stringField(m, "digest"));
      if (!digest.ok()) return digest.status();
      return std::make_pair(*digest, stringField(m, "mediaType"));
    }
    std::string list;
    for (const auto& s : seen) list += (list.empty() ? "" : ", ") + s;
    return notFound(what + " has no linux/amd64 image (it has: " + (list.empty() ? "none" : list) +
                    ")");
  }
  return Status(StatusCode::kInvalid, "the image index of " + what + " is malformed");
}

std::string hexPrefixOf(const std::string& text) {
  std::string s = text.starts_with("sha256:") ? text.substr(7) : text;
  if (s.size() < 12 || s.size() > 64) return "";
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return "";
  return s;
}

}  // namespace

ImageStore::ImageStore(std::string root) : root_(root), blobs_(root) {}

Result<std::unique_ptr<ImageStore>> ImageStore::open(const std::string& root) {
  std::error_code ec;
  fs::create_directories(root + "/layers", ec);
  if (ec)
    return unavailable("cannot create the image store " + root + ": " + ec.message() +
                       " (choose another directory with --store or SKIFF_IMAGE_STORE)");
  auto store = std::unique_ptr<ImageStore>(new ImageStore(root));
  if (Status s = store->blobs_.init(); !s.isOk()) return s;
  return store;
}

Result<std::map<std::string, Digest>> ImageStore::readRefs() const {
  std::map<std::string, Digest> refs;
  auto text = readWholeFile(root_ + "/refs.json");
  if (!text.ok()) {
    if (text.status().code() == StatusCode::kNotFound) return refs;
    return text.status();
  }
  json doc = json::parse(*text, nullptr, false);
  if (!doc.is_object() || !doc.contains("refs") || !doc["refs"].is_object())
    return internalError(root_ + "/refs.json is damaged: remove it and pull the images again");
  for (const auto& [ref, digest] : doc["refs"].items()) {
    auto d = Digest::parse(digest.is_string() ? digest.get<std::string>() : "");
    if (d.ok()) refs[ref] = *d;
  }
  return refs;
}

Status ImageStore::writeRefs(const std::map<std::string, Digest>& refs) const {
  json doc = {{"refs", json::object()}};
  for (const auto& [ref, digest] : refs) doc["refs"][ref] = digest.str();
  return writeFileAtomically(root_ + "/refs.json", doc.dump(2) + "\n");
}

Status ImageStore::setRef(const std::string& reference, const Digest& digest) {
  auto lock = FileLock::take(root_ + "/lock", true);
  if (!lock.ok()) return lock.status();
  auto refs = readRefs();
  if (!refs.ok()) return refs.status();
  (*refs)[reference] = digest;
  return writeRefs(*refs);
}

Result<Image> ImageStore::load(const Digest& manifest_digest, const std::string& reference) const {
  const std::string what = reference.empty() ? manifest_digest.str() : reference;
  auto body = blobs_.read(manifest_digest);
  if (!body.ok())
    return notFound("image " + what + " is damaged: its manifest " + manifest_digest.str() +
                    " is missing from the store; pull it again");
  auto manifest = parseManifest(*body, "", what);
  if (!manifest.ok()) return manifest.status();
  auto config_body = blobs_.read(manifest->config);
  if (!config_body.ok())
    return notFound("image " + what + " is damaged: its config " + manifest->config.str() +
                    " is missing from the store; pull it again");
  json config = json::parse(*config_body, nullptr, false);
  if (!config.is_object())
    return Status(StatusCode::kInvalid, "the config of image " + what + " is not a JSON object");

  Image image;
  image.reference = reference;
  image.manifest_digest = manifest_digest;
  image.media_type = manifest->media_type;
  image.config_digest = manifest->config;
  image.created = stringField(config, "created");
  image.architecture = stringField(config, "architecture");
  image.os = stringField(config, "os");
  if (config.contains("config")) image.config = parseRuntimeConfig(config["config"]);
  std::vector<std::string> diff_ids;
  if (config.contains("rootfs") && config["rootfs"].is_object())
    diff_ids = stringList(config["rootfs"], "diff_ids");
  if (diff_ids.size() != manifest->layers.size())
    return Status(StatusCode::kInvalid, "image " + what + " is inconsistent: its manifest lists " +
                                            std::to_string(manifest->layers.size()) +
                                            " layers but its config " +
                                            std::to_string(diff_ids.size()) + " diff_ids");
  image.size = config_body->size();
  for (size_t i = 0; i < diff_ids.size(); ++i) {
    LayerInfo layer = manifest->layers[i];
    auto diff_id = Digest::parse(diff_ids[i]);
    if (!diff_id.ok()) return diff_id.status();
    layer.diff_id = *diff_id;
    image.size += layer.size;
    image.layers.push_back(std::move(layer));
  }
  return image;
}

Result<Digest> ImageStore::resolve(const std::string& text, std::string* normalised) const {
  auto refs = readRefs();
  if (!refs.ok()) return refs.status();
  if (std::string prefix = hexPrefixOf(text); !prefix.empty()) {
    std::set<Digest> matches;
    for (const auto& [_, digest] : *refs)
      if (digest.hex().starts_with(prefix)) matches.insert(digest);
    if (auto full = Digest::parse("sha256:" + prefix); full.ok() && blobs_.has(*full))
      matches.insert(*full);
    if (matches.size() == 1) return *matches.begin();
    if (matches.size() > 1)
      return badRequest("digest prefix " + text + " matches " + std::to_string(matches.size()) +
                        " images: give more digits");
  }
  auto ref = parseReference(text);
  if (!ref.ok()) return ref.status();
  *normalised = ref->str();
  if (auto it = refs->find(ref->str()); it != refs->end()) return it->second;
  if (ref->digest && blobs_.has(*ref->digest)) return *ref->digest;
  return notFound("image " + ref->str() + " is not in the local store " + root_ +
                  ": pull it first (skiff image pull " + text + ")");
}

Result<Image> ImageStore::get(const std::string& reference) const {
  auto lock = FileLock::take(root_ + "/lock", false);
  if (!lock.ok()) return lock.status();
  std::string normalised;
  auto digest = resolve(reference, &normalised);
  if (!digest.ok()) return digest.status();
  return load(*digest, normalised);
}

Result<std::vector<Image>> ImageStore::list() const {
  auto lock = FileLock::take(root_ + "/lock", false);
  if (!lock.ok()) return lock.status();
  auto refs = readRefs();
  if (!refs.ok()) return refs.status();
  std::vector<Image> images;
  for (const auto& [ref, digest] : *refs) {
    auto image = load(digest, ref);
    if (!image.ok()) return image.status();
    images.push_back(std::move(image).value());
  }
  return images;
}

Status ImageStore::remove(const std::string& reference) {
  auto lock = FileLock::take(root_ + "/lock", true);
  if (!lock.ok()) return lock.status();
  auto refs = readRefs();
  if (!refs.ok()) return refs.status();
  auto ref = parseReference(reference);
  if (!ref.ok()) return ref.status();
  if (refs->erase(ref->str()) == 0)
    return notFound("image " + ref->str() + " is not in the local store " + root_);
  return writeRefs(*refs);
}

Status ImageStore::tag(const std::string& source, const std::string& target) {
  auto image = get(source);
  if (!image.ok()) return image.status();
  auto ref = parseReference(target);
  if (!ref.ok()) return ref.status();
  if (ref->digest && *ref->digest != image->manifest_digest)
    return badRequest("cannot tag " + source + " as " + target +
                      ": the target's digest is not the image's (" + image->manifest_digest.str() +
                      ")");
  return setRef(ref->str(), image->manifest_digest);
}

Result<Image> ImageStore::pull(const std::string& reference, const RegistryOptions& registry,
                               const ProgressCallback& progress) {
  auto ref = parseReference(reference);
  if (!ref.ok()) return ref.status();
  auto gc_lock = FileLock::take(root_ + "/gc.lock", false);
  if (!gc_lock.ok()) return gc_lock.status();
  RegistryClient client(ref->apiHost(), registry);
  const std::string what = ref->str();

  auto fetched = client.getManifest(ref->repository, ref->manifestKey(), what);
  if (!fetched.ok()) return fetched.status();
  if (isIndexType(fetched->media_type)) {
    auto chosen = selectPlatform(fetched->body, what);
    if (!chosen.ok()) return chosen.status();
    fetched = client.getManifest(ref->repository, chosen->first.str(), what);
    if (!fetched.ok()) return fetched.status();
  }
  auto manifest = parseManifest(fetched->body, fetched->media_type, what);
  if (!manifest.ok()) return manifest.status();

  TransferProgress state;
  state.layers_total = manifest->layers.size();
  for (const auto& layer : manifest->layers)
    if (!blobs_.has(layer.digest)) state.bytes_total += layer.size;

  auto fetchBlob = [&](const Digest& digest, std::optional<uint64_t> size) -> Status {
    if (blobs_.has(digest)) return Status::ok();
    auto writer = blobs_.writer(digest, size, "registry " + ref->registry + " (" + what + ")");
    if (!writer.ok()) return writer.status();
    state.current = digest.str();
    Status write_status;
    Status s = client.getBlob(ref->repository, digest, [&](std::string_view data) {
      write_status = writer->write(data);
      if (!write_status.isOk()) return false;
      state.bytes_done += data.size();
      if (progress) progress(state);
      return true;
    });
    if (!s.isOk()) return s;
    if (!write_status.isOk()) return write_status;
    auto committed = writer->commit();
    return committed.ok() ? Status::ok() : committed.status();
  };

  if (Status s =
          fetchBlob(manifest->config,
                    manifest->config_size ? std::optional(manifest->config_size) : std::nullopt);
      !s.isOk())
    return s;
  if (progress) progress(state);
  for (const auto& layer : manifest->layers) {
    if (!layer.media_type.empty() && !isSupportedLayerMediaType(layer.media_type))
      return Status(StatusCode::kInvalid, what + " has a layer of media type \"" +
                                              layer.media_type + "\", which Skiff cannot run");
    if (Status s = fetchBlob(layer.digest, layer.size ? std::optional(layer.size) : std::nullopt);
        !s.isOk())
      return s;
    ++state.layers_done;
    if (progress) progress(state);
  }
  // The manifest last: a manifest in the store means its blobs are there.
  auto stored = blobs_.put(fetched->body);
  if (!stored.ok()) return stored.status();
  auto image = load(*stored, what);
  if (!image.ok()) return image.status();
  if (Status s = setRef(what, *stored); !s.isOk()) return s;
  return image;
}

Result<Digest> ImageStore::push(const std::string& local, const std::string& target,
                                const RegistryOptions& registry, const ProgressCallback& progress) {
  auto gc_lock = FileLock::take(root_ + "/gc.lock", false);
  if (!gc_lock.ok()) return gc_lock.status();
  auto image = get(local);
  if (!image.ok()) return image.status();
  if (target.empty() && image->reference.empty())
    return badRequest("image " + local +
                      " is named by its digest: give the reference to push "
                      "it to");
  auto ref = parseReference(target.empty() ? image->reference : target);
  if (!ref.ok()) return ref.status();
  RegistryClient client(ref->apiHost(), registry);

  TransferProgress state;
  state.layers_total = image->layers.size();
  for (const auto& layer : image->layers) state.bytes_total += layer.size;
  auto pushBlob = [&](const Digest& digest) -> Status {
    auto present = client.hasBlob(ref->repository, digest);
    if (!present.ok()) return present.status();
    if (!*present) {
      auto content = blobs_.read(digest);
      if (!content.ok()) return content.status();
      state.current = digest.str();
      if (Status s = client.pushBlob(ref->repository, digest, *content); !s.isOk()) return s;
    }
    return Status::ok();
  };
  for (const auto& layer : image->layers) {
    if (Status s = pushBlob(layer.digest); !s.isOk()) return s;
    ++state.layers_done;
    state.bytes_done += layer.size;
    if (progress) progress(state);
  }
  if (Status s = pushBlob(image->config_digest); !s.isOk()) return s;
  auto manifest = blobs_.read(image->manifest_digest);
  if (!manifest.ok()) return manifest.status();
  return client.putManifest(ref->repository,
                            ref->tag.empty() ? image->manifest_digest.str() : ref->tag,
                            image->media_type, *manifest);
}

Result<GcResult> ImageStore::gc(const std::set<Digest>& in_use) {
  auto gc_lock = FileLock::take(root_ + "/gc.lock", true);
  if (!gc_lock.ok()) return gc_lock.status();
  auto lock = FileLock::take(root_ + "/lock", false);
  if (!lock.ok()) return lock.status();
  auto refs = readRefs();
  if (!refs.ok()) return refs.status();
  std::set<Digest> manifests = in_use;
  for (const auto& [_, digest] : *refs) manifests.insert(digest);
  std::set<Digest> live_blobs;
  std::set<std::string> live_layers;
  for (const auto& digest : manifests) {
    if (!blobs_.has(digest)) continue;
    live_blobs.insert(digest);
    auto body = blobs_.read(digest);
    if (!body.ok()) return body.status();
    auto manifest = parseManifest(*body, "", digest.str());
    if (!manifest.ok()) continue;
    live_blobs.insert(manifest->config);
    for (const auto& layer : manifest->layers) live_blobs.insert(layer.digest);
    if (auto image = load(digest, ""); image.ok())
      for (const auto& layer : image->layers) live_layers.insert(layer.diff_id.hex());
  }
  GcResult result;
  for (const auto& digest : blobs_.list()) {
    if (live_blobs.count(digest)) continue;
    if (auto size = blobs_.size(digest); size.ok()) result.bytes_freed += *size;
    if (Status s = blobs_.remove(digest); !s.isOk()) return s;
    ++result.blobs_removed;
  }
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(root_ + "/layers", ec)) {
    const std::string name = entry.path().filename().string();
    if (live_layers.count(name)) continue;
    fs::remove_all(entry.path(), ec);
    if (ec) return unavailable("cannot remove " + entry.path().string() + ": " + ec.message());
    if (!name.starts_with(".")) ++result.layers_removed;
  }
  // Nothing is being written while gc.lock is held exclusively: leftovers are from crashes.
  for (const auto& entry : fs::directory_iterator(blobs_.tmpDir(), ec))
    fs::remove_all(entry.path(), ec);
  return result;
}

Result<std::vector<std::string>> ImageStore::layerDirs(const Image& image) {
  auto gc_lock = FileLock::take(root_ + "/gc.lock", false);
  if (!gc_lock.ok()) return gc_lock.status();
  std::vector<std::string> dirs;
  for (const auto& layer : image.layers) {
    const std::string dir = root_ + "/layers/" + layer.diff_id.hex();
    struct stat st;
    if (::stat(dir.c_str(), &st) != 0) {
      std::string tmp = root_ + "/layers/.unpack-XXXXXX";
      if (::mkdtemp(tmp.data()) == nullptr)
        return unavailable("cannot create a directory in " + root_ +
                           "/layers: " + std::strerror(errno));
      auto unpacked = unpackLayer(blobs_.path(layer.digest), tmp,
                                  layer.media_type.empty() ? kOciLayerGzip : layer.media_type);
      std::error_code ec;
      if (!unpacked.ok()) {
        fs::remove_all(tmp, ec);
        return Status(unpacked.status().code(), "cannot unpack layer " + layer.digest.str() +
                                                    " of " + image.reference + ": " +
                                                    unpacked.status().message());
      }
      if (unpacked->diff_id != layer.diff_id) {
        fs::remove_all(tmp, ec);
        return Status(StatusCode::kInvalid,
                      "digest mismatch for layer " + layer.digest.str() + " of " + image.reference +
                          ": its content has diff ID " + unpacked->diff_id.str() +
                          " but the config says " + layer.diff_id.str() +
                          "; remove the image and pull it again");
      }
      ::chmod(tmp.c_str(), 0755);
      if (::rename(tmp.c_str(), dir.c_str()) != 0) {
        // Another process unpacked the same layer first: use theirs.
        fs::remove_all(tmp, ec);
        if (::stat(dir.c_str(), &st) != 0)
          return unavailable("cannot move an unpacked layer to " + dir + ": " +
                             std::strerror(errno));
      }
    }
    dirs.push_back(dir);
  }
  return dirs;
}

Result<Image> ImageStore::commit(const CommitRequest& request) {
  auto target = parseReference(request.tag);
  if (!target.ok()) return target.status();
  auto gc_lock = FileLock::take(root_ + "/gc.lock", false);
  if (!gc_lock.ok()) return gc_lock.status();

  json config = {{"architecture", "amd64"},
                 {"os", "linux"},
                 {"config", json::object()},
                 {"rootfs", {{"type", "layers"}, {"diff_ids", json::array()}}},
                 {"history", json::array()}};
  json manifest = {{"schemaVersion", 2},
                   {"mediaType", kOciManifest},
                   {"config", json::object()},
                   {"layers", json::array()}};
  std::string manifest_type(kOciManifest);
  std::string config_type(kOciConfig);
  std::string layer_type(kOciLayerGzip);
  if (!request.parent.empty()) {
    auto parent = get(request.parent);
    if (!parent.ok()) return parent.status();
    auto parent_config = blobs_.read(parent->config_digest);
    if (!parent_config.ok()) return parent_config.status();
    config = json::parse(*parent_config, nullptr, false);
    if (!config.is_object())
      return Status(StatusCode::kInvalid, "the config of " + request.parent + " is malformed");
    // A child of a Docker schema 2 image stays Docker schema 2, so tools see one format.
    if (parent->media_type == kDockerManifest) {
      manifest_type = kDockerManifest;
      config_type = kDockerConfig;
      layer_type = kDockerLayerGzip;
      manifest["mediaType"] = manifest_type;
    }
    for (const auto& layer : parent->layers)
      manifest["layers"].push_back(
          {{"mediaType", layer.media_type}, {"digest", layer.digest.str()}, {"size", layer.size}});
  }
  const std::string created = request.created.empty() ? nowRfc3339() : request.created;
  for (const auto& layer : request.layers) {
    if (!blobs_.has(layer.packed.digest)) {
      auto adopted = blobs_.adopt(layer.file, layer.packed.digest);
      if (!adopted.ok()) return adopted.status();
    }
    config["rootfs"]["diff_ids"].push_back(layer.packed.diff_id.str());
    json history = {{"created", created}};
    if (!layer.created_by.empty()) history["created_by"] = layer.created_by;
    config["history"].push_back(history);
    manifest["layers"].push_back({{"mediaType", layer_type},
                                  {"digest", layer.packed.digest.str()},
                                  {"size", layer.packed.size}});
  }
  config["created"] = created;
  if (request.config) writeRuntimeConfig(*request.config, config["config"]);
  const std::string config_body = config.dump();
  auto config_digest = blobs_.put(config_body);
  if (!config_digest.ok()) return config_digest.status();
  manifest["config"] = {
      {"mediaType", config_type}, {"digest", config_digest->str()}, {"size", config_body.size()}};
  auto manifest_digest = blobs_.put(manifest.dump());
  if (!manifest_digest.ok()) return manifest_digest.status();
  auto image = load(*manifest_digest, target->str());
  if (!image.ok()) return image.status();
  if (Status s = setRef(target->str(), *manifest_digest); !s.isOk()) return s;
  return image;
}

}  // namespace skiff::image
