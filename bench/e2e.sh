#!/usr/bin/env bash
# Side-by-side end-to-end benchmark, one run, one machine, the same pre-filled backlog:
#   (a) the broker ceiling: `loadgen drain` consumes and acks, doing nothing else;
#   (b) vote-engine with its default configuration;
#   (c) a naive consumer: one message, one transaction, one ack;
# then end-to-end latency at a steady 5,000 and 100 votes/s. Prints the figures and appends
# them to bench/RESULTS.md.
#
#   bench/e2e.sh                  # 500,000-vote backlog
#   BENCH_VOTES=1000000 bench/e2e.sh
set -euo pipefail
cd "$(dirname "$0")/.."

VOTES=${BENCH_VOTES:-500000}
NAIVE_SECONDS=${BENCH_NAIVE_SECONDS:-30}
LATENCY_SECONDS=${BENCH_LATENCY_SECONDS:-30}
QUEUE=bench.votes
DB=bench_votes
DB_URL="postgres://postgres@127.0.0.1:5432/$DB"
PORT=18081
SEED=20261123
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT

scripts/setup-services.sh
cargo build --release --quiet -p vote-engine -p vote-loadgen -p vote-bench
BIN=target/release
say() { printf '\n== %s\n' "$*" >&2; }
json() { python3 -c "import json,sys; d=json.load(open('$1')); print($2)"; }
reset_db() { dropdb -h 127.0.0.1 -U postgres --if-exists --force "$DB"; createdb -h 127.0.0.1 -U postgres "$DB"; }
prefill() {
  # The same seed every time: the same backlog for each contender.
  "$BIN/loadgen" publish --queue "$QUEUE" --count "$VOTES" --seed "$SEED" --law-prefix bench- \
    --invalid-ratio 0 --duplicate-ratio 0.01 --connections 4 --window 4000 --no-progress \
    --expected "$WORK/expected.json" --json >"$WORK/publish.json"
}
# CPU ticks used so far by the broker and by PostgreSQL (all its processes: the engine's
# backends, WAL writer, checkpointer...), to show where each vote's CPU goes.
ticks_of() { local t=0 p; for p in $(pgrep -x "$1"); do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0))); done; echo "$t"; }

"$BIN/loadgen" drain --queue "$QUEUE" --idle-ms 500 --json >/dev/null   # start from an empty queue

say "(a) broker ceiling: loadgen drain of $VOTES persistent votes"
prefill
"$BIN/loadgen" drain --queue "$QUEUE" --idle-ms 1000 --json >"$WORK/drain.json"
ceiling=$(json "$WORK/drain.json" "round(d['rate'])")
echo "broker ceiling: $ceiling msg/s" >&2

say "(b) vote-engine, default configuration, same backlog"
reset_db
prefill
DATABASE_URL=$DB_URL "$BIN/vote-engine" migrate >/dev/null 2>&1
# The clock: `loadgen verify` started just before the engine, on one connection, with a cheap
# query every 20 ms; it reports when the counted total first reached the expected total, then
# checks every law exactly. (Polling with a new psql process per look would itself cost a
# noticeable share of these two cores.)
"$BIN/loadgen" verify --database-url "$DB_URL" --expected "$WORK/expected.json" --poll 20ms --timeout 600s \
  --json >"$WORK/verify.json" &
verifier=$!
beam0=$(ticks_of beam.smp); pg0=$(ticks_of postgres)
RABBITMQ_QUEUE=$QUEUE DATABASE_URL=$DB_URL PROMETHEUS_PORT=$PORT RUN_MIGRATIONS=false LOG_LEVEL=warn \
  "$BIN/vote-engine" 2>"$WORK/engine.log" &
engine=$!
wait "$verifier" || { echo "engine count NOT exact: $(cat "$WORK/verify.json")" >&2; exit 1; }
beam1=$(ticks_of beam.smp); pg1=$(ticks_of postgres)
read -r utime stime < <(awk '{print $14, $15}' "/proc/$engine/stat")
hwm_kib=$(awk '/VmHWM/ {print $2}' "/proc/$engine/status")
seconds=$(json "$WORK/verify.json" "d['verify']['reached_seconds']")
engine_rate=$(python3 -c "print(round($VOTES / $seconds))")
tick=$(getconf CLK_TCK)
cpu_us=$(python3 -c "print(round(($utime + $stime) / $tick / $VOTES * 1e6, 2))")
rss_mib=$(python3 -c "print(round($hwm_kib / 1024, 1))")
broker_us=$(python3 -c "print(round(($beam1 - $beam0) / $tick / $VOTES * 1e6, 2))")
pg_us=$(python3 -c "print(round(($pg1 - $pg0) / $tick / $VOTES * 1e6, 2))")
cpu_bound=$(python3 -c "print(round($(nproc) * 1e6 / ($cpu_us + $broker_us + $pg_us)))")
echo "vote-engine: $engine_rate msg/s, $cpu_us us CPU/vote, peak RSS $rss_mib MiB (exact)" >&2
echo "CPU per vote during the engine's drain: engine $cpu_us us, RabbitMQ $broker_us us, PostgreSQL $pg_us us -> at most $cpu_bound votes/s on $(nproc) cores" >&2

