// `skiff image ...`: OCI images in a local store (src/image/), without a server, as podman and
// buildah work. The store is --store, else $SKIFF_IMAGE_STORE, else
// $XDG_DATA_HOME/skiff/images (~/.local/share/skiff/images). Registry credentials come from
// --username and --password-stdin, else SKIFF_REGISTRY_USERNAME and SKIFF_REGISTRY_PASSWORD.
//
// Results go to stdout (for pull and push only the manifest digest, so scripts can capture it);
// progress goes to stderr, and only when stderr is a terminal.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <iomanip>
#include <iostream>
#include <sstream>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "build/builder.h"
#include "cli/subcommands.h"
#include "cli/terminal.h"
#include "image/image_store.h"
#include "image/layer.h"

namespace skiff::cli {
namespace {

using nlohmann::json;

std::string envOr(const char* name, const std::string& fallback = "") {
  const char* v = std::getenv(name);
  return v && *v ? v : fallback;
}

Result<std::string> defaultStore() {
  if (std::string dir = envOr("SKIFF_IMAGE_STORE"); !dir.empty()) return dir;
  if (std::string data = envOr("XDG_DATA_HOME"); !data.empty()) return data + "/skiff/images";
  if (std::string home = envOr("HOME"); !home.empty()) return home + "/.local/share/skiff/images";
  return badRequest("no image store: pass --store DIR or set SKIFF_IMAGE_STORE");
}

std::string megabytes(uint64_t bytes) {
  std::ostringstream out;
  out << std::fixed << std::setprecision(1) << static_cast<double>(bytes) / 1e6 << " MB";
  return out.str();
}

// Redraws one status line on a terminal: layers done/total, bytes and throughput.
class ProgressLine {
 public:
  ProgressLine(std::ostream& err, std::string verb, std::string what)
      : err_(err),
        verb_(std::move(verb)),
        what_(std::move(what)),
        enabled_(::isatty(STDERR_FILENO) == 1),
        start_(std::chrono::steady_clock::now()) {}
  ~ProgressLine() {
    if (drawn_) err_ << "\n" << std::flush;
  }

  image::ProgressCallback callback() {
    if (!enabled_) return {};
    return [this](const image::TransferProgress& p) { draw(p); };
  }

 private:
  void draw(const image::TransferProgress& p) {
    auto now = std::chrono::steady_clock::now();
    // A terminal cannot show more than a few updates a second anyway.
    if (drawn_ && p.layers_done < p.layers_total && now - last_ < std::chrono::milliseconds(100))
      return;
    last_ = now;
    double seconds = std::chrono::duration<double>(now - start_).count();
    double rate = seconds > 0 ? static_cast<double>(p.bytes_done) / 1e6 / seconds : 0;
    std::ostringstream line;
    line << verb_ << " " << what_ << ": layers " << p.layers_done << "/" << p.layers_total << ", "
         << megabytes(p.bytes_done) << " of " << megabytes(p.bytes_total) << ", " << std::fixed
         << std::setprecision(1) << rate << " MB/s";
    err_ << "\r\033[K" << line.str() << std::flush;
    drawn_ = true;
  }

  std::ostream& err_;
  std::string verb_;
  std::string what_;
  bool enabled_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_;
};

json imageJson(const image::Image& img) {
  json layers = json::array();
  for (const auto& l : img.layers)
    layers.push_back({{"digest", l.digest.str()},
                      {"diffID", l.diff_id.str()},
                      {"size", l.size},
                      {"mediaType", l.media_type}});
  json config = {{"Entrypoint", img.config.entrypoint},
                 {"Cmd", img.config.cmd},
                 {"Env", img.config.env},
                 {"User", img.config.user},
                 {"WorkingDir", img.config.working_dir},
                 {"ExposedPorts", img.config.exposed_ports},
                 {"Labels", img.config.labels}};
  return {{"reference", img.reference},
          {"digest", img.manifest_digest.str()},
          {"mediaType", img.media_type},
          {"configDigest", img.config_digest.str()},
          {"created", img.created},
          {"architecture", img.architecture},
          {"os", img.os},
          {"size", img.size},
          {"layers", layers},
          {"config", config}};
}

}  // namespace

struct ImageCommands::State {
  std::string store;
  std::string username;
  bool password_stdin = false;
  std::vector<std::string> insecure;
  std::string output;
  std::string reference;
  std::string target;
  std::vector<std::string> references;
  std::string import_dir;
  std::vector<std::string> import_cmd;
  std::vector<std::string> import_entrypoint;
  std::vector<std::string> import_env;
  std::string build_context;
  std::string build_file;
  std::vector<std::string> build_args;
  std::string build_target;
  bool build_push = false;
  bool build_no_cache = false;
  bool quiet = false;

