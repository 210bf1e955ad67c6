#!/usr/bin/env bash
# Side-by-side end-to-end benchmark, one run, one machine, the same pre-filled backlog:
#   (a) the broker ceiling: `loadgen drain` consumes and acks, doing nothing else;
#   (b) vote-engine with its default configuration;
#   (c) a naive consumer: one message, one transaction, one ack;
# then end-to-end latency at a steady 5,000 and 100 votes/s. Prints the figures, records them as
# the current run of bench/RESULTS.md (bench/record.py; the run they replace goes to
# bench/history/runs.md) and draws bench/e2e.png (bench/chart.sh).
#
#   bench/e2e.sh                  # 500,000-vote backlog
#   BENCH_VOTES=1000000 bench/e2e.sh
#   RABBITMQ_QUEUE_TYPE=classic bench/e2e.sh   # the bench queue as a classic queue (default quorum)
set -euo pipefail
cd "$(dirname "$0")/.."

NAIVE_SECONDS=${BENCH_NAIVE_SECONDS:-30}
LATENCY_SECONDS=${BENCH_LATENCY_SECONDS:-30}
source bench/lib.sh
bench_setup vote-engine vote-loadgen vote-bench

say "(a) broker ceiling: loadgen drain of $VOTES persistent votes"
prefill
"$BIN/loadgen" drain --queue "$QUEUE" --idle-ms 1000 --json >"$WORK/drain.json"
ceiling=$(json "$WORK/drain.json" "round(d['rate'])")
echo "broker ceiling: $ceiling msg/s" >&2

say "(b) vote-engine, default configuration, same backlog"
engine_drain
echo "vote-engine: $engine_rate msg/s, $cpu_us us CPU/vote, peak RSS $rss_mib MiB (exact)" >&2
echo "CPU per vote during the engine's drain: engine $cpu_us us, RabbitMQ $broker_us us, PostgreSQL $pg_us us -> at most $cpu_bound votes/s on $(nproc) cores, $busy % busy" >&2

say "(c) latency at a steady 5,000 and 100 votes/s (engine still running, defaults)"
# The engine's own histogram of each vote's time from its timestamp to the commit that counted it
# (vote_end_to_end_latency_seconds, which includes the commit, unlike loadgen's figures), read
# around each run: the share of the run's votes committed within $2 seconds, in percent.
metrics() { python3 -c "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:$PORT/metrics').read().decode())" >"$1"; }
committed_within() {
  python3 - "$WORK/metrics-before-$1" "$WORK/metrics-after-$1" "$2" <<'PY'
import math, re, sys
def read(path, le):
    text = open(path).read()
    bucket = re.search(r'^vote_end_to_end_latency_seconds_bucket\{le="%s"\} (\S+)' % re.escape(le), text, re.M)
    count = re.search(r'^vote_end_to_end_latency_seconds_count (\S+)', text, re.M)
    return float(bucket.group(1)), float(count.group(1))
(b0, c0), (b1, c1) = read(sys.argv[1], sys.argv[3]), read(sys.argv[2], sys.argv[3])
# Rounded down: 100 only if every vote made it.
print(math.floor(10000 * (b1 - b0) / max(c1 - c0, 1)) / 100)
PY
}
run_latency() {
  metrics "$WORK/metrics-before-$1"
  "$BIN/loadgen" run --queue "$QUEUE" --database-url "$DB_URL" --rate "$1" --duration "${LATENCY_SECONDS}s" \
    --invalid-ratio 0.01 --duplicate-ratio 0.05 --no-progress --expected "$WORK/lat.json" --json >"$WORK/run-$1.json"
  metrics "$WORK/metrics-after-$1"
}
# The drained backlog is still in RabbitMQ's write-ahead log; rolling the log over drops it and
# stalls deliveries briefly. Done now, it does not land in a latency run at a moment that
# depends on the backlog's size (docs/decisions/016-wal-roll-over-in-benchmarks.md).
fresh_wal
run_latency 5000
run_latency 100
lat() { json "$WORK/run-$1.json" "round(d['${3:-end_to_end}_latency_us']['$2'] / 1000, 1)"; }
p50_5000=$(lat 5000 p50_us); p99_5000=$(lat 5000 p99_us); p999_5000=$(lat 5000 p999_us)
# Where the 5,000/s tail comes from: the broker's confirm (its log on disk) or what follows it.
confirm_p99_5000=$(json "$WORK/run-5000.json" "round(d['publish']['confirm_latency_us']['p99_us'] / 1000, 1)")
after_p99_5000=$(lat 5000 p99_us after_confirm)
within_50ms_5000=$(committed_within 5000 0.05); within_20ms_100=$(committed_within 100 0.02)
p50_100=$(lat 100 p50_us); p99_100=$(lat 100 p99_us); p999_100=$(lat 100 p999_us)
for r in 5000 100; do
  json "$WORK/run-$r.json" "d.get('exact', d.get('verify', {}).get('exact', True))" | grep -q True ||
    { echo "loadgen run at $r/s NOT exact" >&2; exit 1; }
