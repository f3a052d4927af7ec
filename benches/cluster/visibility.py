#!/usr/bin/env python3
"""Write-to-visibility latency across replicas (benches/cluster.sh), seeded.

    visibility.py WRITER READER TARGETS COUNT TOKEN

Sends COUNT capacity writes one at a time to the replica at WRITER (`POST /v1/capacity`, one
line: a new count of the `02` available record a target Location holds, with a
capacityUpdateDate newer than the feed's), and after each acknowledgement polls the replica
at READER (`/v1/version`, whose `capacity_writes` counts the writes it has applied) until it has
applied it. Prints the acknowledgement latency on WRITER and the time from the
acknowledgement to visibility on READER, p50/p90/p99/max, in milliseconds. Nothing else may
write meanwhile. Keep-alive connections; a poll costs some 0.2 ms, which bounds the precision.
"""
import http.client
import json
import random
import sys
import time


def percentiles(values):
    values = sorted(values)
    pick = lambda q: values[min(len(values) - 1, int(q * len(values)))]
    return f"p50 {pick(0.50):.2f} ms, p90 {pick(0.90):.2f} ms, p99 {pick(0.99):.2f} ms, max {values[-1]:.2f} ms"


def connect(addr):
    host, port = addr.rsplit(":", 1)
    return http.client.HTTPConnection(host, int(port), timeout=30)


def main():
    writer_addr, reader_addr, targets_path, count, token = sys.argv[1:6]
    count = int(count)
    targets = json.load(open(targets_path))
    rng = random.Random(13)
    writer, reader = connect(writer_addr), connect(reader_addr)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson"}

    def applied_on_reader():
        reader.request("GET", "/v1/version")
        response = reader.getresponse()
        body = response.read()
        if response.status != 200:
            raise SystemExit(f"GET /v1/version on {reader_addr}: {response.status} {body[:200]!r}")
        return json.loads(body)["capacity_writes"]

    base = int(time.time()) - 3600
    acks, visible = [], []
    for number in range(count):
        target = rng.choice(targets)
        at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(base + number))
        line = json.dumps({
            "location": target["location"], "status": "02", "temporality": "01", "gender": "03",
            "temporary_assignment": "01", "capacity_type": "02", "source_type": "02",
            "count": rng.randrange(0, 50), "updated_at": at,
        })
        before = applied_on_reader()
        started = time.perf_counter()
        writer.request("POST", "/v1/capacity", body=line + "\n", headers=headers)
        response = writer.getresponse()
        body = response.read().decode()
        acked = time.perf_counter()
        if response.status != 200 or '"applied"' not in body:
            raise SystemExit(f"write {number}: {response.status} {body[:300]}")
        deadline = acked + 10
        while applied_on_reader() <= before:
            if time.perf_counter() > deadline:
                raise SystemExit(f"write {number} not visible on {reader_addr} within 10 s")
        seen = time.perf_counter()
        acks.append((acked - started) * 1000)
        visible.append((seen - acked) * 1000)
    print(f"write ack on {writer_addr} ({count} writes, one at a time): {percentiles(acks)}")
    print(f"ack to visible on {reader_addr}: {percentiles(visible)}")


if __name__ == "__main__":
    main()
