#include "controller/kube_pod_access.h"

#include <deque>
#include <mutex>
#include <thread>

#include "common/clock.h"
#include "kube/pod_exec.h"
#include "model/well_known.h"

namespace skiff {

using runtime::LogCursor;
using runtime::LogLine;

namespace {

// What a pod log read has brought so far; shared by a cursor and the thread that follows.
struct PodLogState {
  std::mutex mu;
  std::deque<LogLine> lines;  // guarded by mu
  std::string partial;        // guarded by mu: a line still being written
  bool done = false;          // guarded by mu: the stream has ended
  Status failure;             // guarded by mu: why it ended, when it failed
  bool abandoned = false;     // guarded by mu: the cursor is gone

  // Takes `data`; false once nobody reads any more.
  bool take(std::string_view data) {
    std::lock_guard lock(mu);
    partial.append(data);
    size_t end;
    while ((end = partial.find('\n')) != std::string::npos) {
      lines.push_back(
          podLogLine(std::string_view(partial).substr(0, end), std::chrono::system_clock::now()));
      partial.erase(0, end + 1);
    }
    return !abandoned;
  }
  void finish(Status status) {
    std::lock_guard lock(mu);
    if (!partial.empty()) lines.push_back(podLogLine(partial, std::chrono::system_clock::now()));
    partial.clear();
    done = true;
    failure = std::move(status);
  }
};

class PodLogCursor final : public LogCursor {
 public:
  explicit PodLogCursor(std::shared_ptr<PodLogState> state) : state_(std::move(state)) {}
  ~PodLogCursor() override {
    std::lock_guard lock(state_->mu);
    state_->abandoned = true;
  }

  Result<State> read(std::vector<LogLine>* out, size_t max_bytes) override {
    std::lock_guard lock(state_->mu);
    size_t bytes = 0;
    while (!state_->lines.empty() && bytes < max_bytes) {
      bytes += state_->lines.front().text.size() + 1;
      out->push_back(std::move(state_->lines.front()));
      state_->lines.pop_front();
    }
    if (!state_->lines.empty()) return State::kMore;
    if (!state_->done) return State::kIdle;
    if (!state_->failure.isOk()) {
      Status failure = std::move(state_->failure);
      state_->failure = Status::ok();
      return failure;
    }
    return State::kEnd;
  }

 private:
  const std::shared_ptr<PodLogState> state_;
};

}  // namespace

std::optional<PodLocation> podOf(const Object& instance) {
  auto cluster = instance.metadata.labels.find(kClusterLabel);
  if (cluster == instance.metadata.labels.end()) return std::nullopt;
  const json pod = instance.status.value("pod", json::object());
  return PodLocation{cluster->second, pod.value("namespace", ""),
                     pod.value("name", instance.metadata.name), pod.value("container", "")};
}

LogLine podLogLine(std::string_view line, std::chrono::system_clock::time_point fallback) {
  LogLine out;
  out.time = fallback;
  const size_t space = line.find(' ');
  if (space != std::string_view::npos &&
      parsePreciseTimestamp(std::string(line.substr(0, space)), &out.time)) {
    out.text = std::string(line.substr(space + 1));
  } else {
    out.text = std::string(line);
  }
  return out;
}

Result<std::unique_ptr<LogCursor>> KubeLogSource::open(const std::string& tenant,
                                                       const std::string& instance,
                                                       const runtime::LogQuery& query) {
  auto stored = store_.get({"Instance", tenant, instance});
  std::optional<PodLocation> pod;
  if (stored.ok()) pod = podOf((*stored)->object());
  if (!pod) return local_.open(tenant, instance, query);
  if (pod->ns.empty())
    return unavailable("instance \"" + instance + "\" does not say where its pod runs yet");
  auto cluster = clients_.get(pod->cluster);
  if (!cluster.ok()) return cluster.status();

  kube::PodLogOptions options;
  options.container = pod->container;
  options.follow = query.follow;
  options.previous = query.previous;
  options.timestamps = true;  // for merging instances by time, and --timestamps
  options.tail_lines = query.tail_lines;
  if (query.since) options.since_time = formatTimestamp(*query.since);
  const std::string path = kube::podLogPath(pod->ns, pod->pod, options);
  auto state = std::make_shared<PodLogState>();
  auto take = [state](std::string_view data) { return state->take(data); };
  if (!query.follow) {
    Status read = cluster->client->stream(path, take);
    if (!read.isOk()) {
      // The API server refuses (400) a previous run that does not exist.
      if (query.previous && read.code() == StatusCode::kBadRequest)
        return notFound("instance \"" + instance + "\" has no previous run: " + read.message());
      return read;
    }
    state->finish(Status::ok());
    return std::unique_ptr<LogCursor>(std::make_unique<PodLogCursor>(state));
  }
  // Detached: the stream ends when the pod's log does, or at the first line nobody reads.
  std::thread([client = cluster->client, path, state, take] {
    state->finish(client->stream(path, take));
  }).detach();
  return std::unique_ptr<LogCursor>(std::make_unique<PodLogCursor>(state));
}

Result<std::unique_ptr<runtime::ExecSession>> KubeExecutor::exec(
    const std::string& tenant, const std::string& instance, const std::vector<std::string>& argv,
    bool tty) {
  auto stored = store_.get({"Instance", tenant, instance});
  std::optional<PodLocation> pod;
  if (stored.ok()) pod = podOf((*stored)->object());
  if (!pod) return local_.exec(tenant, instance, argv, tty);
  if (pod->ns.empty())
    return unavailable("instance \"" + instance + "\" does not say where its pod runs yet");
  auto cluster = clients_.get(pod->cluster);
  if (!cluster.ok()) return cluster.status();
  return kube::startPodExec(*cluster->client, pod->ns, pod->pod, pod->container, argv, tty);
}

}  // namespace skiff
