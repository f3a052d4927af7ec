# Sourced by the HTTP benches (load.sh, orsan.sh, fhir.sh): makes sure "$SNAPSHOT" is a national
# snapshot built from "$FEED" with "$BIN", generating the synthetic feed (100,000 EGs,
# 1,000,000 offers) when it is missing. A feed written before Locations had synchro ids cannot
# be PATCHed by identifier: it is regenerated, and its snapshot rebuilt.
if [ -f "$FEED" ] && ! grep -m1 -q '"value":"ZS000"' "$FEED"; then
  echo "$FEED has no synchro ids (older generator): regenerating it and the snapshot" >&2
  rm -f "$FEED"
  rm -rf "$SNAPSHOT"
fi
if ! "$BIN" inspect "$SNAPSHOT" >/dev/null 2>&1; then
  if [ ! -f "$FEED" ]; then
    echo "generating the synthetic national feed..." >&2
    "$BIN" generate-synthetic --egs 100000 --offers 1000000 --out "$FEED"
  fi
  echo "building the national snapshot..." >&2
  "$BIN" build --input "$FEED" --out "$SNAPSHOT" --communes data-samples/communes.csv.gz --force
fi
