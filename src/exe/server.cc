#include "exe/server.h"

#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <thread>

#include <spdlog/spdlog.h>

#include "alert/alerting_service.h"
#include "api/admin_handler.h"
#include "api/alert_handler.h"
#include "api/api_handler.h"
#include "api/auth_handler.h"
#include "api/exec_handler.h"
#include "api/gatekeeper.h"
#include "api/http_server.h"
#include "api/log_handler.h"
#include "api/metrics_handler.h"
#include "api/registry_hook_handler.h"
#include "audit/audit_log.h"
#include "auth/authenticator.h"
#include "auth/ldap.h"
#include "auth/oidc.h"
#include "auth/rbac.h"
#include "common/files.h"
#include "controller/autoscale_controller.h"
#include "controller/cluster_controller.h"
#include "controller/controller.h"
#include "controller/event_controller.h"
#include "controller/image_follow_controller.h"
#include "controller/instance_set_controller.h"
#include "controller/kube_application_controller.h"
#include "controller/kube_pod_access.h"
#include "controller/registry_credentials.h"
#include "controller/revision_controller.h"
#include "controller/route_controller.h"
#include "controller/tenant_usage_controller.h"
#include "exe/api_tls.h"
#include "exe/containers.h"
#include "exe/gateway_supervisor.h"
#include "gateway/admin_client.h"
#include "model/formats.h"
#include "observe/collector.h"
#include "observe/component_load.h"
#include "observe/control_plane_metrics.h"
#include "observe/gateway_metrics.h"
#include "observe/revision_traffic.h"
#include "observe/tsdb.h"
#include "runtime/local/image_gc.h"
#include "runtime/local/local_executor.h"
#include "runtime/local/local_log_source.h"
#include "runtime/local/node_agent.h"
#include "runtime/local/node_metrics.h"
#include "runtime/local/platform_log_sink.h"
#include "runtime/local/process_driver.h"
#include "runtime/local/service_controller.h"
#include "runtime/local/volume_controller.h"
#include "runtime/probe/prober.h"
#include "secrets/keyring.h"
#include "store/sqlite_store.h"

