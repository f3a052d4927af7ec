#!/usr/bin/env python3
"""Writes the request paths of the HTTP load test, one per line, seeded.

The mixes follow the engine benches (benches/query.rs): orientation top-20 around Paris, Lyon,
Bordeaux and a rural centre (Aveyron) with several selectivities; nearest-10 with crisis beds;
whole-France bbox counts; text + geo. Each centre is jittered by up to ~5 km so that the load
does not hit one cached answer.

    urls.py orientation 2000 > orientation.txt
    urls.py mixed 2000 > mixed.txt

One kind of request alone (benches/cpu.sh measures each): healthz, orientation, dense (every
offer within 10 km of central Paris, its total exact), crisis (the 10 nearest offers with T0
crisis beds, total exact), france (a whole-France bbox count).

    urls.py dense 2000 > dense.txt
"""
import random
import sys

CENTRES = {
    "paris": (48.8566, 2.3522),
    "lyon": (45.7606, 4.8594),
    "bordeaux": (44.8378, -0.5792),
    "rural": (44.35, 2.57),
}

ORIENTATION = [
    "radius_km=30&category=500&gir=2&max_price=90&min_available=1",
    "radius_km=30&category=500",
    "radius_km=30&offer_type=21&reception=02&age=85",
    "radius_km=20&category=500&gir=2&max_price=80",
    "radius_km=30",
]

NEAREST = ["min_crisis_t0=1&limit=10"]
BBOX = ["bbox=-5.5,41,10,51.5&limit=1", "bbox=-5.5,41,10,51.5&category=500&limit=1"]
TEXT = ["q=ehpad&radius_km=30", "q=alzheimer&radius_km=30", "q=alzh&radius_km=10", "q=cardiologie&limit=10"]


def centre(rng):
    lat, lon = CENTRES[rng.choice(sorted(CENTRES))]
    return lat + rng.uniform(-0.045, 0.045), lon + rng.uniform(-0.06, 0.06)


def path(rng, parameters, with_centre=True):
    if not with_centre:
        return f"/v1/offers?{parameters}"
    lat, lon = centre(rng)
    return f"/v1/offers?lat={lat:.5f}&lon={lon:.5f}&{parameters}"


DENSE = "radius_km=10&exact_total=true"
PARIS = CENTRES["paris"]


def single(rng, kind):
    """One request of one kind (see the module's doc)."""
    if kind == "healthz":
        return "/healthz"
    if kind == "dense":
        lat, lon = PARIS[0] + rng.uniform(-0.02, 0.02), PARIS[1] + rng.uniform(-0.03, 0.03)
        return f"/v1/offers?lat={lat:.5f}&lon={lon:.5f}&{DENSE}"
    if kind == "crisis":
        return path(rng, NEAREST[0] + "&exact_total=true")
    if kind == "france":
        return path(rng, BBOX[0], with_centre=False)
    raise SystemExit(f"unknown kind {kind!r}")


def main():
    mix = sys.argv[1] if len(sys.argv) > 1 else "orientation"
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
    rng = random.Random(2026)
    for _ in range(count):
        if mix not in ("orientation", "mixed"):
            print(single(rng, mix))
            continue
        if mix == "orientation":
            print(path(rng, rng.choice(ORIENTATION)))
            continue
        # mixed: 70 % orientation, 15 % nearest crisis, 10 % text + geo, 5 % whole-France bbox
        roll = rng.random()
        if roll < 0.70:
            print(path(rng, rng.choice(ORIENTATION)))
        elif roll < 0.85:
            print(path(rng, rng.choice(NEAREST)))
        elif roll < 0.95:
            print(path(rng, rng.choice(TEXT)))
        else:
            print(path(rng, rng.choice(BBOX), with_centre=False))


if __name__ == "__main__":
    main()
