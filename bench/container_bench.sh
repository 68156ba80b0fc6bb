#!/usr/bin/env bash
# Container benchmark, in one run on this machine (root):
#   start   100 sequential short-lived containers: bare `runc run` of one bundle against
#           Skiff's runc driver (overlay root, bundle, shim, cgroup, state) from the same image
#           layer (build/bin/skiff_container_bench)
#   pull    a 100 MB single-layer image (incompressible bytes) from a local docker-registry:
#           Skiff's store (pull with digest verification, then unpack) against skopeo copy to
#           an OCI layout followed by umoci unpack, the same work done by the peers
#   deploy  deploy-to-ready of 20 single-container applications from a cached image
#           (bench/runtime_bench.py --containers)
# Every process started here is stopped by pid on exit, including on failure.
#
# Usage: bench/container_bench.sh [--skiff build/bin/skiff] [--runs 100] [--megabytes 100]
set -euo pipefail
cd "$(dirname "$0")/.."

skiff=build/bin/skiff
runs=100
megabytes=100
while [ $# -gt 0 ]; do
  case "$1" in
    --skiff) skiff=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --megabytes) megabytes=$2; shift 2 ;;
    *) echo "usage: $0 [--skiff PATH] [--runs N] [--megabytes N]" >&2; exit 2 ;;
  esac
done
skiff=$(realpath "$skiff")
bench_bin=$(dirname "$skiff")/skiff_container_bench
[ "$(id -u)" -eq 0 ] || { echo "container_bench: needs root" >&2; exit 1; }

work=$(mktemp -d /tmp/skiff-container-bench-XXXXXX)
registry_pid=""
cleanup() {
  if [ -n "$registry_pid" ]; then
    kill "$registry_pid" 2>/dev/null || true
    wait "$registry_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

echo "== start: $runs sequential /bin/true containers"
"$bench_bin" --skiff "$skiff" --runs "$runs"

echo "== pull: ${megabytes} MB image from a local docker-registry"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$work/registry.yml" <<YAML
version: 0.1
log: {level: error}
storage: {filesystem: {rootdirectory: $work/registry}}
http: {addr: 127.0.0.1:$port, secret: bench}
YAML
docker-registry serve "$work/registry.yml" > "$work/registry.log" 2>&1 &
registry_pid=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/v2/" >/dev/null && break; sleep 0.1; done
mkdir -p "$work/rootfs/data"
head -c "$((megabytes * 1024 * 1024))" /dev/urandom > "$work/rootfs/data/blob"
ref="127.0.0.1:$port/bench/big:1"
"$skiff" image import --store "$work/push-store" "$work/rootfs" "$ref" >/dev/null
"$skiff" image push --store "$work/push-store" "$ref" >/dev/null
"$bench_bin" --pull "$ref"

start=$(date +%s%N)
skopeo copy -q --src-tls-verify=false "docker://$ref" "oci:$work/peer-layout:big"
copied=$(date +%s%N)
umoci unpack --image "$work/peer-layout:big" "$work/peer-bundle" >/dev/null 2>&1
unpacked=$(date +%s%N)
awk -v a="$start" -v b="$copied" -v c="$unpacked" -v mb="$megabytes" 'BEGIN {
  printf "  peer: skopeo copy  %7.0f ms  %6.1f MB/s\n", (b-a)/1e6, mb*1.048576/((b-a)/1e9)
  printf "  peer: umoci unpack %7.0f ms\n", (c-b)/1e6
  printf "  peer: both         %7.0f ms\n", (c-a)/1e6 }'

echo "== deploy-to-ready from a cached image"
python3 bench/runtime_bench.py --skiff "$skiff" --containers
