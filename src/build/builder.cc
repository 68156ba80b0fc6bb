#include "build/builder.h"

#include <fnmatch.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>

#include <nlohmann/json.hpp>

#include "build/dockerfile.h"
#include "common/command.h"
#include "common/files.h"
#include "runtime/local/oci_bundle.h"
#include "runtime/local/rootfs.h"

namespace skiff::build {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// What a stage has built so far.
struct StageState {
  std::string name;
  std::string base;                     // the store image it started from; empty: scratch
  std::vector<image::NewLayer> layers;  // its own layers (and those of stages it is FROM)
  std::vector<std::string> layer_dirs;  // every layer, bottom first, for RUN and COPY --from
  image::ImageConfig config;
  std::map<std::string, std::string> args;  // ARGs in scope
  std::string chain;                        // cache key of everything up to here
};

std::string sha256Hex(const std::string& data) { return image::Digest::of(data).hex(); }

Status stepError(const Instruction& ins, const std::string& message) {
  return Status(StatusCode::kInvalid, "Dockerfile line " + std::to_string(ins.line) + " (" +
                                          opName(ins.op) + "): " + message);
}

std::string joinPath(const std::string& dir, const std::string& path) {
  if (!path.empty() && path.front() == '/') return path;
  return (dir.empty() ? "/" : dir) + (dir.empty() || dir.back() == '/' ? "" : "/") + path;
}

// "NAME=value" entries as a map and back, keeping the image's order for names already there.
void setEnv(std::vector<std::string>* env, const std::string& name, const std::string& value) {
  for (auto& e : *env)
    if (e.compare(0, name.size() + 1, name + "=") == 0) {
      e = name + "=" + value;
      return;
    }
  env->push_back(name + "=" + value);
}

std::map<std::string, std::string> envMap(const std::vector<std::string>& env) {
  std::map<std::string, std::string> out;
  for (const auto& e : env)
    if (size_t eq = e.find('='); eq != std::string::npos) out[e.substr(0, eq)] = e.substr(eq + 1);
  return out;
}

// Hashes a source tree for the cache: names, modes, link targets and bytes, in name order.
void hashTree(const fs::path& path, const std::string& name, image::Sha256& hash) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return;
  hash.update(name + "\n" + std::to_string(st.st_mode) + "\n");
  if (S_ISLNK(st.st_mode)) {
    std::error_code ec;
    hash.update(fs::read_symlink(path, ec).string());
  } else if (S_ISREG(st.st_mode)) {
    std::ifstream in(path, std::ios::binary);
    char buf[65536];
    while (in.read(buf, sizeof buf) || in.gcount() > 0)
      hash.update(std::string_view(buf, static_cast<size_t>(in.gcount())));
  } else if (S_ISDIR(st.st_mode)) {
    std::vector<std::string> children;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(path, ec))
      children.push_back(e.path().filename().string());
    std::sort(children.begin(), children.end());
    for (const auto& c : children) hashTree(path / c, name + "/" + c, hash);
  }
}

// Copies `from` (file, symlink or directory tree) to `to`, keeping modes and symlinks, and
// giving everything `owner` when set.
Status copyTree(const fs::path& from, const fs::path& to, std::optional<runtime::OciUser> owner) {
  struct stat st {};
  if (::lstat(from.c_str(), &st) != 0)
    return unavailable("cannot read " + from.string() + ": " + std::strerror(errno));
  std::error_code ec;
  if (S_ISDIR(st.st_mode)) {
    fs::create_directories(to, ec);
    for (const auto& e : fs::directory_iterator(from, ec))
      if (Status s = copyTree(e.path(), to / e.path().filename(), owner); !s.isOk()) return s;
  } else if (S_ISLNK(st.st_mode)) {
    fs::remove(to, ec);
    fs::create_symlink(fs::read_symlink(from, ec), to, ec);
  } else if (S_ISREG(st.st_mode)) {
    fs::copy_file(from, to, fs::copy_options::overwrite_existing, ec);
  } else {
    return Status(StatusCode::kInvalid, from.string() + " is not a file, directory or link");
  }
  if (ec) return unavailable("cannot copy " + from.string() + ": " + ec.message());
  if (!S_ISLNK(st.st_mode)) ::chmod(to.c_str(), st.st_mode & 07777);
  const uid_t uid = owner ? owner->uid : st.st_uid;
  const gid_t gid = owner ? owner->gid : st.st_gid;
  if (::lchown(to.c_str(), uid, gid) != 0)
    return unavailable("cannot set the owner of " + to.string() + ": " + std::strerror(errno));
  return Status::ok();
}

