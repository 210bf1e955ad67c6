#!/usr/bin/env bash
# Makes this machine ready to run the platform: PostgreSQL and RabbitMQ installed (from Debian
# packages, when absent), running, answering, and the engine's database created; a local
# development signing key and JWKS for the services' bearer tokens (.dev/auth/).
# Idempotent: a second run finds everything in place and changes nothing.
#
# Root (directly or through sudo) is needed only for what is missing: installing packages,
# starting a stopped server, allowing password-less loopback connections in pg_hba.conf,
# enabling a RabbitMQ plugin. Such a step without root stops at once, saying which it was.
set -euo pipefail
SCRIPT=setup
source "$(dirname "$0")/lib.sh"
# Commands run as the postgres user start in the caller's directory, which that user may not be
# allowed to read ("could not change directory"): work from / (this script uses no relative path).
cd /

PGHOST=127.0.0.1
PGPORT=${POSTGRES_PORT:-5432}
PGUSER=${POSTGRES_USER:-postgres}
PGDB=${POSTGRES_DB:-election_votes}

# --- PostgreSQL -----------------------------------------------------------------------------------
if ! command -v pg_ctlcluster >/dev/null 2>&1 || ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
  apt_install postgresql postgresql-client
fi
if ! pg_isready -q -h "$PGHOST" -p "$PGPORT"; then
  version=$(ls /etc/postgresql | sort -n | tail -n 1)
  need_root "start PostgreSQL $version"
  log "starting PostgreSQL $version"
  quietly "start PostgreSQL $version" "${SUDO[@]}" pg_ctlcluster --skip-systemctl-redirect "$version" main start
fi
for _ in $(seq 1 60); do pg_isready -q -h "$PGHOST" -p "$PGPORT" && break; sleep 0.5; done
pg_isready -q -h "$PGHOST" -p "$PGPORT" || die "PostgreSQL does not answer on $PGHOST:$PGPORT"

# Local development connects over loopback as $PGUSER without a password. A fresh Debian
# install asks for one on TCP, so allow loopback with trust (this machine only).
if ! psql -h "$PGHOST" -p "$PGPORT" -U "$PGUSER" -d postgres -tAc 'SELECT 1' >/dev/null 2>&1; then
  need_root "allow password-less loopback connections for $PGUSER in pg_hba.conf"
  hba=$("${SUDO[@]}" su postgres -c "psql -tAc 'SHOW hba_file'")
  log "allowing password-less loopback connections in $hba (local development)"
  "${SUDO[@]}" sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$hba"
  quietly "reload PostgreSQL's configuration" "${SUDO[@]}" su postgres -c "psql -tAc 'SELECT pg_reload_conf()'"
  sleep 1
  psql -h "$PGHOST" -p "$PGPORT" -U "$PGUSER" -d postgres -tAc 'SELECT 1' >/dev/null
fi
if [ "$(psql -h "$PGHOST" -p "$PGPORT" -U "$PGUSER" -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$PGDB'")" != 1 ]; then
  log "creating database $PGDB"
  psql -h "$PGHOST" -p "$PGPORT" -U "$PGUSER" -d postgres -qc "CREATE DATABASE \"$PGDB\""
fi

# --- RabbitMQ -------------------------------------------------------------------------------------
if ! command -v rabbitmq-server >/dev/null 2>&1; then
  apt_install rabbitmq-server
fi
# Up means it speaks AMQP on 5672: the protocol header is answered by a method frame (type 1).
# A plain socket test, so that no root is needed to find a running broker.
rabbit_up() {
  timeout 2 bash -c 'exec 3<>/dev/tcp/127.0.0.1/5672 && printf "AMQP\x00\x00\x09\x01" >&3 &&
    [ "$(head -c 1 <&3 | od -An -tu1 | tr -d " ")" = 1 ]' 2>/dev/null
}
if ! rabbit_up; then
  need_root "start RabbitMQ"
  log "starting RabbitMQ (up to 2 minutes)"
  quietly "start RabbitMQ" "${SUDO[@]}" rabbitmq-server -detached
  for _ in $(seq 1 120); do rabbit_up && break; sleep 1; done
  rabbit_up || die "RabbitMQ started but does not answer on 127.0.0.1:5672; see /var/log/rabbitmq/"
fi
# The sharded intake's exchange type (VOTE_SHARDS); the plugin ships with the server.
if ! grep -qs rabbitmq_consistent_hash_exchange /etc/rabbitmq/enabled_plugins; then
  need_root "enable RabbitMQ's rabbitmq_consistent_hash_exchange plugin"
  log "enabling rabbitmq_consistent_hash_exchange"
  quietly "enable rabbitmq_consistent_hash_exchange" "${SUDO[@]}" rabbitmq-plugins enable rabbitmq_consistent_hash_exchange
fi

# --- Local identity provider: a development signing key and its JWKS ----------------------------
command -v openssl >/dev/null 2>&1 || apt_install openssl
"$ROOT/scripts/dev-auth-keys.sh" "$ROOT/.dev/auth"

log "PostgreSQL ($PGHOST:$PGPORT, database $PGDB) and RabbitMQ (127.0.0.1:5672) are ready"
