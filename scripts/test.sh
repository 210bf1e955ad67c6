#!/usr/bin/env bash
# Runs the whole test suite against real local servers (started or installed first).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-services.sh
# Tests create one database each (test_*); drop those left by earlier runs.
psql -h 127.0.0.1 -U postgres -d postgres -tAc "SELECT datname FROM pg_database WHERE datname LIKE 'test\_%'" |
  while read -r db; do [ -n "$db" ] && dropdb -h 127.0.0.1 -U postgres --if-exists "$db"; done
# Tests name their queues `<prefix>_<pid>_<counter>_<nanos>` (runtime/src/testing.rs), plus a
# dead-letter suffix. This policy has RabbitMQ delete such a queue once it has gone unused (no
# consumer, no declare) for 10 minutes, so runs do not pile up queues. It matches no other names.
# rabbitmqctl needs the broker's cookie (root or the rabbitmq user); without it the tests still
# run, and their queues stay.
rabbitmqctl -q set_policy --apply-to queues --priority 0 test-scratch-queues \
  '^[a-z][a-z_.-]*_[0-9]+_[0-9]+_[0-9]+([._-][a-z]+)*$' '{"expires": 600000}' >/dev/null 2>&1 ||
  echo "test.sh: could not set the test-scratch-queues policy (rabbitmqctl); test queues will stay" >&2
exec cargo test --workspace --all-targets "$@"
