#!/usr/bin/env bash
# The per-vote costs SCALING.md builds its capacity plan on, measured in one run on this machine:
#   (a) a drain over 100 laws: rate, CPU per vote of each process, WAL bytes per vote, and the
#       bytes each counted vote leaves in vote_audit (table and indexes) and vote_results;
#   (b) the same backlog on a single law: every batch updates one vote_results row (the
#       landslide hot spot);
#   (c) the broker alone (`loadgen drain`) with messages of 1 vote and of 100 votes: how much of
#       the broker's cost is per message rather than per byte;
#   (d) the engine's drain of the (a) backlog sent as `vote.batch` messages of 100 votes, beside
#       the same votes one per message, alternating, 2 rounds.
# Prints the figures as a Markdown table (paste it into SCALING.md with the command and date).
#
#   bench/capacity.sh                  # 300,000 votes
#   BENCH_VOTES=600000 bench/capacity.sh
#   BENCH_PARTS=c bench/capacity.sh    # only some of (a), (b), (c)
set -euo pipefail
cd "$(dirname "$0")/.."

source bench/lib.sh
VOTES=${BENCH_VOTES:-300000}
PARTS=${BENCH_PARTS:-abcd}
bench_setup vote-engine vote-loadgen
sql() { psql -X -h 127.0.0.1 -U postgres -d "$DB" -tAc "$1"; }

# drain LAWS [VOTES_PER_MESSAGE]: the backlog over LAWS laws (in messages of that many votes,
# default 1), drained by one engine with its defaults; sets rate,
# cpu (engine, RabbitMQ, PostgreSQL per vote), wal_per_vote and the table sizes per vote.
drain() {
  reset_db
  DATABASE_URL=$DB_URL "$BIN/vote-engine" migrate >/dev/null 2>&1
  fresh_wal
  "$BIN/loadgen" publish --queue "$QUEUE" --count "$VOTES" --seed "$SEED" --law-prefix bench- --laws "$1" \
    --citizens $((VOTES * 2)) --invalid-ratio 0 --duplicate-ratio 0.01 --votes-per-message "${2:-1}" \
    --connections 4 --window 4000 --no-progress \
    --expected "$WORK/expected.json" --json >"$WORK/publish.json"
  "$BIN/loadgen" verify --database-url "$DB_URL" --expected "$WORK/expected.json" --poll 20ms --timeout 600s \
    --json >"$WORK/verify.json" &
  local verifier=$! lsn0 lsn1 beam0 pg0 beam1 pg1 engine tick counted seconds
  lsn0=$(sql "SELECT pg_current_wal_lsn()")
  beam0=$(ticks_of beam.smp); pg0=$(ticks_of postgres)
  env RABBITMQ_QUEUE=$QUEUE DATABASE_URL=$DB_URL PROMETHEUS_PORT=$PORT RUN_MIGRATIONS=false LOG_LEVEL=warn \
    VOTES_PER_MESSAGE="${2:-1}" "$BIN/vote-engine" 2>"$WORK/engine.log" &
  engine=$!
  wait "$verifier" || { echo "NOT exact: $(cat "$WORK/verify.json")" >&2; exit 1; }
  beam1=$(ticks_of beam.smp); pg1=$(ticks_of postgres)
  local engine_ticks; engine_ticks=$(awk '{print $14 + $15}' "/proc/$engine/stat")
  kill -TERM "$engine"; wait "$engine" || true
  lsn1=$(sql "SELECT pg_current_wal_lsn()")
  tick=$(getconf CLK_TCK)
  counted=$(json "$WORK/verify.json" "d['verify']['counted']")
  seconds=$(json "$WORK/verify.json" "d['verify']['reached_seconds']")
  rate=$(py "round($VOTES / $seconds)")
  cpu="$(py "round($engine_ticks / $tick / $VOTES * 1e6, 2)") / $(py "round(($beam1 - $beam0) / $tick / $VOTES * 1e6, 2)") / $(py "round(($pg1 - $pg0) / $tick / $VOTES * 1e6, 2)")"
  wal_per_vote=$(py "round($(sql "SELECT pg_wal_lsn_diff('$lsn1', '$lsn0')") / $counted)")
  sql "CHECKPOINT" >/dev/null
  audit_table=$(py "round($(sql "SELECT pg_relation_size('vote_audit')") / $counted)")
  audit_indexes=$(py "round($(sql "SELECT pg_indexes_size('vote_audit')") / $counted)")
  results_bytes=$(sql "SELECT pg_total_relation_size('vote_results')")
}

