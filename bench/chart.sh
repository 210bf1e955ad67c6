#!/usr/bin/env bash
# Draws bench/e2e.png from bench/e2e-current.json (the figures bench/e2e.sh recorded last): the
# drain rate of each contender, and the latency percentiles at each steady rate. Installs
# gnuplot from Debian packages when it is missing.
#
#   bench/chart.sh [FIGURES.json [OUT.png]]
set -euo pipefail
cd "$(dirname "$0")/.."
figures=${1:-bench/e2e-current.json}
out=${2:-bench/e2e.png}

if ! command -v gnuplot >/dev/null 2>&1; then
  echo "chart: installing gnuplot-nox from Debian packages" >&2
  as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends gnuplot-nox >/dev/null
fi

data=$(mktemp -d)
trap 'rm -rf "$data"' EXIT
# Bars with explicit x positions: x, value, label, colour index.
python3 - "$figures" "$data" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
out = sys.argv[2]
with open(f"{out}/drain.dat", "w") as f:
    bars = [("broker ceiling", d["ceiling_rate"]), ("vote-engine", d["engine_rate"]),
            (f"CPU bound\\n({d['cores']} cores)", d["cpu_bound_rate"]), ("naive consumer", d["naive_rate"])]
    for x, (name, rate) in enumerate(bars):
        f.write(f'{x} {rate} "{name}" "{rate:,}" {x + 1}\n')
with open(f"{out}/drain.gp", "w") as f:
    target = round(0.85 * d["ceiling_rate"])
    f.write(f"set arrow from -0.5,{target} to 3.5,{target} nohead dt 2 lw 1.5 lc rgb 'red'\n")
    f.write(f'set label "engine target: 0.85 x ceiling" at 3.45,{target} right offset 0,0.8 tc rgb "red"\n')
with open(f"{out}/latency.dat", "w") as f:
    for g, lat in enumerate(d["latency"]):
        for k, key in enumerate(("p50_ms", "p99_ms", "p999_ms")):
            value = lat[key]
            f.write(f'{g * 4 + k} {value if value is not None else 0} "{value if value is not None else "n/r"}" {k + 1}\n')
# The project's p99 targets, drawn as dashed lines over each rate's bars.
P99_TARGET_MS = {5000: 50, 100: 20}
with open(f"{out}/latency.gp", "w") as f:
    tics = ", ".join(f'"{lat["rate"]:,} votes/s" {g * 4 + 1}' for g, lat in enumerate(d["latency"]))
    f.write(f"set xtics ({tics})\n")
    f.write(f"set xrange [-1:{len(d['latency']) * 4 - 1}]\n")
    tops = [lat[k] or 0 for lat in d["latency"] for k in ("p50_ms", "p99_ms", "p999_ms")]
    tops += [P99_TARGET_MS.get(lat["rate"], 0) for lat in d["latency"]]
    f.write(f"set yrange [0:{max(tops) * 1.15:.1f}]\n")
    for g, lat in enumerate(d["latency"]):
        target = P99_TARGET_MS.get(lat["rate"])
        if target:
            f.write(f"set arrow from {g * 4 - 0.6},{target} to {g * 4 + 2.6},{target} nohead dt 2 lw 1.5 lc rgb 'red'\n")
            f.write(f'set label "p99 target {target} ms" at {g * 4 - 0.6},{target} left offset 0,0.8 tc rgb "red"\n')
with open(f"{out}/title.gp", "w") as f:
    f.write(f'set multiplot layout 1,2 title "bench/e2e.sh, {d["time"]}, commit {d["commit"]}, {d["votes"]:,}-vote backlog" font ",13"\n')
PY

gnuplot <<GP
set terminal pngcairo size 1200,520 font "Sans,10"
set output "$out"
load "$data/title.gp"
set bmargin 5
set title "drain of the backlog"
set style fill solid 0.85 border -1
set boxwidth 0.7
set grid ytics
set yrange [0:*]
set format y "%.0f"
set ylabel "votes (messages) per second"
set xrange [-0.6:3.6]
set xtics scale 0
set key off
load "$data/drain.gp"
plot "$data/drain.dat" using 1:2:5:xtic(3) with boxes lc variable, \
     "" using 1:2:4 with labels offset 0,0.8
unset arrow
unset label
set title "latency at a steady rate, publish -> committed row (n/r: not recorded)"
set ylabel "milliseconds"
load "$data/latency.gp"
set key top right
plot "$data/latency.dat" using 1:2:4 with boxes lc variable notitle, \
     "" using 1:2:3 with labels offset 0,0.8 notitle, \
     NaN with boxes lc 1 title "p50", NaN with boxes lc 2 title "p99", NaN with boxes lc 3 title "p99.9"
unset multiplot
GP
echo "chart: wrote $out" >&2