namespace skiff {

namespace {

// Splits "HOST:PORT" ("[::1]:80" for IPv6).
bool splitHostPort(const std::string& text, std::string* host, uint16_t* port) {
  size_t colon = text.rfind(':');
  if (colon == std::string::npos) return false;
  *host = text.substr(0, colon);
  if (host->size() >= 2 && host->front() == '[' && host->back() == ']')
    *host = host->substr(1, host->size() - 2);
  const std::string p = text.substr(colon + 1);
  if (p.empty() || p.size() > 5 || p.find_first_not_of("0123456789") != std::string::npos)
    return false;
  int n = std::stoi(p);
  if (n > 65535) return false;
  *port = static_cast<uint16_t>(n);
  return !host->empty();
}

Status ensureDefaultTenant(Store& store) {
  if (store.get({"Tenant", "", kDefaultTenant}).ok()) return Status::ok();
  Object tenant;
  tenant.kind = "Tenant";
  tenant.metadata.name = kDefaultTenant;
  tenant.spec = {{"displayName", "Default"}, {"networkIsolation", true}};
  auto created = store.create(std::move(tenant));
  return created.ok() || created.status().code() == StatusCode::kAlreadyExists ? Status::ok()
                                                                               : created.status();
}

}  // namespace

std::string defaultDataDir() {
  if (const char* env = std::getenv("SKIFF_DATA_DIR"); env && *env) return env;
  if (geteuid() == 0) return "/var/lib/skiff";
  const char* home = std::getenv("HOME");
  return std::string(home ? home : ".") + "/.local/share/skiff";
}

int runServer(const ServerOptions& options) {
  // glibc gives each busy thread its own heap arena; with a blocking pool that multiplies
  // resident memory for no gain on a control plane.
  mallopt(M_ARENA_MAX, 2);
  std::string host;
  uint16_t port = 0;
  if (!splitHostPort(options.listen, &host, &port)) {
    spdlog::error("--listen must be HOST:PORT (e.g. 127.0.0.1:7480), got \"{}\"", options.listen);
    return 2;
  }
  const auto retention_seconds = parseDurationSeconds(options.log_retention);
  if (!retention_seconds || *retention_seconds < 1) {
    spdlog::error("--log-retention must be a duration of at least 1s (e.g. 24h, 90m), got \"{}\"",
                  options.log_retention);
    return 2;
  }
  const auto event_retention = parseDurationSeconds(options.event_retention);
  if (!event_retention || *event_retention < 1) {
    spdlog::error("--event-retention must be a duration of at least 1s (e.g. 24h), got \"{}\"",
                  options.event_retention);
    return 2;
  }
  const auto metrics_interval = parseDurationSeconds(options.metrics_interval);
  if (!metrics_interval || *metrics_interval < 0.1 || *metrics_interval > 3600) {
    spdlog::error("--metrics-interval must be a duration from 100ms to 1h (e.g. 10s), got \"{}\"",
                  options.metrics_interval);
    return 2;
  }
  const auto metrics_memory = parseMemoryBytes(options.metrics_memory);
  if (!metrics_memory || *metrics_memory < (int64_t{1} << 20)) {
    spdlog::error("--metrics-memory must be a quantity of at least 1Mi (e.g. 128Mi), got \"{}\"",
                  options.metrics_memory);
    return 2;
  }
  const auto alert_interval = parseDurationSeconds(options.alert_interval);
  if (!alert_interval || *alert_interval < 0.1 || *alert_interval > 3600) {
    spdlog::error("--alert-interval must be a duration from 100ms to 1h (e.g. 5s), got \"{}\"",
                  options.alert_interval);
    return 2;
  }
  const ApiSecurityOptions security_options{options.data_dir, host, options.tls_cert,
                                            options.tls_key, options.insecure_http};
  if (Status s = checkApiSecurityOptions(security_options); !s.isOk()) {
    spdlog::error("{}", s.message());
    return 2;
  }
  // Sign-in through an LDAP directory; it must outlive the Authenticator that consults it.
  std::unique_ptr<LdapDirectory> ldap_directory;
  if (!options.ldap_config.empty()) {
    auto config = loadLdapConfig(options.ldap_config);
    if (!config.ok()) {
      spdlog::error("--ldap-config: {}", config.status().toString());
      return 2;
    }
    ldap_directory = std::make_unique<LdapDirectory>(std::move(config).value());
  }
  // Sign-in with an OIDC issuer's tokens; keys are fetched at the first token, so the issuer
  // need not be up for the server to start.
  std::unique_ptr<OidcVerifier> oidc_verifier;
  if (!options.oidc_config.empty()) {
    auto config = loadOidcConfig(options.oidc_config);
    if (!config.ok()) {
      spdlog::error("--oidc-config: {}", config.status().toString());
      return 2;
    }
    OidcFetcher fetch = httpsFetcher(config->ca_file);
    oidc_verifier = std::make_unique<OidcVerifier>(std::move(config).value(), std::move(fetch),
                                                   SystemClock::instance());
  }
  std::error_code ec;
  std::filesystem::create_directories(options.data_dir, ec);
  if (ec) {
    spdlog::error("cannot create the data directory {}: {}", options.data_dir, ec.message());
    return 1;
  }
  ::chmod(options.data_dir.c_str(), 0700);

  // One server per data directory: the lock dies with the process, even on kill -9.
  const std::string lock_path = options.data_dir + "/skiff.lock";
  int lock_fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock_fd < 0 || ::flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
    spdlog::error("another skiff server is using {} (lock {} is held)", options.data_dir,
                  lock_path);
    return 1;
  }
  // The server's own log, also as files searched like instances' (GET /api/v1/platform/logs).
  const std::string server_log_dir = options.data_dir + "/logs/server";
  if (Status s = runtime::addPlatformLogFile(server_log_dir); !s.isOk())
    spdlog::warn("the server's log goes to the console only: {}", s.toString());
  auto security = prepareApiSecurity(security_options);
  if (!security.ok()) {
    spdlog::error("{}", security.status().toString());
    return 1;
  }

  // Block the termination signals in every thread; the main thread waits for them below.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  // The key that seals secrets lives outside the database (secrets/keyring.h).
  const std::string key_file = options.secrets_key_file.empty() ? options.data_dir + "/secrets.key"
                                                                : options.secrets_key_file;
  auto keyring = Keyring::load(key_file);
  if (!keyring.ok()) {
    spdlog::error("{}", keyring.status().toString());
    return 1;
  }
  SqliteStore::Options store_options;
  store_options.path = options.data_dir + "/skiff.db";
  store_options.cipher = keyring->get();
  auto store = SqliteStore::open(store_options);
  if (!store.ok()) {
    spdlog::error("{}", store.status().toString());
    return 1;
  }
  if (Status s = ensureDefaultTenant(**store); !s.isOk()) {
    spdlog::error("cannot create the default tenant: {}", s.toString());
    return 1;
  }

