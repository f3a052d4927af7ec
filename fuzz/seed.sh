#!/usr/bin/env bash
# Fills fuzz/corpus/<target>/ with seed inputs taken from the project's real data (the corpus
# itself is not committed: run this once before fuzzing, from anywhere):
#
#   fhir_resource   the IG example instances (shared/data-samples/ror-ig/json-examples, and the
#                   copies and FSH-as-JSON examples of tests/fixtures/ror-ig), the first $LINES
#                   lines of each gzipped NDJSON file of data-samples/ror-feed, and small feed
#                   files (NDJSON, gzipped NDJSON, the linked bundle) for the whole-file mode;
#   query_string    every query string of README.md, tests/ and benches/, and the parameter
#                   pairs of the unit tests of src/api/;
#   capacity_patch  the PATCH bodies of tests/fixtures/capacity-patch (the ROR documentation's
#                   scenarios), the JSON bodies of shared/docs/ror-api.md §1, the `identifier=`
#                   values of README.md and tests/, and the `path` selectors of those bodies;
#   snapshot_load   the files of a small snapshot built with the CLI from the linked bundle and
#                   the communes of its postcodes (`cargo run --release -- build`), its data.bin payload and sections, and the
#                   files of the old-format snapshot of tests/fixtures/snapshot-v1.
#
# Each seed starts with the selector byte that its target reads first (see the doc comment at
# the top of each fuzz_targets/*.rs). Seeds are named by their SHA-1, as libFuzzer names its
# corpus files. Needs bash, coreutils, gzip, python3 (to cut data.bin into its sections).
#
# Environment: SHARED (default ../shared beside the repository), LINES (default 100).
set -euo pipefail

cd "$(dirname "$0")/.."
repo=$PWD
shared=${SHARED:-$repo/../shared}
lines=${LINES:-100}
corpus=$repo/fuzz/corpus
work=$repo/fuzz/target/seed-work
rm -rf "$work"
mkdir -p "$work" "$corpus"/{fhir_resource,query_string,capacity_patch,snapshot_load}

# seed TARGET SELECTOR FILE: FILE's bytes after the selector byte (decimal), or no selector
# when SELECTOR is "-".
seed() {
    local target=$1 selector=$2 file=$3 tmp
    tmp=$(mktemp "$work/seed.XXXXXX")
    if [ "$selector" != "-" ]; then
        printf "\\$(printf '%03o' "$selector")" >"$tmp"
    fi
    cat "$file" >>"$tmp"
    mv "$tmp" "$corpus/$target/$(sha1sum "$tmp" | cut -d' ' -f1)"
}

# seed_text TARGET SELECTOR TEXT
seed_text() {
    printf '%s' "$3" >"$work/text"
    seed "$1" "$2" "$work/text"
}

type_selector() {
    case $1 in
        Organization) echo 0 ;;
        HealthcareService) echo 1 ;;
        Location) echo 2 ;;
        *) echo 3 ;;
    esac
}

