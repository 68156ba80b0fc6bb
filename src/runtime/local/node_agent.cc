#include "runtime/local/node_agent.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "controller/revision_controller.h"
#include "model/formats.h"
#include "model/well_known.h"
#include "runtime/local/host_ports.h"
#include "runtime/local/local_log_source.h"
#include "runtime/local/log_files.h"
#include "runtime/local/service_controller.h"

namespace skiff::runtime {

namespace {

using std::chrono::milliseconds;

milliseconds seconds(const json& probe, const char* field, double fallback) {
  return milliseconds(static_cast<int64_t>(std::llround(probe.value(field, fallback) * 1000)));
}

// The host port behind a probe's or route's port reference (a port name or number).
std::optional<int> hostPort(const json& component, const json& ref,
                            const std::map<std::string, int>& ports) {
  for (const auto& p : component.value("ports", json::array())) {
    const std::string name = p.value("name", "");
    if ((ref.is_string() && ref.get<std::string>() == name) ||
        (ref.is_number_integer() && ref.get<int>() == p.value("port", 0))) {
      auto it = ports.find(name);
      if (it != ports.end()) return it->second;
    }
  }
  return std::nullopt;
}

Result<ProbeSpec> probeSpec(const json& probe, const json& component,
                            const std::map<std::string, int>& ports) {
  ProbeSpec spec;
  spec.initial_delay = seconds(probe, "initialDelaySeconds", 0);
  spec.period = seconds(probe, "periodSeconds", 10);
  spec.timeout = seconds(probe, "timeoutSeconds", 1);
  spec.success_threshold = probe.value("successThreshold", 1);
  spec.failure_threshold = probe.value("failureThreshold", 3);
  const json* target = nullptr;
  if (probe.contains("http")) {
    spec.kind = ProbeKind::kHttp;
    target = &probe["http"];
    spec.path = target->value("path", "/");
    for (const auto& h : target->value("headers", json::array()))
      spec.headers.emplace_back(h.value("name", ""), h.value("value", ""));
  } else if (probe.contains("tcp")) {
    spec.kind = ProbeKind::kTcp;
    target = &probe["tcp"];
  } else {
    spec.kind = ProbeKind::kExec;
    spec.argv = probe["exec"].value("command", std::vector<std::string>{});
    return spec;
  }
  auto port = hostPort(component, target->value("port", json()), ports);
  if (!port) return Status(StatusCode::kInvalid, "the probe's port is not a declared port");
  spec.port = *port;
  return spec;
}

std::map<std::string, int> portsOf(const json& status) {
  std::map<std::string, int> ports;
  auto it = status.find("ports");
  if (it == status.end() || !it->is_object()) return ports;
  for (const auto& [name, port] : it->items())
    if (port.is_number_integer()) ports[name] = port.get<int>();
  return ports;
}

std::chrono::system_clock::time_point parseTime(const json& status, const char* field) {
  std::chrono::system_clock::time_point t{};
  if (status.contains(field) && status[field].is_string())
    parseTimestamp(status[field].get<std::string>(), &t);
  return t;
}

// The data of Config or Secret `name` in `tenant`, or why it cannot be used.
Result<json> configData(const Store& store, const std::string& tenant, bool secret,
                        const std::string& name) {
  const char* what = secret ? "secret" : "config";
  auto got = store.get({secret ? "Secret" : "Config", tenant, name});
  if (!got.ok()) {
    if (got.status().code() != StatusCode::kNotFound) return got.status();
    return Status(StatusCode::kInvalid, std::string(what) + " \"" + name +
                                            "\" does not exist in tenant \"" + tenant + "\"");
  }
  return (*got)->object().spec.value("data", json::object());
}

bool validEnvName(const std::string& name) {
  if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0]))) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
  });
}

// Sets a variable, plain or secret, replacing one of the same name of the other kind.
void setVariable(InstanceSpec* spec, const std::string& name, std::string value, bool secret) {
  (secret ? spec->env : spec->secret_env).erase(name);
  (secret ? spec->secret_env : spec->env)[name] = std::move(value);
}

