#!/usr/bin/env bash
# ORSAN crisis load test of `ror-search serve` on the synthetic national snapshot (100,000 EGs,
# 1,000,000 offers): SAMU queries while establishments post their crisis beds, with real load
# generators on the same 2-core machine (their cost is in the figures):
#   (a) SAMU queries alone: /v1/crisis?lat=..&lon=..&min_crisis_t0=1&limit=10 around 8 cities,
#       mixed 60/40 with the orientation queries of benches/load/urls.py; oha at a fixed rate
#       (default 40 req/s, latency-corrected: a national /v1/crisis answer costs ~25 ms of CPU,
#       so 2 cores serve ~80 of them a second): p50/p99;
#   (b) the same queries while capacity writes arrive at ~1,000/s (wrk, paced connections):
#       PATCH /fhir/Location?identifier=1<FINESS>/<synchro> replacing a crisis (06, T0/T60) or
#       available (02) record that each of 2,000 Locations holds (bodies made from the feed,
#       benches/orsan/prepare.py); query p50/p99 with and without writes, write-ack p50/p99,
#       errors;
#   (c) sustained durable writes: the same PATCHes as fast as they go, 32 connections, 10 s;
#       fsyncs (group commits) per write;
#   (d) the served state equals a replay of the log: /v1/offers/{id} of every Location written
#       and /v1/crisis around the cities, before and after a SIGKILL + restart;
#   (e) replay time of 1,000,000 logged writes (POST /v1/capacity NDJSON batches into a fresh
#       index, SIGKILL, restart): ror_search_capacity_replay_seconds and time to ready.
# Targets: >= 5,000 durable writes/s; write-ack p99 <= 5 ms at 1,000 writes/s; query p99 under
# writes <= 1.5x idle p99; replay of 1M writes <= 3 s.
#
#   benches/orsan.sh                                  # everything (builds what is missing first)
#   DURATION=15s QUERY_RATE=500 WRITE_RATE=1000 REPLAY_WRITES=1000000 benches/orsan.sh
#   SERVE_LOG=/dev/null benches/orsan.sh   # the server's log elsewhere than the capacity log's disk
#
# The snapshot is served from a fresh temporary index (a symlink to it): the capacity log is
# written there, never next to the snapshot. The generators are installed when missing: wrk from
# Debian's packages, oha with cargo install. Every run is bounded in time.
set -euo pipefail
cd "$(dirname "$0")/.."

# 60 s of queries at 40 req/s: each p99 is then the 24th worst of 2,400 answers (at 15 s it was
# the 6th worst of 600, and its runs scattered by +-30 %).
DURATION=${DURATION:-60s}
QUERY_RATE=${QUERY_RATE:-40}
WRITE_RATE=${WRITE_RATE:-1000}
WRITE_CONNECTIONS=${WRITE_CONNECTIONS:-32}
SUSTAINED_CONNECTIONS=${SUSTAINED_CONNECTIONS:-32}
SUSTAINED_DURATION=${SUSTAINED_DURATION:-10s}
TARGETS=${TARGETS:-2000}
WRITES=${WRITES:-40000}
REPLAY_WRITES=${REPLAY_WRITES:-1000000}
REPLAY_BATCH=${REPLAY_BATCH:-25000}
ADDR=${ADDR:-127.0.0.1:8090}
SNAPSHOT=${SNAPSHOT:-index/synthetic/snapshot}
FEED=${FEED:-index/synthetic/feed-100000-1000000.ndjson}
TOKEN=orsan-bench-admin-token-0123456789
WORK=$(mktemp -d)
SERVE_LOG=${SERVE_LOG:-$WORK/serve.log}
SERVER=
trap 'if [ -n "$SERVER" ]; then kill -9 "$SERVER" 2>/dev/null || true; fi; rm -rf "$WORK"' EXIT

source benches/generators.sh

cargo build --release --quiet
BIN=target/release/ror-search

source benches/national.sh

