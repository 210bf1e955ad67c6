#!/usr/bin/env bash
# A synchronous streaming replica of a local PostgreSQL cluster, made with Debian's cluster tools
# (pg_createcluster, pg_basebackup): a commit the primary acknowledges is on both servers.
#
#   scripts/postgres-standby.sh up        standby of the primary on $PRIMARY_PORT, on $STANDBY_PORT
#   scripts/postgres-standby.sh promote   the standby becomes a primary (after the old one is lost)
#   scripts/postgres-standby.sh down      drop the standby; the primary stops waiting for it
#   scripts/postgres-standby.sh status    which clusters run, and the replication state
#   scripts/postgres-standby.sh primary-up    a scratch primary cluster on $PRIMARY_PORT (tests)
#   scripts/postgres-standby.sh primary-down  drop that scratch primary
#
# PRIMARY_PORT (default 5432: the local `main` cluster) and STANDBY_PORT (default 5433) pick the
# pair; the failover tests run their own pair on other ports so that stopping "the primary" does
# not stop the database every other test uses. Local development only: replication and the
# clusters it makes trust loopback connections.
set -euo pipefail

PRIMARY_PORT=${PRIMARY_PORT:-5432}
STANDBY_PORT=${STANDBY_PORT:-5433}
HOST=127.0.0.1