// The top-most version of `path` in the layers (nullopt when absent): the metadata a new
// layer's parent directories must repeat so they do not change what is below.
std::optional<struct stat> statInLayers(const std::vector<std::string>& layers,
                                        const std::string& path) {
  for (auto it = layers.rbegin(); it != layers.rend(); ++it) {
    struct stat st {};
    if (::lstat((*it + path).c_str(), &st) == 0) return st;
  }
  return std::nullopt;
}

class Build {
 public:
  Build(image::ImageStore& store, const BuildOptions& options) : store_(store), options_(options) {}

  Result<image::Image> run();

 private:
  void log(const std::string& line) const {
    if (options_.log) options_.log(line);
  }
  Result<std::string> expand(const std::string& word, const StageState& state) const {
    auto vars = state.args;
    for (const auto& [k, v] : envMap(state.config.env)) vars[k] = v;
    return expandVariables(word, vars);
  }
  Status startStage(const Stage& stage, const std::map<std::string, std::string>& global_args,
                    StageState* state);
  Status step(const Instruction& ins, StageState* state);
  Status copyStep(const Instruction& ins, StageState* state);
  Status runStep(const Instruction& ins, StageState* state);
  Result<image::Image> imageFor(const std::string& reference);
  // A fresh directory under the work directory.
  Result<std::string> scratchDir(const std::string& prefix);
  // The cache lookup of a layer step: on a hit, adds the stored layer to `state`.
  bool reuseCached(const std::string& key, const Instruction& ins, StageState* state);
  // Packs `dir` (overlay upper format) as the step's layer and remembers it in the cache.
  Status addLayer(const std::string& dir, const std::string& key, const Instruction& ins,
                  StageState* state);
  // The user a COPY --chown or RUN names, resolved in the stage's /etc/passwd and /etc/group.
  Result<runtime::OciUser> resolveUser(const std::string& user, const StageState& state) const;
  // Mounts the layers read-only-in-effect at a scratch dir; returns its rootfs path.
  Result<std::string> mountLayers(const std::vector<std::string>& layers);
  void unmountAll();

  image::ImageStore& store_;
  const BuildOptions& options_;
  std::string work_;
  json cache_ = json::object();
  std::map<std::string, std::string> globals_;  // ARGs before the first FROM
  std::map<std::string, StageState> stages_;    // by name and by index
  std::vector<std::string> mounted_;            // scratch dirs with a rootfs to release
  int counter_ = 0;
};

Result<std::string> Build::scratchDir(const std::string& prefix) {
  const std::string dir = work_ + "/" + prefix + "-" + std::to_string(++counter_);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return unavailable("cannot create " + dir + ": " + ec.message());
  return dir;
}

Result<image::Image> Build::imageFor(const std::string& reference) {
  if (auto local = store_.get(reference); local.ok()) return local;
  log("pulling " + reference);
  return store_.pull(reference, options_.registry);
}

Result<runtime::OciUser> Build::resolveUser(const std::string& user,
                                            const StageState& state) const {
  auto top = [&](const char* path) {
    for (auto it = state.layer_dirs.rbegin(); it != state.layer_dirs.rend(); ++it)
      if (auto text = readWholeFile(*it + path); text.ok()) return std::move(text).value();
    return std::string();
  };
  return runtime::resolveOciUser(user, top("/etc/passwd"), top("/etc/group"));
}

Result<std::string> Build::mountLayers(const std::vector<std::string>& layers) {
  auto dir = scratchDir("mount");
  if (!dir.ok()) return dir.status();
  auto kind = runtime::prepareRootfs(layers, *dir);
  if (!kind.ok()) return kind.status();
  mounted_.push_back(*dir);
  return *dir + "/rootfs";
}

void Build::unmountAll() {
  for (const auto& dir : mounted_) (void)runtime::releaseRootfs(dir);
  mounted_.clear();
}

