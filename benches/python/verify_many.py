"""verify_many throughput from NumPy (issue: >= 30 M verifications/s over 10 M numbers).

    python benches/python/verify_many.py [--cards 10000000] [--queries 10000000] [--runs 5]

Builds a bank snapshot of --cards random listed cards, then verifies --queries presented cards
(1% of them listed) given as a NumPy S18 array and a datetime64[D] array; prints the median rate
of --runs runs, and the rate for U18 input (converted by numpy first) in the same run.
"""

import argparse
import statistics
import tempfile
import time

import numpy as np

import idcard

W = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
CHECK = np.frombuffer(b"10X98765432", dtype=np.uint8)
DIVISIONS = np.array([110105, 440106, 310101, 510104, 420111, 330102, 320102, 370102, 410105, 500101])


def numbers(rng, n):
    """n random valid numbers as S18, and card validity starts (datetime64[D])."""
    div = rng.choice(DIVISIONS, n)
    birth = np.datetime64("1950-01-01") + rng.integers(0, 60 * 365, n).astype("timedelta64[D]")
    ymd = birth.astype("datetime64[D]").astype(str).astype("U10")
    year = np.char.replace(ymd, "-", "")
    seq = rng.integers(0, 1000, n)
    body = np.char.add(np.char.add(div.astype("U6"), year), np.char.zfill(seq.astype("U3"), 3))
    digits = body.astype("S17").view(np.uint8).reshape(n, 17) - ord("0")
    check = CHECK[(digits.astype(np.int64) @ W) % 11]
    out = np.empty((n, 18), dtype=np.uint8)
    out[:, :17] = digits + ord("0")
    out[:, 17] = check
    start = np.maximum(birth + np.timedelta64(16 * 365, "D"), np.datetime64("1990-01-01")) + rng.integers(0, 8000, n).astype("timedelta64[D]")
    return out.view("S18").reshape(n), start.astype("datetime64[D]")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cards", type=int, default=10_000_000)
    ap.add_argument("--queries", type=int, default=10_000_000)
    ap.add_argument("--runs", type=int, default=5)
    a = ap.parse_args()
    rng = np.random.default_rng(1)
    listed_n, listed_d = numbers(rng, a.cards)
    # Random numbers can repeat (about one pair in a few million draws): keep each card once.
    pairs = np.rec.fromarrays([listed_n, listed_d.astype(np.int64)], names="n,d")
    _, first = np.unique(pairs, return_index=True)
    first.sort()
    listed_n, listed_d = listed_n[first], listed_d[first]
    a.cards = len(first)
    with tempfile.TemporaryDirectory() as tmp:
        path = f"{tmp}/bench.idcs"
        t = time.perf_counter()
        idcard.build_snapshot(path, zip(listed_n.astype("U18").tolist(), listed_d.tolist(), ["lost"] * a.cards))
        build_s = time.perf_counter() - t
        v = idcard.Verifier.open(path)
        q_n, q_d = numbers(rng, a.queries)
        hits = rng.random(a.queries) < 0.01
        idx = rng.integers(0, a.cards, int(hits.sum()))
        q_n[hits] = listed_n[idx]
        q_d[hits] = listed_d[idx]
        rates = []
        for _ in range(a.runs):
            t = time.perf_counter()
            out = v.verify_many(q_n, q_d)
            rates.append(a.queries / (time.perf_counter() - t))
        q_u = q_n.astype("U18")
        rates_u = []
        for _ in range(a.runs):
            t = time.perf_counter()
            out_u = v.verify_many(q_u, q_d)
            rates_u.append(a.queries / (time.perf_counter() - t))
        assert (out == out_u).all()
        lost = int((out == idcard.CardStatus.LOST).sum())
        print(
            f'{{"cards": {a.cards}, "queries": {a.queries}, "listed_hits": {lost}, '
            f'"verify_many_S18_per_s": {statistics.median(rates):.0f}, "verify_many_U18_per_s": {statistics.median(rates_u):.0f}, '
            f'"build_snapshot_seconds": {build_s:.1f}}}'
        )


if __name__ == "__main__":
    main()