  struct Handler {
    CLI::App* command;
    std::function<int()> run;
  };
  std::vector<Handler> handlers;

  Result<std::unique_ptr<image::ImageStore>> openStore() const {
    auto dir = store.empty() ? defaultStore() : Result<std::string>(store);
    if (!dir.ok()) return dir.status();
    return image::ImageStore::open(*dir);
  }

  Result<image::RegistryOptions> registryOptions() const {
    image::RegistryOptions options;
    options.insecure_registries = insecure;
    std::optional<image::RegistryCredentials> creds;
    std::string user = username.empty() ? envOr("SKIFF_REGISTRY_USERNAME") : username;
    if (password_stdin) {
      if (user.empty()) return badRequest("--password-stdin needs --username");
      auto password = readSecretLine(std::cin, "the registry password");
      if (!password.ok()) return password.status();
      creds = image::RegistryCredentials{user, *password};
    } else if (!user.empty()) {
      std::string password = envOr("SKIFF_REGISTRY_PASSWORD");
      if (password.empty())
        return badRequest(
            "a registry user name is given but no password: pass --password-stdin "
            "or set SKIFF_REGISTRY_PASSWORD");
      creds = image::RegistryCredentials{user, password};
    }
    options.credentials = [creds](const std::string&) { return creds; };
    return options;
  }

  // Adds what the CLI user can do to registry authentication errors.
  static int fail(const Status& status) {
    if (status.code() == StatusCode::kUnauthenticated)
      return reportError(
          std::cerr,
          Status(status.code(), status.message() + " (pass --username and --password-stdin, or "
                                                   "set SKIFF_REGISTRY_USERNAME and "
                                                   "SKIFF_REGISTRY_PASSWORD)"));
    return reportError(std::cerr, status);
  }

  int list() {
    auto opened = openStore();
    if (!opened.ok()) return fail(opened.status());
    auto images = (*opened)->list();
    if (!images.ok()) return fail(images.status());
    if (output == "json") {
      json out = json::array();
      for (const auto& img : *images) out.push_back(imageJson(img));
      std::cout << out.dump(2) << "\n";
      return 0;
    }
    if (!output.empty()) return fail(badRequest("--output must be json, got \"" + output + "\""));
    size_t width = 9;
    for (const auto& img : *images) width = std::max(width, img.reference.size());
    std::cout << std::left << std::setw(static_cast<int>(width) + 2) << "REFERENCE" << std::setw(14)
              << "DIGEST" << std::setw(12) << "SIZE"
              << "CREATED\n";
    for (const auto& img : *images)
      std::cout << std::setw(static_cast<int>(width) + 2) << img.reference << std::setw(14)
                << img.manifest_digest.shortHex() << std::setw(12) << megabytes(img.size)
                << img.created << "\n";
    return 0;
  }

  int pull() {
    auto opened = openStore();
    if (!opened.ok()) return fail(opened.status());
    auto options = registryOptions();
    if (!options.ok()) return fail(options.status());
    image::Image pulled;
    {
      ProgressLine progress(std::cerr, "pulling", reference);
      auto result = (*opened)->pull(reference, *options, progress.callback());
      if (!result.ok()) return fail(result.status());
      pulled = std::move(result).value();
    }
    std::cout << pulled.manifest_digest.str() << "\n";
    return 0;
  }

  int push() {
    auto opened = openStore();
    if (!opened.ok()) return fail(opened.status());
    auto options = registryOptions();
    if (!options.ok()) return fail(options.status());
    image::Digest digest;
    {
      ProgressLine progress(std::cerr, "pushing", target.empty() ? reference : target);
      auto result = (*opened)->push(reference, target, *options, progress.callback());
      if (!result.ok()) return fail(result.status());
      digest = *result;
    }
    std::cout << digest.str() << "\n";
    return 0;
  }

