#!/usr/bin/env bash
# A PostgreSQL set that fails over by itself, run by pg_auto_failover (Debian's
# postgresql-<version>-auto-failover): a monitor and two data nodes on loopback ports of their own,
# beside the developer's server on 5432. The monitor promotes the secondary when the primary is
# lost, relaxes synchronous replication while the secondary is unhealthy, and turns a returning
# old primary into a secondary. Why this manager: docs/decisions/023-pg-auto-failover.md.
#
#   scripts/postgres-ha.sh up           install when absent, create what is missing, start what is
#                                       down, wait for a primary and a synchronous secondary
#   scripts/postgres-ha.sh down         stop every process of the set and erase its data (its logs
#                                       are kept in <POSTGRES_HA_DIR>.logs until the next down)
#   scripts/postgres-ha.sh status       the monitor's view of the nodes (pg_autoctl show state)
#   scripts/postgres-ha.sh url [DB]     the set's multi-host DATABASE_URL (database DB, or none)
#   scripts/postgres-ha.sh port N       node N's port (0 is the monitor)
#   scripts/postgres-ha.sh primary      the number of the node that is primary now
#   scripts/postgres-ha.sh kill N       kill -9 node N's keeper and PostgreSQL (the machine lost)
#   scripts/postgres-ha.sh kill-postgres N   kill -9 node N's postmaster only
#   scripts/postgres-ha.sh start N      start node N's keeper again (it rejoins as the monitor says)
#   scripts/postgres-ha.sh cut-monitor  drop every packet to the monitor's port (nftables)
#   scripts/postgres-ha.sh heal         remove that cut
#
# POSTGRES_HA_PORT (default 5440: the monitor; the nodes on the next two ports) and
# POSTGRES_HA_DIR (default /var/tmp/vote-postgres-ha) pick the set, so tests run their own.
# Local development and tests only: every server trusts loopback connections.
set -euo pipefail

PORT=${POSTGRES_HA_PORT:-5440}
DIR=$(realpath -m "${POSTGRES_HA_DIR:-/var/tmp/vote-postgres-ha}")
HOST=127.0.0.1
NODES=(1 2)
# Timings, shorter than pg_auto_failover's defaults (made for wide networks) so that a lost node
# is noticed in seconds. A primary that reaches neither the monitor nor its secondary demotes
# itself after NETWORK_PARTITION_S; the monitor promotes only after PRIMARY_DEMOTE_MS, which must
# be longer, so that an isolated old primary has stopped taking writes by then.
UNHEALTHY_TIMEOUT_MS=4000
HEALTH_CHECK_PERIOD_MS=1000
HEALTH_CHECK_RETRIES=1
HEALTH_CHECK_RETRY_DELAY_MS=1000
NETWORK_PARTITION_S=10
PRIMARY_DEMOTE_MS=15000
NFT_TABLE=vote_postgres_ha_$PORT

