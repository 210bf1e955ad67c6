#!/usr/bin/env bash
# A 3-node RabbitMQ cluster on this one machine, beside the standalone broker on 5672: nodes
# rabbit-1..3@localhost with AMQP on 127.0.0.1:5673-5675, each with its own data folder under
# $RABBITMQ_CLUSTER_DIR. Used by the failover tests; operators can use it to try the engine
# against a cluster (AMQP_URL=amqp://guest:guest@127.0.0.1:5673,amqp://...:5674,...).
#
#   scripts/rabbitmq-cluster.sh up        start the nodes that are down, join them (idempotent)
#   scripts/rabbitmq-cluster.sh down      stop every node, keep the data
#   scripts/rabbitmq-cluster.sh status    one line per node: up or down, and the cluster's members
#   scripts/rabbitmq-cluster.sh start N   start node N (1-3) and let it rejoin
#   scripts/rabbitmq-cluster.sh stop N    stop node N cleanly
#   scripts/rabbitmq-cluster.sh kill N    kill -9 node N's Erlang VM
#   scripts/rabbitmq-cluster.sh port N    print node N's AMQP port
#   scripts/rabbitmq-cluster.sh urls      print the cluster's AMQP_URL (comma-separated)
#   scripts/rabbitmq-cluster.sh leader Q  print the number of the node leading quorum queue Q
#   scripts/rabbitmq-cluster.sh ctl N ... rabbitmqctl against node N
#   scripts/rabbitmq-cluster.sh partition N  cut node N's inter-node traffic (nftables); clients
#                                            still reach it
#   scripts/rabbitmq-cluster.sh heal      remove every cut
#   scripts/rabbitmq-cluster.sh reset     down, then erase the data folders
#
# Partitions are handled with pause_minority: a node that sees fewer than half of the cluster
# pauses (closes its client connections) until the partition heals, so that the majority's
# side is the only one taking messages.
set -euo pipefail

DIR=${RABBITMQ_CLUSTER_DIR:-/var/tmp/vote-rabbitmq-cluster}
NODES=(1 2 3)
BASE_PORT=5672
HOST=localhost

log() { printf 'rabbitmq-cluster: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

[ "$(id -u)" -eq 0 ] || exec sudo -E "$0" "$@"
SELF=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")
DIR=$(realpath -m "$DIR")
# Nothing here depends on the caller's directory, and no node may keep it as its own: a node
# whose working directory is deleted (a test checkout) can no longer run commands.
cd /
command -v rabbitmq-server >/dev/null 2>&1 || die "rabbitmq-server is not installed (scripts/setup-services.sh installs it)"
id rabbitmq >/dev/null 2>&1 || die "no 'rabbitmq' user: is the rabbitmq-server package installed?"

node_name() { echo "rabbit-$1@$HOST"; }
node_port() { echo $((BASE_PORT + $1)); }
node_dir() { echo "$DIR/rabbit-$1"; }
node_dist_port() { echo $((25672 + $1)); }
# Node N opens its connections to the other nodes from this loopback address of its own, so that
# a firewall rule can tell its inter-node traffic from everyone else's.
node_source_ip() { echo "127.0.0.$((10 + $1))"; }
NFT_TABLE=vote_rabbitmq_partition

# Every RabbitMQ command runs as the rabbitmq user, whose Erlang cookie every local node shares.
as_rabbitmq() {
  local n=$1
  shift
  runuser -u rabbitmq -- env HOME=/var/lib/rabbitmq \
    RABBITMQ_CONF_ENV_FILE="$(node_dir "$n")/rabbitmq-env.conf" "$@"
}
ctl() { local n=$1; shift; as_rabbitmq "$n" /usr/lib/rabbitmq/bin/rabbitmqctl -n "$(node_name "$n")" "$@"; }

write_config() {
  local n=$1 d
  d=$(node_dir "$n")
  mkdir -p "$d/log"
  cat >"$d/rabbitmq-env.conf" <<EOF
NODENAME=$(node_name "$n")
NODE_PORT=$(node_port "$n")
DIST_PORT=$(node_dist_port "$n")
MNESIA_BASE=$d/mnesia
LOG_BASE=$d/log
CONFIG_FILE=$d/rabbitmq.conf
ENABLED_PLUGINS_FILE=$d/enabled_plugins
PID_FILE=$d/pid
ERL_EPMD_ADDRESS=127.0.0.1
SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1} -kernel inet_dist_connect_options [{ip,{$(node_source_ip "$n" | tr . ,)}}]"
EOF
  cat >"$d/rabbitmq.conf" <<EOF
listeners.tcp.local = 127.0.0.1:$(node_port "$n")
loopback_users = none
cluster_partition_handling = pause_minority
# A peer that stops answering is declared down after 10-12.5 s instead of 60-75 s.
net_ticktime = 10
EOF
  echo '[rabbitmq_consistent_hash_exchange].' >"$d/enabled_plugins"
  chown -R rabbitmq:rabbitmq "$d"
}