done
echo "latency p50/p99 at 5000/s: $p50_5000 / $p99_5000 ms (confirm p99 $confirm_p99_5000, after confirm p99 $after_p99_5000; committed within 50 ms: $within_50ms_5000 %); at 100/s: $p50_100 / $p99_100 ms (committed within 20 ms: $within_20ms_100 %)" >&2
stop_engine

say "(d) naive per-message consumer, same backlog, ${NAIVE_SECONDS} s"
reset_db
DATABASE_URL=$DB_URL "$BIN/vote-engine" migrate >/dev/null 2>&1
prefill
naive_out=$("$BIN/naive-consumer" --queue "$QUEUE" --queue-type "$RABBITMQ_QUEUE_TYPE" --database-url "$DB_URL" --max-seconds "$NAIVE_SECONDS")
naive_rate=$(sed -E 's/.*= ([0-9]+) msg\/s.*/\1/' <<<"$naive_out")
echo "$naive_out" >&2
empty_queue

ratio_ceiling=$(python3 -c "print(round($engine_rate / $ceiling, 3))")
ratio_naive=$(python3 -c "print(round($engine_rate / max($naive_rate, 1), 1))")
# A policy on the bench queue (queue type or mode) changes every figure: say which one applied.
policy=$(rabbitmqctl -q list_queues name policy 2>/dev/null | awk -v q="$QUEUE" '$1 == q {print ($2 == "" ? "none" : $2)}')
machine="$(nproc) cores, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), RabbitMQ $(dpkg-query -W -f '${Version}' rabbitmq-server 2>/dev/null || echo '?'), PostgreSQL $(psql -h 127.0.0.1 -U postgres -tAc 'SHOW server_version'), $RABBITMQ_QUEUE_TYPE queue $QUEUE$([ "$RABBITMQ_QUEUE_TYPE" = quorum ] && echo " (write-ahead log rolled over before each prefill)"), policy: ${policy:-unknown}"
commit="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- 2>/dev/null || echo +changes)"
cat >&2 <<SUMMARY

broker ceiling        $ceiling msg/s
vote-engine           $engine_rate msg/s  (x$ratio_ceiling of the ceiling, x$ratio_naive the naive consumer)
naive consumer        $naive_rate msg/s
engine CPU per vote   $cpu_us us (RabbitMQ $broker_us us, PostgreSQL $pg_us us: $(nproc) cores allow at most $cpu_bound votes/s)
cores busy            $busy % of the drain
engine peak RSS       $rss_mib MiB
latency p99           $p99_5000 ms at 5,000/s (p99.9 $p999_5000; broker confirm p99 $confirm_p99_5000 ms, after the confirm p99 $after_p99_5000 ms), $p99_100 ms at 100/s
committed in time     $within_50ms_5000 % within 50 ms at 5,000/s, $within_20ms_100 % within 20 ms at 100/s (engine histogram, commit included)
machine               $machine
SUMMARY
figures="$WORK/figures.json"
python3 - "$figures" <<PY
import json, sys
latency = lambda rate, p50, p99, p999, confirm, after, within_ms, within_pct: dict(rate=rate, p50_ms=p50, p99_ms=p99,
    p999_ms=p999, confirm_p99_ms=confirm, after_confirm_p99_ms=after, within_ms=within_ms, within_pct=within_pct)
json.dump(dict(
    time="$(date -u '+%F %H:%M UTC')", commit="$commit",
    command="RABBITMQ_QUEUE_TYPE=$RABBITMQ_QUEUE_TYPE BENCH_VOTES=$VOTES BENCH_NAIVE_SECONDS=$NAIVE_SECONDS BENCH_LATENCY_SECONDS=$LATENCY_SECONDS bench/e2e.sh",
    machine="""$machine""", votes=$VOTES, cores=$(nproc),
    ceiling_rate=$ceiling, engine_rate=$engine_rate, naive_rate=$naive_rate,
    engine_cpu_us=$cpu_us, broker_cpu_us=$broker_us, postgres_cpu_us=$pg_us, cpu_bound_rate=$cpu_bound, busy_pct=$busy,
    engine_rss_mib=$rss_mib, exact=True,
    latency=[latency(5000, $p50_5000, $p99_5000, $p999_5000, $confirm_p99_5000, $after_p99_5000, 50, $within_50ms_5000),
             latency(100, $p50_100, $p99_100, $p999_100, None, None, 20, $within_20ms_100)],
), open(sys.argv[1], "w"), indent=2)
PY
python3 bench/record.py "$figures"
bench/chart.sh
echo "recorded in bench/RESULTS.md and bench/e2e.png" >&2