bool Build::reuseCached(const std::string& key, const Instruction& ins, StageState* state) {
  if (options_.no_cache || !cache_.contains(key)) return false;
  const json& entry = cache_[key];
  auto digest = image::Digest::parse(entry.value("digest", ""));
  auto diff_id = image::Digest::parse(entry.value("diffId", ""));
  if (!digest.ok() || !diff_id.ok() || !store_.blobs().has(*digest)) return false;
  image::Image one;
  one.reference = options_.tag;
  one.layers.push_back({*digest, *diff_id, entry.value("size", uint64_t{0}),
                        entry.value("mediaType", std::string(image::kOciLayerGzip))});
  auto dirs = store_.layerDirs(one);
  if (!dirs.ok()) return false;
  image::NewLayer layer;
  layer.packed.digest = *digest;
  layer.packed.diff_id = *diff_id;
  layer.packed.size = one.layers[0].size;
  layer.packed.media_type = one.layers[0].media_type;
  layer.created_by = ins.text;
  state->layers.push_back(std::move(layer));
  state->layer_dirs.push_back(dirs->front());
  log("  using cache " + digest->str().substr(0, 19));
  return true;
}

Status Build::addLayer(const std::string& dir, const std::string& key, const Instruction& ins,
                       StageState* state) {
  // Under the work directory (inside the store's tmp): commit() moves it into the blob store,
  // and a failed build's layers go with the work directory.
  const std::string file = work_ + "/layer-" + sha256Hex(key).substr(0, 16) + ".tar.gz";
  auto packed = image::packLayer(dir, file);
  if (!packed.ok()) return stepError(ins, "cannot pack the layer: " + packed.status().message());
  state->layers.push_back({file, *packed, ins.text});
  state->layer_dirs.push_back(dir);
  cache_[key] = {{"digest", packed->digest.str()},
                 {"diffId", packed->diff_id.str()},
                 {"size", packed->size},
                 {"mediaType", packed->media_type}};
  return Status::ok();
}

Status Build::startStage(const Stage& stage, const std::map<std::string, std::string>& global_args,
                         StageState* state) {
  auto base = expandVariables(stage.from.words[0], global_args);
  if (!base.ok()) return stepError(stage.from, base.status().message());
  state->name = stage.name;
  log("[stage " + std::to_string(stage.index) + "] FROM " + *base);
  if (auto earlier = stages_.find(*base); earlier != stages_.end()) {
    *state = earlier->second;
    state->name = stage.name;
    state->args.clear();
  } else if (*base == "scratch") {
    state->chain = "scratch";
  } else {
    auto image = imageFor(*base);
    if (!image.ok()) return stepError(stage.from, image.status().message());
    auto dirs = store_.layerDirs(*image);
    if (!dirs.ok()) return stepError(stage.from, dirs.status().message());
    state->base = image->manifest_digest.str();
    state->layer_dirs = std::move(dirs).value();
    state->config = image->config;
    state->chain = image->manifest_digest.str();
  }
  return Status::ok();
}

