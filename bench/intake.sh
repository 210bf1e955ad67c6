#!/usr/bin/env bash
# vote-intake under load, one run, the whole platform on this machine (RabbitMQ, PostgreSQL,
# vote-engine, vote-intake and loadgen's HTTP clients share its cores):
#   (a) throughput: `loadgen http` unpaced, every citizen with a token of their own, until
#       BENCH_INTAKE_VOTES votes are answered 202; votes/s from the first request to the commit
#       of the last vote, checked exactly by `loadgen verify`; CPU per vote of the intake
#       (token verification included), of RabbitMQ, PostgreSQL and the engine;
#   (b) latency at a steady 2,000 votes/s for BENCH_INTAKE_SECONDS: request -> 202 (loadgen)
#       and request -> commit (vote_audit.recorded_at - timestamp, the intake's arrival time);
#   (c) with BENCH_INTAKE_SWEEP=1, (a) again for a few INTAKE_BATCH_SIZE / INTAKE_BATCH_LINGER_MS
#       pairs (the measurement behind their defaults, docs/decisions/026-intake-batching.md).
# Records (a) and (b) as the current intake run of bench/RESULTS.md; the run they replace goes to
# bench/history/runs.md.
#
#   bench/intake.sh
#   BENCH_INTAKE_VOTES=400000 BENCH_INTAKE_SWEEP=1 bench/intake.sh
set -euo pipefail
cd "$(dirname "$0")/.."

INTAKE_VOTES=${BENCH_INTAKE_VOTES:-200000}
LATENCY_SECONDS=${BENCH_INTAKE_SECONDS:-30}
CONNECTIONS=${BENCH_INTAKE_CONNECTIONS:-64}
CITIZENS=${BENCH_INTAKE_CITIZENS:-50000}
INTAKE_PORT=15030
source bench/lib.sh
# Names of its own, so that it can run beside bench/e2e.sh.
QUEUE=bench.intake.votes
DB=bench_intake
DB_URL="postgres://postgres@127.0.0.1:5432/$DB"
PORT=18082
bench_setup vote-engine vote-loadgen vote-intake
scripts/dev-auth-keys.sh "$WORK/auth" 2>/dev/null
# shellcheck disable=SC1091
source "$WORK/auth/env"
RECEIPT_KEY=$(openssl rand -hex 32)

start_engine() {
  env RABBITMQ_QUEUE=$QUEUE DATABASE_URL=$DB_URL PROMETHEUS_PORT=$PORT RUN_MIGRATIONS=false LOG_LEVEL=warn \
    VOTES_PER_MESSAGE=50 "$BIN/vote-engine" 2>"$WORK/engine.log" &
  engine=$!
  until curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null; do sleep 0.1; done
}
# start_intake [ENV=VALUE ...]: the intake with these settings on top of its defaults.
start_intake() {
  env AMQP_URL=amqp://guest:guest@127.0.0.1:5672/%2f RABBITMQ_QUEUE=$QUEUE DATABASE_URL=$DB_URL \
    HTTP_PORT=$INTAKE_PORT INTAKE_RECEIPT_KEY=$RECEIPT_KEY INTAKE_RATE_BURST=100 LOG_LEVEL=warn "$@" \
    "$BIN/vote-intake" 2>"$WORK/intake.log" &
  intake=$!
  until curl -sf "http://127.0.0.1:$INTAKE_PORT/readyz" >/dev/null; do sleep 0.1; done
}
stop_intake() { kill -TERM "$intake"; wait "$intake" || true; }
ticks_of_pid() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# sql QUERY: one value from the bench database.
sql() { psql -h 127.0.0.1 -U postgres -d "$DB" -tAc "$1"; }