  int remove() {
    auto opened = openStore();
    if (!opened.ok()) return fail(opened.status());
    for (const auto& ref : references) {
      if (Status s = (*opened)->remove(ref); !s.isOk()) return fail(s);
      auto parsed = image::parseReference(ref);
      std::cout << "Untagged " << (parsed.ok() ? parsed->str() : ref) << "\n";
    }
    return 0;
  }

  int prune() {
    auto opened = openStore();
    if (!opened.ok()) return fail(opened.status());
    auto result = (*opened)->gc();
    if (!result.ok()) return fail(result.status());
    std::cout << "Removed " << result->blobs_removed << " blobs and " << result->layers_removed
              << " unpacked layers, " << megabytes(result->bytes_freed) << " freed\n";
    return 0;
  }

  int tag() {
    auto opened = openStore();
    if (!opened.ok()) return fail(opened.status());
    if (Status s = (*opened)->tag(reference, target); !s.isOk()) return fail(s);
    return 0;
  }

  int inspect() {
    auto opened = openStore();
    if (!opened.ok()) return fail(opened.status());
    auto img = (*opened)->get(reference);
    if (!img.ok()) return fail(img.status());
    std::cout << imageJson(*img).dump(2) << "\n";
    return 0;
  }

  int build() {
    auto opened = openStore();
    if (!opened.ok()) return fail(opened.status());
    auto options = registryOptions();
    if (!options.ok()) return fail(options.status());
    build::BuildOptions request;
    request.context_dir = build_context;
    request.dockerfile = build_file;
    request.tag = reference;
    request.target = build_target;
    request.no_cache = build_no_cache;
    request.registry = *options;
    for (const auto& a : build_args) {
      const size_t eq = a.find('=');
      if (eq == std::string::npos || eq == 0)
        return fail(badRequest("--build-arg must be NAME=VALUE, got \"" + a + "\""));
      request.build_args[a.substr(0, eq)] = a.substr(eq + 1);
    }
    if (!quiet) request.log = [](const std::string& line) { std::cerr << line << "\n"; };
    auto built = build::buildImage(**opened, request);
    if (!built.ok()) return fail(built.status());
    if (build_push) {
      ProgressLine progress(std::cerr, "pushing", reference);
      auto pushed = (*opened)->push(reference, "", *options, progress.callback());
      if (!pushed.ok()) return fail(pushed.status());
    }
    std::cout << built->manifest_digest.str() << "\n";
    return 0;
  }

