#!/usr/bin/env bash
# One RabbitMQ user per component, allowed only what the component does (least privilege).
#
#   scripts/rabbitmq-users.sh grant <component> <user>     # password on stdin (one line)
#   scripts/rabbitmq-users.sh patterns <component>         # prints: configure write read
#   scripts/rabbitmq-users.sh delete <user>
#   scripts/rabbitmq-users.sh definitions < users    # lines "component user password"; prints
#                                                    # a definitions file RabbitMQ loads at boot
#   scripts/rabbitmq-users.sh env-definitions docker/.env > docker/rabbitmq/definitions.json
#
# The first three act on the local broker with rabbitmqctl. The definitions are for brokers
# this machine does not run (compose, Kubernetes): users with salted SHA-256 password hashes
# and their permissions; the component "admin" is an administrator with every permission.
# env-definitions reads the passwords from compose's .env (RABBITMQ_USER / RABBITMQ_PASSWORD,
# the administrator, and RABBITMQ_<COMPONENT>_PASSWORD for each component below).
#
# Components: engine, producer (publishes votes: loadgen, the voting front ends), vote-intake
# (publishes votes to the engine's queue only), and the
# satellites poll-service, meeting-service, election-service, order-service,
# inventory-service, order-callback, notification-service, matchmaking-service.
# Names follow the defaults; change them with ENGINE_QUEUE (votes.aggregation), VOTE_EXCHANGE
# (votes), MQ_EXCHANGE
# (events), SATELLITE_QUEUE / SATELLITE_DLQ (the component's MQ_QUEUE and dead-letter queue)
# and NOTIFICATIONS_QUEUE (notifications_queue). RABBITMQ_VHOST defaults to "/".
#
# What each may do (RabbitMQ checks configure on declare, write on publish and on the queue
# side of a binding, read on consume and on the exchange side of a binding; a queue declared
# with a dead-letter exchange also needs read on the queue and write on that exchange):
# - producer: publish through the default exchange and the sharded intake's exchange, nothing
#   else: it cannot declare, consume or read any queue. The engine declares the vote queue (or
#   the shards), so start it once before producers (loadgen leaves an existing queue as it is);
# - vote-intake: publish through the default exchange (to the engine's queue), nothing else;
# - engine: its queue, its dead-letter queue and exchange votes.dlx, and for the sharded intake
#   (VOTE_SHARDS) the exchange VOTE_EXCHANGE (votes) and the shards <queue>.<i> with their
#   dead-letter queues; it cannot publish to the events exchange nor touch any other queue;
# - a satellite: its own queue and dead-letter queue, the events exchange and its .dlx, and
#   the default exchange (a retried message goes back to its own queue through it).
set -euo pipefail

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
quote() { printf '%s' "$1" | sed 's/[][\\.*^$()+?{}|]/\\&/g'; }
alternatives() { local out="" n; for n in "$@"; do out="${out:+$out|}$(quote "$n")"; done; printf '^(%s)$' "$out"; }

VHOST=${RABBITMQ_VHOST:-/}
EXCHANGE=${MQ_EXCHANGE:-events}
ENGINE_QUEUE=${ENGINE_QUEUE:-votes.aggregation}
VOTE_EXCHANGE=${VOTE_EXCHANGE:-votes}
NOTIFICATIONS=${NOTIFICATIONS_QUEUE:-notifications_queue}

satellite_queue() {
  case "$1" in
    poll-service) echo voting-service ;;
    meeting-service) echo meeting-service ;;
    election-service) echo election-service ;;
    inventory-service) echo order_placed ;;
    order-callback) echo order_callback ;;
    notification-service) echo inventory_reserved ;;
    order-service | matchmaking-service) echo "" ;;
    *) echo "unknown component: $1" >&2; exit 2 ;;
  esac
}

# Prints "configure write read" for a component.
patterns() {
  local component=$1
  case "$component" in
    engine)
      local own; own=$(alternatives "$ENGINE_QUEUE" "$ENGINE_QUEUE.dlq" votes.dlx "$VOTE_EXCHANGE")
      own="${own%)\$}|$(quote "$ENGINE_QUEUE")\.[0-9]+(\.dlq)?)\$"
      printf '%s %s %s\n' "$own" "$own" "$own" ;;
    producer)
      printf '%s %s %s\n' '^$' "$(alternatives amq.default "$VOTE_EXCHANGE")" '^$' ;;
    vote-intake)
      printf '%s %s %s\n' '^$' "$(alternatives amq.default)" '^$' ;;
    *)
      local queue dlq names=()
      queue=${SATELLITE_QUEUE:-$(satellite_queue "$component")}
      if [ -n "$queue" ]; then
        dlq=${SATELLITE_DLQ:-$([ "$component" = inventory-service ] && echo order_placed_dlq || echo "$queue.dlq")}
        names+=("$queue" "$dlq")
      fi
      case "$component" in
        notification-service | matchmaking-service) names+=("$NOTIFICATIONS" "$NOTIFICATIONS.dlq") ;;
      esac
      local own; own=$(alternatives "${names[@]}" "$EXCHANGE" "$EXCHANGE.dlx")
      printf '%s %s %s\n' "$own" "$(alternatives "${names[@]}" "$EXCHANGE" "$EXCHANGE.dlx" amq.default)" "$own" ;;
  esac
}

