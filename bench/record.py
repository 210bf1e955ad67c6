#!/usr/bin/env python3
"""Records a bench/e2e.sh run: the figures become the current table of bench/RESULTS.md, and the
table they replace is appended to bench/history/runs.md.

    python3 bench/record.py FIGURES.json          # record a new run
    python3 bench/record.py --render-only         # redraw the current table from bench/e2e-current.json

Run from the repository root. FIGURES.json is what bench/e2e.sh writes (see bench/e2e-current.json
for the fields; a figure a run did not measure is null).
"""
import json
import shutil
import sys

RESULTS = "bench/RESULTS.md"
HISTORY = "bench/history/runs.md"
CURRENT = "bench/e2e-current.json"
BEGIN = "<!-- bench/e2e.sh writes the current run below; the one it replaces goes to bench/history/runs.md -->"
END = "<!-- end of the current run -->"

# The project's performance targets.
CEILING_RATIO = 0.85
NAIVE_RATIO = 10
ENGINE_CPU_US = 5
RSS_MIB = 64
BUSY_PCT = 90
P99_MS = {5000: 50, 100: 20}


def n(value, unit=""):
    if value is None:
        return "not recorded"
    text = f"{value:,}" if isinstance(value, int) else str(value)
    return text + unit


def ms(*values):
    return " / ".join("—" if v is None else str(v) for v in values) + " ms"


def verdict(ok):
    return "met" if ok else "**not met**"


def render(d):
    ceiling_ratio = round(d["engine_rate"] / d["ceiling_rate"], 3)
    naive_ratio = round(d["engine_rate"] / max(d["naive_rate"], 1), 1)
    rows = [
        ("broker ceiling: `loadgen drain`, consume and ack only", n(d["ceiling_rate"], " msg/s"), ""),
        ("`vote-engine`, default settings", n(d["engine_rate"], " votes/s") + (", exact" if d["exact"] else ", NOT exact"), ""),
        ("engine / broker ceiling", str(ceiling_ratio), f">= {CEILING_RATIO}: {verdict(ceiling_ratio >= CEILING_RATIO)}"),
        ("naive consumer: one message, one transaction, one ack", n(d["naive_rate"], " msg/s"), ""),
        ("engine / naive consumer", f"{naive_ratio} x", f">= {NAIVE_RATIO} x: {verdict(naive_ratio >= NAIVE_RATIO)}"),
        ("engine CPU per vote", n(d["engine_cpu_us"], " µs"), f"<= {ENGINE_CPU_US} µs: {verdict(d['engine_cpu_us'] <= ENGINE_CPU_US)}"),
        ("RabbitMQ + PostgreSQL CPU per vote", f"{d['broker_cpu_us']} + {d['postgres_cpu_us']} µs: "
         f"{d['cores']} cores allow at most {n(d['cpu_bound_rate'])} votes/s", ""),
        ("cores busy during the drain", "not recorded" if d.get("busy_pct") is None else f"{d['busy_pct']} %",
         f">= {BUSY_PCT} %: {verdict(d['busy_pct'] >= BUSY_PCT)}" if d.get("busy_pct") is not None else ""),
        ("engine peak RSS", n(d["engine_rss_mib"], " MiB"), f"<= {RSS_MIB} MiB: {verdict(d['engine_rss_mib'] <= RSS_MIB)}"),
    ]
    for lat in d["latency"]:
        rate = lat["rate"]
        target = P99_MS.get(rate)
        rows.append((f"latency at {rate:,} votes/s: p50 / p99 / p99.9",
                     ms(lat["p50_ms"], lat["p99_ms"], lat["p999_ms"]),
                     f"p99 <= {target} ms: {verdict(lat['p99_ms'] <= target)}" if target else ""))
        if lat.get("confirm_p99_ms") is not None:
            rows.append((f"at {rate:,} votes/s: p99 up to the broker's confirm / after it",
                         ms(lat["confirm_p99_ms"], lat["after_confirm_p99_ms"]), ""))
        rows.append((f"at {rate:,} votes/s: committed within {lat['within_ms']} ms (engine histogram, commit included)",
                     n(lat["within_pct"], " %"), ""))
    table = ["| measure | result | target |", "|---|---|---|"] + [f"| {a} | {b} | {c} |" for a, b, c in rows]
    header = (f"Run {d['time']}, commit `{d['commit']}`, backlog {n(d['votes'])} votes: `{d['command']}`; "
              f"{d['machine']}:")
    lines = ["## Current run", "", header, "", *table]
    if "—" in "".join(b for _, b, _ in rows):
        lines += ["", "—: not recorded by this run."]
    return "\n".join(lines) + "\n\n"


def main():
    args = sys.argv[1:]
    render_only = args == ["--render-only"]
    if not render_only and len(args) != 1:
        sys.exit(__doc__)
    source = CURRENT if render_only else args[0]
    with open(source) as f:
        figures = json.load(f)
    with open(RESULTS) as f:
        text = f.read()
    try:
        head, rest = text.split(BEGIN + "\n", 1)
        old, tail = rest.split(END + "\n", 1)
    except ValueError:
        sys.exit(f"{RESULTS}: the current-run markers are missing")
    if not render_only and old.strip():
        archived = old.replace("## Current run\n\n", "", 1).strip("\n")
        with open(HISTORY, "a") as f:
            f.write("\n" + archived + "\n")
    with open(RESULTS, "w") as f:
        f.write(head + BEGIN + "\n" + render(figures) + END + "\n" + tail)
    if not render_only:
        shutil.copyfile(source, CURRENT)


if __name__ == "__main__":
    main()