// The component's env, envFrom and Config/Secret volumes, resolved in the instance's tenant:
// envFrom first, then env (which wins, as in Kubernetes). A missing Config, Secret or key is
// an error naming it; the instance retries with backoff until it appears.
Status addConfiguration(const Store& store, const std::string& tenant, const json& component,
                        InstanceSpec* spec) {
  for (const auto& from : component.value("envFrom", json::array())) {
    const bool secret = from.contains("secret");
    const std::string name = from.value(secret ? "secret" : "config", "");
    auto data = configData(store, tenant, secret, name);
    if (!data.ok()) return data.status();
    for (auto it = data->begin(); it != data->end(); ++it) {
      const std::string variable = from.value("prefix", "") + it.key();
      if (!validEnvName(variable))
        return Status(StatusCode::kInvalid, std::string(secret ? "secret" : "config") + " \"" +
                                                name + "\" key \"" + it.key() +
                                                "\" cannot be a variable (envFrom): \"" + variable +
                                                "\" is not letters, digits and '_'");
      setVariable(spec, variable, it->get<std::string>(), secret);
    }
  }
  for (const auto& e : component.value("env", json::array())) {
    const std::string name = e.value("name", "");
    if (e.contains("value")) {
      setVariable(spec, name, e.value("value", ""), false);
      continue;
    }
    const json from = e.value("valueFrom", json::object());
    const bool secret = from.contains("secret");
    const json ref = from.value(secret ? "secret" : "config", json::object());
    auto data = configData(store, tenant, secret, ref.value("name", ""));
    if (!data.ok()) return data.status();
    auto value = data->find(ref.value("key", ""));
    if (value == data->end() || !value->is_string())
      return Status(StatusCode::kInvalid,
                    "variable " + name + ": " + (secret ? "secret" : "config") + " \"" +
                        ref.value("name", "") + "\" has no key \"" + ref.value("key", "") + "\"");
    setVariable(spec, name, value->get<std::string>(), secret);
  }
  for (const auto& v : component.value("volumes", json::array())) {
    const json source = v.value("source", json::object());
    const bool secret = source.contains("secret");
    if (!secret && !source.contains("config")) continue;
    auto data = configData(store, tenant, secret, source.value(secret ? "secret" : "config", ""));
    if (!data.ok()) return data.status();
    for (auto it = data->begin(); it != data->end(); ++it)
      spec->files.push_back({v.value("name", ""), it.key(), it->get<std::string>(), secret});
  }
  return Status::ok();
}

// The Volume object behind a persistent volume of an instance, "APP-COMPONENT-VOLUME" plus
// "-ORDINAL" for a stateful identity, created on first use (or ahead by a user, with a size of
// their choosing). Returns its name and size in bytes (0: unsized).
Result<std::pair<std::string, int64_t>> ensureVolumeObject(Store& store, const Object& instance,
                                                           const json& component,
                                                           const json& volume) {
  const std::string tenant = instance.metadata.tenant;
  const std::string app = instance.spec.value("application", "");
  std::string name = app + "-" + component.value("name", "") + "-" + volume.value("name", "");
  if (instance.spec.contains("ordinal"))
    name += "-" + std::to_string(instance.spec.value("ordinal", 0));
  if (name.size() > 63) {
    // Still a DNS label, still one per identity: a prefix and a hash of the whole name.
    uint32_t h = 2166136261u;
    for (unsigned char c : name) h = (h ^ c) * 16777619u;
    char tag[9];
    std::snprintf(tag, sizeof tag, "%08x", h);
    name = name.substr(0, 54) + "-" + tag;
  }
  auto sizeOf = [](const Object& v) {
    return v.spec.contains("size") ? parseMemoryBytes(v.spec["size"]).value_or(0) : int64_t{0};
  };
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto got = store.get({"Volume", tenant, name});
    if (got.ok()) return std::make_pair(name, sizeOf((*got)->object()));
    if (got.status().code() != StatusCode::kNotFound) return got.status();
    Object object;
    object.kind = "Volume";
    object.metadata.tenant = tenant;
    object.metadata.name = name;
    object.metadata.labels[kApplicationLabel] = app;
    object.metadata.labels[kComponentLabel] = component.value("name", "");
    object.spec = {{"application", app},
                   {"component", component.value("name", "")},
                   {"volume", volume.value("name", "")}};
    if (volume.contains("size")) object.spec["size"] = volume["size"];
    if (instance.spec.contains("ordinal")) object.spec["ordinal"] = instance.spec["ordinal"];
    auto created = store.create(object);
    if (created.ok()) return std::make_pair(name, sizeOf(object));
    if (created.status().code() != StatusCode::kAlreadyExists) return created.status();
  }
  return conflict("volume " + name + " is being created and deleted at once; retrying");
}

}  // namespace