# --- fhir_resource ----------------------------------------------------------------------------
examples=("$shared"/data-samples/ror-ig/json-examples/*.json tests/fixtures/ror-ig/json-examples/*.json
    tests/fixtures/ror-ig/fsh-as-json/*.json)
for file in "${examples[@]}"; do
    [ -f "$file" ] || continue
    type=$(basename "$file" | cut -d- -f1)
    seed fhir_resource "$(type_selector "$type")" "$file"
    seed fhir_resource 19 "$file" # 0x13: the file ingested as `feed.json`
done
seed fhir_resource 19 tests/fixtures/ror-ig/linked-bundle.json
for part in data-samples/ror-feed/*.ndjson.gz; do
    type=$(basename "$part" .ndjson.gz)
    selector=$(type_selector "$type")
    { zcat "$part" || true; } | head -n "$lines" >"$work/lines" # zcat stops on SIGPIPE
    split -l 1 -a 4 "$work/lines" "$work/line-"
    for line in "$work"/line-*; do
        seed fhir_resource "$selector" "$line"
        rm "$line"
    done
    head -n 5 "$work/lines" >"$work/five.ndjson"
    seed fhir_resource 3 "$work/five.ndjson" # 3: the file ingested as `feed.ndjson`
    gzip -c "$work/five.ndjson" >"$work/five.ndjson.gz"
    seed fhir_resource 3 "$work/five.ndjson.gz"
done

# --- query_string -----------------------------------------------------------------------------
{
    grep -rhoE "/v1/(offers|crisis|communes|quality)\?[^\"' )\`]*" README.md tests benches src | sed 's/^[^?]*?//'
    # The (name, value) pairs of the unit tests of src/api/, one query string per line of source.
    grep -rhE '\("[a-z_0-9]+", "[^"]*"\)' src/api | while IFS= read -r source_line; do
        grep -oE '\("[a-z_0-9]+", "[^"]*"\)' <<<"$source_line" | sed -E 's/^\("([^"]*)", "([^"]*)"\)$/\1=\2/' | paste -sd '&'
    done
} | sort -u >"$work/queries"
while IFS= read -r query; do
    # the first byte: the caller's profiles as bits (2 = profile 1, 1 = 0, 4 = 2 ... 32 = 5)
    for profiles in 2 1 4 8 16 32; do
        seed_text query_string "$profiles" "$query"
    done
done <"$work/queries"

# --- capacity_patch ---------------------------------------------------------------------------
for body in tests/fixtures/capacity-patch/*.json; do
    seed capacity_patch 0 "$body"
done
if [ -f "$shared/docs/ror-api.md" ]; then
    # The ```json blocks of section 1 (the capacity PATCH).
    awk '/^## 1\./ { on = 1 } /^## 2\./ { on = 0 } on' "$shared/docs/ror-api.md" |
        awk -v dir="$work" '/^```json/ { n++; out = dir "/doc-body-" n; next } /^```/ { out = ""; next } out { print > out }'
    for body in "$work"/doc-body-*; do
        [ -f "$body" ] && seed capacity_patch 0 "$body"
    done
fi
grep -rhoE "identifier=[0-9A-Za-z|/_.%-]+" README.md tests src | sort -u | while IFS= read -r identifier; do
    seed_text capacity_patch 2 "$identifier"
done
seed_text capacity_patch 2 "identifier=https%3A%2F%2Fexample.org%7C1350054680%2FSSR38888"
grep -rhoE '"Location\.extension[^"]*"' tests/fixtures/capacity-patch | sort -u | while IFS= read -r path; do
    path=${path#\"}
    seed_text capacity_patch 3 "${path%\"}"
done

# --- snapshot_load ----------------------------------------------------------------------------
snapshot=$work/snapshot
# The communes of the fixture's postcodes only, so that data.bin stays a few kilobytes.
{ zcat data-samples/communes.csv.gz || true; } | awk -F, 'NR == 1 || $6 ~ /(45000|78000|92270)/' >"$work/communes.csv"
cargo run --release --quiet -- build --input tests/fixtures/ror-ig/linked-bundle.json --communes "$work/communes.csv" \
    --out "$snapshot" --force
seed snapshot_load 0 "$snapshot/MANIFEST.json"
seed snapshot_load 1 "$snapshot/data.bin"
seed snapshot_load 4 "$snapshot/CHECKSUMS"
python3 - "$snapshot/data.bin" "$work" <<'PYTHON'
# data.bin = magic (8) + version (4) + length (8) + payload + CRC-32 (4) + end magic (8); the
# payload is five postcard sequences of byte strings (EJs, EGs, offers, locations, communes).
import sys
data = open(sys.argv[1], "rb").read()
payload = data[20:-12]
open(sys.argv[2] + "/payload", "wb").write(payload)
def varint(at):
    value, shift = 0, 0
    while True:
        byte = payload[at]
        at += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, at
at = 0
for section in range(5):
    count, at = varint(at)
    for index in range(count):
        length, at = varint(at)
        open(f"{sys.argv[2]}/section-{section}-{index}", "wb").write(payload[at:at + length])
        at += length
PYTHON
seed snapshot_load 2 "$work/payload"
for chunk in "$work"/section-*; do
    section=$(basename "$chunk" | cut -d- -f2)
    seed snapshot_load $((3 + 5 * section)) "$chunk" # selector % 5 = 3, selector / 5 = section
done
seed snapshot_load 0 tests/fixtures/snapshot-v1/snapshot/MANIFEST.json
seed snapshot_load 1 tests/fixtures/snapshot-v1/snapshot/data.bin
seed snapshot_load 4 tests/fixtures/snapshot-v1/snapshot/CHECKSUMS

for target in fhir_resource query_string capacity_patch snapshot_load; do
    echo "$target: $(find "$corpus/$target" -type f | wc -l) seeds in fuzz/corpus/$target"
done