rows=() broker=""
for part in a b; do
  [[ $PARTS == *$part* ]] || continue
  laws=$([ "$part" = a ] && echo 100 || echo 1)
  say "($part) $VOTES votes over $laws law(s)"
  drain "$laws"
  rows+=("| $laws law(s) | $(py "f'{$rate:,}'") | $cpu | $wal_per_vote | $audit_table + $audit_indexes | $results_bytes |")
  echo "${rows[-1]}" >&2
done

if [[ $PARTS == *c* ]]; then
say "(c) the broker alone: messages of 1 and of 100 votes"
# 100-vote messages: JSON arrays of votes as a batch envelope would carry them (the broker does
# not look inside): 10,000 of them, published one by one with confirms.
BATCHED=10000
python3 - "$BATCHED" >"$WORK/batched.txt" <<'PY'
import json, sys
for m in range(int(sys.argv[1])):
    votes = [{"vote_hash": f"h{m:07d}{i:03d}" + "0" * 54, "citizen_id": f"citizen-{m * 100 + i}",
              "law_id": f"bench-{i % 100:05d}", "choice": "oui" if i % 2 else "non",
              "timestamp": "2026-12-06T12:00:00.000000Z"} for i in range(100)]
    print(json.dumps({"event_type": "vote.batch", "data": votes}, separators=(",", ":")))
PY
fresh_wal
"$BIN/loadgen" publish --queue "$QUEUE" --count "$VOTES" --seed "$SEED" --law-prefix bench- --invalid-ratio 0 \
  --connections 4 --window 4000 --no-progress --expected "$WORK/expected.json" --json >/dev/null
"$BIN/loadgen" drain --queue "$QUEUE" --idle-ms 1000 --json >"$WORK/drain-1.json"
fresh_wal
"$BIN/loadgen" send --queue "$QUEUE" <"$WORK/batched.txt" >/dev/null
"$BIN/loadgen" drain --queue "$QUEUE" --idle-ms 1000 --json >"$WORK/drain-100.json"
single=$(json "$WORK/drain-1.json" "round(d['rate'])")
batched=$(json "$WORK/drain-100.json" "round(d['rate'])")
bytes=$(awk '{ s += length($0) } END { print int(s / NR) }' "$WORK/batched.txt")
broker="| broker alone (\`loadgen drain\`) | messages/s | votes/s |
|---|---|---|
| 1 vote per message | $(py "f'{$single:,}'") | $(py "f'{$single:,}'") |
| 100 votes per message ($bytes bytes) | $(py "f'{$batched:,}'") | $(py "f'{$batched * 100:,}'") |"
fi

batches=""
if [[ $PARTS == *d* ]]; then
  batches="| votes per message | round | votes/s | CPU µs/vote: engine / RabbitMQ / PostgreSQL |
|---|---|---|---|"
  for round in 1 2; do
    for per in 1 100; do
      say "(d) round $round: $VOTES votes over 100 laws, $per per message"
      drain 100 "$per"
      batches="$batches
| $per | $round | $(py "f'{$rate:,}'") | $cpu |"
    done
  done
fi

commit="$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- 2>/dev/null || echo +changes)"
drains=""
[ ${#rows[@]} -eq 0 ] || drains="| backlog | votes/s | CPU µs/vote: engine / RabbitMQ / PostgreSQL | WAL bytes/vote | vote_audit bytes/vote: table + indexes | vote_results bytes |
|---|---|---|---|---|---|
$(printf '%s\n' "${rows[@]}")"
printf '%s, commit %s, %s cores, `BENCH_VOTES=%s BENCH_PARTS=%s bench/capacity.sh`:\n\n%s\n\n%s\n\n%s\n' \
  "$(date -u '+%F %H:%M UTC')" "$commit" "$(nproc)" "$VOTES" "$PARTS" "$drains" "$broker" "$batches"
