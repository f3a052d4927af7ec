#!/usr/bin/env bash
# The FHIR facade over HTTP on the synthetic national snapshot (100,000 EGs, 1,000,000 offers):
# per-query latency and server CPU of near searches (bare, with includes, with capacity chains)
# against the equivalent /v1 query, paging a near search with includes to its end, national
# paging, and a full `$export` (time, throughput, memory, download). See benches/fhir/bench.py.
#
#   benches/fhir.sh                  # ROUNDS=400 queries per scenario
#   BIN=/path/to/other/ror-search SNAPSHOT=index/synthetic/snapshot benches/fhir.sh
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-400}
ADDR=${ADDR:-127.0.0.1:8090}
SNAPSHOT=${SNAPSHOT:-index/synthetic/snapshot}
FEED=index/synthetic/feed-100000-1000000.ndjson
WORK=$(mktemp -d)
trap 'kill "${SERVER:-}" 2>/dev/null || true; rm -rf "$WORK"' EXIT

if [ -z "${BIN:-}" ]; then
  cargo build --release --quiet
  BIN=target/release/ror-search
fi
source benches/national.sh

# Profile 1 (everything), as a regional platform's synchronisation client.
printf 'allow_anonymous = true\nanonymous_profiles = [1]\n' >"$WORK/access.toml"
"$BIN" serve --index "$SNAPSHOT" --addr "$ADDR" --poll-interval-secs 0 --access "$WORK/access.toml" \
  --export-dir "$WORK/exports" >"$WORK/serve.log" 2>&1 &
SERVER=$!
for _ in $(seq 1 120); do
  curl -fs "http://$ADDR/readyz" >/dev/null 2>&1 && break
  sleep 0.5
done
curl -fs "http://$ADDR/readyz" >/dev/null || { cat "$WORK/serve.log" >&2; exit 1; }
python3 benches/fhir/bench.py "$ADDR" "$SERVER" "$ROUNDS"
