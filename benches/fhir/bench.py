#!/usr/bin/env python3
"""The FHIR facade over HTTP, one client on a keep-alive connection (stdlib only):

* per query, the latency (p50 / p99) and the server's CPU time (from /proc/<pid>/stat) of
  `/v1/offers` near a point and of the equivalent FHIR searches (bare, and with the includes the
  ROR's clients send): the facade's overhead over /v1;
* paging: a `near` search with includes followed through its `next` links;
* a national paging (`HealthcareService?_count=1000`, first pages);
* `$export` of the whole snapshot: time, resources/s, bytes, the server's peak memory, and the
  download of every file.

    bench.py <host:port> <server pid> [rounds]
"""
import http.client
import json
import os
import random
import sys
import time
import urllib.parse

CENTRES = {"paris": (48.8566, 2.3522), "lyon": (45.7606, 4.8594), "bordeaux": (44.8378, -0.5792), "rural": (44.35, 2.57)}
INCLUDES = "&_include=HealthcareService:organization&_include:iterate=Organization:partof&_include=HealthcareService:location"
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def memory(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key):
                return int(line.split()[1]) / 1024
    return 0.0


class Client:
    def __init__(self, address):
        self.address = address
        self.connection = http.client.HTTPConnection(address, timeout=120)

    def get(self, path, headers=None):
        self.connection.request("GET", path, headers=headers or {})
        response = self.connection.getresponse()
        body = response.read()
        return response.status, {name.lower(): value for name, value in response.getheaders()}, body


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))]


def measure(client, pid, name, paths):
    latencies = []
    cpu_before = cpu_seconds(pid)
    for path in paths:
        started = time.perf_counter()
        status, _, body = client.get(path)
        latencies.append(time.perf_counter() - started)
        assert status == 200, (path, status, body[:300])
    cpu = (cpu_seconds(pid) - cpu_before) / len(paths)
    print(f"| {name} | {len(paths)} | {percentile(latencies, 0.5) * 1e3:.2f} | {percentile(latencies, 0.99) * 1e3:.2f} | {cpu * 1e6:.0f} |")
    return cpu


