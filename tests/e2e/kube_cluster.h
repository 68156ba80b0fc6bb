// A real Kubernetes control plane for end-to-end tests of the Kubernetes backend:
// scripts/kube-control-plane starts etcd, kube-apiserver, kube-controller-manager,
// kube-scheduler and kwok (which plays two fake nodes, makes pods bound to them Running and
// serves their logs and exec) on loopback, with certificates it generates in a test's directory.
// The processes are stopped by pid when this is destroyed, and by the script's watchdog should the
// test process die first.
//
// The binaries are built once, outside the repo, by `scripts/kube-control-plane build`;
// available() says whether they are there. Not thread-safe: one per test, on its thread.
#pragma once

#include <string>

namespace skiff::test {

class KubeControlPlane {
 public:
  struct Response {
    int status = 0;  // 0 when the request could not be made
    std::string body;
  };

  // Whether the control plane's binaries are built; tests skip without them.
  static bool available();

  // Starts it in `dir` (which must exist), failing the test if it does not come up: then
  // url() is empty.
  explicit KubeControlPlane(const std::string& dir);
  ~KubeControlPlane();
  KubeControlPlane(const KubeControlPlane&) = delete;
  KubeControlPlane& operator=(const KubeControlPlane&) = delete;

  // "https://127.0.0.1:PORT", served with a certificate signed by caPem().
  const std::string& url() const { return url_; }
  // An admin kubeconfig (group system:masters, client certificate, context "skiff-test").
  std::string kubeconfig() const { return dir_ + "/kubeconfig"; }
  std::string caPem() const;
  std::string clientCertPem() const;
  std::string clientKeyPem() const;
  // The log every pod serves through the API server (kwok's ClusterLogs; CRI log format, one
  // "TIME stdout F TEXT" line per log line): a test may append to it. Exec in any pod runs the
  // command on this machine.
  std::string podLogFile() const { return dir_ + "/kwok/pod.log"; }

  // One request to the API server as the admin, e.g. api("GET", "/api/v1/nodes").
  Response api(const std::string& method, const std::string& path, const std::string& body = "",
               const std::string& content_type = "application/json") const;

 private:
  std::string dir_;
  std::string url_;
};

}  // namespace skiff::test