  // A gateway the supervisor (re)starts holds no TLS keys until they are published again.
  std::atomic<RouteController*> route_controller{nullptr};
  GatewaySupervisor gateway({options.data_dir + "/gateway", options.gateway_listen,
                             options.gateway_admin_listen, options.gateway_tls_listen});
  gateway.onGatewayStarted([&route_controller] {
    if (RouteController* routes = route_controller.load()) routes->republish();
  });
  if (Status s = gateway.start(); !s.isOk()) {
    spdlog::error("cannot start the gateway: {}", s.toString());
    return 1;
  }
  gateway::AdminClient route_publisher([&gateway] { return gateway.adminAddress(); },
                                       options.data_dir + "/gateway");

  const Clock& clock = SystemClock::instance();
  KubeClients kube_clients(**store);  // outlives the controllers that use it
  // Release analysis reads the gateway's measurements, only while a release asks for them.
  observe::GatewayTrafficRecorder traffic([&route_publisher] { return route_publisher.metrics(); });
  traffic.start();
  // Metrics: kept in the embedded time series under the data directory, collected below once
  // the runtime runs.
  observe::TsdbOptions tsdb_options;
  tsdb_options.dir = options.data_dir + "/metrics";
  tsdb_options.max_bytes = static_cast<size_t>(*metrics_memory);
  // One raw sample per collection (the store keeps a bucket's last; below 1s, every sample).
  tsdb_options.raw_step =
      std::chrono::seconds(static_cast<int64_t>(std::min(*metrics_interval, 10.0)));
  auto series = observe::TimeSeriesStore::open(tsdb_options);
  if (!series.ok()) {
    spdlog::error("metrics: {}", series.status().toString());
    return 1;
  }
  ControllerManager controllers(**store);
  // What the busiest controllers and the node agent write they compute again from what they
  // watch and run: it need not wait for the disk (Store::derived). Those that keep a record of
  // the world outside the store (images, volumes, networks, clusters) write durably.
  Store& derived = (*store)->derived();
  // Autoscaling reads the component's load over a few collection periods; a gauge older than
  // that belongs to an instance gone since.
  const auto collect_every = std::chrono::milliseconds(std::llround(*metrics_interval * 1000));
  observe::TsdbComponentLoad component_load(
      **series, clock,
      std::max<std::chrono::milliseconds>(3 * collect_every, std::chrono::seconds(15)),
      3 * collect_every);
  auto autoscaler = std::make_unique<AutoscaleController>(derived, clock, component_load,
                                                          AutoscaleController::Options{});
  AutoscaleController* autoscale = autoscaler.get();
  controllers.add(std::move(autoscaler));
  controllers.add(std::make_unique<EventController>(
      derived, clock,
      EventController::Options{std::chrono::seconds(std::llround(*event_retention))}));
  // Several workers per application controller: their writes then share group commits.
  controllers.add(std::make_unique<RevisionController>(derived, clock), 4);
  auto routes = std::make_unique<RouteController>(derived, route_publisher);
  route_controller = routes.get();
  controllers.add(std::move(routes));
  controllers.add(std::make_unique<InstanceSetController>(derived, clock, &traffic), 4);
  controllers.add(std::make_unique<TenantUsageController>(derived, clock));
  // Auto-deploy: components that follow their image's tags (read with the tenant's credentials).
  auto image_follow = std::make_unique<ImageFollowController>(
      **store, clock,
      [&store, insecure = options.insecure_registries](
          const std::string& tenant, const std::string& registry,
          const std::string& repository) -> Result<std::vector<std::string>> {
        image::RegistryOptions registry_options;
        registry_options.insecure_registries = insecure;
        registry_options.credentials = [&store, tenant](const std::string& host) {
          return tenantRegistryCredentials(**store, tenant, host);
        };
        registry_options.timeout = std::chrono::seconds(10);
        image::RegistryClient client(registry, registry_options);
        return client.listTags(repository);
      });
  ImageFollowController* followed_images = image_follow.get();
  controllers.add(std::move(image_follow), 2);
  // The kubernetes backend: applications whose revision targets a Cluster.
  controllers.add(std::make_unique<ClusterController>(**store, clock, kube_clients));
  controllers.add(std::make_unique<KubeApplicationController>(derived, clock, kube_clients), 4);