log() { printf 'postgres-ha: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

[ "$(id -u)" -eq 0 ] || exec sudo -E "$0" "$@"
SELF=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")
cd /

port_of() { echo $((PORT + $1)); }
name_of() { if [ "$1" = 0 ]; then echo monitor; else echo "node$1"; fi; }
pgdata_of() { echo "$DIR/$(name_of "$1")"; }
monitor_url() { echo "postgres://autoctl_node@$HOST:$(port_of 0)/pg_auto_failover?sslmode=disable"; }

# Debian's packages for the manager (and nftables for cut-monitor), installed when absent.
install_packages() {
  local version pkgs=()
  command -v pg_config >/dev/null 2>&1 || die "PostgreSQL is not installed (scripts/setup-services.sh installs it)"
  version=$(ls /etc/postgresql 2>/dev/null | sort -n | tail -n 1)
  [ -n "$version" ] || die "no PostgreSQL version under /etc/postgresql (scripts/setup-services.sh installs it)"
  command -v pg_autoctl >/dev/null 2>&1 || pkgs+=(pg-auto-failover-cli)
  [ -e "/usr/lib/postgresql/$version/lib/pgautofailover.so" ] || pkgs+=("postgresql-$version-auto-failover")
  [ ${#pkgs[@]} -eq 0 ] && return 0
  log "installing ${pkgs[*]}"
  local out
  out=$( { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${pkgs[@]}"; } 2>&1) ||
    die "cannot install ${pkgs[*]} with apt-get: $(printf '%s' "$out" | tail -n 1)"
}

bindir() { echo "/usr/lib/postgresql/$(ls /etc/postgresql | sort -n | tail -n 1)/bin"; }

# pg_autoctl as the postgres user (setpriv execs, so no process stays between), its configuration
# and state kept inside $DIR.
autoctl_command() {
  AUTOCTL=(setpriv --reuid postgres --regid postgres --init-groups env HOME="$DIR" XDG_CONFIG_HOME="$DIR/config"
    XDG_DATA_HOME="$DIR/share" XDG_RUNTIME_DIR="$DIR/run" PATH="$(bindir):$PATH" pg_autoctl)
}
autoctl() { autoctl_command; "${AUTOCTL[@]}" "$@"; }
# Never waits long for a server that does not answer (a cut monitor drops packets).
psql_at() { local port=$1; shift; PGCONNECT_TIMEOUT=5 psql -X -h "$HOST" -p "$port" -U postgres -v ON_ERROR_STOP=1 -qtA "$@"; }

created() { [ -f "$(pgdata_of "$1")/PG_VERSION" ] && [ -d "$DIR/config/pg_autoctl$(pgdata_of "$1")" ]; }
# A keeper leads its own process group, which holds its services and PostgreSQL.
group_file() { echo "$DIR/run/$(name_of "$1").group"; }
keeper_group() { cat "$(group_file "$1")" 2>/dev/null || true; }
keeper_running() { local g; g=$(keeper_group "$1"); [ -n "$g" ] && kill -0 -- "-$g" 2>/dev/null; }
postmaster_pid() { head -n 1 "$(pgdata_of "$1")/postmaster.pid" 2>/dev/null || true; }

# Starts node N's keeper in the background, in a session of its own so it outlives this script.
run_keeper() {
  local n=$1
  keeper_running "$n" && return 0
  log "starting $(name_of "$n") on $HOST:$(port_of "$n")"
  autoctl_command
  setsid "${AUTOCTL[@]}" run --pgdata "$(pgdata_of "$n")" </dev/null >>"$DIR/log/$(name_of "$n").log" 2>&1 &
  echo $! >"$(group_file "$n")"
}

wait_for() {
  local what=$1 seconds=$2
  shift 2
  for _ in $(seq 1 $((seconds * 4))); do "$@" && return 0; sleep 0.25; done
  die "$what: not within $seconds s (logs: $DIR/log/)"
}

node_state() {
  psql_at "$(port_of 0)" -d pg_auto_failover -c \
    "SELECT reportedstate FROM pgautofailover.node WHERE nodename = '$(name_of "$1")'" 2>/dev/null
}
set_is_ready() {
  local states
  states=$(psql_at "$(port_of 0)" -d pg_auto_failover -c \
    "SELECT string_agg(reportedstate::text || '/' || goalstate::text, ' ' ORDER BY reportedstate) FROM pgautofailover.node" 2>/dev/null)
  [ "$states" = "primary/primary secondary/secondary" ]
}

create_monitor() {
  log "creating the monitor on $HOST:$(port_of 0)"
  autoctl create monitor --pgdata "$(pgdata_of 0)" --pgport "$(port_of 0)" --hostname "$HOST" \
    --auth trust --no-ssl --pgctl "$(bindir)/pg_ctl" >>"$DIR/log/monitor.log" 2>&1 ||
    die "cannot create the monitor; see $DIR/log/monitor.log"
  autoctl config set --pgdata "$(pgdata_of 0)" postgresql.listen_addresses "$HOST" >/dev/null
  printf 'pgautofailover.%s = %s\n' health_check_period "$HEALTH_CHECK_PERIOD_MS" \
    node_considered_unhealthy_timeout "$UNHEALTHY_TIMEOUT_MS" primary_demote_timeout "$PRIMARY_DEMOTE_MS" \
    health_check_max_retries "$HEALTH_CHECK_RETRIES" health_check_retry_delay "$HEALTH_CHECK_RETRY_DELAY_MS" \
    >>"$(pgdata_of 0)/postgresql.conf"
}

create_node() {
  local n=$1
  log "creating $(name_of "$n") on $HOST:$(port_of "$n")"
  autoctl create postgres --pgdata "$(pgdata_of "$n")" --pgport "$(port_of "$n")" --hostname "$HOST" \
    --listen "$HOST" --name "$(name_of "$n")" --auth trust --no-ssl --pgctl "$(bindir)/pg_ctl" \
    --monitor "$(monitor_url)" >>"$DIR/log/$(name_of "$n").log" 2>&1 ||
    die "cannot create $(name_of "$n"); see $DIR/log/$(name_of "$n").log"
  autoctl config set --pgdata "$(pgdata_of "$n")" timeout.network_partition_timeout "$NETWORK_PARTITION_S" >/dev/null
}

# pg_basebackup (run by pg_autoctl for a new secondary) waits for a spread checkpoint, minutes on
# a busy primary; an explicit CHECKPOINT asks for an immediate one, which the waiting one joins.
hurry_checkpoints() {
  local primary=$1
  while :; do psql_at "$(port_of "$primary")" -d postgres -c CHECKPOINT >/dev/null 2>&1 || true; sleep 1; done
}

up() {
  install_packages
  mkdir -p "$DIR/log" "$DIR/run"
  chown postgres:postgres "$DIR" "$DIR/log" "$DIR/run"
  created 0 || { rm -rf "$(pgdata_of 0)"; create_monitor; }
  run_keeper 0
  wait_for "the monitor answers" 60 pg_isready -q -h "$HOST" -p "$(port_of 0)" -d pg_auto_failover
  local n primary
  for n in "${NODES[@]}"; do
    if created "$n"; then run_keeper "$n"; continue; fi
    rm -rf "$(pgdata_of "$n")"
    primary=$(current_primary || true)
    if [ -n "$primary" ]; then
      hurry_checkpoints "$primary" &
      local hurry=$!
      create_node "$n"
      kill "$hurry" 2>/dev/null || true
      wait "$hurry" 2>/dev/null || true
    else
      create_node "$n"
    fi
    run_keeper "$n"
    # The first node must be the primary before the second registers.
    wait_for "$(name_of "$n") joins" 120 node_has_role "$n"
  done
  wait_for "a primary with a synchronous secondary" 120 set_is_ready
  log "up: primary node$(current_primary), $("$SELF" url)"
}

node_has_role() { case $(node_state "$1") in single | primary | wait_primary | secondary | catchingup) return 0 ;; esac; return 1; }

current_primary() {
  local name
  name=$(psql_at "$(port_of 0)" -d pg_auto_failover -c \
    "SELECT nodename FROM pgautofailover.node WHERE reportedstate IN ('single', 'primary', 'wait_primary') \
     AND goalstate IN ('single', 'primary', 'wait_primary') ORDER BY nodeid LIMIT 1" 2>/dev/null) || return 1
  [ -n "$name" ] || return 1
  echo "${name#node}"
}

# Every process of the set, keepers first so that none restarts its PostgreSQL.
stop_all() {
  local n g pid
  for n in 2 1 0; do g=$(keeper_group "$n"); [ -z "$g" ] || kill -TERM -- "-$g" 2>/dev/null || true; done
  for n in 2 1 0; do
    g=$(keeper_group "$n")
    if [ -n "$g" ]; then
      for _ in $(seq 1 40); do kill -0 -- "-$g" 2>/dev/null || break; sleep 0.25; done
      kill -KILL -- "-$g" 2>/dev/null || true
    fi
    # A PostgreSQL left by a keeper killed before (kill N) is in no group of ours.
    pid=$(postmaster_pid "$n")
    [ -z "$pid" ] || kill -KILL "$pid" 2>/dev/null || true
  done
}

down() {
  heal
  [ -d "$DIR" ] || return 0
  stop_all
  # The logs outlive the set, so that what a failed test met can still be read.
  rm -rf "$DIR.logs"
  [ ! -d "$DIR/log" ] || mv "$DIR/log" "$DIR.logs"
  log "erasing $DIR (its logs kept in $DIR.logs until the next down)"
  rm -rf "$DIR"
}

# The machine of node N lost: its keeper and its PostgreSQL killed at once, nothing flushed.
kill_node() {
  local n=$1 g postmaster
  g=$(keeper_group "$n")
  postmaster=$(postmaster_pid "$n")
  keeper_running "$n" || { [ -n "$postmaster" ] && kill -0 "$postmaster" 2>/dev/null; } ||
    die "$(name_of "$n") is not running"
  log "kill -9 $(name_of "$n") (keeper group ${g:-none}, postmaster ${postmaster:-none})"
  [ -z "$g" ] || kill -KILL -- "-$g" 2>/dev/null || true
  [ -z "$postmaster" ] || kill -KILL "$postmaster" 2>/dev/null || true
}

kill_postgres() {
  local n=$1 pid
  pid=$(postmaster_pid "$n")
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || die "$(name_of "$n")'s PostgreSQL is not running"
  log "kill -9 $(name_of "$n")'s postmaster (pid $pid)"
  kill -KILL "$pid"
}

cut_monitor() {
  command -v nft >/dev/null 2>&1 || {
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nftables >/dev/null 2>&1 ||
      die "cannot install nftables with apt-get"
  }
  nft -f - <<EOF || die "nft refused the rule (is CAP_NET_ADMIN available?)"
table inet $NFT_TABLE {
  chain output {
    type filter hook output priority 0; policy accept;
    tcp dport $(port_of 0) drop
  }
}
EOF
  log "every packet to the monitor ($HOST:$(port_of 0)) is dropped"
}

heal() {
  command -v nft >/dev/null 2>&1 || return 0
  nft list table inet "$NFT_TABLE" >/dev/null 2>&1 || return 0
  nft delete table inet "$NFT_TABLE"
  log "the monitor is reachable again"
}

url() {
  local hosts=() n
  for n in "${NODES[@]}"; do hosts+=("$HOST:$(port_of "$n")"); done
  echo "postgres://postgres@$(IFS=,; echo "${hosts[*]}")/${1:-}?target_session_attrs=read-write"
}

check_node_arg() { [[ ${1:-} =~ ^[12]$ ]] || die "a node number 1-2 is needed, got '${1:-}'"; }

case ${1:-} in
  up) up ;;
  down) down ;;
  status)
    [ -d "$DIR" ] || { echo "no set under $DIR"; exit 0; }
    PGCONNECT_TIMEOUT=5 autoctl show state --pgdata "$(pgdata_of 0)" 2>/dev/null || echo "the monitor on $HOST:$(port_of 0) does not answer"
    ;;
  url) url "${2:-}" ;;
  port) [[ ${2:-} =~ ^[012]$ ]] || die "a node number 0-2 is needed"; port_of "$2" ;;
  primary) current_primary || die "no primary now" ;;
  kill) check_node_arg "${2:-}"; kill_node "$2" ;;
  kill-postgres) check_node_arg "${2:-}"; kill_postgres "$2" ;;
  start) check_node_arg "${2:-}"; created "$2" || die "$(name_of "$2") was never created (run up)"; run_keeper "$2" ;;
  cut-monitor) cut_monitor ;;
  heal) heal ;;
  *) die "usage: $0 up|down|status|url [DB]|port N|primary|kill N|kill-postgres N|start N|cut-monitor|heal" ;;
esac