# The RabbitMQ password hash (rabbit_password_hashing_sha256) of $1: base64 of a random 4-byte
# salt followed by SHA-256(salt + password).
password_hash() {
  local dir; dir=$(mktemp -d)
  openssl rand 4 >"$dir/salt"
  { cat "$dir/salt"; printf '%s' "$1"; } | openssl dgst -sha256 -binary >"$dir/digest"
  cat "$dir/salt" "$dir/digest" | openssl base64 -A
  rm -rf "$dir"
}

json_string() { printf '"%s"' "$(printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g')"; }

# Lines "component user password" on stdin -> a definitions file on stdout.
definitions() {
  local users="" permissions="" component user password configure write read tags
  while read -r component user password; do
    [ -n "$component" ] || continue
    if [ "$component" = admin ]; then
      configure='.*' write='.*' read='.*' tags=administrator
    else
      read -r configure write read < <(patterns "$component")
      tags=""
    fi
    users+="${users:+,}
    {\"name\": $(json_string "$user"), \"password_hash\": \"$(password_hash "$password")\", \"hashing_algorithm\": \"rabbit_password_hashing_sha256\", \"tags\": \"$tags\"}"
    permissions+="${permissions:+,}
    {\"user\": $(json_string "$user"), \"vhost\": $(json_string "$VHOST"), \"configure\": $(json_string "$configure"), \"write\": $(json_string "$write"), \"read\": $(json_string "$read")}"
  done
  printf '{\n  "users": [%s\n  ],\n  "vhosts": [{"name": %s}],\n  "permissions": [%s\n  ]\n}\n' \
    "$users" "$(json_string "$VHOST")" "$permissions"
}

COMPONENTS="engine producer vote-intake poll-service meeting-service election-service order-service inventory-service order-callback notification-service matchmaking-service"

# RABBITMQ_<COMPONENT>_PASSWORD: poll-service -> RABBITMQ_POLL_SERVICE_PASSWORD.
password_variable() { printf 'RABBITMQ_%s_PASSWORD' "$(printf '%s' "$1" | tr 'a-z-' 'A-Z_')"; }

case "${1:-}" in
  patterns)
    patterns "${2:?component}" ;;
  grant)
    component=${2:?component}; user=${3:?user}
    read -r configure write read < <(patterns "$component")
    IFS= read -r password || { echo "rabbitmq-users: give the password on stdin" >&2; exit 2; }
    if as_root rabbitmqctl -q list_users | awk '{print $1}' | grep -qxF "$user"; then
      printf '%s' "$password" | as_root rabbitmqctl -q change_password "$user" >/dev/null
    else
      printf '%s' "$password" | as_root rabbitmqctl -q add_user "$user" >/dev/null
    fi
    as_root rabbitmqctl -q set_permissions -p "$VHOST" "$user" "$configure" "$write" "$read" >/dev/null
    printf 'rabbitmq-users: %s (%s) may configure %s, write %s, read %s\n' "$user" "$component" "$configure" "$write" "$read" >&2 ;;
  delete)
    as_root rabbitmqctl -q delete_user "${2:?user}" >/dev/null ;;
  definitions)
    definitions ;;
  env-definitions)
    env_file=${2:?compose .env file}
    # shellcheck disable=SC1090
    set -a; . "$env_file"; set +a
    {
      printf 'admin %s %s\n' "${RABBITMQ_USER:?RABBITMQ_USER not in $env_file}" "${RABBITMQ_PASSWORD:?RABBITMQ_PASSWORD not in $env_file}"
      for component in $COMPONENTS; do
        variable=$(password_variable "$component")
        printf '%s %s %s\n' "$component" "$component" "${!variable:?$variable not in $env_file}"
      done
    } | definitions ;;
  *)
    sed -n '2,17p' "$0" >&2; exit 2 ;;
esac
