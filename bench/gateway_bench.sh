#!/usr/bin/env bash
# Gateway benchmark: `skiff gateway` against nginx as a reverse proxy, in one run, on loopback.
#
# Starts a backend (nginx serving a 1 KiB static file), nginx as a keep-alive reverse proxy to
# it (worker_processes = cores, access_log off) and `skiff gateway` with one route to the same
# backend; drives each proxy with wrk (keep-alive) and prints requests/s and p50/p99 side by
# side, then the memory each proxy spends per idle keep-alive client connection. Then the same
# over HTTPS: nginx with `ssl` and the Skiff gateway's TLS listener (--tls-listen, the
# certificate published with the route table and chosen by SNI), one EC P-256 certificate for
# localhost shared by both, keep-alive (so the handshake cost is amortised).
# Every process started here is stopped by pid on exit, including on failure.
#
# Usage: bench/gateway_bench.sh [--skiff build/bin/skiff] [--seconds 10] [--connections 50]
#                               [--idle 2000] [--rounds 2]
set -euo pipefail
cd "$(dirname "$0")/.."

skiff=build/bin/skiff
seconds=10
connections=50
idle=2000
rounds=2
while [ $# -gt 0 ]; do
  case "$1" in
    --skiff) skiff=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --connections) connections=$2; shift 2 ;;
    --idle) idle=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    *) echo "usage: $0 [--skiff PATH] [--seconds N] [--connections N] [--idle N] [--rounds N]" >&2; exit 2 ;;
  esac
done
for tool in nginx wrk python3 curl openssl; do
  command -v "$tool" >/dev/null || { echo "gateway_bench: $tool not found (run scripts/setup)" >&2; exit 1; }
done
[ -x "$skiff" ] || { echo "gateway_bench: $skiff not built" >&2; exit 1; }

cores=$(nproc)
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
work=$(mktemp -d /tmp/skiff-gwbench.XXXXXX)
chmod 755 "$work"  # nginx workers may run as another user and must read the static file
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() {  # URL [HOST]
  for _ in $(seq 1 100); do
    curl -fs -o /dev/null -H "Host: ${2:-bench}" "$1" && return 0
    sleep 0.05
  done
  echo "gateway_bench: $1 did not answer" >&2
  exit 1
}

backend_port=$(free_port)
nginx_port=$(free_port)
nginx_tls_port=$(free_port)
mkdir -p "$work/backend/logs" "$work/backend/html" "$work/proxy/logs" "$work/skiff" "$work/tls"
# wrk sends the URL's host as SNI, so the HTTPS runs go to https://localhost:PORT/.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=localhost \
  -addext subjectAltName=DNS:localhost -keyout "$work/tls/key.pem" -out "$work/tls/cert.pem" \
  2>/dev/null
head -c 1024 /dev/zero | tr '\0' 'x' > "$work/backend/html/index.html"

common_http='access_log off; error_log stderr error; keepalive_requests 1000000; keepalive_timeout 75s;
  client_body_temp_path temp/body; proxy_temp_path temp/proxy; fastcgi_temp_path temp/fastcgi;
  uwsgi_temp_path temp/uwsgi; scgi_temp_path temp/scgi; default_type text/plain;'
cat > "$work/backend/nginx.conf" <<EOF
daemon off; worker_processes 1; pid $work/backend/nginx.pid; error_log stderr error;
worker_rlimit_nofile 65536;
events { worker_connections 16384; }
http { $common_http
  server { listen 127.0.0.1:$backend_port backlog=4096; root $work/backend/html; }
}
EOF
cat > "$work/proxy/nginx.conf" <<EOF
daemon off; worker_processes $cores; pid $work/proxy/nginx.pid; error_log stderr error;
worker_rlimit_nofile 65536;
events { worker_connections 16384; }
http { $common_http
  upstream backend { server 127.0.0.1:$backend_port; keepalive 128; }
  server {
    listen 127.0.0.1:$nginx_port backlog=4096;
    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
    }
  }
  server {
    listen 127.0.0.1:$nginx_tls_port ssl backlog=4096;
    server_name localhost;
    ssl_certificate $work/tls/cert.pem;
    ssl_certificate_key $work/tls/key.pem;
    ssl_protocols TLSv1.2 TLSv1.3;
    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto https;
    }
  }
}
EOF
mkdir -p "$work/backend/temp" "$work/proxy/temp"
nginx -p "$work/backend" -c "$work/backend/nginx.conf" 2>"$work/backend/err.log" &
pids+=($!)
nginx -p "$work/proxy" -c "$work/proxy/nginx.conf" 2>"$work/proxy/err.log" &
nginx_pid=$!
pids+=($nginx_pid)
"$skiff" gateway --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 --tls-listen 127.0.0.1:0 \
  --state-dir "$work/skiff" --threads "$cores" >"$work/skiff/log" 2>&1 &