# throughput NAME [ENV=VALUE ...]: run (a) with these intake settings; writes $WORK/NAME.json.
throughput() {
  local name=$1; shift
  start_intake "$@"
  local laws=$(( (INTAKE_VOTES + CITIZENS - 1) / CITIZENS ))
  local prefix="http-$name-"
  local i0 b0 p0 e0 t0 tick
  tick=$(getconf CLK_TCK)
  i0=$(ticks_of_pid "$intake"); b0=$(ticks_of beam.smp); p0=$(ticks_of postgres); e0=$(ticks_of_pid "$engine")
  t0=$(date +%s.%N)
  "$BIN/loadgen" http --url "http://127.0.0.1:$INTAKE_PORT" --citizens "$CITIZENS" --laws "$laws" \
    --count "$INTAKE_VOTES" --connections "$CONNECTIONS" --law-prefix "$prefix" --seed "$SEED" \
    --expected "$WORK/$name.expected.json" --json >"$WORK/$name.http.json"
  "$BIN/loadgen" verify --database-url "$DB_URL" --expected "$WORK/$name.expected.json" --poll 20ms --timeout 300s \
    --json >"$WORK/$name.verify.json" || { echo "$name: count NOT exact: $(cat "$WORK/$name.verify.json")" >&2; exit 1; }
  local i1 b1 p1 e1 accepted last signing
  i1=$(ticks_of_pid "$intake"); b1=$(ticks_of beam.smp); p1=$(ticks_of postgres); e1=$(ticks_of_pid "$engine")
  accepted=$(json "$WORK/$name.http.json" "d['accepted']")
  signing=$(json "$WORK/$name.http.json" "d['token_signing_s']")
  last=$(sql "SELECT extract(epoch FROM max(recorded_at)) FROM vote_audit WHERE law_id LIKE '$prefix%'")
  stop_intake
  python3 - "$WORK/$name.json" <<PY
import json, sys
http = json.load(open("$WORK/$name.http.json"))
accepted, tick = $accepted, $tick
# loadgen signs every citizen's token before its first request: not part of the run.
start = $t0 + $signing
json.dump(dict(
    name="$name", settings="$*", accepted=accepted,
    rate=round(accepted / ($last - start)),
    accept_p50_ms=round(http["accept_latency_us"]["p50_us"] / 1000, 1),
    accept_p99_ms=round(http["accept_latency_us"]["p99_us"] / 1000, 1),
    intake_cpu_us=round(($i1 - $i0) / tick / accepted * 1e6, 1),
    broker_cpu_us=round(($b1 - $b0) / tick / accepted * 1e6, 1),
    postgres_cpu_us=round(($p1 - $p0) / tick / accepted * 1e6, 1),
    engine_cpu_us=round(($e1 - $e0) / tick / accepted * 1e6, 1),
), open(sys.argv[1], "w"))
PY
  echo "$name ($*): $(cat "$WORK/$name.json")" >&2
}

reset_db
DATABASE_URL=$DB_URL "$BIN/vote-engine" migrate >/dev/null 2>&1
start_engine

say "(a) throughput: $INTAKE_VOTES votes by $CITIZENS citizens over $CONNECTIONS keep-alive connections, unpaced"
throughput default

say "(b) latency at a steady 2,000 votes/s for ${LATENCY_SECONDS} s"
start_intake
"$BIN/loadgen" http --url "http://127.0.0.1:$INTAKE_PORT" --citizens "$CITIZENS" --laws 100 --rate 2000 \
  --duration "${LATENCY_SECONDS}s" --connections "$CONNECTIONS" --law-prefix http-lat- --seed "$SEED" \
  --expected "$WORK/lat.expected.json" --json >"$WORK/lat.http.json"
"$BIN/loadgen" verify --database-url "$DB_URL" --expected "$WORK/lat.expected.json" --poll 20ms --timeout 120s \
  --json >"$WORK/lat.verify.json" || { echo "latency run: count NOT exact" >&2; exit 1; }
