#!/usr/bin/env bash
# Side-by-side engine drains: the same pre-filled backlog drained by each variant in turn,
# alternating for several rounds (these machines are noisy: compare within one run only).
# A variant is `label` or `label:ENV=VALUE,ENV=VALUE`; ENGINE_BIN=path picks another build.
#
#   bench/compare.sh 'one:MAX_INFLIGHT_BATCHES=1' 'two:MAX_INFLIGHT_BATCHES=2'
#   BENCH_VOTES=300000 BENCH_ROUNDS=3 bench/compare.sh defaults 'big:BATCH_SIZE=2000'
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { echo "usage: bench/compare.sh VARIANT... (label or label:ENV=VALUE,...)" >&2; exit 2; }
BENCH_VOTES=${BENCH_VOTES:-200000}
ROUNDS=${BENCH_ROUNDS:-2}
source bench/lib.sh
bench_setup vote-engine vote-loadgen
printf '%-12s %6s %10s %12s %12s %12s\n' variant round votes/s "engine us" "RabbitMQ us" "PostgreSQL us"
for round in $(seq 1 "$ROUNDS"); do
  for variant in "$@"; do
    label=${variant%%:*}
    settings=()
    [[ $variant == *:* ]] && IFS=, read -r -a settings <<<"${variant#*:}"
    engine_bin=
    for s in "${settings[@]}"; do [[ $s == ENGINE_BIN=* ]] && engine_bin=${s#ENGINE_BIN=}; done
    ENGINE_BIN=$engine_bin engine_drain "${settings[@]}" >/dev/null
    stop_engine
    printf '%-12s %6s %10s %12s %12s %12s\n' "$label" "$round" "$engine_rate" "$cpu_us" "$broker_us" "$pg_us"
  done
done
