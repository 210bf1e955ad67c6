# Shared by bench/e2e.sh and bench/compare.sh: the pre-filled backlog and one engine drain of it,
# clocked and checked by `loadgen verify`. Source it from the repository root.

VOTES=${BENCH_VOTES:-500000}
QUEUE=bench.votes
DB=bench_votes
DB_URL="postgres://postgres@127.0.0.1:5432/$DB"
PORT=18081
SEED=20261123
BIN=target/release
# The type of the bench queue, for loadgen, the engine and the naive consumer alike (loadgen and
# the engine read RABBITMQ_QUEUE_TYPE themselves). `RABBITMQ_QUEUE_TYPE=classic bench/e2e.sh`
# measures a classic queue.
export RABBITMQ_QUEUE_TYPE=${RABBITMQ_QUEUE_TYPE:-quorum}

# shellcheck source=bench/common.sh
source bench/common.sh
json() { python3 -c "import json,sys; d=json.load(open('$1')); print($2)"; }
py() { python3 -c "print($1)"; }
reset_db() { dropdb -h 127.0.0.1 -U postgres --if-exists --force "$DB"; createdb -h 127.0.0.1 -U postgres "$DB"; }
# The same seed every time: the same backlog for each contender.
prefill() {
  fresh_wal
  "$BIN/loadgen" publish --queue "$QUEUE" --count "$VOTES" --seed "$SEED" --law-prefix bench- \
    --invalid-ratio 0 --duplicate-ratio 0.01 --connections 4 --window 4000 --no-progress \
    --expected "$WORK/expected.json" --json >"$WORK/publish.json"
}
# A quorum queue's messages go to RabbitMQ's shared write-ahead log and stay in memory until
# the log rolls over, when the messages still queued move to segment files and drain slower.
# Rolling the log over before every prefill, as RabbitMQ does by itself at 512 MiB, gives each
# contender a backlog of the same size in the same place, memory
# (docs/decisions/016-wal-roll-over-in-benchmarks.md).
fresh_wal() {
  [ "$RABBITMQ_QUEUE_TYPE" = quorum ] || return 0
  rabbitmqctl -q eval 'ok = ra_log_wal:force_roll_over(ra_log_wal), ra_log_segment_writer:await(ra_log_segment_writer).' >/dev/null
}
empty_queue() { "$BIN/loadgen" drain --queue "$QUEUE" --idle-ms 500 --json >/dev/null; }
# CPU ticks used so far by every process named $1 (the broker; PostgreSQL with all its
# processes: the engine's backends, WAL writer, checkpointer...), to show where each vote's CPU goes.
# The machine's busy share over a drain: a sampler of /proc/stat (one process, every 50 ms) runs
# in the background; busy_between START END (Unix seconds) gives the share of the cores busy
# between the two samples nearest those times, in % (idle and iowait are not busy). The drain is
# timed from the engine's start to the moment its count reached the total: `loadgen verify` goes
# on checking for a second after that, which must not count as the engine's idle time.
start_cpu_sampler() {
  python3 -u - >"$WORK/cpu-samples" <<'PY' &
import time
while True:
    f = open("/proc/stat").readline().split()[1:9]
    v = list(map(int, f))
    print(time.time(), v[0] + v[1] + v[2] + v[5] + v[6] + v[7], sum(v), flush=True)
    time.sleep(0.05)
PY
  cpu_sampler=$!
}
stop_cpu_sampler() { kill "$cpu_sampler" 2>/dev/null || true; wait "$cpu_sampler" 2>/dev/null || true; }
busy_between() {
  python3 - "$WORK/cpu-samples" "$1" "$2" <<'PY'
import sys
rows = [tuple(map(float, line.split())) for line in open(sys.argv[1]) if len(line.split()) == 3]
start, end = float(sys.argv[2]), float(sys.argv[3])
near = lambda t: min(rows, key=lambda r: abs(r[0] - t))
a, b = near(start), near(end)
print(round(100 * (b[1] - a[1]) / max(b[2] - a[2], 1), 1))
PY
}

# engine_drain [ENV=VALUE ...]: an empty database, the backlog, then the engine ($ENGINE_BIN,
# default the release build) with these settings on top of its defaults, until `loadgen verify`
# has seen every vote counted exactly. Leaves the engine running (pid in $engine) and sets
# engine_rate, cpu_us, broker_us, pg_us, rss_mib, cpu_bound, busy (share of the machine's cores
# busy during the drain, %). Exits 1 if the count is not exact.
engine_drain() {
  reset_db
  prefill
  # Each build migrates its own schema, so a build from before a migration runs without it.
  DATABASE_URL=$DB_URL "${ENGINE_BIN:-$BIN/vote-engine}" migrate >/dev/null 2>&1
  # The clock: `loadgen verify` started just before the engine, on one connection, with a cheap
  # query every 20 ms; it reports when the counted total first reached the expected total, then
  # checks every law exactly. (Polling with a new psql process per look would itself cost a
  # noticeable share of these two cores.)
  "$BIN/loadgen" verify --database-url "$DB_URL" --expected "$WORK/expected.json" --poll 20ms --timeout 600s \
    --json >"$WORK/verify.json" &
  local verifier=$! beam0 pg0 beam1 pg1 utime stime hwm_kib seconds tick started
  start_cpu_sampler
  beam0=$(ticks_of beam.smp); pg0=$(ticks_of postgres); started=$(date +%s.%N)
  env RABBITMQ_QUEUE=$QUEUE DATABASE_URL=$DB_URL PROMETHEUS_PORT=$PORT RUN_MIGRATIONS=false LOG_LEVEL=warn "$@" \
    "${ENGINE_BIN:-$BIN/vote-engine}" 2>"$WORK/engine.log" &
  engine=$!
  wait "$verifier" || { echo "engine count NOT exact: $(cat "$WORK/verify.json")" >&2; exit 1; }
  beam1=$(ticks_of beam.smp); pg1=$(ticks_of postgres)
  stop_cpu_sampler
  read -r utime stime < <(awk '{print $14, $15}' "/proc/$engine/stat")
  hwm_kib=$(awk '/VmHWM/ {print $2}' "/proc/$engine/status")
  seconds=$(json "$WORK/verify.json" "d['verify']['reached_seconds']")
  busy=$(busy_between "$started" "$(py "$started + $seconds")")
  tick=$(getconf CLK_TCK)
  engine_rate=$(py "round($VOTES / $seconds)")
  cpu_us=$(py "round(($utime + $stime) / $tick / $VOTES * 1e6, 2)")
  rss_mib=$(py "round($hwm_kib / 1024, 1)")
  broker_us=$(py "round(($beam1 - $beam0) / $tick / $VOTES * 1e6, 2)")
  pg_us=$(py "round(($pg1 - $pg0) / $tick / $VOTES * 1e6, 2)")
  cpu_bound=$(py "round($(nproc) * 1e6 / ($cpu_us + $broker_us + $pg_us))")
}

# bench_setup PACKAGE...: a scratch folder ($WORK, removed on exit with every background job),
# the services, release builds of these packages, and an empty bench queue.
bench_setup() {
  WORK=$(mktemp -d)
  trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
  scripts/setup-services.sh
  local packages=() p
  for p in "$@"; do packages+=(-p "$p"); done
  cargo build --release --quiet "${packages[@]}"
  # The bench queue is scratch: declared afresh, so a change of RABBITMQ_QUEUE_TYPE applies (the
  # type of an existing queue cannot change).
  rabbitmqctl -q delete_queue "$QUEUE" >/dev/null 2>&1 || true
  empty_queue
}

stop_engine() { kill -TERM "$engine"; wait "$engine"; }