say "(c) latency at a steady 5,000 and 100 votes/s (engine still running, defaults)"
run_latency() {
  "$BIN/loadgen" run --queue "$QUEUE" --database-url "$DB_URL" --rate "$1" --duration "${LATENCY_SECONDS}s" \
    --invalid-ratio 0.01 --duplicate-ratio 0.05 --no-progress --expected "$WORK/lat.json" --json >"$WORK/run-$1.json"
}
run_latency 5000
run_latency 100
lat() { json "$WORK/run-$1.json" "round(d['end_to_end_latency_us']['$2'] / 1000, 1)"; }
p50_5000=$(lat 5000 p50_us); p99_5000=$(lat 5000 p99_us); p999_5000=$(lat 5000 p999_us)
p50_100=$(lat 100 p50_us); p99_100=$(lat 100 p99_us)
for r in 5000 100; do
  json "$WORK/run-$r.json" "d.get('exact', d.get('verify', {}).get('exact', True))" | grep -q True ||
    { echo "loadgen run at $r/s NOT exact" >&2; exit 1; }
done
echo "latency p50/p99 at 5000/s: $p50_5000 / $p99_5000 ms; at 100/s: $p50_100 / $p99_100 ms" >&2
kill -TERM "$engine"; wait "$engine"

say "(d) naive per-message consumer, same backlog, ${NAIVE_SECONDS} s"
reset_db
DATABASE_URL=$DB_URL "$BIN/vote-engine" migrate >/dev/null 2>&1
prefill
naive_out=$("$BIN/naive-consumer" --queue "$QUEUE" --database-url "$DB_URL" --max-seconds "$NAIVE_SECONDS")
naive_rate=$(sed -E 's/.*= ([0-9]+) msg\/s.*/\1/' <<<"$naive_out")
echo "$naive_out" >&2
"$BIN/loadgen" drain --queue "$QUEUE" --idle-ms 500 --json >/dev/null

ratio_ceiling=$(python3 -c "print(round($engine_rate / $ceiling, 3))")
ratio_naive=$(python3 -c "print(round($engine_rate / max($naive_rate, 1), 1))")
machine="$(nproc) cores, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), RabbitMQ $(dpkg-query -W -f '${Version}' rabbitmq-server 2>/dev/null || echo '?'), PostgreSQL $(psql -h 127.0.0.1 -U postgres -tAc 'SHOW server_version')"
row="| $(date -u +%F) | $VOTES | $ceiling | $engine_rate | $ratio_ceiling | $naive_rate | $ratio_naive | $cpu_us | $broker_us + $pg_us | $cpu_bound | $rss_mib | $p99_5000 | $p99_100 |"
cat >&2 <<SUMMARY

broker ceiling        $ceiling msg/s
vote-engine           $engine_rate msg/s  (x$ratio_ceiling of the ceiling, x$ratio_naive the naive consumer)
naive consumer        $naive_rate msg/s
engine CPU per vote   $cpu_us us (RabbitMQ $broker_us us, PostgreSQL $pg_us us: $(nproc) cores allow at most $cpu_bound votes/s)
engine peak RSS       $rss_mib MiB
latency p99           $p99_5000 ms at 5,000/s (p99.9 $p999_5000), $p99_100 ms at 100/s
machine               $machine
SUMMARY
{
  echo
  echo "Run $(date -u '+%F %H:%M UTC'), \`bench/e2e.sh\` (BENCH_VOTES=$VOTES), $machine:"
  echo
  echo "| date | backlog | broker ceiling msg/s | engine msg/s | engine/ceiling | naive msg/s | engine/naive | engine CPU us/vote | RabbitMQ + PostgreSQL CPU us/vote | CPU-bound max votes/s | engine peak RSS MiB | p99 ms @5000/s | p99 ms @100/s |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
  echo "$row"
} >>bench/RESULTS.md