Status Build::copyStep(const Instruction& ins, StageState* state) {
  // Where the sources come from: the context, an earlier stage or an image.
  std::string source_root = options_.context_dir;
  if (auto from = ins.flags.find("from"); from != ins.flags.end()) {
    auto name = expand(from->second, *state);
    if (!name.ok()) return stepError(ins, name.status().message());
    std::vector<std::string> layers;
    if (auto stage = stages_.find(*name); stage != stages_.end()) {
      layers = stage->second.layer_dirs;
    } else {
      auto image = imageFor(*name);
      if (!image.ok()) return stepError(ins, "--from=" + *name + ": " + image.status().message());
      auto dirs = store_.layerDirs(*image);
      if (!dirs.ok()) return stepError(ins, dirs.status().message());
      layers = std::move(dirs).value();
    }
    auto root = mountLayers(layers);
    if (!root.ok()) return stepError(ins, root.status().message());
    source_root = *root;
  }
  std::vector<std::string> words;
  for (const auto& w : ins.words) {
    auto e = expand(w, *state);
    if (!e.ok()) return stepError(ins, e.status().message());
    words.push_back(*e);
  }
  const std::string dest = joinPath(state->config.working_dir, words.back());
  words.pop_back();

  // Sources, with wildcards in their last component; none may leave the source root.
  std::error_code ec;
  const fs::path root = fs::weakly_canonical(source_root, ec);
  std::vector<fs::path> sources;
  for (const auto& w : words) {
    fs::path p = root / fs::path(w).relative_path();
    std::vector<fs::path> matches;
    const std::string leaf = p.filename().string();
    if (leaf.find_first_of("*?[") != std::string::npos) {
      for (const auto& e : fs::directory_iterator(p.parent_path(), ec))
        if (::fnmatch(leaf.c_str(), e.path().filename().c_str(), 0) == 0)
          matches.push_back(e.path());
      std::sort(matches.begin(), matches.end());
    } else {
      matches.push_back(p);
    }
    if (matches.empty()) return stepError(ins, "no source file matches \"" + w + "\"");
    for (const auto& m : matches) {
      const fs::path canonical = fs::weakly_canonical(m, ec);
      const std::string rel = canonical.lexically_relative(root).string();
      if (rel.empty() || rel.rfind("..", 0) == 0)
        return stepError(ins, "\"" + w + "\" is outside the build context");
      if (!fs::exists(fs::symlink_status(m, ec)))
        return stepError(ins, "\"" + w + "\" does not exist in the " +
                                  (ins.flags.count("from") ? "source stage" : "build context"));
      sources.push_back(m);
    }
  }
  std::optional<runtime::OciUser> owner;
  if (auto chown = ins.flags.find("chown"); chown != ins.flags.end()) {
    auto user = resolveUser(chown->second, *state);
    if (!user.ok()) return stepError(ins, user.status().message());
    owner = *user;
  }

  image::Sha256 content;
  content.update(ins.text + "\n" + dest + "\n");
  for (const auto& s : sources) hashTree(s, s.filename().string(), content);
  const std::string key = sha256Hex(state->chain + "\n" + content.finish().hex());
  state->chain = key;
  if (reuseCached(key, ins, state)) return Status::ok();

  auto layer = scratchDir("layer");
  if (!layer.ok()) return layer.status();
  // A directory destination when it says so, or when there are several sources or a
  // directory source (whose contents are copied, as Docker does).
  const bool into_dir = dest.back() == '/' || sources.size() > 1 ||
                        fs::is_directory(fs::symlink_status(sources[0], ec));
  const fs::path target_dir = into_dir ? fs::path(dest) : fs::path(dest).parent_path();
  // Parent directories repeat what the stage has there (mode, owner), so the new layer does
  // not change them; missing ones are created root-owned 0755.
  fs::path built = *layer;
  for (const auto& part : target_dir.relative_path()) {
    built /= part;
    const std::string inside = "/" + built.lexically_relative(*layer).string();
    fs::create_directory(built, ec);
    auto below = statInLayers(state->layer_dirs, inside);
    const bool is_new_dest = inside == target_dir.string() && owner && !below;
    ::chmod(built.c_str(), below ? (below->st_mode & 07777) : 0755);
    if (below && ::lchown(built.c_str(), below->st_uid, below->st_gid) != 0)
      return unavailable("cannot set the owner of " + built.string());
    if (is_new_dest && ::lchown(built.c_str(), owner->uid, owner->gid) != 0)
      return unavailable("cannot set the owner of " + built.string());
  }
  for (const auto& s : sources) {
    const bool dir_source = fs::is_directory(fs::symlink_status(s, ec));
    fs::path to = fs::path(*layer) / target_dir.relative_path();
    if (!dir_source) to /= into_dir ? s.filename() : fs::path(dest).filename();
    if (dir_source) {
      for (const auto& e : fs::directory_iterator(s, ec))
        if (Status st = copyTree(e.path(), to / e.path().filename(), owner); !st.isOk())
          return stepError(ins, st.message());
    } else if (ins.op == Op::kAdd &&
               (s.extension() == ".tar" || s.extension() == ".gz" || s.extension() == ".tgz")) {
      // ADD unpacks local archives into the destination directory.
      auto unpacked = image::unpackLayer(s.string(), fs::path(*layer) / target_dir.relative_path(),
                                         image::kOciLayerGzip);
      if (!unpacked.ok())
        return stepError(
            ins, "cannot unpack " + s.filename().string() + ": " + unpacked.status().message());
    } else if (Status st = copyTree(s, to, owner); !st.isOk()) {
      return stepError(ins, st.message());
    }
  }
  return addLayer(*layer, key, ins, state);
}

