#!/usr/bin/env bash
# Runs the vote engine against the local RabbitMQ and PostgreSQL, starting (or installing)
# them first. Extra arguments go to vote-engine (see `vote-engine --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-services.sh
echo "run-engine: building vote-engine (release; the first build compiles for a couple of minutes)" >&2
# A person runs this script: human-readable logs, also when its output goes to a file or a
# pipe (where the engine would otherwise write JSON), unless LOG_FORMAT says otherwise.
export LOG_FORMAT="${LOG_FORMAT:-text}"
exec cargo run --release -p vote-engine -- "$@"