log() { printf 'postgres-standby: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

[ "$(id -u)" -eq 0 ] || exec sudo -E "$0" "$@"
command -v pg_createcluster >/dev/null 2>&1 || die "Debian's postgresql-common is not installed (scripts/setup-services.sh installs PostgreSQL)"
VERSION=$(ls /etc/postgresql | sort -n | tail -n 1)
STANDBY=standby-$STANDBY_PORT
SCRATCH_PRIMARY=primary-$PRIMARY_PORT
# Work from a folder the postgres user may enter, so its commands do not complain about ours.
cd /

as_postgres() { runuser -u postgres -- "$@"; }
psql_at() { local port=$1; shift; psql -X -h "$HOST" -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 -qtA "$@"; }
cluster_exists() { [ -d "/etc/postgresql/$VERSION/$1" ] && [ -d "/var/lib/postgresql/$VERSION/$1" ]; }
# Drops a cluster, also one a failed run left half made.
drop_cluster() {
  pg_dropcluster --stop "$VERSION" "$1" 2>/dev/null || true
  rm -rf "/etc/postgresql/$VERSION/$1" "/var/lib/postgresql/$VERSION/$1"
}
# The cluster that listens on a port, from pg_lsclusters.
cluster_on() { pg_lsclusters -h | awk -v v="$VERSION" -v p="$1" '$1 == v && $3 == p { print $2 }'; }
wait_ready() {
  for _ in $(seq 1 120); do pg_isready -q -h "$HOST" -p "$1" && return 0; sleep 0.5; done
  die "nothing answers on $HOST:$1"
}

# Loopback trust for normal and replication connections, local listening only.
configure_cluster() {
  local name=$1 port=$2 conf=/etc/postgresql/$VERSION/$1
  cat >"$conf/pg_hba.conf" <<EOF
local all all trust
local replication all trust
host all all 127.0.0.1/32 trust
host replication all 127.0.0.1/32 trust
EOF
  cat >"$conf/conf.d/50-vote-local.conf" <<EOF
listen_addresses = '$HOST'
port = $port
wal_level = replica
hot_standby = on
max_wal_senders = 10
EOF
  chown -R postgres:postgres "$conf"
}

primary_cluster() {
  local name
  name=$(cluster_on "$PRIMARY_PORT")
  [ -n "$name" ] || die "no PostgreSQL $VERSION cluster on port $PRIMARY_PORT (primary-up makes a scratch one)"
  echo "$name"
}

up() {
  pg_isready -q -h "$HOST" -p "$PRIMARY_PORT" || die "the primary on $HOST:$PRIMARY_PORT does not answer"
  local primary
  primary=$(primary_cluster)
  # The primary must take replication connections over loopback.
  local hba=/etc/postgresql/$VERSION/$primary/pg_hba.conf
  if ! grep -Eq '^host[[:space:]]+replication[[:space:]]+all[[:space:]]+127\.0\.0\.1/32[[:space:]]+trust' "$hba"; then
    log "allowing loopback replication connections in $hba"
    sed -i '1i host replication all 127.0.0.1/32 trust' "$hba"
    psql_at "$PRIMARY_PORT" -c 'SELECT pg_reload_conf()' >/dev/null
  fi
  if ! cluster_exists "$STANDBY"; then
    drop_cluster "$STANDBY"
    log "base backup of $primary ($PRIMARY_PORT) into $STANDBY ($STANDBY_PORT)"
    pg_createcluster "$VERSION" "$STANDBY" -p "$STANDBY_PORT" >/dev/null
    configure_cluster "$STANDBY" "$STANDBY_PORT"
    local data=/var/lib/postgresql/$VERSION/$STANDBY
    find "$data" -mindepth 1 -delete
    # A fast checkpoint: the default spread one takes minutes on a busy primary.
    as_postgres pg_basebackup -h "$HOST" -p "$PRIMARY_PORT" -U postgres -D "$data" -X stream -R --checkpoint=fast \
      -d "host=$HOST port=$PRIMARY_PORT user=postgres application_name=$STANDBY"
  fi
  pg_ctlcluster --skip-systemctl-redirect "$VERSION" "$STANDBY" start >/dev/null 2>&1 ||
    pg_isready -q -h "$HOST" -p "$STANDBY_PORT" ||
    die "$STANDBY did not start; see /var/log/postgresql/postgresql-$VERSION-$STANDBY.log"
  wait_ready "$STANDBY_PORT"
  # Synchronous: the primary's commits wait for the standby to have flushed them. Set in a
  # conf.d file of the primary's, which a base backup does not copy, so a promoted standby does
  # not wait for a standby of its own.
  local sync=/etc/postgresql/$VERSION/$primary/conf.d/60-vote-synchronous-standby.conf
  printf "synchronous_standby_names = '\"%s\"'\nsynchronous_commit = on\n" "$STANDBY" >"$sync"
  chown postgres:postgres "$sync"
  psql_at "$PRIMARY_PORT" -c 'SELECT pg_reload_conf()' >/dev/null
  for _ in $(seq 1 60); do
    [ "$(psql_at "$PRIMARY_PORT" -c "SELECT sync_state FROM pg_stat_replication WHERE application_name = '$STANDBY'")" = sync ] && break
    sleep 0.5
  done
  [ "$(psql_at "$PRIMARY_PORT" -c "SELECT sync_state FROM pg_stat_replication WHERE application_name = '$STANDBY'")" = sync ] ||
    die "$STANDBY does not replicate synchronously; see /var/log/postgresql/postgresql-$VERSION-$STANDBY.log"
  log "$STANDBY on $HOST:$STANDBY_PORT replicates $primary ($HOST:$PRIMARY_PORT) synchronously"
}

down() {
  local primary
  primary=$(cluster_on "$PRIMARY_PORT")
  if [ -n "$primary" ] && [ -f "/etc/postgresql/$VERSION/$primary/conf.d/60-vote-synchronous-standby.conf" ]; then
    log "the primary on $PRIMARY_PORT stops waiting for $STANDBY"
    rm -f "/etc/postgresql/$VERSION/$primary/conf.d/60-vote-synchronous-standby.conf"
    pg_isready -q -h "$HOST" -p "$PRIMARY_PORT" && psql_at "$PRIMARY_PORT" -c 'SELECT pg_reload_conf()' >/dev/null
  fi
  if [ -d "/etc/postgresql/$VERSION/$STANDBY" ] || [ -d "/var/lib/postgresql/$VERSION/$STANDBY" ]; then
    log "dropping $STANDBY"
    drop_cluster "$STANDBY"
  fi
}

promote() {
  cluster_exists "$STANDBY" || die "no standby $STANDBY to promote"
  log "promoting $STANDBY ($HOST:$STANDBY_PORT)"
  as_postgres psql -X -h "$HOST" -p "$STANDBY_PORT" -qtA -c 'SELECT pg_promote(true, 60)' | grep -qx t ||
    die "$STANDBY did not finish its promotion"
}

primary_up() {
  if ! cluster_exists "$SCRATCH_PRIMARY"; then
    drop_cluster "$SCRATCH_PRIMARY"
    [ -z "$(cluster_on "$PRIMARY_PORT")" ] || die "port $PRIMARY_PORT is taken by cluster $(cluster_on "$PRIMARY_PORT")"
    log "creating scratch primary $SCRATCH_PRIMARY on $HOST:$PRIMARY_PORT"
    pg_createcluster "$VERSION" "$SCRATCH_PRIMARY" -p "$PRIMARY_PORT" >/dev/null
    configure_cluster "$SCRATCH_PRIMARY" "$PRIMARY_PORT"
  fi
  pg_ctlcluster --skip-systemctl-redirect "$VERSION" "$SCRATCH_PRIMARY" start >/dev/null 2>&1 ||
    pg_isready -q -h "$HOST" -p "$PRIMARY_PORT" ||
    die "$SCRATCH_PRIMARY did not start; see /var/log/postgresql/postgresql-$VERSION-$SCRATCH_PRIMARY.log"
  wait_ready "$PRIMARY_PORT"
}

primary_down() {
  if [ -d "/etc/postgresql/$VERSION/$SCRATCH_PRIMARY" ] || [ -d "/var/lib/postgresql/$VERSION/$SCRATCH_PRIMARY" ]; then
    log "dropping $SCRATCH_PRIMARY"
    drop_cluster "$SCRATCH_PRIMARY"
  fi
}

status() {
  pg_lsclusters
  pg_isready -q -h "$HOST" -p "$PRIMARY_PORT" &&
    psql_at "$PRIMARY_PORT" -c "SELECT 'replication: ' || application_name || ' ' || state || ' ' || sync_state FROM pg_stat_replication"
  pg_isready -q -h "$HOST" -p "$STANDBY_PORT" &&
    psql_at "$STANDBY_PORT" -c "SELECT 'port $STANDBY_PORT in recovery: ' || pg_is_in_recovery()"
  return 0
}

case ${1:-} in
  up) up ;;
  down) down ;;
  promote) promote ;;
  status) status ;;
  primary-up) primary_up ;;
  primary-down) primary_down ;;
  *) die "usage: $0 up|down|promote|status|primary-up|primary-down (PRIMARY_PORT, STANDBY_PORT)" ;;
esac
