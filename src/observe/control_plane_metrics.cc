#include "observe/control_plane_metrics.h"

#include <sys/resource.h>
#include <unistd.h>

#include <fstream>

namespace skiff::observe {

std::vector<MetricFamily> ControlPlaneMetricSource::families() const {
  return {
      {"skiff_store_revision", "gauge", "The store's latest revision (grows with every write)."},
      {"skiff_store_objects", "gauge", "Objects kept in the store, by kind."},
      {"skiff_process_resident_memory_bytes", "gauge", "Resident memory of the skiff server."},
      {"skiff_process_cpu_seconds_total", "counter", "Cpu time the skiff server used."},
  };
}

Status ControlPlaneMetricSource::collect(std::vector<CollectedSample>& out) {
  out.push_back({"skiff_store_revision", {}, static_cast<double>(store_.revision())});
  for (const char* kind : {"Application", "Instance", "Revision", "Tenant"})
    out.push_back({"skiff_store_objects",
                   {{"kind", kind}},
                   static_cast<double>(store_.list(kind, {}).items.size())});
  std::ifstream statm("/proc/self/statm");
  long pages = 0, resident = 0;
  if (statm >> pages >> resident)
    out.push_back({"skiff_process_resident_memory_bytes",
                   {},
                   static_cast<double>(resident) * static_cast<double>(::sysconf(_SC_PAGESIZE))});
  rusage usage{};
  if (::getrusage(RUSAGE_SELF, &usage) == 0) {
    auto seconds = [](const timeval& t) { return t.tv_sec + t.tv_usec / 1e6; };
    out.push_back(
        {"skiff_process_cpu_seconds_total", {}, seconds(usage.ru_utime) + seconds(usage.ru_stime)});
  }
  return Status::ok();
}

}  // namespace skiff::observe