Status Build::runStep(const Instruction& ins, StageState* state) {
  std::vector<std::string> argv;
  for (const auto& c : ins.command) argv.push_back(c);
  if (ins.shell_form) argv = {"/bin/sh", "-c", ins.command[0]};
  // ARG values reach RUN as variables; ENV wins over them.
  std::map<std::string, std::string> env = state->args;
  for (const auto& [k, v] : envMap(state->config.env)) env[k] = v;
  if (!env.count("PATH"))
    env["PATH"] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  std::string env_text;
  for (const auto& [k, v] : env) env_text += k + "=" + v + "\n";
  const std::string key = sha256Hex(state->chain + "\n" + ins.text + "\n" + env_text +
                                    state->config.user + "\n" + state->config.working_dir);
  state->chain = key;
  if (reuseCached(key, ins, state)) return Status::ok();

  auto dir = scratchDir("run");
  if (!dir.ok()) return dir.status();
  auto kind = runtime::prepareRootfs(state->layer_dirs, *dir);
  if (!kind.ok()) return stepError(ins, kind.status().message());
  auto release = [&] { (void)runtime::releaseRootfs(*dir); };
  if (*kind != runtime::RootfsKind::kOverlay) {
    release();
    return stepError(ins,
                     "RUN needs overlayfs to capture the step's changes, and it cannot be "
                     "mounted here");
  }
  runtime::OciBundleConfig config;
  config.argv = argv;
  for (const auto& [k, v] : env) config.env.push_back(k + "=" + v);
  config.cwd = state->config.working_dir.empty() ? "/" : state->config.working_dir;
  auto user = resolveUser(state->config.user, *state);
  if (!user.ok()) {
    release();
    return stepError(ins, user.status().message());
  }
  config.user = *user;
  config.rootfs = *dir + "/rootfs";
  config.hostname = "skiff-build";
  const std::string id =
      "skiff-build-" + sha256Hex(*dir + std::to_string(::getpid())).substr(0, 12);
  config.cgroups_path = id;  // a leaf that runc delete removes
  if (Status s = writeFileAtomically(*dir + "/config.json", runtime::ociConfigJson(config));
      !s.isOk()) {
    release();
    return s;
  }
  CommandOptions run;
  run.timeout = std::chrono::hours(2);
  auto ran =
      runCommand({options_.runc, "--root", work_ + "/runc", "run", "--bundle", *dir, id}, run);
  (void)runCommand({options_.runc, "--root", work_ + "/runc", "delete", "--force", id});
  if (ran.ok()) {
    std::string output = ran->out + ran->err;
    size_t pos = 0;
    while (pos < output.size()) {
      size_t end = output.find('\n', pos);
      if (end == std::string::npos) end = output.size();
      log("  " + output.substr(pos, end - pos));
      pos = end + 1;
    }
  }
  // The writable layer is the step's result: kept before the rest of the mount goes.
  ::umount2((*dir + "/rootfs").c_str(), MNT_DETACH);
  const std::string layer = *dir + "-layer";
  std::error_code ec;
  fs::rename(*dir + "/upper", layer, ec);
  release();
  if (!ran.ok()) return stepError(ins, ran.status().message());
  if (ran->exit_code != 0)
    return stepError(ins, "the command exited with code " + std::to_string(ran->exit_code));
  if (ec) return unavailable("cannot keep the layer of the step: " + ec.message());
  return addLayer(layer, key, ins, state);
}

Status Build::step(const Instruction& ins, StageState* state) {
  log("  " + ins.text);
  auto one = [&](size_t i) { return expand(ins.words.at(i), *state); };
  switch (ins.op) {
    case Op::kCopy:
    case Op::kAdd:
      return copyStep(ins, state);
    case Op::kRun:
      return runStep(ins, state);
    default:
      break;
  }
  state->chain = sha256Hex(state->chain + "\n" + ins.text);
  switch (ins.op) {
    case Op::kArg: {
      const auto& [name, def] = ins.pairs[0];
      if (auto given = options_.build_args.find(name); given != options_.build_args.end())
        state->args[name] = given->second;
      else if (ins.has_default)
        state->args[name] = def;
      else if (auto global = globals_.find(name); global != globals_.end())
        state->args[name] = global->second;
      // The value is part of what follows: a different --build-arg is a different build.
      state->chain = sha256Hex(state->chain + "\n" + state->args[name]);
      return Status::ok();
    }
    case Op::kEnv:
    case Op::kLabel:
      for (const auto& [k, v] : ins.pairs) {
        auto key = expand(k, *state);
        auto value = expand(v, *state);
        if (!key.ok() || !value.ok())
          return stepError(ins, (key.ok() ? value : key).status().message());
        if (ins.op == Op::kEnv)
          setEnv(&state->config.env, *key, *value);
        else
          state->config.labels[*key] = *value;
      }
      return Status::ok();
    case Op::kWorkdir: {
      auto dir = one(0);
      if (!dir.ok()) return stepError(ins, dir.status().message());
      state->config.working_dir = joinPath(state->config.working_dir, *dir);
      return Status::ok();
    }
    case Op::kUser: {
      auto user = one(0);
      if (!user.ok()) return stepError(ins, user.status().message());
      state->config.user = *user;
      return Status::ok();
    }
    case Op::kExpose:
      for (size_t i = 0; i < ins.words.size(); ++i) {
        auto port = one(i);
        if (!port.ok()) return stepError(ins, port.status().message());
        std::string p = *port;
        if (p.find('/') == std::string::npos) p += "/tcp";
        const int number = std::atoi(p.c_str());
        const std::string proto = p.substr(p.find('/') + 1);
        if (number < 1 || number > 65535 || (proto != "tcp" && proto != "udp"))
          return stepError(ins,
                           "\"" + *port + "\" is not a port (1-65535, optionally /tcp or /udp)");
        if (std::find(state->config.exposed_ports.begin(), state->config.exposed_ports.end(), p) ==
            state->config.exposed_ports.end())
          state->config.exposed_ports.push_back(p);
      }
      return Status::ok();
    case Op::kEntrypoint:
    case Op::kCmd: {
      std::vector<std::string> argv = ins.command;
      if (ins.shell_form) argv = {"/bin/sh", "-c", ins.command[0]};
      if (ins.op == Op::kEntrypoint) {
        state->config.entrypoint = argv;
        state->config.cmd.clear();  // as Docker: a new entrypoint drops the inherited cmd
      } else {
        state->config.cmd = argv;
      }
      return Status::ok();
    }
    default:
      return stepError(ins, "not supported");
  }
}

