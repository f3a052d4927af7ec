#!/usr/bin/env bash
# Server CPU per request and latency as one client feels it: `ror-search serve` on the sample
# (data-samples, 42,820 offers) and on the synthetic national snapshot (1,000,000 offers), wrk
# in a closed loop on keep-alive connections (1, 4 and 64), one kind of request at a time:
#   healthz      GET /healthz
#   orientation  orientation top-20 around Paris, Lyon, Bordeaux, rural Aveyron (benches/load/urls.py)
#   dense        every offer within 10 km of central Paris, exact total
#   crisis       the 10 nearest offers with T0 crisis beds, exact total
#   france       a whole-France bbox count (limit=1)
# CPU is the server process's utime + stime (/proc/<pid>/stat, every thread, those ended too)
# over the run, divided by the requests wrk completed; the generator runs on the same 2 cores
# and its own CPU is not counted.
#
#   benches/cpu.sh                                   # both scales, every kind, 1 4 64 connections
#   SCALES=sample KINDS="healthz orientation" CONNECTIONS=1 DURATION=5s benches/cpu.sh
#   BIN=/path/to/other/ror-search benches/cpu.sh     # another build on the same snapshots
#   SCALES=bare KINDS=healthz benches/cpu.sh         # the floor: a bare hyper server (examples/bare_hyper.rs)
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-5s}
CONNECTIONS=${CONNECTIONS:-"1 4 64"}
SCALES=${SCALES:-"sample national"}
KINDS=${KINDS:-"healthz orientation dense crisis france"}
ADDR=${ADDR:-127.0.0.1:8091}
SNAPSHOT=${SNAPSHOT:-index/synthetic/snapshot}
FEED=index/synthetic/feed-100000-1000000.ndjson
WORK=$(mktemp -d)
trap 'kill "${SERVER:-}" 2>/dev/null || true; rm -rf "$WORK"' EXIT

source benches/generators.sh
if [ -z "${BIN:-}" ]; then
  cargo build --release --quiet
  BIN=target/release/ror-search
fi
TICKS=$(getconf CLK_TCK)

# utime + stime of the whole process, in clock ticks
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

printf 'allow_anonymous = true\nanonymous_profiles = [1]\n' >"$WORK/access.toml"
for kind in $KINDS; do
  python3 benches/load/urls.py "$kind" 4000 >"$WORK/$kind.txt"
done

for scale in $SCALES; do
  case $scale in
    sample) INDEX=index ;; # serve builds index/sample from data-samples when it is missing
    national) source benches/national.sh; INDEX=$SNAPSHOT ;;
    bare) INDEX= ;;
    *) echo "unknown scale $scale" >&2; exit 2 ;;
  esac
  if [ "$scale" = bare ]; then
    cargo build --release --quiet --example bare_hyper
    target/release/examples/bare_hyper "$ADDR" >"$WORK/serve.log" 2>&1 &
  else
    "$BIN" serve --index "$INDEX" --addr "$ADDR" --poll-interval-secs 0 --access "$WORK/access.toml" \
      >"$WORK/serve.log" 2>&1 &
  fi
  SERVER=$!
  for _ in $(seq 1 600); do
    curl -fs "http://$ADDR/readyz" >/dev/null 2>&1 && break
    sleep 0.5
  done
  curl -fs "http://$ADDR/readyz" >/dev/null || { cat "$WORK/serve.log" >&2; exit 1; }
  if [ "$scale" = bare ]; then
    echo "== bare hyper server (a constant answer to every request)"
  else
    echo "== $scale: $(curl -fs "http://$ADDR/v1/snapshot" | python3 -c 'import json,sys; m=json.load(sys.stdin); print(m["snapshot"], m["manifest"]["counts"]["offers"], "offers")')"
  fi
  ROR_LOAD_PATHS="$WORK/orientation.txt" wrk -t1 -c4 -d2s -s benches/load/paths.lua "http://$ADDR" >/dev/null
  printf '%-12s %5s %12s %10s %9s %9s %7s\n' kind conns "requests/s" "cpu us/req" "p50 us" "p99 us" errors
  for kind in $KINDS; do
    for connections in $CONNECTIONS; do
      before=$(cpu_ticks "$SERVER")
      ROR_LOAD_PATHS="$WORK/$kind.txt" wrk -t1 -c"$connections" -d"$DURATION" -s benches/load/paths.lua \
        "http://$ADDR" >"$WORK/wrk.txt"
      after=$(cpu_ticks "$SERVER")
      python3 - "$WORK/wrk.txt" "$kind" "$connections" "$((after - before))" "$TICKS" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
kind, connections, ticks, per_second = sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
requests = int(re.search(r"(\d+) requests in", text).group(1))
rate = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
p50, p99 = re.search(r"p50 (\d+) us, p90 \d+ us, p99 (\d+) us", text).groups()
errors = int(re.search(r"socket errors: (\d+)", text).group(1))
cpu = ticks / per_second / max(requests, 1) * 1e6
print(f"{kind:<12} {connections:>5} {rate:>12.0f} {cpu:>10.1f} {p50:>9} {p99:>9} {errors:>7}")
PY
    done
  done
  echo "server RSS: $(ps -o rss= -p "$SERVER" | awk '{printf "%.0f MiB", $1/1024}')"
  kill "$SERVER"; wait "$SERVER" 2>/dev/null || true; SERVER=
done