# start_server INDEX [serve flags...]: serves INDEX and waits (at most 5 minutes) until ready;
# sets SERVER (its pid) and READY (the seconds it took).
start_server() {
  local index=$1
  shift
  local started
  started=$(date +%s.%N)
  # Every caller is profile 1 (the SAMU's consoles): crisis queries need it.
  printf 'allow_anonymous = true\nanonymous_profiles = [1]\n' >"$WORK/access.toml"
  "$BIN" serve --index "$index" --addr "$ADDR" --poll-interval-secs 0 --admin-token "$TOKEN" --access "$WORK/access.toml" "$@" \
    >>"$SERVE_LOG" 2>&1 &
  SERVER=$!
  for _ in $(seq 1 1200); do
    curl -fs "http://$ADDR/readyz" >/dev/null 2>&1 && break
    kill -0 "$SERVER" 2>/dev/null || break
    sleep 0.25
  done
  curl -fs "http://$ADDR/readyz" >/dev/null || { tail -20 "$SERVE_LOG" >&2; exit 1; }
  READY=$(echo "$(date +%s.%N) - $started" | bc)
}
kill_server() {
  kill -9 "$SERVER"
  wait "$SERVER" 2>/dev/null || true
  SERVER=
}
metric() { curl -fs -H "Authorization: Bearer $TOKEN" "http://$ADDR/metrics" | awk -v name="$1" '$1 == name { print $2 }'; }
oha_summary() { grep -E "Requests/sec|Success rate|50.00%|90.00%|99.00%|99.90%|^ *\[[0-9]{3}\]|aborted" || true; }

INDEX=$WORK/index
mkdir -p "$INDEX"
ln -s "$(realpath "$SNAPSHOT")" "$INDEX/snapshot"
start_server "$INDEX"
echo "server ready in $READY s"
echo "serving $(curl -fs "http://$ADDR/v1/snapshot" | python3 -c 'import json,sys; m=json.load(sys.stdin); print(m["snapshot"], m["manifest"]["counts"]["offers"], "offers")' 2>/dev/null || echo "$SNAPSHOT")"
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) (other jobs share it)"

timeout 900 python3 benches/orsan/prepare.py targets "$FEED" "$ADDR" "$TARGETS" >"$WORK/targets.json"
python3 benches/orsan/prepare.py queries 4000 | sed "s|^|http://$ADDR|" >"$WORK/queries.urls"
python3 benches/orsan/prepare.py writes "$WORK/targets.json" "$WRITES" >"$WORK/writes.tsv"
export ROR_WRITES=$WORK/writes.tsv ROR_TOKEN=$TOKEN

# warm-up
timeout 60 oha --no-tui -z 3s -c 16 --disable-compression --urls-from-file "$WORK/queries.urls" >/dev/null

echo
echo "== (a) SAMU + orientation queries alone: oha, fixed rate $QUERY_RATE req/s, $DURATION =="
timeout 300 oha --no-tui -z "$DURATION" -q "$QUERY_RATE" -c 32 --latency-correction --disable-compression \
  --urls-from-file "$WORK/queries.urls" | oha_summary

echo
echo "== (b) the same queries while ~$WRITE_RATE PATCH writes/s arrive ($WRITE_CONNECTIONS paced wrk connections) =="
seconds=${DURATION%s}
commits_before=$(metric ror_search_capacity_log_commits_total)
records_before=$(metric ror_search_capacity_log_records)
curl -fs -H "Authorization: Bearer $TOKEN" "http://$ADDR/metrics" >"$WORK/metrics-before.txt"
ROR_DELAY_MS=$((WRITE_CONNECTIONS * 1000 / WRITE_RATE)) timeout 300 wrk -t1 -c"$WRITE_CONNECTIONS" -d"$((seconds + 2))s" \
  -s benches/orsan/writes.lua "http://$ADDR" >"$WORK/paced.txt" 2>&1 &
WRK=$!
sleep 1
timeout 300 oha --no-tui -z "$DURATION" -q "$QUERY_RATE" -c 32 --latency-correction --disable-compression \
  --urls-from-file "$WORK/queries.urls" | oha_summary
wait "$WRK" || true
echo "-- writes (wrk):"
grep -E "^writes|^write ack|answered" "$WORK/paced.txt" || cat "$WORK/paced.txt"
commits=$(metric ror_search_capacity_log_commits_total)
records=$(metric ror_search_capacity_log_records)
echo "log: $((records - records_before)) entries in $((commits - commits_before)) fsyncs"
# The same writes timed inside the server (request in to response out), from its histogram.
curl -fs -H "Authorization: Bearer $TOKEN" "http://$ADDR/metrics" >"$WORK/metrics-after.txt"
python3 - "$WORK/metrics-before.txt" "$WORK/metrics-after.txt" <<'PY'
import re, sys
def buckets(path):
    out = {}
    for line in open(path):
        m = re.match(r'ror_search_http_request_duration_seconds_bucket\{route="/fhir/Location",status="200",le="([^"]+)"\} (\d+)', line)
        if m:
            out[m.group(1)] = int(m.group(2))
    return out
