#!/usr/bin/env bash
# HTTP load test of `ror-search serve` on the synthetic national snapshot (100,000 EGs,
# 1,000,000 offers), with real load generators on the same 2-core machine:
#   - wrk (closed loop, as fast as it can) at several connection counts: throughput, p50/p99;
#   - oha at a fixed rate (default 10,000 req/s): p50/p99 without coordinated omission;
#   - oha with gzip answers, as a browser asks for them.
# Both generators run on the same 2 cores as the server, so the figures include their cost.
# Query mixes: "orientation" (orientation top-20 only) and "mixed" (70 % orientation, 15 %
# nearest-10 crisis, 10 % text + geo, 5 % whole-France bbox count); see benches/load/urls.py.
#
#   benches/load.sh                       # everything (builds what is missing first)
#   DURATION=10s CONNECTIONS="16 64" RATE=10000 benches/load.sh
#   BIN=/path/to/other/ror-search SNAPSHOT=index/synthetic/snapshot benches/load.sh
#
# The generators are installed when missing: wrk from Debian's packages, oha with cargo install.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-"8 32 128 512"}
RATE=${RATE:-10000}
ADDR=${ADDR:-127.0.0.1:8089}
SNAPSHOT=${SNAPSHOT:-index/synthetic/snapshot}
FEED=index/synthetic/feed-100000-1000000.ndjson
WORK=$(mktemp -d)
trap 'kill "${SERVER:-}" 2>/dev/null || true; rm -rf "$WORK"' EXIT

source benches/generators.sh

# BIN=<another ror-search binary> compares builds on the same snapshot (it is not rebuilt).
if [ -z "${BIN:-}" ]; then
  cargo build --release --quiet
  BIN=target/release/ror-search
fi

source benches/national.sh

python3 benches/load/urls.py orientation 4000 >"$WORK/orientation.txt"
python3 benches/load/urls.py mixed 4000 >"$WORK/mixed.txt"

# Every caller is profile 1 (as a SAMU console): the mix has crisis queries, which profile 0
# may not ask. The access check itself is measured: each request passes the gate.
printf 'allow_anonymous = true\nanonymous_profiles = [1]\n' >"$WORK/access.toml"
"$BIN" serve --index "$SNAPSHOT" --addr "$ADDR" --poll-interval-secs 0 --access "$WORK/access.toml" >"$WORK/serve.log" 2>&1 &
SERVER=$!
for _ in $(seq 1 120); do
  curl -fs "http://$ADDR/readyz" >/dev/null 2>&1 && break
  sleep 0.5
done
curl -fs "http://$ADDR/readyz" >/dev/null || { cat "$WORK/serve.log" >&2; exit 1; }
echo "serving $(curl -fs "http://$ADDR/v1/snapshot" | python3 -c 'import json,sys; m=json.load(sys.stdin); print(m["snapshot"], m["manifest"]["counts"]["offers"], "offers")' 2>/dev/null || echo "$SNAPSHOT")"
echo "server RSS after load: $(ps -o rss= -p "$SERVER" | awk '{printf "%.0f MiB", $1/1024}')"

# warm-up
ROR_LOAD_PATHS="$WORK/mixed.txt" wrk -t1 -c32 -d3s -s benches/load/paths.lua "http://$ADDR" >/dev/null

for mix in orientation mixed; do
  export ROR_LOAD_PATHS="$WORK/$mix.txt"
  for connections in $CONNECTIONS; do
    echo
    echo "== wrk, $mix, $connections connections, $DURATION (closed loop) =="
    wrk -t1 -c"$connections" -d"$DURATION" -s benches/load/paths.lua "http://$ADDR" | grep -E "Requests/sec|Non-2xx|Socket|p50|errors"
  done
done

for mix in orientation mixed; do
  echo
  echo "== oha, $mix, fixed rate $RATE req/s, $DURATION =="
  sed "s|^|http://$ADDR|" "$WORK/$mix.txt" >"$WORK/$mix.urls"
  oha --no-tui -z "$DURATION" -q "$RATE" -c 64 --latency-correction --disable-compression \
    --urls-from-file "$WORK/$mix.urls" | grep -E "Requests/sec|Success rate|50.00%|90.00%|99.00%|99.90%|^ *\[[0-9]{3}\]|aborted" || true
done

# What a browser gets: the same orientation mix, gzip-compressed answers, closed loop.
echo
echo "== oha, orientation, gzip (Accept-Encoding: gzip), 32 connections, $DURATION (closed loop) =="
oha --no-tui -z "$DURATION" -c 32 -H "Accept-Encoding: gzip" --urls-from-file "$WORK/orientation.urls" \
  | grep -E "Requests/sec|Success rate|50.00%|99.00%|^ *\[[0-9]{3}\]" || true

echo
echo "server RSS at the end: $(ps -o rss= -p "$SERVER" | awk '{printf "%.0f MiB", $1/1024}')"