stop_intake
read -r commit_p50 commit_p99 < <(sql "SELECT round((percentile_cont(0.5) WITHIN GROUP (ORDER BY d) * 1000)::numeric, 1),
    round((percentile_cont(0.99) WITHIN GROUP (ORDER BY d) * 1000)::numeric, 1)
  FROM (SELECT extract(epoch FROM recorded_at - \"timestamp\") AS d FROM vote_audit WHERE law_id LIKE 'http-lat-%') s" | tr '|' ' ')
lat_p50=$(json "$WORK/lat.http.json" "round(d['accept_latency_us']['p50_us'] / 1000, 1)")
lat_p99=$(json "$WORK/lat.http.json" "round(d['accept_latency_us']['p99_us'] / 1000, 1)")
lat_rate=$(json "$WORK/lat.http.json" "round(d['accepted_per_s'])")
echo "at 2,000/s ($lat_rate accepted/s): request -> 202 p50 $lat_p50 ms, p99 $lat_p99 ms; request -> commit p50 $commit_p50 ms, p99 $commit_p99 ms" >&2

if [ "${BENCH_INTAKE_SWEEP:-0}" = 1 ]; then
  say "(c) batching sweep"
  for setting in "1 0" "20 2" "100 0" "100 2" "100 5" "500 2"; do
    read -r size linger <<<"$setting"
    throughput "n${size}-m${linger}" INTAKE_BATCH_SIZE="$size" INTAKE_BATCH_LINGER_MS="$linger"
  done
fi
stop_engine

machine="$(nproc) cores, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo), RabbitMQ $(dpkg-query -W -f '${Version}' rabbitmq-server 2>/dev/null || echo '?'), PostgreSQL $(psql -h 127.0.0.1 -U postgres -tAc 'SHOW server_version'), $RABBITMQ_QUEUE_TYPE queue, load average before the run $(cut -d' ' -f1-3 /proc/loadavg)"
commit="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- 2>/dev/null || echo +changes)"
python3 - "$WORK" <<PY
import glob, json, os, sys
work = sys.argv[1]
d = json.load(open(os.path.join(work, "default.json")))
runs = [p for p in glob.glob(os.path.join(work, "n*-m*.json")) if os.path.basename(p).count(".") == 1]
sweep = sorted((json.load(open(p)) for p in runs), key=lambda r: (int(r["name"][1:].split("-")[0]), r["name"]))
met = lambda ok: "met" if ok else "**not met**"
lines = [
    "## vote-intake",
    "",
    f"Run $(date -u '+%F %H:%M UTC'), commit \`$commit\`: \`BENCH_INTAKE_VOTES=$INTAKE_VOTES BENCH_INTAKE_CITIZENS=$CITIZENS "
    f"BENCH_INTAKE_CONNECTIONS=$CONNECTIONS BENCH_INTAKE_SECONDS=$LATENCY_SECONDS bench/intake.sh\`; $machine. "
    "The whole platform and the load generator share these cores; other work on the machine during the run "
    "shows in the figures, and the RabbitMQ and PostgreSQL CPU per vote count every client of those servers "
    "(other tests running at the same time included).",
    "",
    "| measure | result | target |",
    "|---|---|---|",
    f"| votes/s through one intake, HTTP request to committed row (exact) | {d['rate']:,} | >= 15,000: {met(d['rate'] >= 15000)} |",
    f"| unpaced: request -> 202 p50 / p99 | {d['accept_p50_ms']} / {d['accept_p99_ms']} ms |  |",
    f"| CPU per vote: intake (token verification included) | {d['intake_cpu_us']} µs |  |",
    f"| CPU per vote: RabbitMQ / PostgreSQL / engine | {d['broker_cpu_us']} / {d['postgres_cpu_us']} / {d['engine_cpu_us']} µs |  |",
    f"| at 2,000 votes/s ($lat_rate accepted/s): request -> 202 p50 / p99 | $lat_p50 / $lat_p99 ms | p99 <= 20 ms: {met($lat_p99 <= 20)} |",
    f"| at 2,000 votes/s: request -> commit p50 / p99 | $commit_p50 / $commit_p99 ms |  |",
]
if sweep:
    lines += ["", "Batching sweep (unpaced, as above):", "",
              "| INTAKE_BATCH_SIZE / LINGER_MS | votes/s | request -> 202 p50 / p99 | intake CPU per vote |", "|---|---|---|---|"]
    for r in sweep:
        lines.append(f"| {r['settings'].replace('INTAKE_BATCH_SIZE=', '').replace(' INTAKE_BATCH_LINGER_MS=', ' / ')} | "
                     f"{r['rate']:,} | {r['accept_p50_ms']} / {r['accept_p99_ms']} ms | {r['intake_cpu_us']} µs |")
table = "\n".join(lines) + "\n"
begin = "<!-- bench/intake.sh writes its current run below; the one it replaces goes to bench/history/runs.md -->"
end = "<!-- end of the current intake run -->"
text = open("bench/RESULTS.md").read()
if begin in text:
    head, rest = text.split(begin, 1)
    old, tail = rest.split(end, 1)
    with open("bench/history/runs.md", "a") as history:
        history.write("\n" + old.strip().replace("## vote-intake", "## vote-intake run", 1) + "\n")
else:
    marker = "<!-- end of the current run -->"
    head, tail = text.split(marker, 1)
    head, tail = head + marker + "\n\n", tail
text = head + begin + "\n" + table + end + tail
open("bench/RESULTS.md", "w").write(text)
print(table)
PY
echo "recorded in bench/RESULTS.md" >&2