  int import() {
    auto opened = openStore();
    if (!opened.ok()) return fail(opened.status());
    std::string tmpl = (*opened)->tmpDir() + "/import-XXXXXX";
    int fd = ::mkstemp(tmpl.data());
    if (fd < 0) return fail(unavailable("cannot create a file in " + (*opened)->tmpDir()));
    ::close(fd);
    image::PackOptions pack;
    pack.overlay_upper = false;  // a plain directory: device nodes are devices
    auto packed = image::packLayer(import_dir, tmpl, pack);
    if (!packed.ok()) {
      std::remove(tmpl.c_str());
      return fail(packed.status());
    }
    image::CommitRequest request;
    request.layers.push_back({tmpl, *packed, "skiff image import " + import_dir});
    image::ImageConfig config;
    config.cmd = import_cmd;
    config.entrypoint = import_entrypoint;
    config.env = import_env;
    request.config = config;
    request.tag = reference;
    auto img = (*opened)->commit(request);
    std::remove(tmpl.c_str());
    if (!img.ok()) return fail(img.status());
    std::cout << img->manifest_digest.str() << "\n";
    return 0;
  }
};

ImageCommands::ImageCommands(CLI::App& app) : state_(std::make_unique<State>()) {
  State& s = *state_;
  CLI::App* image = app.add_subcommand("image", "Manage OCI images in a local store (no server)");
  image->require_subcommand(1);
  image->add_option("--store", s.store,
                    "Image store directory (default: $SKIFF_IMAGE_STORE, else "
                    "$XDG_DATA_HOME/skiff/images or ~/.local/share/skiff/images)");
  auto add = [&](const char* name, const char* description, std::function<int()> run) {
    CLI::App* cmd = image->add_subcommand(name, description);
    cmd->add_option("--store", s.store, "Image store directory");
    s.handlers.push_back({cmd, std::move(run)});
    return cmd;
  };
  auto addRegistryOptions = [&](CLI::App* cmd) {
    cmd->add_option("-u,--username", s.username,
                    "Registry user name (default: $SKIFF_REGISTRY_USERNAME)");
    cmd->add_flag("--password-stdin", s.password_stdin,
                  "Read the registry password from the first line of standard input (default: "
                  "$SKIFF_REGISTRY_PASSWORD)");
    cmd->add_option("--insecure-registry", s.insecure,
                    "Speak plain HTTP to this registry HOST[:PORT] (repeatable; loopback "
                    "registries always use HTTP)");
  };

  CLI::App* ls = add("ls", "List the images in the store", [&s] { return s.list(); });
  ls->alias("list");
  ls->add_option("-o,--output", s.output, "Output format: json");

  CLI::App* pull =
      add("pull", "Fetch an image from its registry; prints its digest", [&s] { return s.pull(); });
  pull->add_option("reference", s.reference, "Image, e.g. busybox or host:5000/acme/web:1.0")
      ->required();
  addRegistryOptions(pull);

  CLI::App* push =
      add("push", "Upload an image to a registry; prints its digest", [&s] { return s.push(); });
  push->add_option("image", s.reference, "Local image")->required();
  push->add_option("destination", s.target, "Where to push (default: the image's reference)");
  addRegistryOptions(push);

  CLI::App* rm = add("rm", "Remove image references (run skiff image prune to free space)",
                     [&s] { return s.remove(); });
  rm->alias("rmi");
  rm->add_option("references", s.references, "Images to untag")->required();

  add("prune",
      "Delete blobs and unpacked layers no reference needs (not while a local server "
      "runs untagged images from this store)",
      [&s] { return s.prune(); });

  CLI::App* tag = add("tag", "Give an image another reference", [&s] { return s.tag(); });
  tag->add_option("source", s.reference, "Image")->required();
  tag->add_option("target", s.target, "New reference")->required();

  CLI::App* inspect = add("inspect", "Print an image's manifest details and config as JSON",
                          [&s] { return s.inspect(); });
  inspect->add_option("image", s.reference, "Reference or digest")->required();

  CLI::App* build = add(
      "build", "Build an image from a Dockerfile, without a daemon (needs root); prints its digest",
      [&s] { return s.build(); });
  build->add_option("context", s.build_context, "The build context directory")->required();
  build->add_option("-t,--tag", s.reference, "Reference for the new image")->required();
  build->add_option("-f,--file", s.build_file, "The Dockerfile (default: CONTEXT/Dockerfile)");
  build->add_option("--build-arg", s.build_args, "NAME=VALUE for an ARG (repeatable)");
  build->add_option("--target", s.build_target, "Build up to this stage (name or index)");
  build->add_flag("--push", s.build_push, "Push the image to its registry once built");
  build->add_flag("--no-cache", s.build_no_cache, "Run every step, reusing no cached layer");
  build->add_flag("-q,--quiet", s.quiet, "Print only the digest, not the steps");
  addRegistryOptions(build);

  CLI::App* import = add("import", "Make a one-layer image from a directory; prints its digest",
                         [&s] { return s.import(); });
  import->add_option("directory", s.import_dir, "Root filesystem to pack")->required();
  import->add_option("reference", s.reference, "Reference for the new image")->required();
  import->add_option("--cmd", s.import_cmd, "Default command, one argument per flag");
  import->add_option("--entrypoint", s.import_entrypoint, "Entrypoint, one argument per flag");
  import->add_option("--env", s.import_env, "NAME=value for the config (repeatable)");
}

ImageCommands::~ImageCommands() = default;

std::optional<int> ImageCommands::runIfParsed() {
  for (const auto& handler : state_->handlers)
    if (handler.command->parsed()) return handler.run();
  return std::nullopt;
}

}  // namespace skiff::cli