  // The local runtime: processes under per-instance shims, probed by one prober thread.
  runtime::ProcessDriver driver({options.data_dir + "/runtime", "", std::chrono::seconds(5)});
  runtime::Prober prober;
  if (Status s = prober.start(); !s.isOk()) {
    spdlog::error("cannot start the prober: {}", s.toString());
    return 1;
  }
  spdlog::info("runtime: {} driver ({})", driver.name(), driver.describe());
  // Components with an image: OCI containers under runc, where runc works here.
  auto containers = openContainerRuntime(options.data_dir, **store,
                                         {options.containers, options.insecure_registries});
  if (!containers.ok()) {
    spdlog::error("containers: {}", containers.status().toString());
    return 1;
  }
  if (containers->driver)
    spdlog::info("containers: {} driver ({})", containers->driver->name(),
                 containers->driver->describe());
  else
    spdlog::warn("containers: unavailable, components with an image cannot run: {}",
                 containers->unavailable);
  runtime::VolumeStore volumes({options.data_dir + "/volumes"});
  // Several workers: a stop waits out its instance's grace period.
  runtime::NodeAgent::Options agent_options;
  agent_options.gateway_address = [&gateway] { return gateway.proxyAddress(); };
  agent_options.containers = containers->driver.get();
  agent_options.network = containers->network.get();
  agent_options.images = containers->image_source.get();
  agent_options.containers_unavailable = containers->unavailable;
  agent_options.volumes = &volumes;
  agent_options.scratch_dir = options.data_dir + "/scratch";
  if (containers->network)
    controllers.add(std::make_unique<runtime::ServiceController>(**store, *containers->network));
  if (containers->images)
    controllers.add(
        std::make_unique<runtime::ImageGarbageCollector>(**store, *containers->images, clock));
  controllers.add(std::make_unique<runtime::VolumeController>(**store, volumes, clock));
  controllers.add(
      std::make_unique<runtime::NodeAgent>(derived, driver, prober, clock, agent_options), 4);
  if (Status s = controllers.start(); !s.isOk()) {
    spdlog::error("cannot start controllers: {}", s.toString());
    return 1;
  }

  observe::MetricsCollector collector(**series, clock, {collect_every, std::chrono::seconds(300)});
  collector.add(std::make_unique<runtime::NodeMetricSource>(**store, "local"));
  collector.add(std::make_unique<observe::GatewayMetricSource>(
      [&route_publisher] { return route_publisher.metrics(); }));
  collector.add(std::make_unique<observe::ControlPlaneMetricSource>(**store));
  collector.afterEachRound([autoscale] { autoscale->measured(); });
  collector.start();
  MetricsHandler metrics(
      **series, clock, [&collector] { return collector.families(); }, 3 * collect_every);

  // Instance logs for the API; kept logs of removed instances expire after the retention.
  runtime::LocalLogSource::Options log_options;
  log_options.runtime_dirs = {options.data_dir + "/runtime", containersRoot(options.data_dir)};
  log_options.retention = std::chrono::seconds(static_cast<int64_t>(*retention_seconds));
  log_options.platform_logs = {{"server", server_log_dir},
                               {"gateway", options.data_dir + "/gateway/logs"}};
  runtime::LocalLogSource log_source(**store, clock, log_options);
  if (Status s = log_source.start(); !s.isOk()) {
    spdlog::error("cannot start the log retention sweep: {}", s.toString());
    return 1;
  }
  // Instances that mirror a cluster's pods are read through its API server.
  KubeLogSource any_logs(**store, kube_clients, log_source);
  LogHandler logs(**store, any_logs, &log_source);

  // Alerting: rules over the metrics, logs and events above, evaluated every --alert-interval;
  // notifications go out on the service's own threads (alert/alerting_service.h).
  alert::AlertingService::Options alert_options;
  alert_options.interval = std::chrono::milliseconds(std::llround(*alert_interval * 1000));
  alert_options.metric_lookback = 3 * collect_every;
  alert::AlertingService alerting(**store, **series, any_logs, clock, alert_options);
  alerting.start();
  AlertHandler alert_api(
      **store, [&alerting](const std::string& tenant) { return alerting.alerts(tenant); });

