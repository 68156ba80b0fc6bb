// Directories a driver is done with, deleted off the caller's path.
//
// Removing an instance ends with deleting its directories: the writable layer, the bundle,
// runc's state. On ext4 each directory freed costs a block release (a discard where the
// filesystem is mounted with it), about 0.1 ms, so a removal spent most of its time there.
// discard() renames a directory into DIR (same filesystem, one rename) and a background
// thread deletes it; what a crash leaves in DIR is deleted by the next Trash on it.
#pragma once

#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <thread>

#include "common/status.h"

namespace skiff::runtime {

class Trash {
 public:
  // DIR is created when first needed; entries already in it are deleted in the background.
  explicit Trash(std::string dir);
  // Stops after the entry being deleted; the rest waits for the next Trash on DIR.
  ~Trash();
  Trash(const Trash&) = delete;
  Trash& operator=(const Trash&) = delete;

  // Moves `path` out of the way at once and deletes it later. A path that does not exist is
  // fine; one on another filesystem than DIR is deleted here and now.
  Status discard(const std::string& path);
  // Waits until everything discarded so far is deleted.
  void drain();

 private:
  void run();
  void startLocked();

  const std::string dir_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> pending_;  // entries of dir_ still to delete
  bool deleting_ = false;            // the thread is deleting an entry it took from pending_
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace skiff::runtime