def main():
    address, pid = sys.argv[1], int(sys.argv[2])
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 400
    rng = random.Random(2026)
    points = []
    for _ in range(rounds):
        lat, lon = CENTRES[rng.choice(sorted(CENTRES))]
        points.append((lat + rng.uniform(-0.045, 0.045), lon + rng.uniform(-0.06, 0.06)))
    client = Client(address)
    for lat, lon in points[:50]:  # warm-up (and the facade's index of the snapshot)
        client.get(f"/fhir/HealthcareService?location.near={lat:.5f}|{lon:.5f}|10|km&_count=20")
    print("| query (10 km around a jittered city centre, 20 results) | requests | p50 ms | p99 ms | server CPU µs/query |")
    print("|---|---|---|---|---|")
    v1 = measure(client, pid, "/v1/offers?lat&lon&radius_km=10&limit=20", [f"/v1/offers?lat={a:.5f}&lon={o:.5f}&radius_km=10&limit=20" for a, o in points])
    v1_exact = measure(client, pid, "/v1 the same, exact_total=true", [f"/v1/offers?lat={a:.5f}&lon={o:.5f}&radius_km=10&limit=20&exact_total=true" for a, o in points])
    bare = measure(client, pid, "FHIR HealthcareService?location.near=lat|lon|10|km&_count=20", [f"/fhir/HealthcareService?location.near={a:.5f}|{o:.5f}|10|km&_count=20" for a, o in points])
    full = measure(client, pid, "FHIR the same + _include organization, partof, location", [f"/fhir/HealthcareService?location.near={a:.5f}|{o:.5f}|10|km&_count=20{INCLUDES}" for a, o in points])
    capacity = measure(client, pid, "FHIR + location.capacity-status=02&location.nb-capacity=gt0", [f"/fhir/HealthcareService?location.near={a:.5f}|{o:.5f}|10|km&location.capacity-status=02&location.nb-capacity=gt0&_count=20" for a, o in points])
    print(f"\nfacade overhead over /v1 (exact total, as FHIR always counts): bare {bare / v1_exact:.1f}x, with includes {full / v1_exact:.1f}x; over the default /v1 {bare / v1:.1f}x")

    # paging a near search with includes to its end
    lat, lon = CENTRES["paris"]
    path = f"/fhir/HealthcareService?location.near={lat}|{lon}|30|km&_count=50{INCLUDES}"
    pages, matches, started, cpu_before, total = 0, 0, time.perf_counter(), cpu_seconds(pid), None
    page_times = []
    while path:
        t = time.perf_counter()
        status, _, body = client.get(path)
        page_times.append(time.perf_counter() - t)
        assert status == 200, body[:300]
        bundle = json.loads(body)
        total = bundle["total"] if total is None else total
        matches += sum(1 for e in bundle.get("entry", []) if e["search"]["mode"] == "match")
        pages += 1
        nxt = [l["url"] for l in bundle["link"] if l["relation"] == "next"]
        path = urllib.parse.urlsplit(nxt[0])._replace(scheme="", netloc="").geturl() if nxt else None
    elapsed = time.perf_counter() - started
    assert matches == total, (matches, total)
    print(f"\npaging: near Paris 30 km with includes, _count=50: {total} matches in {pages} pages, "
          f"{elapsed:.2f} s, p50 {percentile(page_times, 0.5) * 1e3:.1f} ms / page, "
          f"server CPU {(cpu_seconds(pid) - cpu_before) / pages * 1e3:.1f} ms / page")

    # national paging, first pages
    path = "/fhir/HealthcareService?_count=1000"
    page_times = []
    for _ in range(5):
        t = time.perf_counter()
        status, _, body = client.get(path)
        page_times.append(time.perf_counter() - t)
        bundle = json.loads(body)
        nxt = [l["url"] for l in bundle["link"] if l["relation"] == "next"]
        path = urllib.parse.urlsplit(nxt[0])._replace(scheme="", netloc="").geturl()
    print(f"national paging HealthcareService?_count=1000 (total {bundle['total']}): p50 {percentile(page_times, 0.5) * 1e3:.0f} ms / page")

    # $export of everything
    rss_before = memory(pid, "VmRSS")
    started, cpu_before = time.perf_counter(), cpu_seconds(pid)
    status, headers, body = client.get("/fhir/$export", {"Prefer": "respond-async"})
    assert status == 202, body
    status_path = urllib.parse.urlsplit(headers["content-location"])._replace(scheme="", netloc="").geturl()
    peak = rss_before
    while True:
        status, headers, body = client.get(status_path)
        peak = max(peak, memory(pid, "VmRSS"))
        if status == 200:
            break
        assert status == 202, body
        time.sleep(0.25)
    elapsed = time.perf_counter() - started
    manifest = json.loads(body)
    resources = sum(o["count"] for o in manifest["output"])
    size = sum(o["extension"]["bytes"] for o in manifest["output"])
    print(f"\n$export: {resources} resources, {size / 1e6:.0f} MB of NDJSON in {elapsed:.1f} s "
          f"({resources / elapsed:,.0f} resources/s, {size / 1e6 / elapsed:.0f} MB/s), server CPU {cpu_seconds(pid) - cpu_before:.1f} s, "
          f"server RSS {rss_before:.0f} MiB before, {peak:.0f} MiB at most while exporting")
    for output in manifest["output"]:
        print(f"  {output['type']}: {output['count']} resources, {output['extension']['bytes'] / 1e6:.0f} MB")
    started = time.perf_counter()
    downloaded = 0
    for output in manifest["output"]:
        path = urllib.parse.urlsplit(output["url"])._replace(scheme="", netloc="").geturl()
        status, _, body = client.get(path)
        assert status == 200
        downloaded += len(body)
    elapsed = time.perf_counter() - started
    print(f"download of the files: {downloaded / 1e6:.0f} MB in {elapsed:.1f} s ({downloaded / 1e6 / elapsed:.0f} MB/s)")


if __name__ == "__main__":
    main()