before, after = buckets(sys.argv[1]), buckets(sys.argv[2])
total = after.get("+Inf", 0) - before.get("+Inf", 0)
if total:
    shares = ", ".join(f"<= {float(le) * 1000:g} ms {100 * (after[le] - before.get(le, 0)) / total:.2f} %"
                       for le in ("0.001", "0.0025", "0.005", "0.01") if le in after)
    print(f"write time inside the server ({total} PATCHes): {shares}")
PY

echo
echo "== (c) sustained durable writes: PATCH, $SUSTAINED_CONNECTIONS connections, $SUSTAINED_DURATION, closed loop =="
commits_before=$commits
records_before=$records
timeout 300 wrk -t2 -c"$SUSTAINED_CONNECTIONS" -d"$SUSTAINED_DURATION" -s benches/orsan/writes.lua "http://$ADDR" 2>&1 \
  | grep -E "^writes|^write ack|answered|Requests/sec" || true
commits=$(metric ror_search_capacity_log_commits_total)
records=$(metric ror_search_capacity_log_records)
echo "log: $((records - records_before)) entries in $((commits - commits_before)) fsyncs ($(echo "scale=1; ($records - $records_before) / ($commits - $commits_before)" | bc) entries per fsync)"
echo "metrics: $(curl -fs -H "Authorization: Bearer $TOKEN" "http://$ADDR/metrics" | grep -E '^ror_search_capacity_(writes_total|rejected_total)' | tr '\n' ' ')"

echo
echo "== (d) served state = replay of the log: SIGKILL, restart, compare =="
timeout 300 python3 benches/orsan/prepare.py state "$ADDR" "$WORK/targets.json" "$WORK/state-before.json"
logged=$(metric ror_search_capacity_log_records)
kill_server
start_server "$INDEX"
echo "restarted in $READY s; replayed $(metric ror_search_capacity_replay_entries) of $logged logged writes in $(metric ror_search_capacity_replay_seconds) s (ror_search_capacity_replay_seconds)"
timeout 300 python3 benches/orsan/prepare.py state "$ADDR" "$WORK/targets.json" "$WORK/state-after.json"
python3 benches/orsan/prepare.py compare "$WORK/state-before.json" "$WORK/state-after.json"
kill_server

echo
echo "== (e) replay of $REPLAY_WRITES logged writes =="
INDEX2=$WORK/index-replay
mkdir -p "$INDEX2"
ln -s "$(realpath "$SNAPSHOT")" "$INDEX2/snapshot"
python3 benches/orsan/prepare.py ndjson "$WORK/targets.json" "$REPLAY_WRITES" "$REPLAY_BATCH" "$WORK/ndjson"
# One log line per write at info would be a million lines: warnings only while loading.
RUST_LOG=warn start_server "$INDEX2" --request-timeout-ms 120000
started=$(date +%s.%N)
for batch in "$WORK"/ndjson/batch-*.ndjson; do
  timeout 300 curl -fs -X POST -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/x-ndjson" \
    --data-binary "@$batch" "http://$ADDR/v1/capacity" | grep -c '"status":"applied"\|"status":"ignored"' >>"$WORK/acked.txt"
done
echo "$(paste -sd+ "$WORK/acked.txt" | bc) NDJSON lines acknowledged in $(echo "$(date +%s.%N) - $started" | bc) s (batches of $REPLAY_BATCH)"
echo "log: $(metric ror_search_capacity_log_records) entries, $(metric ror_search_capacity_log_bytes) bytes"
kill_server
start_server "$INDEX2"
echo "restarted (SIGKILL, then serve) in $READY s; replayed $(metric ror_search_capacity_replay_entries) writes in $(metric ror_search_capacity_replay_seconds) s (ror_search_capacity_replay_seconds)"
echo "server RSS: $(ps -o rss= -p "$SERVER" | awk '{printf "%.0f MiB", $1/1024}')"
grep -E "capacity log opened|carried onto" "$SERVE_LOG" | tail -2 | sed 's/\x1b\[[0-9;]*m//g' || true
echo "machine at the end: load average $(cut -d' ' -f1-3 /proc/loadavg)"
