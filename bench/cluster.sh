#!/usr/bin/env bash
# The engine's drain against the 3-node RabbitMQ cluster (scripts/rabbitmq-cluster.sh, a quorum
# queue replicated on the three nodes, every node in AMQP_URL) and against the single node on
# 5672, side by side: the same backlog drained by each in turn, alternating for several rounds.
#
#   bench/cluster.sh
#   BENCH_VOTES=200000 BENCH_ROUNDS=3 bench/cluster.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH_VOTES=${BENCH_VOTES:-200000}
ROUNDS=${BENCH_ROUNDS:-2}
source bench/lib.sh
bench_setup vote-engine vote-loadgen
scripts/rabbitmq-cluster.sh up
CLUSTER=$(scripts/rabbitmq-cluster.sh urls)
SINGLE=amqp://guest:guest@127.0.0.1:5672/%2f

# Each node's write-ahead log rolled over before the prefill, as fresh_wal does for one node.
cluster_fresh_wal() {
  local n
  for n in 1 2 3; do
    scripts/rabbitmq-cluster.sh ctl "$n" -q eval \
      'ok = ra_log_wal:force_roll_over(ra_log_wal), ra_log_segment_writer:await(ra_log_segment_writer).' >/dev/null
  done
}

printf '%-8s %6s %10s %12s %12s %12s\n' broker round votes/s "engine us" "RabbitMQ us" "PostgreSQL us"
for round in $(seq 1 "$ROUNDS"); do
  for broker in single cluster; do
    if [ "$broker" = cluster ]; then
      export AMQP_URL=$CLUSTER
      cluster_fresh_wal
    else
      export AMQP_URL=$SINGLE
    fi
    empty_queue
    engine_drain >/dev/null
    stop_engine
    # RabbitMQ us counts every beam.smp on the machine: the three cluster nodes and the single one.
    printf '%-8s %6s %10s %12s %12s %12s\n' "$broker" "$round" "$engine_rate" "$cpu_us" "$broker_us" "$pg_us"
  done
done
