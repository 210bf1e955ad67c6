#!/usr/bin/env bash
# The results service under load, on a scratch database of 100,000 laws and 1,000,000 audit rows
# (generated with generate_series), the service running as the read-only role of
# sql/roles/results_role.sql:
#   - p99 of GET /api/results?limit=50 and of GET /api/receipts/{vote_hash} (random hashes), with wrk;
#   - 1,000 concurrent /api/stream listeners, one law changed per second: how long after the
#     commit each listener got the change, and the service's CPU meanwhile (from /proc).
# Targets: p99 <= 20 ms and <= 5 ms; every change delivered within 1 s at under half a core.
# Prints the figures and appends them to bench/RESULTS.md.
#
#   bench/results.sh
#   BENCH_LAWS=10000 BENCH_AUDIT_ROWS=100000 BENCH_SSE_CLIENTS=200 bench/results.sh   # smaller
set -euo pipefail
cd "$(dirname "$0")/.."

LAWS=${BENCH_LAWS:-100000}
AUDIT_ROWS=${BENCH_AUDIT_ROWS:-1000000}
SSE_CLIENTS=${BENCH_SSE_CLIENTS:-1000}
SSE_ROUNDS=${BENCH_SSE_ROUNDS:-20}
WRK_SECONDS=${BENCH_WRK_SECONDS:-20}
WRK_CONNECTIONS=${BENCH_WRK_CONNECTIONS:-16}
DB=bench_results
DB_URL="postgres://postgres@127.0.0.1:5432/$DB"
ROLE=bench_results_reader
PORT=18520
BIN=target/release

say() { printf '\n== %s\n' "$*" >&2; }
psql_db() { psql -X -q -h 127.0.0.1 -U postgres -d "$DB" -v ON_ERROR_STOP=1 "$@"; }
# p99 from wrk's --latency table, in milliseconds.
wrk_p99() { awk '$1 == "99%" { v = $2; if (v ~ /us$/) { sub(/us$/, "", v); v /= 1000 } else if (v ~ /ms$/) { sub(/ms$/, "", v) } else if (v ~ /s$/) { sub(/s$/, "", v); v *= 1000 }; printf "%.2f", v }' "$1"; }
wrk_rate() { awk '/^Requests\/sec:/ { printf "%.0f", $2 }' "$1"; }
wrk_errors() { awk '/Non-2xx|Socket errors/ { print }' "$1"; }

WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
scripts/setup-services.sh
command -v wrk >/dev/null || { say "installing wrk"; apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
cargo build --release --quiet -p vote-engine -p vote-satellite-results -p vote-bench --bin vote-engine \
  --bin results-service --bin sse-clients

say "scratch database $DB: $LAWS laws, $AUDIT_ROWS audit rows"
psql -X -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"
DATABASE_URL=$DB_URL LOG_LEVEL=warn "$BIN/vote-engine" migrate
started=$(date +%s.%N)
psql_db <<SQL
-- Vote i is on law (i mod LAWS), by citizen (i div LAWS): both unique keys hold.
INSERT INTO vote_audit (vote_hash, citizen_id, law_id, choice, "timestamp", recorded_at)
SELECT 'v' || i, 'citizen-' || (i / $LAWS), 'law-' || lpad((i % $LAWS)::text, 6, '0'),
       CASE WHEN hashint4(i) % 5 < 3 THEN 'oui' ELSE 'non' END,
       now() - interval '1 hour', now() - (i % 3600) * interval '1 second'
FROM generate_series(1, $AUDIT_ROWS) AS i;
INSERT INTO vote_results (law_id, oui_count, non_count, updated_at)
SELECT law_id, count(*) FILTER (WHERE choice = 'oui'), count(*) FILTER (WHERE choice = 'non'), max(recorded_at)
FROM vote_audit GROUP BY law_id;
INSERT INTO duplicate_attempts (vote_hash, citizen_id, law_id, reason, attempt_timestamp)
SELECT 'd' || i, 'citizen-' || (i / $LAWS), 'law-' || lpad((i % $LAWS)::text, 6, '0'), 'citizen_law', now()
FROM generate_series(1, $AUDIT_ROWS / 100) AS i;
VACUUM ANALYZE vote_audit; VACUUM ANALYZE vote_results; VACUUM ANALYZE duplicate_attempts;
SQL
generated=$(python3 -c "print(round($(date +%s.%N) - $started, 1))")
echo "generated in $generated s" >&2
psql -X -q -h 127.0.0.1 -U postgres -d postgres -v role=$ROLE -v password=bench-pw -v dbname=$DB \
  -f sql/roles/results_role.sql

say "results-service (release) as $ROLE"
# One socket per stream client, and the load generators': as many as the hard limit allows.
ulimit -n "$(ulimit -Hn)"
DATABASE_URL="postgres://$ROLE:bench-pw@127.0.0.1:5432/$DB" HTTP_PORT=$PORT LOG_LEVEL=warn \
  "$BIN/results-service" >"$WORK/service.log" 2>&1 &
service=$!
for _ in $(seq 1 600); do curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.1; done
curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null || { cat "$WORK/service.log"; exit 1; }
rss_mib=$(awk '/VmRSS/ { printf "%.0f", $2 / 1024 }' "/proc/$service/status")
echo "ready; RSS $rss_mib MiB" >&2

say "GET /api/results?limit=50 ($WRK_CONNECTIONS connections, $WRK_SECONDS s)"
wrk -t2 -c"$WRK_CONNECTIONS" -d"${WRK_SECONDS}s" --latency "http://127.0.0.1:$PORT/api/results?limit=50" >"$WORK/results.txt"
cat "$WORK/results.txt" >&2
results_p99=$(wrk_p99 "$WORK/results.txt"); results_rate=$(wrk_rate "$WORK/results.txt")

say "GET /api/receipts/{random counted or unknown vote_hash} ($WRK_CONNECTIONS connections, $WRK_SECONDS s)"
cat >"$WORK/receipts.lua" <<LUA
request = function()
  return wrk.format("GET", "/api/receipts/v" .. math.random(1, $AUDIT_ROWS * 11 / 10))
end
response = function(status, headers, body)
  if status ~= 200 and status ~= 404 then print("unexpected status " .. status) end
end
LUA
wrk -t2 -c"$WRK_CONNECTIONS" -d"${WRK_SECONDS}s" --latency -s "$WORK/receipts.lua" "http://127.0.0.1:$PORT" >"$WORK/receipts.txt"
cat "$WORK/receipts.txt" >&2
receipts_p99=$(wrk_p99 "$WORK/receipts.txt"); receipts_rate=$(wrk_rate "$WORK/receipts.txt")
if grep -q "unexpected status" "$WORK/receipts.txt"; then echo "receipts answered other than 200/404" >&2; exit 1; fi

say "$SSE_CLIENTS stream listeners, $SSE_ROUNDS changes 1 s apart"
"$BIN/sse-clients" --port $PORT --database-url "$DB_URL" --clients "$SSE_CLIENTS" --rounds "$SSE_ROUNDS" \
  --pid "$service" --clk-tck "$(getconf CLK_TCK)" >"$WORK/sse.json"
cat "$WORK/sse.json" >&2
sse() { python3 -c "import json; d=json.load(open('$WORK/sse.json')); print(d['$1'])"; }
kill -TERM "$service"; wait "$service" || true
psql -X -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "DROP ROLE IF EXISTS $ROLE"

load=$(cut -d' ' -f1-3 /proc/loadavg)
commit=$(git rev-parse --short HEAD)
summary="| $(date -u '+%Y-%m-%d %H:%M') | $commit | $LAWS laws, $AUDIT_ROWS audit rows | results p99 $results_p99 ms ($results_rate req/s) | receipts p99 $receipts_p99 ms ($receipts_rate req/s) | $(sse received)/$(sse expected) deliveries to $(sse clients) listeners: p50 $(sse p50_ms) ms, p99 $(sse p99_ms) ms, max $(sse max_ms) ms, service CPU $(sse cpu_cores) cores | RSS $rss_mib MiB | load $load |"
say "summary"
echo "$summary"
# The row goes at the end of the table in the section "`bench/results.sh`", above its marker.
MARKER='<!-- bench/results.sh adds its rows above this line -->'
grep -qF "$MARKER" bench/RESULTS.md || { echo "bench/RESULTS.md has no line '$MARKER'" >&2; exit 1; }
SUMMARY=$summary MARKER=$MARKER python3 - <<'PY'
import os
path = "bench/RESULTS.md"
text = open(path).read()
marker = os.environ["MARKER"]
open(path, "w").write(text.replace(marker, os.environ["SUMMARY"] + "\n" + marker, 1))
PY
