#!/usr/bin/env bash
# The satellites' write paths under 200 concurrent clients, with wrk (release builds, real
# tokens, each service on a scratch database and its own exchange):
#   POST /polls/ (poll-service), POST /polls/{uuid}/ballots (a new voter and poll each time
#   while pairs last: 400 polls x 400 callers), POST /elections/{id}/nominations (new names over
#   800 elections, 100 at most each), POST /meetings (meeting-service), POST /order (order-service).
# The clients are 400 callers (a token each, taken in turn), so the per-caller rate limit is on
# at its defaults (20/s) and no caller reaches it below 8,000 requests/s. Every answer's status is
# counted: a 5xx fails the run. Target: p99 <= 100 ms for each endpoint. Prints the figures, the
# CPU per request of the service, PostgreSQL and RabbitMQ, and adds them to bench/RESULTS.md.
#
#   bench/http.sh
#   BENCH_SECONDS=10 BENCH_CONNECTIONS=50 bench/http.sh      # shorter, fewer clients
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_EACH=${BENCH_SECONDS:-20}
CONNECTIONS=${BENCH_CONNECTIONS:-200}
CALLERS=${BENCH_CALLERS:-400}
POLLS=${BENCH_POLLS:-400}
ELECTIONS=${BENCH_ELECTIONS:-800}
EXCHANGE=bench_http_events
BIN=target/release

# shellcheck source=bench/common.sh
source bench/common.sh
# wrk's --latency figures in milliseconds: `wrk_ms FILE 50%` / `99%`.
wrk_ms() { awk -v q="$2" '$1 == q { v = $2; if (v ~ /us$/) { sub(/us$/, "", v); v /= 1000 } else if (v ~ /ms$/) { sub(/ms$/, "", v) } else if (v ~ /s$/) { sub(/s$/, "", v); v *= 1000 }; printf "%.1f", v }' "$1"; }
wrk_rate() { awk '/^Requests\/sec:/ { printf "%.0f", $2 }' "$1"; }
# "201: 1234, 409: 5" from the script's `status N COUNT` lines.
statuses() { awk '$1 == "status" { s = s sep $2 ": " $3; sep = ", " } END { print s }' "$1"; }
server_errors() { awk '$1 == "status" && $2 >= 500 { n += $3 } END { print n + 0 }' "$1"; }
# Microseconds of CPU per request: us_per TICKS REQUESTS.
us_per() { python3 -c "print(round($1 / $(getconf CLK_TCK) / max($2, 1) * 1e6))"; }

WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
pg_isready -q -h 127.0.0.1 -p 5432 || { echo "PostgreSQL does not answer: run scripts/setup-services.sh" >&2; exit 1; }
(exec 3<>/dev/tcp/127.0.0.1/5672) 2>/dev/null || { echo "RabbitMQ does not answer: run scripts/setup-services.sh" >&2; exit 1; }
command -v wrk >/dev/null || { say "installing wrk"; apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
scripts/dev-auth-keys.sh .dev/auth >/dev/null
# shellcheck disable=SC1091
source .dev/auth/env
cargo build --release --quiet -p vote-satellite-poll -p vote-satellite-election -p vote-satellite-ordering \
  -p vote-loadgen --bin poll-service --bin meeting-service --bin election-service --bin order-service --bin loadgen
ulimit -n "$(ulimit -Hn)"

DATABASES="bench_http_poll bench_http_election bench_http_ordering"
drop_databases() {
  for db in $DATABASES; do psql -X -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)"; done
}
drop_databases
pids=""
# start_service BINARY PORT DATABASE QUEUE BINDINGS
start_service() {
  local binary=$1 port=$2 db=$3 queue=$4 bindings=$5
  env HTTP_PORT="$port" DATABASE_URL="postgres://postgres@127.0.0.1:5432/$db" MQ_EXCHANGE=$EXCHANGE \
    ${queue:+MQ_QUEUE=$queue} ${bindings:+MQ_BINDINGS=$bindings} LOG_LEVEL=warn LOG_FORMAT=text \
    "$BIN/$binary" >"$WORK/$binary.log" 2>&1 &
  pids="$pids $!"
  for _ in $(seq 1 300); do curl -fs "http://127.0.0.1:$port/readyz" >/dev/null && return 0; sleep 0.1; done
  cat "$WORK/$binary.log" >&2
  exit 1
}
say "services (release), scratch databases bench_http_*"
start_service poll-service 18610 bench_http_poll bench-http-voting voting.create,voting.close,poll.ballot.cast,meeting.created
start_service meeting-service 18611 bench_http_election bench-http-meeting meeting.created
start_service election-service 18612 bench_http_election bench-http-election agenda.election.*,voting.completed,voting.refused
start_service order-service 18613 bench_http_ordering "" ""

