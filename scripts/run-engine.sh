#!/usr/bin/env bash
# Runs the vote engine against the local RabbitMQ and PostgreSQL, starting (or installing)
# them first. Extra arguments go to vote-engine (see `vote-engine --help`).
set -euo pipefail
SCRIPT=run-engine
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
require_rust
scripts/setup-services.sh
log "building vote-engine (release: about 4 minutes on 2 cores the first time, cargo shows its progress)"
# A person runs this script: human-readable logs, also when its output goes to a file or a
# pipe (where the engine would otherwise write JSON), unless LOG_FORMAT says otherwise.
export LOG_FORMAT="${LOG_FORMAT:-text}"
# cargo run replaces itself with the engine: a signal sent to this script's process reaches it.
exec cargo run --release -p vote-engine -- "$@"
