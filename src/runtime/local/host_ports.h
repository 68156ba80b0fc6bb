// Host ports for process-driver workloads, which listen on the machine's own addresses.
//
// The kernel takes bind(0) ports and outgoing connections' local ports from its ephemeral
// range, so a port picked there can be taken by any connection before the workload binds it.
// Ports are therefore picked outside that range, and checked free on every address.
#pragma once

#include "common/status.h"

namespace skiff::runtime {

// An inclusive range of TCP ports.
struct PortRange {
  int low = 0;
  int high = 0;
};

// The kernel's ephemeral range (net.ipv4.ip_local_port_range); Linux's default if unreadable.
PortRange ephemeralPorts();

// Where workloads' ports are picked: below the ephemeral range (from 10000), else above it,
// whichever holds at least 1,000 ports; empty (low > high) when neither does.
PortRange listenPortRange(PortRange ephemeral);

// A port in `range` that no socket on any address holds, tried from a random start so that
// servers picking at once rarely collide. Unavailable when every port in `range` is taken;
// with an empty range, the kernel picks (an ephemeral port).
Result<int> pickListenPort(PortRange range);

// pickListenPort(listenPortRange(ephemeralPorts())).
Result<int> pickListenPort();

}  // namespace skiff::runtime