say "$CALLERS callers' tokens"
token() { "$BIN/loadgen" token --ttl 2h "$@"; }
{
  printf 'tokens = {'
  for i in $(seq 1 "$CALLERS"); do printf '"%s",' "$(token --sub "c$i" --role manager:bench)"; done
  printf '}\n'
} >"$WORK/tokens.lua"
ALICE=$(token --sub alice --role manager:bench)
post() { curl -fsS -X POST "$1" -H "authorization: Bearer $ALICE" -H 'content-type: application/json' -d "${2:-}"; }

say "$POLLS polls to vote on, $ELECTIONS elections to nominate in"
{
  printf 'polls = {'
  for _ in $(seq 1 "$POLLS"); do
    post http://127.0.0.1:18610/polls/ '{"vote":{"meeting_id":"bench","pollType":"single","options":["Ann","Bob","Cy"]}}' |
      python3 -c 'import json,sys; print("\"%s\"," % json.load(sys.stdin)["uuid"], end="")'
  done
  printf '}\n'
} >"$WORK/polls.lua"
MEETING=$(post http://127.0.0.1:18611/meetings '{"title":"Bench"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
{
  printf 'elections = {'
  for _ in $(seq 1 "$ELECTIONS"); do
    post "http://127.0.0.1:18611/meetings/$MEETING/elections" '{"title":"Seat"}' |
      python3 -c 'import json,sys; print("\"%s\"," % json.load(sys.stdin)["id"], end="")'
  done
  printf '}\n'
} >"$WORK/elections.lua"
last=$(tail -c 40 "$WORK/elections.lua" | grep -o '[0-9a-f-]\{36\}' | tail -n 1)
for _ in $(seq 1 300); do
  curl -fs "http://127.0.0.1:18612/elections/$last" | grep -q nominating && break
  sleep 0.1
done

# One wrk script per endpoint: `path_and_body(i)` gives the i-th request (i counts over both
# threads); the caller is tokens[i mod CALLERS]; every status is counted and printed at the end.
script() {
  local name=$1 body_lua=$2
  cat "$WORK/tokens.lua" "$WORK/polls.lua" "$WORK/elections.lua" >"$WORK/wrk-$name.lua"
  cat >>"$WORK/wrk-$name.lua" <<LUA
local threads = {}
function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end
counter = 0
statuses = {}
$body_lua
request = function()
  local i = counter * 2 + id
  counter = counter + 1
  local path, body = path_and_body(i)
  local token = tokens[(i % #tokens) + 1]
  return wrk.format("POST", path, {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json"}, body)
end
response = function(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end
done = function(summary, latency, requests)
  local total = {}
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("statuses")) do total[status] = (total[status] or 0) + n end
  end
  for status, n in pairs(total) do io.write(string.format("status %d %d\n", status, n)) end
end
LUA
}
script polls 'function path_and_body(i)
  return "/polls/", "{\"vote\":{\"meeting_id\":\"bench\",\"pollType\":\"single\",\"options\":[\"Ann\",\"Bob\",\"Cy\"]}}"
end'
script ballots 'local choices = {"Ann", "Bob", "Cy"}
function path_and_body(i)
  -- The caller changes with i; the poll changes every CALLERS requests: a new pair each time.
  local poll = polls[(math.floor(i / #tokens) % #polls) + 1]
  return "/polls/" .. poll .. "/ballots", "{\"choice\":\"" .. choices[(i % 3) + 1] .. "\"}"
end'
script nominations 'function path_and_body(i)
  local election = elections[(i % #elections) + 1]
  return "/elections/" .. election .. "/nominations", "{\"nominee\":\"Nominee " .. math.floor(i / #elections) .. "\"}"
end'
script meetings 'function path_and_body(i)
  return "/meetings", "{\"title\":\"Bench meeting\"}"
end'
script orders 'function path_and_body(i)
  return "/order", "{\"item\":\"Pizza\",\"qty\":1,\"student_id\":\"c" .. ((i % #tokens) + 1) .. "\"}"
end'

rows=""
failed=0
run() {
  local name=$1 port=$2 service=$3 label=$4
  say "$label: $CONNECTIONS connections, $SECONDS_EACH s"
  local s0 pg0 mq0 s1 pg1 mq1
  s0=$(ticks_of "$BIN/$service" -f); pg0=$(ticks_of postgres); mq0=$(ticks_of beam.smp)
  wrk -t2 -c"$CONNECTIONS" -d"${SECONDS_EACH}s" --timeout 10s --latency -s "$WORK/wrk-$name.lua" \
    "http://127.0.0.1:$port" >"$WORK/$name.txt"
  s1=$(ticks_of "$BIN/$service" -f); pg1=$(ticks_of postgres); mq1=$(ticks_of beam.smp)
  cat "$WORK/$name.txt" >&2
  local p50 p99 rate errors met requests
  p50=$(wrk_ms "$WORK/$name.txt" 50%); p99=$(wrk_ms "$WORK/$name.txt" 99%); rate=$(wrk_rate "$WORK/$name.txt")
  requests=$(awk '/requests in/ { print $1 }' "$WORK/$name.txt")
  errors=$(server_errors "$WORK/$name.txt")
  met=$(python3 -c "print('met' if $p99 <= 100 else '**not met**')")
  [ "$errors" = 0 ] || failed=1
  rows="$rows| \`$label\` | $rate | $p50 | $p99 | $met | $(statuses "$WORK/$name.txt") | $errors | $(us_per $((s1 - s0)) "$requests") / $(us_per $((pg1 - pg0)) "$requests") / $(us_per $((mq1 - mq0)) "$requests") |
"
}
run polls 18610 poll-service "POST /polls/"
run ballots 18610 poll-service "POST /polls/{uuid}/ballots"
run nominations 18612 election-service "POST /elections/{id}/nominations"
run meetings 18611 meeting-service "POST /meetings"
run orders 18613 order-service "POST /order"

# shellcheck disable=SC2086
kill -TERM $pids
wait $pids 2>/dev/null || true
drop_databases

load=$(cut -d' ' -f1-3 /proc/loadavg)
header="Run $(date -u '+%Y-%m-%d %H:%M') UTC, commit \`$(git rev-parse --short HEAD)\`: \`BENCH_SECONDS=$SECONDS_EACH BENCH_CONNECTIONS=$CONNECTIONS bench/http.sh\`; $(nproc) cores shared with other work (load average $load at the end), wrk -t2 -c$CONNECTIONS, $CALLERS callers, services and PostgreSQL and RabbitMQ on the same machine, POSTGRES_MAX_CONNECTIONS 8 per service."
table="| endpoint | requests/s | p50 ms | p99 ms | p99 <= 100 ms | answers | 5xx | CPU µs per request: service / PostgreSQL / RabbitMQ |
|---|---|---|---|---|---|---|---|
$rows"
say "summary"
printf '%s\n\n%s' "$header" "$table"
# The run replaces the section's current table; the one before goes to bench/history/runs.md.
BEGIN='<!-- bench/http.sh: current run -->'
END='<!-- bench/http.sh: end -->'
grep -qF "$BEGIN" bench/RESULTS.md || { echo "bench/RESULTS.md has no line '$BEGIN'" >&2; exit 1; }
HEADER=$header TABLE=$table BEGIN=$BEGIN END=$END python3 - <<'PY'
import os
path = "bench/RESULTS.md"
text = open(path).read()
begin, end = os.environ["BEGIN"], os.environ["END"]
head, rest = text.split(begin, 1)
old, tail = rest.split(end, 1)
current = "\n" + os.environ["HEADER"] + "\n\n" + os.environ["TABLE"]
open(path, "w").write(head + begin + current + end + tail)
old = old.strip()
if old:
    with open("bench/history/runs.md", "a") as history:
        history.write("\n## bench/http.sh (replaced)\n\n" + old + "\n")
PY
exit $failed