NodeAgent::NodeAgent(Store& store, Driver& driver, Prober& prober, const Clock& clock,
                     Options options)
    : store_(store),
      driver_(driver),
      prober_(prober),
      clock_(clock),
      options_(options),
      exits_([this](const std::string& id) {
        // Driver ids are "TENANT.NAME"; tenant names hold no dots.
        const size_t dot = id.find('.');
        if (requeue_ && dot != std::string::npos)
          requeue_({"Instance", id.substr(0, dot), id.substr(dot + 1)});
      }) {}

std::string NodeAgent::driverId(const ObjectKey& key) { return key.tenant + "." + key.name; }

std::vector<WatchedKind> NodeAgent::watches() const {
  return {{"Instance", [](const StoredObject& o) { return std::optional<ObjectKey>(o.key()); }}};
}

Result<Driver*> NodeAgent::driverFor(const json& component) const {
  if (!component.contains("image")) return &driver_;
  if (options_.containers == nullptr || options_.network == nullptr || options_.images == nullptr)
    return Status(StatusCode::kInvalid,
                  "ContainersUnavailable: the component has an image but "
                  "containers cannot run on this server: " +
                      options_.containers_unavailable);
  return options_.containers;
}

Status NodeAgent::addImage(const Object& instance, const json& component, InstanceSpec* spec,
                           json* status) {
  const std::string reference = component.value("image", "");
  auto image = options_.images->resolve(instance.metadata.tenant, reference);
  if (!image.ok())
    return Status(image.status().code(), "ImagePullFailed: " + image.status().message());
  ContainerSpec container;
  container.rootfs_layers = image->layers;
  container.user = component.value("user", image->user);
  container.read_only_root = component.value("readOnlyRoot", false);
  container.hostname = instance.metadata.name;
  // Kubernetes' rules: command replaces the entrypoint (and drops the image's cmd), args
  // replace the cmd.
  const json run = component.value("run", json::object());
  if (run.contains("command")) {
    spec->argv = {run.value("command", "")};
    for (const auto& a : run.value("args", std::vector<std::string>{})) spec->argv.push_back(a);
  } else {
    spec->argv = image->entrypoint;
    const auto args =
        run.contains("args") ? run.value("args", std::vector<std::string>{}) : image->cmd;
    spec->argv.insert(spec->argv.end(), args.begin(), args.end());
  }
  if (spec->argv.empty())
    return Status(StatusCode::kInvalid,
                  "image " + reference + " has no ENTRYPOINT or CMD; set run.command");
  spec->working_dir =
      run.value("workingDir", image->working_dir.empty() ? "/" : image->working_dir);
  spec->env["PATH"] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  for (const auto& e : image->env) {
    const size_t eq = e.find('=');
    if (eq != std::string::npos) spec->env[e.substr(0, eq)] = e.substr(eq + 1);
  }
  spec->env["HOSTNAME"] = instance.metadata.name;
  spec->container = std::move(container);
  (*status)["image"] = {{"reference", reference}, {"digest", image->digest}};
  return Status::ok();
}

Status NodeAgent::attachNetwork(const Object& instance, InstanceSpec* spec, json* status) {
  const std::string tenant = instance.metadata.tenant;
  auto attached = options_.network->attach(tenant, spec->id, {});
  if (!attached.ok()) return attached.status();
  spec->container->netns_path = attached->netns_path;
  // Every component of the application that has a service, by name: "cache:6379" works from
  // any container of the application.
  const std::string app = instance.spec.value("application", "");
  auto revision = store_.get(
      {"Revision", tenant, revisionName(app, instance.spec.value("revision", int64_t{0}))});
  if (revision.ok()) {
    for (const auto& c :
         (*revision)->object().spec["template"].value("components", json::array())) {
      if (!c.contains("image") || c.value("ports", json::array()).empty()) continue;
      const std::string name = c.value("name", "");
      auto vip = options_.network->serviceAddress(tenant, serviceKey(app, name));
      if (!vip.ok()) {
        (void)options_.network->detach(spec->id);
        return vip.status();
      }
      spec->container->hosts.push_back(*vip + " " + name + " " + name + "." + app);
    }
  }
  (*status)["address"] = attached->ip;
  (*status)["network"] = "container";
  return Status::ok();
}

