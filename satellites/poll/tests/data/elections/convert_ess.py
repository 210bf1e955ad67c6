#!/usr/bin/env python3
"""Converts an ES&S cast-vote record (an .xlsx sheet: precinct, then one column per rank,
each cell a candidate, "overvote", "undervote" or "UWI") to aggregated ABIF under the
jurisdiction's rules, as README.md explains:

- an overvoted rank is skipped (the ballot goes on to its next rank) under the rule
  "alwaysSkipToNextRank", and ends the ballot's ranking under "exhaustImmediately";
- a skipped rank ("undervote") is passed over, but two in a row end the ballot's ranking;
- a candidate ranked again is passed over;
- "UWI" (undeclared write-ins) is an option like the others.

Usage: convert_ess.py CVR.xlsx CONFIG.json TITLE > election.abif
"""

import json
import re
import sys
import zipfile
import xml.etree.ElementTree as ET
from collections import Counter

NS = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}


def rows(path):
    z = zipfile.ZipFile(path)
    strings = [
        "".join(t.text or "" for t in si.iter("{%s}t" % NS["m"]))
        for si in ET.fromstring(z.read("xl/sharedStrings.xml")).findall("m:si", NS)
    ]
    sheet = ET.fromstring(z.read("xl/worksheets/sheet1.xml"))
    for row in sheet.find("m:sheetData", NS).findall("m:row", NS):
        cells = {}
        for c in row.findall("m:c", NS):
            col = re.match(r"[A-Z]+", c.get("r")).group(0)
            v = c.find("m:v", NS)
            text = "" if v is None else v.text
            if c.get("t") == "s":
                text = strings[int(text)]
            elif c.get("t") == "inlineStr":
                text = "".join(t.text or "" for t in c.iter("{%s}t" % NS["m"]))
            cells[col] = text.strip()
        yield cells


def column_index(col):
    n = 0
    for ch in col:
        n = n * 26 + ord(ch) - 64
    return n


def main():
    cvr, config_path, title = sys.argv[1], sys.argv[2], sys.argv[3]
    config = json.load(open(config_path))
    source = config["cvrFileSources"][0]
    first_col = int(source["firstVoteColumnIndex"])
    first_row = int(source["firstVoteRowIndex"])
    max_ranks = int(config["rules"].get("maxRankingsAllowed") or 99)
    overvote_rule = config["rules"]["overvoteRule"]
    if overvote_rule not in ("alwaysSkipToNextRank", "exhaustImmediately"):
        sys.exit("overvote rule %s is not converted" % overvote_rule)
    candidates = [c["name"] for c in config["candidates"]]
    uwi = source.get("undeclaredWriteInLabel") or "UWI"
    over = source.get("overvoteLabel") or "overvote"
    under = source.get("skippedRankLabel") or "undervote"
    options = candidates + ["Undeclared Write-ins"]
    index = {name: i for i, name in enumerate(candidates)}
    index[uwi] = len(candidates)
    counts = Counter()
    for r, cells in enumerate(rows(cvr), start=1):
        if r < first_row:
            continue
        marks = [cells.get(col, "") for col in sorted(cells, key=column_index) if column_index(col) >= first_col]
        marks = marks[:max_ranks]
        ranking, skipped = [], 0
        for mark in marks:
            if mark in ("", under):
                skipped += 1
                if skipped == 2:
                    break
                continue
            skipped = 0
            if mark == over:
                if overvote_rule == "exhaustImmediately":
                    break
                continue
            o = index[mark]
            if o not in ranking:
                ranking.append(o)
        counts[tuple(ranking)] += 1
    tokens = ["c%d" % (i + 1) for i in range(len(options))]
    print('{version: "0.1"}')
    print("{title: %s}" % json.dumps(title, ensure_ascii=False))
    print('{method: "ranked"}')
    print("{seats: 1}")
    for t, name in zip(tokens, options):
        print("=%s:[%s]" % (t, name))
    for ranking, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        print("%d:%s" % (n, ">".join(tokens[o] for o in ranking)))


main()
