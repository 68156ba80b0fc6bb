// LogHandler: the API's log endpoints, read from a runtime::LogSource and searched with a
// runtime::LogSearcher.
//
//   GET /api/v1/tenants/{t}/instances/{name}/log
//   GET /api/v1/tenants/{t}/applications/{app}/logs   (?component=, ?instance=)
//   query: previous, sinceSeconds | since (RFC 3339), tailLines, follow, timestamps
//   search (application form): grep, regex, ignoreCase, untilSeconds | until, limit, format
//   GET /api/v1/platform/logs: the same search over the platform's own logs (?component=)
//
// Answers are plain text, one log line per line; the application form merges its instances'
// lines by time and prefixes each with "[INSTANCE] " when it shows more than one instance.
// A search (any search parameter; the platform form always) answers the newest `limit` lines
// that match, as that text (with the header X-Skiff-Truncated: true when more matched) or, with
// format=json, as {"lines": [{"time", "instance", "component", "stream", "line"}], "truncated",
// "incomplete", "limit", "instances", "scannedBytes"}. A search still reading after 10 s
// answers what it found, marked incomplete (X-Skiff-Incomplete: true). Instances the searcher
// holds no files of (pods of a Kubernetes cluster) are read through the LogSource and filtered
// here. With follow=true, grep (and regex, ignoreCase) filter the followed lines.
// A plain read runs on the server's blocking pool. follow=true answers with a chunked stream
// fed by one follower thread that polls every open follow; a follow ends when its instances
// are gone, when the client disconnects (the server closes the stream, and the next push
// fails), or at stop().
//
// Thread-safe: handle() is called concurrently from the HTTP server's threads.
#pragma once

#include <chrono>
#include <condition_variable>
#include <list>
#include <memory>
#include <mutex>
#include <thread>

#include "api/http.h"
#include "runtime/log_source.h"
#include "store/store.h"

namespace skiff {

class LogHandler {
 public:
  // Without a searcher, searches read every instance through `source`.
  LogHandler(const Store& store, runtime::LogSource& source,
             runtime::LogSearcher* searcher = nullptr);
  ~LogHandler();

  // Whether `request` addresses a log endpoint (the server dispatches those here).
  static bool handles(const HttpRequest& request);
  HttpResponse handle(HttpRequest& request);
  // Ends every follow and refuses new ones.
  void stop();

  // How often follows look for new lines.
  static constexpr std::chrono::milliseconds kPollInterval{200};

  struct Follow;  // one open follow (log_handler.cc)

 private:
  void followLoop();
  // One round of `f`: new lines pushed; false once the follow has ended.
  bool pump(Follow& f);

  // Constant after construction.
  const Store& store_;
  runtime::LogSource& source_;
  runtime::LogSearcher* const searcher_;

  std::mutex mu_;
  std::condition_variable wake_;
  std::list<std::unique_ptr<Follow>> follows_;  // guarded by mu_
  bool stopping_ = false;                       // guarded by mu_
  std::thread follower_;                        // started with the first follow
};

}  // namespace skiff