Status NodeAgent::addVolumes(const Object& instance, const json& component, InstanceSpec* spec,
                             json* status) {
  const std::string tenant = instance.metadata.tenant;
  json used = json::array();
  for (const auto& v : component.value("volumes", json::array())) {
    const json source = v.value("source", json::object());
    const std::string name = v.value("name", "");
    const std::string path = v.value("path", "");
    if (source.contains("config") || source.contains("secret")) {
      if (spec->container) spec->container->volume_paths[name] = path;
      continue;
    }
    std::string host_path;
    if (source.contains("emptyDir")) {
      host_path = options_.scratch_dir + "/" + spec->id + "/" + name;
      std::error_code ec;
      std::filesystem::create_directories(host_path, ec);
      if (ec) return unavailable("cannot create emptyDir " + host_path + ": " + ec.message());
    } else {
      if (options_.volumes == nullptr)
        return Status(StatusCode::kInvalid, "this server keeps no persistent volumes");
      auto volume = ensureVolumeObject(store_, instance, component, v);
      if (!volume.ok()) return volume.status();
      used.push_back(volume->first);  // recorded first: in use from now on, even if this fails
      (*status)["volumes"] = used;
      auto info = options_.volumes->ensure(tenant, volume->first, volume->second);
      if (!info.ok()) return info.status();
      host_path = info->path;
    }
    if (spec->container) {
      spec->container->mounts.push_back({host_path, path, v.value("readOnly", false)});
    } else {
      spec->env["SKIFF_VOLUME_" + envVarName(name)] = host_path;
    }
  }
  return Status::ok();
}

Result<InstanceSpec> NodeAgent::buildSpec(const Object& instance, const json& component,
                                          std::map<std::string, int>* ports, json* status) {
  InstanceSpec spec;
  spec.id = driverId(instance.key());
  const bool container = component.contains("image");
  if (container) {
    if (Status s = addImage(instance, component, &spec, status); !s.isOk()) return s;
  } else {
    const json run = component.value("run", json::object());
    spec.argv.push_back(run.value("command", ""));
    for (const auto& a : run.value("args", std::vector<std::string>{})) spec.argv.push_back(a);
    spec.working_dir = run.value("workingDir", "/");
    // Skiff's own directory comes first, so tools built beside it (skiff-example) are found.
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    std::string own_dir = n > 0 ? std::string(self, static_cast<size_t>(n)) : std::string();
    own_dir = own_dir.substr(0, own_dir.rfind('/'));
    spec.env["PATH"] = (own_dir.empty() ? "" : own_dir + ":") +
                       "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    spec.env["HOME"] = "/tmp";
    (*status)["address"] = "127.0.0.1";
    status->erase("network");
  }
  if (Status s = addConfiguration(store_, instance.metadata.tenant, component, &spec); !s.isOk())
    return s;
  spec.env["SKIFF_TENANT"] = instance.metadata.tenant;
  spec.env["SKIFF_APPLICATION"] = instance.spec.value("application", "");
  spec.env["SKIFF_COMPONENT"] = instance.spec.value("component", "");
  spec.env["SKIFF_INSTANCE"] = instance.metadata.name;
  if (options_.gateway_address) {
    if (std::string gateway = options_.gateway_address(); !gateway.empty())
      spec.env["SKIFF_GATEWAY_ADDR"] = gateway;
  }
  bool first = true;
  for (const auto& p : component.value("ports", json::array())) {
    const std::string name = p.value("name", "");
    if (container) {
      (*ports)[name] = p.value("port", 0);  // its own address: the port as declared
    } else {
      auto port = pickListenPort();
      if (!port.ok()) return port.status();
      (*ports)[name] = *port;
    }
    spec.env["PORT_" + envVarName(name)] = std::to_string((*ports)[name]);
    if (first) spec.env["PORT"] = std::to_string((*ports)[name]);
    first = false;
  }
  const json resources = component.value("resources", json::object());
  const json limits = resources.contains("limits") ? resources["limits"] : resources;
  if (limits.contains("cpu")) spec.limits.cpu_millis = parseCpuMillis(limits["cpu"]).value_or(0);
  if (limits.contains("memory"))
    spec.limits.memory_bytes = parseMemoryBytes(limits["memory"]).value_or(0);
  spec.termination_grace =
      milliseconds(component.value("terminationGracePeriodSeconds", 30) * 1000);
  if (Status s = addVolumes(instance, component, &spec, status); !s.isOk()) return s;
  if (container) {
    if (Status s = attachNetwork(instance, &spec, status); !s.isOk()) return s;
  }
  return spec;
}

