// The daemonless image builder behind `skiff image build`: runs a Dockerfile (dockerfile.h)
// against a local build context and writes the result into an ImageStore, as buildah does,
// without a daemon.
//
// Each stage starts from scratch or a store image (pulled when missing). COPY and ADD write
// their files into a new layer directory; RUN executes in a runc container whose root is an
// overlay of the stage's layers with an empty writable layer on top, and that writable layer
// becomes the step's new layer. Layers are cached by content: the key of a step is its parent
// chain, the instruction with variables expanded and, for COPY/ADD, the bytes, modes and names
// of its sources; a hit reuses the stored layer without running the step.
//
// Needs root (overlay mounts, runc). One build at a time per work directory; not thread-safe.
#pragma once

#include <functional>
#include <map>
#include <string>

#include "common/status.h"
#include "image/image_store.h"

namespace skiff::build {

struct BuildOptions {
  std::string context_dir;
  std::string dockerfile;                         // empty: context_dir/Dockerfile
  std::string tag;                                // the reference the image gets
  std::map<std::string, std::string> build_args;  // --build-arg NAME=VALUE
  std::string target;  // stop after this stage (name or index); empty: the last one
  bool no_cache = false;
  image::RegistryOptions registry;  // for pulling FROM images
  std::string runc = "runc";
  // Each step's header and the output of RUN, line by line.
  std::function<void(const std::string& line)> log;
};

Result<image::Image> buildImage(image::ImageStore& store, const BuildOptions& options);

}  // namespace skiff::build