skiff_pid=$!
pids+=($skiff_pid)

for _ in $(seq 1 100); do [ -s "$work/skiff/gateway.addr" ] && break; sleep 0.05; done
addr_field() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$work/skiff/gateway.addr" "$1"; }
skiff_listen=$(addr_field listen)
skiff_admin=$(addr_field admin)
skiff_tls_port=$(addr_field tls); skiff_tls_port=${skiff_tls_port##*:}
# The route table with the certificate and key of its one TLS host (kept in memory only).
python3 - "$backend_port" "$work/tls" > "$work/routes.json" <<'EOF'
import json, sys
port, tls = sys.argv[1], sys.argv[2]
print(json.dumps({"version": 1,
  "routes": [{"id": "bench", "host": "*", "pathPrefix": "/",
              "backends": [{"address": "127.0.0.1:" + port}]}],
  "certificates": [{"host": "localhost", "certificate": open(tls + "/cert.pem").read(),
                    "key": open(tls + "/key.pem").read()}]}))
EOF
curl -fs -X PUT -H "Authorization: Bearer $(cat "$work/skiff/admin-token")" "http://$skiff_admin/routes" \
  --data-binary "@$work/routes.json" >/dev/null
wait_http "http://127.0.0.1:$backend_port/"
wait_http "http://127.0.0.1:$nginx_port/"
wait_http "http://$skiff_listen/"
wait_https() {  # PORT
  for _ in $(seq 1 100); do
    curl -fs -o /dev/null --cacert "$work/tls/cert.pem" "https://localhost:$1/" && return 0
    sleep 0.05
  done
  echo "gateway_bench: https://localhost:$1/ did not answer" >&2
  exit 1
}
wait_https "$nginx_tls_port"
wait_https "$skiff_tls_port"

# Runs wrk and prints "REQ_PER_SEC P50 P99" (latencies in ms).
run_wrk() {  # URL [HOST]
  wrk -t2 -c"$connections" -d"${seconds}s" --latency -H "Host: ${2:-bench}" "$1" > "$work/wrk.out"
  python3 - "$work/wrk.out" <<'EOF'
import re, sys
text = open(sys.argv[1]).read()
def ms(v, unit):
    return float(v) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
lat = {p: ms(v, u) for p, v, u in re.findall(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)}
errors = re.search(r"Non-2xx or 3xx responses: (\d+)|Socket errors: (.*)", text)
print(f"{rps:.0f} {lat['50']:.3f} {lat['99']:.3f} {'ERR:' + errors.group(0).replace(' ', '_') if errors else ''}")
EOF
}

# Kilobytes of resident memory of a set of pids.
rss_kb() { local total=0; for p in "$@"; do total=$((total + $(awk '/^VmRSS/ {print $2}' "/proc/$p/status"))); done; echo "$total"; }
nginx_workers() { pgrep -P "$nginx_pid" | tr '\n' ' '; }

# Opens N keep-alive connections, sends one request on each, then holds them idle until stdin closes.
hold_idle() {  # HOST PORT N READY_FILE
  python3 - "$@" >/dev/null 2>"$work/hold_idle.err" <<'EOF' &
import socket, sys, os, time
host, port, n, ready = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
conns = []
for _ in range(n):
    s = socket.create_connection((host, port))
    s.sendall(b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n")
    conns.append(s)
for s in conns:
    got = b""
    while b"\r\n\r\n" not in got or len(got) < 1024:
        got += s.recv(65536)
open(ready, "w").write("ok")
time.sleep(3600)
EOF
  echo $!
}

measure_idle() {  # PORT PIDS...
  local port=$1; shift
  sleep 1
  local before after holder
  before=$(rss_kb "$@")
  rm -f "$work/ready"
  holder=$(hold_idle 127.0.0.1 "$port" "$idle" "$work/ready")
  pids+=($holder)
  for _ in $(seq 1 600); do [ -s "$work/ready" ] && break; sleep 0.05; done
  sleep 1
  after=$(rss_kb "$@")
  kill "$holder" 2>/dev/null || true
  wait "$holder" 2>/dev/null || true
  python3 -c "print(f'{($after - $before) * 1024 / $idle:.0f}')"
}

echo "gateway_bench: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), " \
     "wrk -t2 -c$connections -d${seconds}s, 1 KiB response, load $(cut -d' ' -f1-3 /proc/loadavg)"
# Warm both (connection pools, page cache), then measure; alternate to spread background noise.
wrk -t2 -c"$connections" -d2s -H "Host: bench" "http://127.0.0.1:$nginx_port/" >/dev/null
wrk -t2 -c"$connections" -d2s -H "Host: bench" "http://$skiff_listen/" >/dev/null
# Background load on a shared machine only ever slows a run down, so each proxy is measured
# $rounds times, interleaved, and its best run (highest requests/s) is reported.
n_rps=0
s_rps=0
for _ in $(seq 1 "$rounds"); do
  read -r rps p50 p99 err <<<"$(run_wrk "http://127.0.0.1:$nginx_port/")"
  echo "  nginx         $rps req/s  p50 $p50 ms  p99 $p99 ms $err"
  if [ "${rps%.*}" -gt "${n_rps%.*}" ]; then n_rps=$rps n_p50=$p50 n_p99=$p99 n_err=$err; fi
  read -r rps p50 p99 err <<<"$(run_wrk "http://$skiff_listen/")"
  echo "  skiff gateway $rps req/s  p50 $p50 ms  p99 $p99 ms $err"
  if [ "${rps%.*}" -gt "${s_rps%.*}" ]; then s_rps=$rps s_p50=$p50 s_p99=$p99 s_err=$err; fi
done
n_mem=$(measure_idle "$nginx_port" $(nginx_workers))
s_mem=$(measure_idle "${skiff_listen##*:}" "$skiff_pid")

printf '%-16s %12s %10s %10s %22s\n' proxy "requests/s" "p50 ms" "p99 ms" "bytes/idle connection"
printf '%-16s %12s %10s %10s %22s %s\n' nginx "$n_rps" "$n_p50" "$n_p99" "$n_mem" "${n_err:-}"
printf '%-16s %12s %10s %10s %22s %s\n' "skiff gateway" "$s_rps" "$s_p50" "$s_p99" "$s_mem" "${s_err:-}"
python3 -c "print(f'skiff/nginx throughput: {$s_rps / $n_rps:.2f}x, p99: {$s_p99 / $n_p99:.2f}x')"

# HTTPS: the same backend and route behind each proxy's TLS listener.
echo "gateway_bench: HTTPS (EC P-256 certificate, keep-alive), wrk -t2 -c$connections -d${seconds}s"
wrk -t2 -c"$connections" -d2s -H "Host: localhost" "https://localhost:$nginx_tls_port/" >/dev/null
wrk -t2 -c"$connections" -d2s -H "Host: localhost" "https://localhost:$skiff_tls_port/" >/dev/null
tn_rps=0
ts_rps=0
for _ in $(seq 1 "$rounds"); do
  read -r rps p50 p99 err <<<"$(run_wrk "https://localhost:$nginx_tls_port/" localhost)"
  echo "  nginx ssl     $rps req/s  p50 $p50 ms  p99 $p99 ms $err"
  if [ "${rps%.*}" -gt "${tn_rps%.*}" ]; then tn_rps=$rps tn_p50=$p50 tn_p99=$p99 tn_err=$err; fi
  read -r rps p50 p99 err <<<"$(run_wrk "https://localhost:$skiff_tls_port/" localhost)"
  echo "  skiff gateway $rps req/s  p50 $p50 ms  p99 $p99 ms $err"
  if [ "${rps%.*}" -gt "${ts_rps%.*}" ]; then ts_rps=$rps ts_p50=$p50 ts_p99=$p99 ts_err=$err; fi
done
printf '%-16s %12s %10s %10s\n' "proxy (https)" "requests/s" "p50 ms" "p99 ms"
printf '%-16s %12s %10s %10s %s\n' "nginx ssl" "$tn_rps" "$tn_p50" "$tn_p99" "${tn_err:-}"
printf '%-16s %12s %10s %10s %s\n' "skiff gateway" "$ts_rps" "$ts_p50" "$ts_p99" "${ts_err:-}"
python3 -c "print(f'https skiff/nginx throughput: {$ts_rps / $tn_rps:.2f}x, p99: {$ts_p99 / $tn_p99:.2f}x')"