Result<image::Image> Build::run() {
  const std::string path =
      options_.dockerfile.empty() ? options_.context_dir + "/Dockerfile" : options_.dockerfile;
  auto text = readWholeFile(path);
  if (!text.ok()) return Status(StatusCode::kInvalid, "cannot read the Dockerfile " + path);
  auto file = parseDockerfile(*text);
  if (!file.ok()) return file.status();
  if (!fs::is_directory(options_.context_dir))
    return Status(StatusCode::kInvalid,
                  "the build context " + options_.context_dir + " is not a directory");
  if (options_.tag.empty()) return Status(StatusCode::kInvalid, "an image build needs a tag (-t)");
  if (auto tag = image::parseReference(options_.tag); !tag.ok()) return tag.status();
  if (!options_.target.empty() &&
      std::none_of(file->stages.begin(), file->stages.end(), [&](const Stage& s) {
        return s.name == options_.target || std::to_string(s.index) == options_.target;
      }))
    return Status(StatusCode::kInvalid, "the Dockerfile has no stage \"" + options_.target + "\"");

  for (const auto& ins : file->global_args) {
    const auto& [name, def] = ins.pairs[0];
    auto given = options_.build_args.find(name);
    globals_[name] = given != options_.build_args.end() ? given->second : def;
  }
  std::string work = store_.tmpDir() + "/build-XXXXXX";
  if (::mkdtemp(work.data()) == nullptr)
    return unavailable("cannot create a build directory in " + store_.tmpDir());
  work_ = work;
  if (auto cached = readWholeFile(store_.root() + "/build-cache.json"); cached.ok())
    cache_ = json::parse(*cached, nullptr, false);
  if (!cache_.is_object()) cache_ = json::object();

  Result<image::Image> result = Status(StatusCode::kInvalid, "no stage was built");
  StageState state;
  for (const auto& stage : file->stages) {
    state = StageState();
    Status s = startStage(stage, globals_, &state);
    for (size_t i = 0; s.isOk() && i < stage.instructions.size(); ++i)
      s = step(stage.instructions[i], &state);
    unmountAll();
    if (!s.isOk()) {
      result = s;
      break;
    }
    stages_[std::to_string(stage.index)] = state;
    if (!stage.name.empty()) stages_[stage.name] = state;
    const bool last =
        &stage == &file->stages.back() ||
        (!options_.target.empty() &&
         (options_.target == stage.name || options_.target == std::to_string(stage.index)));
    if (last) {
      image::CommitRequest commit;
      commit.parent = state.base;
      commit.layers = state.layers;
      commit.config = state.config;
      commit.tag = options_.tag;
      result = store_.commit(commit);
      break;
    }
  }
  unmountAll();
  (void)writeFileAtomically(store_.root() + "/build-cache.json", cache_.dump());
  std::error_code ec;
  fs::remove_all(work_, ec);
  return result;
}

}  // namespace

Result<image::Image> buildImage(image::ImageStore& store, const BuildOptions& options) {
  Build build(store, options);
  return build.run();
}

}  // namespace skiff::build
