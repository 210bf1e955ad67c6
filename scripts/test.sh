#!/usr/bin/env bash
# Runs the whole test suite against real local servers (started or installed first), with
# Debian's Chromium for the pages' browser tests and the standard OpenAPI and AsyncAPI validators.
set -euo pipefail
SCRIPT=test.sh
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
require_rust
scripts/setup-services.sh
# The browser tests drive Chromium headless; only the tests need it (about 360 MB installed).
[ -x /usr/bin/chromium ] || apt_install chromium
install_contract_validators
# Tests create one database each (test_*); drop those left by earlier runs.
psql -h 127.0.0.1 -U postgres -d postgres -tAc "SELECT datname FROM pg_database WHERE datname LIKE 'test\_%'" |
  while read -r db; do [ -n "$db" ] && dropdb -h 127.0.0.1 -U postgres --if-exists "$db"; done
# Tests name their queues `<prefix>_<pid>_<counter>_<nanos>` (runtime/src/testing.rs), plus a
# dead-letter suffix. This policy has RabbitMQ delete such a queue once it has gone unused (no
# consumer, no declare) for 10 minutes, so runs do not pile up queues. It matches no other names.
# rabbitmqctl needs the broker's cookie (root or the rabbitmq user); without it the tests still
# run, and their queues stay.
if ! out=$(rabbitmqctl -q set_policy --apply-to queues --priority 0 test-scratch-queues \
  '^[a-z][a-z_.-]*_[0-9]+_[0-9]+_[0-9]+([._-][a-z]+)*$' '{"expires": 600000}' 2>&1); then
  log "could not set the test-scratch-queues policy, so test queues will stay: $(printf '%s' "$out" | head -n 1)"
fi
log "building and running every test (on 2 cores: 5 to 10 minutes to build the first time, about 17 to run)"
exec cargo test --workspace --all-targets "$@"