void NodeAgent::releaseHost(const std::string& id) {
  if (options_.network != nullptr) (void)options_.network->detach(id);
  if (!options_.scratch_dir.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(options_.scratch_dir + "/" + id, ec);
  }
}

Status NodeAgent::stopAndRemove(const std::string& id, milliseconds grace) {
  for (Driver* d : {&driver_, options_.containers}) {
    if (d == nullptr || !d->inspect(id).ok()) continue;
    if (Status s = d->stop(id, grace); !s.isOk()) return s;
    if (Status s = d->remove(id); !s.isOk()) return s;
  }
  releaseHost(id);
  return Status::ok();
}

Status NodeAgent::registerProbes(const ObjectKey& key, const json& component,
                                 const std::map<std::string, int>& ports, const std::string& host) {
  const json health = component.value("health", json::object());
  for (const char* kind : {"readiness", "liveness", "startup"}) {
    if (!health.contains(kind)) continue;
    auto spec = probeSpec(health[kind], component, ports);
    if (!spec.ok()) return spec.status();
    spec->host = host;
    // An exec probe runs where the workload does: inside its container.
    if (spec->kind == ProbeKind::kExec) {
      auto chosen = driverFor(component);
      if (chosen.ok()) spec->argv = (*chosen)->hostCommand(driverId(key), spec->argv);
    }
    const std::string which = kind;
    auto added = prober_.add(driverId(key) + "/" + which, std::move(spec).value(),
                             [this, key, which](const ProbeResult& r) {
                               {
                                 std::lock_guard lock(mu_);
                                 Health& h = health_[key];
                                 (which == "readiness"  ? h.readiness
                                  : which == "liveness" ? h.liveness
                                                        : h.startup) = r.healthy;
                                 h.message = which + " probe: " + r.message;
                                 ++h.generation;
                               }
                               if (requeue_) requeue_(key);
                             });
    if (!added.ok()) return added.status();
  }
  std::lock_guard lock(mu_);
  health_[key].generation += 0;  // an entry marks the probes as registered
  return Status::ok();
}

void NodeAgent::unregisterProbes(const ObjectKey& key) {
  for (const char* kind : {"readiness", "liveness", "startup"})
    prober_.remove(driverId(key) + "/" + kind);
  std::lock_guard lock(mu_);
  health_.erase(key);
}

Status NodeAgent::writeStatus(const Object& instance, json status) {
  if (status == instance.status) return Status::ok();
  Object updated = instance;
  updated.status = std::move(status);
  UpdateOptions options;
  options.status_only = true;
  auto written = store_.update(std::move(updated), options);
  return written.ok() ? Status::ok() : written.status();
}

Result<ReconcileResult> NodeAgent::retire(const ObjectKey& key, Object instance,
                                          const json& component) {
  json status = instance.status;
  const auto now = clock_.now();
  if (status.value("phase", "") != "Terminating") {
    // Out of routing first; the stop waits for the gateway to take the new table.
    status["phase"] = "Terminating";
    status["ready"] = false;
    status["drainStartedAt"] = formatTimestamp(now);
    if (Status s = writeStatus(instance, status); !s.isOk()) return s;
    return ReconcileResult{options_.drain};
  }
  const auto drain_end = parseTime(status, "drainStartedAt") + options_.drain;
  if (now < drain_end)
    return ReconcileResult{std::chrono::duration_cast<milliseconds>(drain_end - now)};
  unregisterProbes(key);
  // The revision may be gone with its application: the grace the instance started with.
  const milliseconds grace(
      component.value("terminationGracePeriodSeconds",
                      instance.status.value("terminationGracePeriodSeconds", 30)) *
      1000);
  const std::string id = driverId(key);
  if (Status s = stopAndRemove(id, grace); !s.isOk()) return s;
  auto removed = store_.remove(key);
  if (!removed.ok() && removed.status().code() != StatusCode::kNotFound) return removed.status();
  return ReconcileResult{};
}

