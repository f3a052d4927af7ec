#!/usr/bin/env python3
"""Inputs and checks of the ORSAN crisis load test (benches/orsan.sh), seeded.

    prepare.py queries COUNT > queries.txt
        SAMU nearest-crisis queries (/v1/crisis, min_crisis_t0=1, limit=10) around several
        cities, jittered, mixed 60/40 with the orientation queries of benches/load/urls.py.
    prepare.py targets FEED ADDR COUNT > targets.json
        COUNT Locations of the synthetic feed that hold a crisis record (status 06), spread over
        the feed, with their synchro ids and records (read from the feed) and their EG's FINESS
        and an offer listing them (asked of the server at ADDR).
    prepare.py writes TARGETS COUNT > writes.tsv
        COUNT capacity PATCHes (`PATCH\\t/fhir/Location?identifier=1<FINESS>/<synchro>\\t<body>`),
        each a `replace` of one crisis (06, T0 or T60) or available (02) record the Location
        holds, with a new count and a capacityUpdateDate newer than the feed's (one second
        apart, never in the future).
    prepare.py ndjson TARGETS COUNT BATCH DIR
        COUNT `POST /v1/capacity` lines in files of BATCH lines (DIR/batch-*.ndjson).
    prepare.py state ADDR TARGETS OUT
        The served state: /v1/offers/{id} of every target and /v1/crisis around the cities,
        with the request-dependent fields dropped, as one JSON file.
    prepare.py compare A B
        Exits 1 (and says where) unless two states are equal.
"""
import json
import os
import random
import sys
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "load"))
import urls  # noqa: E402  (benches/load/urls.py: the orientation queries)

CITIES = {
    "paris": (48.8566, 2.3522),
    "lyon": (45.7606, 4.8594),
    "marseille": (43.2965, 5.3698),
    "toulouse": (43.6047, 1.4442),
    "lille": (50.6292, 3.0573),
    "strasbourg": (48.5734, 7.7521),
    "bordeaux": (44.8378, -0.5792),
    "rural": (44.35, 2.57),
}
CAPACITY_URL = "https://interop.esante.gouv.fr/ig/fhir/ror/StructureDefinition/ror-location-supported-capacity"
TUPLE = ["capacityStatus", "temporalityCapacity", "genderCapacityAvailable", "temporaryAssignement",
         "capacityClosingType", "additionalBedType", "crisisType"]
SYSTEMS = {
    "capacityType": "TRE_R329-NatureCapacite",
    "capacityStatus": "TRE_R330-TypeStatutCapacite",
    "temporalityCapacity": "TRE_R331-TemporaliteCapacite",
    "genderCapacityAvailable": "TRE_R332-GenreCapacite",
    "capacityClosingType": "TRE_R333-TypeFermetureCapacite",
    "additionalBedType": "TRE_R334-TypeLitSupplementaire",
    "capacitySourceType": "TRE_R335-TypeSourceCapacite",
    "crisisType": "TRE_R336-TypeCrise",
    "temporaryAssignement": "TRE_R337-AffectationTemporaire",
}


def get(addr, path):
    with urllib.request.urlopen(f"http://{addr}{path}", timeout=30) as response:
        return json.load(response)


def queries(count):
    rng = random.Random(2026)
    names = sorted(CITIES)
    for _ in range(count):
        if rng.random() < 0.6:
            lat, lon = CITIES[rng.choice(names)]
            lat += rng.uniform(-0.045, 0.045)
            lon += rng.uniform(-0.06, 0.06)
            print(f"/v1/crisis?lat={lat:.5f}&lon={lon:.5f}&min_crisis_t0=1&limit=10")
        else:
            print(urls.path(rng, rng.choice(urls.ORIENTATION)))


def codes(extension):
    """The coded fields of a capacity extension, and its count."""
    fields, count = {}, None
    for part in extension["extension"]:
        if "valueCodeableConcept" in part:
            fields[part["url"]] = part["valueCodeableConcept"]["coding"][0]["code"]
        elif part["url"] == "nbCapacity":
            count = part["valueInteger"]
    return fields, count


def targets(feed, addr, count):
    """Locations with a crisis record, every 13th of the feed's, until COUNT are found."""
    found, seen = [], 0
    with open(feed, "rb") as lines:
        for line in lines:
            if b'"resourceType":"Location"' not in line or b"capacityStatus" not in line:
                continue
            location = json.loads(line)
            records = [codes(e)[0] for e in location.get("extension", []) if e["url"] == CAPACITY_URL]
            if not any(r.get("capacityStatus") == "06" for r in records):
                continue
            seen += 1
            if seen % 13:
                continue
            synchro = next((i["value"] for i in location.get("identifier", [])
                            if i["type"]["coding"][0]["code"] == "26"), None)
            # sloc-<EG>-<n> is listed by shs-<EG>-<n> (src/ingest/synth.rs)
            offer = "shs-" + location["id"][len("sloc-"):]
            try:
                answer = get(addr, f"/v1/offers/{offer}")
            except OSError:
                continue
            if synchro is None or not any(l["id"] == location["id"] for l in answer["locations"]):
                continue
            keep = [r for r in records if r.get("capacityStatus") in ("02", "06")
                    and r.get("temporalityCapacity") in ("01", "02")]
            found.append({"location": location["id"], "offer": offer, "finess": answer["offer"]["eg"]["finess"],
                          "synchro": synchro, "records": keep})
            if len(found) >= count:
                break
    json.dump(found, sys.stdout)
    print(f"{len(found)} targets", file=sys.stderr)


