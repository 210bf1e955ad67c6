#!/usr/bin/env bash
# Scaling on one machine, side by side in one run: the same backlog published through the
# sharded intake (consistent-hash exchange, VOTE_SHARDS quorum queues) and drained by 1 or 2
# engines, for 1, 2 and 4 shards. For each: the drain rate, the CPU per vote of the engines, of
# RabbitMQ and of PostgreSQL, and the share of the cores busy. The question it answers is not the
# total (two cores are two cores) but whether CPU per vote grows with shards and engines: the
# cost of coordination. Writes the table into bench/RESULTS.md (the run it replaces goes to
# bench/history/scale.md).
#
#   bench/scale.sh                     # 300,000 votes over 100 laws per configuration
#   BENCH_VOTES=600000 BENCH_ROUNDS=3 bench/scale.sh   # every configuration 3 times, interleaved
#   BENCH_LAWS=1 bench/scale.sh        # one law: the single-row hot spot (1 shard gets it all)
set -euo pipefail
cd "$(dirname "$0")/.."

source bench/lib.sh
VOTES=${BENCH_VOTES:-300000}
LAWS=${BENCH_LAWS:-100}
CONFIGS=${BENCH_CONFIGS:-"1:1 1:2 2:1 2:2 4:1 4:2"}
ROUNDS=${BENCH_ROUNDS:-2}
bench_setup vote-engine vote-loadgen

# The shards engine $2 of $3 consumes out of $1 (both engines share a single shard).
indexes() {
  local shards=$1 engine=$2 engines=$3 i out=""
  for ((i = 0; i < shards; i++)); do
    if [ "$engines" -eq 1 ] || [ "$shards" -eq 1 ] || [ $((i * engines / shards)) -eq "$engine" ]; then
      out="${out:+$out,}$i"
    fi
  done
  echo "$out"
}