  // Security: who calls (sessions and API tokens), what they may do (RBAC), what they did.
  Authenticator authenticator(**store, clock);
  if (ldap_directory) {
    authenticator.setDirectory(ldap_directory.get());
    spdlog::info("sign-in: LDAP directory {}", ldap_directory->describe());
  }
  if (oidc_verifier) {
    authenticator.setBearerVerifier(oidc_verifier.get());
    spdlog::info("sign-in: {}", oidc_verifier->describe());
  }
  Authorizer authorizer(**store);
  auto bootstrap = authenticator.bootstrapAdmin(options.data_dir);
  if (!bootstrap.ok()) {
    spdlog::error("cannot create the platform admin: {}", bootstrap.status().toString());
    return 1;
  }
  if (bootstrap->created) {
    // Shown once, on the terminal only: never through the log.
    std::printf(
        "\nskiff: created the platform admin \"%s\" with password %s\n"
        "       (also in %s, readable only by this user; sign in with: skiff login %s)\n\n",
        kAdminUser, bootstrap->password.c_str(), bootstrap->password_file.c_str(), kAdminUser);
    std::fflush(stdout);
  }
  auto audit = AuditLog::open(options.data_dir + "/audit");
  if (!audit.ok()) {
    spdlog::error("{}", audit.status().toString());
    return 1;
  }
  Gatekeeper gatekeeper(authenticator, authorizer, **audit);
  AuthHandler auth(authenticator, authorizer, **store, **audit);
  ApiHandler api(**store, clock, authenticator, authorizer);
  HttpServer::Options http_options;
  http_options.host = host;
  http_options.port = port;
  // Event loops serve reads from memory; writes wait for their group commit on the blocking
  // pool, where enough threads let concurrent writers share one fsync.
  http_options.threads = static_cast<int>(std::max(2u, std::thread::hardware_concurrency()));
  http_options.blocking_threads = 32;
  http_options.tls = security->tls;
  AdminHandler admin([&keyring, &store]() -> Result<json> {
    auto rotated = (*keyring)->rotate([&store] { return (*store)->reseal(); });
    if (!rotated.ok()) return rotated.status();
    spdlog::info("secrets key rotated to {}: {} rows re-sealed, {} keys retired", rotated->key_id,
                 rotated->resealed, rotated->retired.size());
    return json{{"keyId", rotated->key_id},
                {"resealed", rotated->resealed},
                {"retiredKeys", rotated->retired}};
  });
  runtime::LocalExecutor executor({&driver, containers->driver.get()});
  KubeExecutor any_executor(**store, kube_clients, executor);
  ExecHandler exec(any_executor);
  RegistryHookHandler registry_hook([followed_images](const std::string& repository) {
    return followed_images->pushed("", repository);
  });
  const HttpHandler serve = [&api, &auth, &logs, &admin, &exec, &registry_hook, &metrics,
                             &alert_api](HttpRequest& r) {
    if (AuthHandler::handles(r)) return auth.handle(r);
    if (MetricsHandler::handles(r)) return metrics.handle(r);
    if (AlertHandler::handles(r)) return alert_api.handle(r);
    if (AdminHandler::handles(r)) return admin.handle(r);
    if (RegistryHookHandler::handles(r)) return registry_hook.handle(r);
    if (ExecHandler::handles(r)) return exec.handle(r);
    return LogHandler::handles(r) ? logs.handle(r) : api.handle(r);
  };
  HttpServer http(http_options,
                  [&gatekeeper, &serve](HttpRequest& r) { return gatekeeper.handle(r, serve); });
  if (Status s = http.start(); !s.isOk()) {
    spdlog::error("{}", s.toString());
    return 1;
  }
  // The URL local clients use: a wildcard listen address is reached through loopback.
  const std::string local_host = localHostFor(host);
  const std::string api_url =
      security->scheme() + "://" +
      (local_host.find(':') != std::string::npos ? "[" + local_host + "]" : local_host) + ":" +
      std::to_string(http.port());
  if (Status s = writeFileAtomically(options.data_dir + "/api.addr", api_url + "\n"); !s.isOk())
    spdlog::warn("{}", s.toString());
  spdlog::info("skiff server {} listening on {} (data in {})", SKIFF_VERSION, api_url,
               options.data_dir);
  writeAdminCliConfig(options.data_dir, api_url, *security);

  // Expired tokens no longer authenticate anyone; purging them keeps the store small.
  std::mutex purge_mu;
  std::condition_variable purge_wake;
  bool stopping = false;
  std::thread purger([&] {
    std::unique_lock lock(purge_mu);
    do {
      if (auto purged = authenticator.purgeExpiredTokens(); !purged.ok())
        spdlog::warn("cannot purge expired tokens: {}", purged.status().toString());
    } while (!purge_wake.wait_for(lock, std::chrono::minutes(10), [&] { return stopping; }));
  });

  int sig = 0;
  sigwait(&signals, &sig);
  spdlog::info("received {}, shutting down", strsignal(sig));
  http.stop();
  {
    std::lock_guard lock(purge_mu);
    stopping = true;
  }
  purge_wake.notify_all();
  purger.join();
  alerting.stop();
  logs.stop();
  log_source.stop();
  collector.stop();
  controllers.stop();
  prober.stop();
  gateway.stop();
  ::unlink((options.data_dir + "/api.addr").c_str());
  return 0;
}

}  // namespace skiff