is_up() { ctl "$1" -q ping >/dev/null 2>&1; }

# Launches node N's VM unless the node answers already; await_node waits for it.
launch_node() {
  local n=$1
  write_config "$n"
  if is_up "$n"; then return 0; fi
  log "starting $(node_name "$n") on 127.0.0.1:$(node_port "$n")"
  rm -f "$(node_dir "$n")/erl_crash.dump"
  cat "$(node_dir "$n")/rabbitmq-env.conf" "$(node_dir "$n")/rabbitmq.conf" >"$(node_dir "$n")/launched.conf"
  # Started from its own folder, which it keeps as its working directory for good.
  (cd "$(node_dir "$n")" && as_rabbitmq "$n" /usr/lib/rabbitmq/bin/rabbitmq-server -detached >/dev/null 2>&1) || true
}

await_node() {
  local n=$1
  for _ in $(seq 1 60); do is_up "$n" && break; sleep 0.5; done
  ctl "$n" -q await_startup --timeout 300 >/dev/null 2>&1 || die "$(node_name "$n") did not start: $(why_down "$n")"
}

# What a node that did not start left behind: its crash slogan and the end of its log.
why_down() {
  local d
  d=$(node_dir "$1")
  if [ -f "$d/erl_crash.dump" ]; then sed -n 's/^Slogan: /crash: /p' "$d/erl_crash.dump"; fi
  echo "last lines of $d/log/$(node_name "$1").log:"
  tail -n 20 "$d/log/$(node_name "$1").log" 2>/dev/null || echo "(no log)"
}

# Nodes are launched together before any is awaited: a clustered node that was not the last
# to stop waits at boot for the peers it last saw, so starting them one by one can deadlock.
start_nodes() {
  local n
  for n in "$@"; do launch_node "$n"; done
  for n in "$@"; do await_node "$n"; done
}

# Joins node N to node 1's cluster unless it is a member already.
join_node() {
  local n=$1
  [ "$n" = 1 ] && return 0
  if ctl 1 -q cluster_status --formatter json 2>/dev/null | grep -q "\"$(node_name "$n")\""; then
    return 0
  fi
  log "joining $(node_name "$n") to $(node_name 1)"
  local out
  out=$({ ctl "$n" -q stop_app && ctl "$n" -q reset && ctl "$n" -q join_cluster "$(node_name 1)" &&
    ctl "$n" -q start_app; } 2>&1) || die "$(node_name "$n") could not join: $out"
}

stop_node() {
  local n=$1
  is_up "$n" || return 0
  log "stopping $(node_name "$n")"
  ctl "$n" -q stop >/dev/null 2>&1 || true
}

kill_node() {
  local n=$1 pid
  pid=$(cat "$(node_dir "$n")/pid" 2>/dev/null || true)
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || die "$(node_name "$n") is not running"
  log "kill -9 $(node_name "$n") (pid $pid)"
  kill -9 "$pid"
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
}

