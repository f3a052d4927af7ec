#!/usr/bin/env bash
# Cluster bench: three NATS JetStream servers (Debian's nats-server) and two ror-search
# replicas on this machine's loopback, on the synthetic national snapshot (100,000 EGs,
# 1,000,000 offers). Everything shares the 2 cores: the figures are those of the whole cluster
# on one box, not of one replica per machine.
#   (a) publication of the national snapshot (`ror-search publish`, stream and buckets with 3
#       replicas): upload time and size;
#   (b) fetch + load by a replica (`serve --cluster`): download time, then ready time;
#   (c) write acknowledgement through the stream at ~WRITE_RATE writes/s (wrk, paced
#       connections; PATCH /fhir/Location?identifier= replaces, benches/orsan/prepare.py):
#       p50/p99 as wrk sees them;
#   (d) sustained writes/s through the stream: the same PATCHes as fast as they go,
#       SUSTAINED_CONNECTIONS connections;
#   (e) from an acknowledged write on replica 1 to its visibility on replica 2, p50/p99
#       (benches/cluster/visibility.py, one write at a time);
#   (f) both replicas report the same state digest.
#
#   benches/cluster.sh
#   WRITE_RATE=500 SUSTAINED_DURATION=20s VISIBILITY_WRITES=1000 benches/cluster.sh
#
# Every run is bounded in time; the NATS servers and replicas are killed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

WRITE_RATE=${WRITE_RATE:-1000}
WRITE_DURATION=${WRITE_DURATION:-20s}
WRITE_CONNECTIONS=${WRITE_CONNECTIONS:-32}
SUSTAINED_CONNECTIONS=${SUSTAINED_CONNECTIONS:-64}
SUSTAINED_DURATION=${SUSTAINED_DURATION:-10s}
TARGETS=${TARGETS:-2000}
WRITES=${WRITES:-40000}
VISIBILITY_WRITES=${VISIBILITY_WRITES:-500}
SNAPSHOT=${SNAPSHOT:-index/synthetic/snapshot}
FEED=${FEED:-index/synthetic/feed-100000-1000000.ndjson}
TOKEN=cluster-bench-admin-token-0123456789
WORK=$(mktemp -d)
PIDS=()
trap 'for pid in "${PIDS[@]}"; do kill -9 "$pid" 2>/dev/null || true; done; rm -rf "$WORK"' EXIT

NATS=$(command -v nats-server || echo /usr/sbin/nats-server)
[ -x "$NATS" ] || { echo "nats-server is missing: apt-get install nats-server" >&2; exit 1; }
source benches/generators.sh

cargo build --release --quiet
BIN=target/release/ror-search
source benches/national.sh

echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); $("$NATS" --version)"

# Three NATS servers, one cluster.
ROUTES=nats://127.0.0.1:16221,nats://127.0.0.1:16222,nats://127.0.0.1:16223
for i in 1 2 3; do
  "$NATS" -a 127.0.0.1 -p "1522$i" -js -sd "$WORK/nats-$i" -n "n$i" --cluster_name ror-bench \
    --cluster "nats://127.0.0.1:1622$i" --routes "$ROUTES" >"$WORK/nats-$i.log" 2>&1 &
  PIDS+=($!)
  disown
done
URLS=nats://127.0.0.1:15221,nats://127.0.0.1:15222,nats://127.0.0.1:15223

echo
echo "== (a) publish the national snapshot ($(du -sh "$(realpath "$SNAPSHOT")" | cut -f1)) =="
/usr/bin/time -f "publish: %e s wall, %M KiB peak" "$BIN" publish "$SNAPSHOT" --cluster "$URLS" --cluster-replicas 3 \
  2>"$WORK/publish.log" >"$WORK/publish.json" || { tail -20 "$WORK/publish.log"; exit 1; }
tail -1 "$WORK/publish.log"
python3 - "$WORK/publish.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
mib = r["bytes"] / 2**20
print(f"{r['files']} files, {mib:.0f} MiB uploaded in {r['upload_seconds']:.1f} s ({mib / r['upload_seconds']:.0f} MiB/s); "
      f"stream checked in {r['replay_seconds']:.2f} s; snapshot {r['snapshot_id']}")
PY