Result<ReconcileResult> NodeAgent::reconcile(const ObjectKey& key) {
  const std::string id = driverId(key);
  auto stored = store_.get(key);
  if (!stored.ok()) {
    if (stored.status().code() != StatusCode::kNotFound) return stored.status();
    // The object is gone: nothing may keep running for it.
    unregisterProbes(key);
    if (Status s = stopAndRemove(id, milliseconds(0)); !s.isOk()) return s;
    return ReconcileResult{};
  }
  Object instance = (*stored)->object();
  if (instance.spec.value("node", options_.node) != options_.node) return ReconcileResult{};

  json component = json::object();
  auto revision = store_.get({"Revision", key.tenant,
                              revisionName(instance.spec.value("application", ""),
                                           instance.spec.value("revision", int64_t{0}))});
  if (revision.ok()) {
    for (const auto& c : (*revision)->object().spec["template"].value("components", json::array()))
      if (c.value("name", "") == instance.spec.value("component", "")) component = c;
  }
  if (instance.spec.value("terminating", false)) return retire(key, std::move(instance), component);
  if (!revision.ok()) return revision.status();

  json status = instance.status;
  status["node"] = options_.node;
  const auto now = clock_.now();
  auto chosen = driverFor(component);
  Driver& driver = chosen.ok() ? **chosen : driver_;
  status["driver"] = driver.name();
  auto state = chosen.ok() ? driver.inspect(id) : Result<InstanceState>(notFound(id));

  if (state.ok() && state->phase == InstancePhase::kExited) {
    unregisterProbes(key);
    status["ready"] = false;
    // Why it exited, in the user's terms: the agent's own kill (a failed liveness probe)
    // names the probe; otherwise the workload's last stderr line usually says it.
    std::string reason = state->reason;
    std::string message = lastStderrLine(state->log_path);
    if (status.contains("killedBy")) {
      reason = status["killedBy"].value("reason", reason);
      message = status["killedBy"].value("message", message);
      status.erase("killedBy");
    }
    status["lastExit"] = {{"exitCode", state->exit_code},
                          {"signal", state->signal},
                          {"reason", reason},
                          {"finishedAt", formatTimestamp(state->finished_at)}};
    if (!message.empty()) status["lastExit"]["message"] = message;
    const std::string policy = component.value("restartPolicy", "Always");
    const bool failed = state->exit_code != 0;
    if (policy == "Never" || (policy == "OnFailure" && !failed)) {
      status["phase"] = failed ? "Failed" : "Succeeded";
      setCondition(status,
                   {"Ready", "False", reason,
                    message.empty() ? "the process exited" : "the process exited: " + message, ""},
                   formatTimestamp(now));
      if (Status s = writeStatus(instance, status); !s.isOk()) return s;
      return ReconcileResult{};
    }
    // Crash-loop backoff: doubles per consecutive crash; a long enough run resets it.
    const bool ran_long = state->finished_at - state->started_at >= options_.backoff_reset;
    const int crashes = ran_long ? 0 : status.value("consecutiveCrashes", 0);
    const auto delay = std::min<milliseconds>(
        options_.max_backoff, options_.initial_backoff * (int64_t{1} << std::min(crashes, 20)));
    status["consecutiveCrashes"] = crashes + 1;
    status["phase"] = "Backoff";
    status["restartAt"] = formatTimestamp(now + delay);
    setCondition(status,
                 {"Ready", "False", "CrashLoopBackOff",
                  "exited (" + reason + ", code " + std::to_string(state->exit_code) + ")" +
                      (message.empty() ? "" : ": " + message) + "; restarting in " +
                      std::to_string(delay.count()) + " ms",
                  ""},
                 formatTimestamp(now));
    if (Status s = driver.remove(id); !s.isOk()) return s;
    releaseHost(id);
    if (Status s = writeStatus(instance, status); !s.isOk()) return s;
    return ReconcileResult{delay};
  }

  if (!state.ok()) {
    if (state.status().code() != StatusCode::kNotFound) return state.status();
    if (auto at = parseTime(status, "restartAt"); now < at)
      return ReconcileResult{std::chrono::duration_cast<milliseconds>(at - now) + milliseconds(1)};
    // Each run picks its ports afresh: another socket may hold the last run's by now.
    std::map<std::string, int> ports;
    Result<InstanceSpec> spec =
        chosen.ok() ? buildSpec(instance, component, &ports, &status) : chosen.status();
    Result<InstanceState> started =
        spec.ok() ? driver.start(*spec) : Result<InstanceState>(spec.status());
    if (!started.ok()) {
      releaseHost(id);  // nothing half-started stays: no address, no scratch
      const int crashes = status.value("consecutiveCrashes", 0);
      const auto delay = std::min<milliseconds>(
          options_.max_backoff, options_.initial_backoff * (int64_t{1} << std::min(crashes, 20)));
      status["phase"] = "Failed";
      status["ready"] = false;
      status["consecutiveCrashes"] = crashes + 1;
      status["restartAt"] = formatTimestamp(now + delay);
      setCondition(status, {"Ready", "False", "StartFailed", started.status().message(), ""},
                   formatTimestamp(now));
      if (Status s = writeStatus(instance, status); !s.isOk()) return s;
      return ReconcileResult{delay};
    }
    (void)recordLogOwner(started->log_dir, instance);  // keeps its logs findable by application
    if (status.contains("startedAt")) status["restarts"] = status.value("restarts", 0) + 1;
    status["phase"] = "Running";
    status["pid"] = started->pid;
    status["ports"] = ports;
    status["terminationGracePeriodSeconds"] = component.value("terminationGracePeriodSeconds", 30);
    status["startedAt"] = formatTimestamp(started->started_at);
    status.erase("restartAt");
    state = started;
  }

  // Running. Its exit requeues it (probes may not notice: a component need not have any);
  // where its shim cannot be watched, a poll does.
  const bool exit_watched = exits_.watch(id, state->shim_pid);
  // Probes are registered once per run (also after adoption by a new server).
  bool registered;
  {
    std::lock_guard lock(mu_);
    registered = health_.count(key) != 0;
  }
  if (!registered) {
    if (Status s =
            registerProbes(key, component, portsOf(status), status.value("address", "127.0.0.1"));
        !s.isOk())
      return s;
  }
  Health h;
  {
    std::lock_guard lock(mu_);
    h = health_[key];
  }
  const json health = component.value("health", json::object());
  if (health.contains("liveness") && h.liveness == false) {
    // Restarted through the exited path on the next pass, which reports this as the reason.
    unregisterProbes(key);
    status["killedBy"] = {{"reason", "LivenessProbeFailed"}, {"message", h.message}};
    if (Status s = writeStatus(instance, status); !s.isOk()) return s;
    if (Status s = driver.stop(
            id, milliseconds(component.value("terminationGracePeriodSeconds", 30) * 1000));
        !s.isOk())
      return s;
    if (requeue_) requeue_(key);
    return ReconcileResult{};
  }
  // A probe that has not answered yet leaves an adopted instance (same process as before a
  // control-plane restart) as it was, so a restart takes nothing out of routing.
  const bool was_ready =
      instance.status.value("ready", false) && instance.status.value("pid", -1) == state->pid;
  const bool started_ok = !health.contains("startup") || h.startup.value_or(was_ready);
  const bool ready =
      started_ok && (!health.contains("readiness") || h.readiness.value_or(was_ready));
  status["ready"] = ready;
  status["phase"] = "Running";
  if (!ready && !h.message.empty())
    status["message"] = h.message;
  else
    status.erase("message");
  if (ready && state->started_at + options_.backoff_reset < now) status.erase("consecutiveCrashes");
  setCondition(
      status,
      {"Ready", ready ? "True" : "False", ready ? "ProbesPassed" : "ProbesPending",
       ready ? "the instance is ready" : (h.message.empty() ? "waiting for probes" : h.message),
       ""},
      formatTimestamp(now));
  if (Status s = writeStatus(instance, status); !s.isOk()) return s;
  if (!exit_watched) return ReconcileResult{std::chrono::seconds(1)};
  return ReconcileResult{};
}

}  // namespace skiff::runtime