rows=()
for round in $(seq 1 "$ROUNDS"); do for config in $CONFIGS; do
  shards=${config%:*} engines=${config#*:}
  base="bench.scale.s$shards" exchange="bench.scale.s$shards.votes"
  say "round $round: $shards shard(s), $engines engine(s), $VOTES votes over $LAWS laws"
  reset_db
  DATABASE_URL=$DB_URL "$BIN/vote-engine" migrate >/dev/null 2>&1
  for ((i = 0; i < shards; i++)); do rabbitmqctl -q delete_queue "$base.$i" >/dev/null 2>&1 || true; done
  env RABBITMQ_QUEUE="$base" VOTE_SHARDS="$shards" VOTE_EXCHANGE="$exchange" "$BIN/vote-engine" declare >/dev/null 2>&1
  fresh_wal
  "$BIN/loadgen" publish --exchange "$exchange" --queue "$base" --count "$VOTES" --seed "$SEED" --law-prefix bench- \
    --laws "$LAWS" --zipf 0 --invalid-ratio 0 --duplicate-ratio 0.01 --connections 4 --window 4000 --no-progress \
    --expected "$WORK/expected.json" --json >"$WORK/publish.json"
  "$BIN/loadgen" verify --database-url "$DB_URL" --expected "$WORK/expected.json" --poll 20ms --timeout 600s \
    --json >"$WORK/verify.json" &
  verifier=$!
  start_cpu_sampler
  beam0=$(ticks_of beam.smp); pg0=$(ticks_of postgres); started=$(date +%s.%N)
  pids=()
  for ((e = 0; e < engines; e++)); do
    env RABBITMQ_QUEUE="$base" VOTE_SHARDS="$shards" SHARD_INDEXES="$(indexes "$shards" "$e" "$engines")" \
      VOTE_EXCHANGE="$exchange" DATABASE_URL=$DB_URL PROMETHEUS_PORT=$((PORT + e)) RUN_MIGRATIONS=false \
      LOG_LEVEL=warn "$BIN/vote-engine" 2>"$WORK/engine-$e.log" &
    pids+=($!)
  done
  wait "$verifier" || { echo "NOT exact: $(cat "$WORK/verify.json")" >&2; exit 1; }
  beam1=$(ticks_of beam.smp); pg1=$(ticks_of postgres)
  stop_cpu_sampler
  engine_ticks=0
  for pid in "${pids[@]}"; do engine_ticks=$((engine_ticks + $(awk '{print $14 + $15}' "/proc/$pid/stat"))); done
  for pid in "${pids[@]}"; do kill -TERM "$pid"; wait "$pid" || true; done
  seconds=$(json "$WORK/verify.json" "d['verify']['reached_seconds']")
  tick=$(getconf CLK_TCK)
  per_vote() { py "round($1 / $tick / $VOTES * 1e6, 2)"; }
  rate=$(py "round($VOTES / $seconds)")
  engine_us=$(per_vote "$engine_ticks"); broker_us=$(per_vote $((beam1 - beam0))); pg_us=$(per_vote $((pg1 - pg0)))
  total_us=$(py "round($engine_us + $broker_us + $pg_us, 2)")
  busy=$(busy_between "$started" "$(py "$started + $seconds")")
  row="| $shards | $engines | $round | $(py "f'{$rate:,}'") | $engine_us | $broker_us | $pg_us | $total_us | $busy % |"
  echo "$row" >&2
  rows+=("$row")
  for ((i = 0; i < shards; i++)); do
    rabbitmqctl -q delete_queue "$base.$i" >/dev/null 2>&1 || true
    rabbitmqctl -q delete_queue "$base.$i.dlq" >/dev/null 2>&1 || true
  done
done; done
# Mean over the rounds per configuration, and each one's CPU per vote against 1 shard, 1 engine.
summary=$(printf '%s\n' "${rows[@]}" | python3 -c '
import sys, collections
runs = collections.defaultdict(list)
for line in sys.stdin:
    c = [x.strip() for x in line.strip().strip("|").split("|")]
    runs[(int(c[0]), int(c[1]))].append((float(c[3].replace(",", "")), float(c[7]), float(c[8].rstrip(" %"))))
mean = lambda xs: sum(xs) / len(xs)
base = mean([r[1] for r in runs[(1, 1)]]) if (1, 1) in runs else None
print("| shards | engines | votes/s (mean) | all µs/vote (mean) | against 1 shard, 1 engine | cores busy (mean) |")
print("|---|---|---|---|---|---|")
for (shards, engines), r in sorted(runs.items()):
    cpu = mean([x[1] for x in r])
    ratio = f"{cpu / base:.2f}" if base else "-"
    print(f"| {shards} | {engines} | {mean([x[0] for x in r]):,.0f} | {cpu:.2f} | {ratio} | {mean([x[2] for x in r]):.1f} % |")
')

commit="$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- 2>/dev/null || echo +changes)"
machine="$(nproc) cores, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo), RabbitMQ $(dpkg-query -W -f '${Version}' rabbitmq-server 2>/dev/null || echo '?'), PostgreSQL $(psql -h 127.0.0.1 -U postgres -tAc 'SHOW server_version')"
table="$(date -u '+%F %H:%M UTC'), commit $commit, $machine. \`BENCH_VOTES=$VOTES BENCH_LAWS=$LAWS bench/scale.sh\`:
$VOTES votes (1 % duplicates) over $LAWS equally popular laws, published to the consistent-hash exchange
before the engines start, drained $ROUNDS times per configuration (interleaved); CPU per vote from
/proc of each process over the drain; cores busy from /proc/stat between the engines' start and
the last vote counted.

$summary

| shards | engines | round | votes/s | engines µs/vote | RabbitMQ µs/vote | PostgreSQL µs/vote | all µs/vote | cores busy |
|---|---|---|---|---|---|---|---|---|
$(printf '%s\n' "${rows[@]}")"
printf '\n%s\n' "$table" >&2
TABLE=$table python3 - <<'PY'
import os
begin = "<!-- bench/scale.sh writes its run below; the one it replaces goes to bench/history/scale.md -->"
end = "<!-- end of the scale run -->"
path, history = "bench/RESULTS.md", "bench/history/scale.md"
text = open(path).read()
if begin not in text or end not in text:
    raise SystemExit(f"{path} has no lines '{begin}' / '{end}'")
head, rest = text.split(begin, 1)
old, tail = rest.split(end, 1)
if old.strip():
    if not os.path.exists(history):
        open(history, "w").write("# Earlier bench/scale.sh runs\n\nNewest first.\n")
    top, _, older = open(history).read().partition("\n\n")
    intro, _, runs = older.partition("\n")
    open(history, "w").write(f"{top}\n\n{intro}\n\n{old.strip()}\n{runs}")
open(path, "w").write(f"{head}{begin}\n{os.environ['TABLE']}\n{end}{tail}")
PY
echo "recorded in bench/RESULTS.md" >&2