# Drops node N's inter-node packets: what it sends from its own address and what reaches its
# distribution port. Its AMQP port is left alone: clients still reach it.
partition_node() {
  local n=$1
  command -v nft >/dev/null 2>&1 || {
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nftables >/dev/null 2>&1 ||
      die "cannot install nftables with apt-get"
  }
  nft list table inet "$NFT_TABLE" >/dev/null 2>&1 ||
    nft add table inet "$NFT_TABLE" '{ chain output { type filter hook output priority 0; policy accept; }; }' ||
    die "nft refused the table (is CAP_NET_ADMIN available?)"
  nft add rule inet "$NFT_TABLE" output ip saddr "$(node_source_ip "$n")" drop
  nft add rule inet "$NFT_TABLE" output ip daddr "$(node_source_ip "$n")" drop
  nft add rule inet "$NFT_TABLE" output tcp dport "$(node_dist_port "$n")" drop
  nft add rule inet "$NFT_TABLE" output tcp sport "$(node_dist_port "$n")" drop
  log "$(node_name "$n") cut off from the other nodes"
}

heal() {
  command -v nft >/dev/null 2>&1 || return 0
  nft list table inet "$NFT_TABLE" >/dev/null 2>&1 || return 0
  nft delete table inet "$NFT_TABLE"
  log "partitions healed"
}

check_node_arg() { [[ ${1:-} =~ ^[123]$ ]] || die "a node number 1-3 is needed, got '${1:-}'"; }

case ${1:-} in
  up)
    # A node running with settings older than this script's is stopped, to start with them.
    for n in "${NODES[@]}"; do
      write_config "$n"
      if is_up "$n" && ! cat "$(node_dir "$n")/rabbitmq-env.conf" "$(node_dir "$n")/rabbitmq.conf" |
        cmp -s - "$(node_dir "$n")/launched.conf"; then
        log "$(node_name "$n") runs with older settings"
        stop_node "$n"
      fi
    done
    start_nodes "${NODES[@]}"
    for n in "${NODES[@]}"; do join_node "$n"; done
    log "cluster up: $("$SELF" urls)"
    ;;
  down) heal; for n in 3 2 1; do stop_node "$n"; done ;;
  status)
    for n in "${NODES[@]}"; do
      if is_up "$n"; then echo "$(node_name "$n") 127.0.0.1:$(node_port "$n") up"
      else echo "$(node_name "$n") 127.0.0.1:$(node_port "$n") down"; fi
    done
    for n in "${NODES[@]}"; do
      if is_up "$n"; then
        ctl "$n" -q cluster_status --formatter json |
          python3 -c 'import json,sys; s=json.load(sys.stdin); print("members:", " ".join(sorted(s["disk_nodes"])), "| running:", " ".join(sorted(s["running_nodes"])))'
        break
      fi
    done
    ;;
  start) check_node_arg "${2:-}"; start_nodes "$2" ;;
  stop) check_node_arg "${2:-}"; stop_node "$2" ;;
  kill) check_node_arg "${2:-}"; kill_node "$2" ;;
  port) check_node_arg "${2:-}"; node_port "$2" ;;
  urls)
    urls=()
    for n in "${NODES[@]}"; do urls+=("amqp://guest:guest@127.0.0.1:$(node_port "$n")/%2f"); done
    (IFS=,; echo "${urls[*]}")
    ;;
  leader)
    queue=${2:?queue name}
    for n in "${NODES[@]}"; do
      is_up "$n" || continue
      leader=$(ctl "$n" -q list_queues name leader --no-table-headers 2>/dev/null | awk -v q="$queue" '$1 == q { print $2 }')
      [ -n "$leader" ] || die "no quorum queue $queue"
      [[ $leader =~ ^rabbit-([123])@ ]] || die "unexpected leader $leader"
      echo "${BASH_REMATCH[1]}"
      exit 0
    done
    die "no node is up" ;;
  ctl) check_node_arg "${2:-}"; n=$2; shift 2; ctl "$n" "$@" ;;
  partition) check_node_arg "${2:-}"; partition_node "$2" ;;
  heal) heal ;;
  reset) "$SELF" down; log "erasing $DIR"; rm -rf "$DIR" ;;
  *) die "usage: $0 up|down|status|start N|stop N|kill N|port N|urls|leader QUEUE|ctl N ...|partition N|heal|reset" ;;
esac
