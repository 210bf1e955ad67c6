#!/usr/bin/env python3
"""Converts a PrefLib .toi file (count: a,b,{c,d},e with {..} an overvote) to aggregated ABIF.
An overvote ends the ballot's ranking, except where README.md names a ballot converted by
hand (the official count resolved it once all but one of its candidates were eliminated).

Usage: convert_preflib.py FILE.toi TITLE > election.abif
"""

import re
import sys
from collections import Counter


def main():
    path, title = sys.argv[1], sys.argv[2]
    names, counts = {}, Counter()
    for line in open(path, encoding="utf-8"):
        line = line.strip()
        m = re.match(r"# ALTERNATIVE NAME (\d+): (.*)", line)
        if m:
            names[int(m.group(1))] = m.group(2).strip()
            continue
        if not line or line.startswith("#"):
            continue
        n, prefs = line.split(":", 1)
        ranking = []
        for item in re.findall(r"\{[^}]*\}|\d+", prefs):
            if item.startswith("{"):
                break
            ranking.append(int(item))
        counts[tuple(ranking)] += int(n)
    tokens = {i: re.sub(r"[^A-Za-z0-9_]", "", name.split()[-1]) or "c%d" % i for i, name in names.items()}
    assert len(set(tokens.values())) == len(tokens), "token clash"
    print('{version: "0.1"}')
    print('{title: "%s"}' % title)
    print('{method: "ranked"}')
    print("{seats: 1}")
    for i in sorted(names):
        print("=%s:[%s]" % (tokens[i], names[i]))
    for ranking, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        print("%d:%s" % (n, ">".join(tokens[o] for o in ranking)))


main()