echo
echo "== (b) two replicas fetch and load it =="
# Every caller is profile 1 (the SAMU's consoles).
printf 'allow_anonymous = true\nanonymous_profiles = [1]\n' >"$WORK/access.toml"
start_replica() {
  local n=$1 first=$2
  "$BIN" serve --index "$WORK/replica-$n" --addr "127.0.0.1:1809$n" --admin-token "$TOKEN" --access "$WORK/access.toml" \
    --cluster "$first,$URLS" --cluster-replicas 3 >>"$WORK/replica-$n.log" 2>&1 &
  PIDS+=($!)
  disown
}
wait_ready() {
  local n=$1 started=$2
  for _ in $(seq 1 2400); do
    curl -fs "http://127.0.0.1:1809$n/readyz" >/dev/null 2>&1 && break
    sleep 0.25
  done
  curl -fs "http://127.0.0.1:1809$n/readyz" >/dev/null || { tail -20 "$WORK/replica-$n.log" >&2; exit 1; }
  echo "replica $n ready $(echo "$(date +%s.%N) - $started" | bc) s after its start; $(grep -h 'published snapshot fetched' "$WORK/replica-$n.log" | sed 's/\x1b\[[0-9;]*m//g' | grep -o 'bytes=[0-9]* seconds=[0-9.]*' | tail -1)"
}
started=$(date +%s.%N)
start_replica 1 nats://127.0.0.1:15221
wait_ready 1 "$started"
started=$(date +%s.%N)
start_replica 2 nats://127.0.0.1:15222
wait_ready 2 "$started"
for n in 1 2; do echo "replica $n RSS: $(ps -o rss= -p "$(pgrep -f "127.0.0.1:1809$n" | head -1)" | awk '{printf "%.0f MiB", $1/1024}')"; done

ADDR=127.0.0.1:18091
timeout 900 python3 benches/orsan/prepare.py targets "$FEED" "$ADDR" "$TARGETS" >"$WORK/targets.json"
python3 benches/orsan/prepare.py writes "$WORK/targets.json" "$WRITES" >"$WORK/writes.tsv"
export ROR_WRITES=$WORK/writes.tsv ROR_TOKEN=$TOKEN

echo
echo "== (c) write ack through the stream at ~$WRITE_RATE writes/s ($WRITE_CONNECTIONS paced wrk connections, $WRITE_DURATION, replica 1) =="
ROR_DELAY_MS=$((WRITE_CONNECTIONS * 1000 / WRITE_RATE)) timeout 300 wrk -t1 -c"$WRITE_CONNECTIONS" -d"$WRITE_DURATION" \
  -s benches/orsan/writes.lua "http://$ADDR" 2>&1 | grep -E "^writes|^write ack|answered" || true

echo
echo "== (d) sustained writes through the stream: $SUSTAINED_CONNECTIONS connections, $SUSTAINED_DURATION, closed loop, both replicas =="
timeout 300 wrk -t1 -c"$((SUSTAINED_CONNECTIONS / 2))" -d"$SUSTAINED_DURATION" -s benches/orsan/writes.lua "http://127.0.0.1:18091" \
  >"$WORK/sustained-1.txt" 2>&1 &
W1=$!
timeout 300 wrk -t1 -c"$((SUSTAINED_CONNECTIONS / 2))" -d"$SUSTAINED_DURATION" -s benches/orsan/writes.lua "http://127.0.0.1:18092" \
  >"$WORK/sustained-2.txt" 2>&1 &
W2=$!
wait "$W1" "$W2" || true
for n in 1 2; do echo "replica $n: $(grep -E '^writes|^write ack' "$WORK/sustained-$n.txt" | tr '\n' ' ')"; done

echo
echo "== (e) from an acknowledged write on replica 1 to its visibility on replica 2 ($VISIBILITY_WRITES writes) =="
# Both replicas have applied the sustained writes before this starts.
sleep 2
timeout 600 python3 benches/cluster/visibility.py 127.0.0.1:18091 127.0.0.1:18092 "$WORK/targets.json" "$VISIBILITY_WRITES" "$TOKEN"

echo
echo "== (f) state digests =="
for _ in $(seq 1 100); do
  d1=$(curl -fs "http://127.0.0.1:18091/v1/snapshot" | python3 -c 'import json,sys; print(json.load(sys.stdin)["state_digest"])')
  d2=$(curl -fs "http://127.0.0.1:18092/v1/snapshot" | python3 -c 'import json,sys; print(json.load(sys.stdin)["state_digest"])')
  [ "$d1" = "$d2" ] && break
  sleep 0.2
done
echo "replica 1: $d1; replica 2: $d2; $([ "$d1" = "$d2" ] && echo equal || echo DIFFERENT)"
for n in 1 2; do
  echo "replica $n: $(curl -fs -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:1809$n/metrics" | grep -E '^ror_search_cluster_(applied_sequence|lag|published_total|publish_failures_total|applied_messages_total) ' | tr '\n' ' ')"
done
echo "machine at the end: load average $(cut -d' ' -f1-3 /proc/loadavg)"
[ "$d1" = "$d2" ]