def coded(url, code):
    system = f"https://mos.esante.gouv.fr/NOS/{SYSTEMS[url]}/FHIR/{SYSTEMS[url].replace('_', '-')}"
    return {"url": url, "valueCodeableConcept": {"coding": [{"code": code, "system": system}]}}


def patch_body(record, count, updated_at):
    clauses = " and ".join(
        f"extension.where(url = '{field}' and valueCodeableConcept.coding.code = '{record[field]}')"
        for field in TUPLE if field in record)
    value = [{"url": "nbCapacity", "valueInteger": count}, {"url": "capacityUpdateDate", "valueDateTime": updated_at}]
    value += [coded(field, code) for field, code in sorted(record.items())]
    if "capacitySourceType" not in record:
        value.append(coded("capacitySourceType", "02"))
    return {"resourceType": "Parameters", "parameter": [{"name": "operation", "part": [
        {"name": "type", "valueString": "replace"},
        {"name": "path", "valueString": f"Location.extension.where(url='{CAPACITY_URL}').where({clauses})"},
        {"name": "value", "part": [{"extension": [{"url": CAPACITY_URL, "extension": value}]}]},
    ]}]}


def rfc3339(seconds):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def writes(targets_file, count):
    targets_ = json.load(open(targets_file))
    start = int(time.time()) - count - 60
    for i in range(count):
        target = targets_[i % len(targets_)]
        record = target["records"][(i // len(targets_)) % len(target["records"])]
        body = json.dumps(patch_body(record, (i * 7) % 50, rfc3339(start + i)), separators=(",", ":"))
        print(f"PATCH\t/fhir/Location?identifier=1{target['finess']}/{target['synchro']}\t{body}")


def ndjson(targets_file, count, batch, out):
    targets_ = json.load(open(targets_file))
    start = int(time.time()) - 3600
    names = {"capacityStatus": "status", "temporalityCapacity": "temporality", "genderCapacityAvailable": "gender",
             "temporaryAssignement": "temporary_assignment", "capacityClosingType": "closing_type",
             "additionalBedType": "additional_bed_type", "crisisType": "crisis_type", "capacityType": "capacity_type",
             "capacitySourceType": "source_type"}
    os.makedirs(out, exist_ok=True)
    for first in range(0, count, batch):
        with open(os.path.join(out, f"batch-{first // batch:05}.ndjson"), "w") as file:
            for i in range(first, min(count, first + batch)):
                target = targets_[i % len(targets_)]
                record = target["records"][(i // len(targets_)) % len(target["records"])]
                line = {names[k]: v for k, v in record.items()}
                line.update(location=target["location"], count=i % 100, updated_at=rfc3339(start + i // 1000))
                file.write(json.dumps(line, separators=(",", ":")) + "\n")


def strip(answer):
    if isinstance(answer, dict):
        return {k: strip(v) for k, v in answer.items() if k not in ("took_ms", "took_us", "timing", "explain")}
    if isinstance(answer, list):
        return [strip(v) for v in answer]
    return answer


def state(addr, targets_file, out):
    targets_ = json.load(open(targets_file))
    result = {"offers": {t["offer"]: strip(get(addr, f"/v1/offers/{t['offer']}")) for t in targets_}, "crisis": {}}
    for name, (lat, lon) in sorted(CITIES.items()):
        result["crisis"][name] = strip(get(addr, f"/v1/crisis?lat={lat}&lon={lon}&min_crisis_t0=1&limit=50"))
    json.dump(result, open(out, "w"), sort_keys=True)


def compare(a, b):
    a, b = json.load(open(a)), json.load(open(b))
    differ = [k for k in a["offers"] if a["offers"][k] != b["offers"].get(k)]
    differ += [f"crisis {k}" for k in a["crisis"] if a["crisis"][k] != b["crisis"].get(k)]
    if differ:
        print(f"served state differs after the restart: {len(differ)} answers, e.g. {differ[:5]}")
        sys.exit(1)
    print(f"served state equal after the restart: {len(a['offers'])} offers, {len(a['crisis'])} crisis answers")


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    if command == "queries":
        queries(int(args[0]))
    elif command == "targets":
        targets(args[0], args[1], int(args[2]))
    elif command == "writes":
        writes(args[0], int(args[1]))
    elif command == "ndjson":
        ndjson(args[0], int(args[1]), int(args[2]), args[3])
    elif command == "state":
        state(args[0], args[1], args[2])
    elif command == "compare":
        compare(args[0], args[1])
    else:
        sys.exit(__doc__)
