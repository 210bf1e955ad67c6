#!/usr/bin/env bash
# Makes this machine ready to run and test the platform: PostgreSQL and RabbitMQ installed
# (from Debian packages, when absent), running, answering, and the engine's database created;
# Chromium installed for the results page's browser test; a local development signing key and
# JWKS for the services' bearer tokens (.dev/auth/).
# Idempotent: a second run finds everything in place and changes nothing.
set -euo pipefail
# Commands run as the postgres user start in the caller's directory, which that user may not be
# allowed to read ("could not change directory"): work from / (this script uses no relative path).
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd /

PGHOST=127.0.0.1
PGPORT=${POSTGRES_PORT:-5432}
PGUSER=${POSTGRES_USER:-postgres}
PGDB=${POSTGRES_DB:-election_votes}

log() { printf 'setup: %s\n' "$*" >&2; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

apt_install() {
  log "installing $* from Debian packages"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# --- PostgreSQL -----------------------------------------------------------------------------------
if ! command -v pg_ctlcluster >/dev/null 2>&1 || ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
  apt_install postgresql postgresql-client
fi
if ! pg_isready -q -h "$PGHOST" -p "$PGPORT"; then
  version=$(ls /etc/postgresql | sort -n | tail -n 1)
  log "starting PostgreSQL $version"
  as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
fi
for _ in $(seq 1 60); do pg_isready -q -h "$PGHOST" -p "$PGPORT" && break; sleep 0.5; done
pg_isready -q -h "$PGHOST" -p "$PGPORT" || { log "PostgreSQL does not answer on $PGHOST:$PGPORT"; exit 1; }

# Local development connects over loopback as $PGUSER without a password. A fresh Debian
# install asks for one on TCP, so allow loopback with trust (this machine only).
if ! psql -h "$PGHOST" -p "$PGPORT" -U "$PGUSER" -d postgres -tAc 'SELECT 1' >/dev/null 2>&1; then
  hba=$(as_root su postgres -c "psql -tAc 'SHOW hba_file'")
  log "allowing password-less loopback connections in $hba (local development)"
  as_root sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$hba"
  as_root su postgres -c "psql -tAc 'SELECT pg_reload_conf()'" >/dev/null
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
rabbit_up() { as_root rabbitmq-diagnostics -q check_port_connectivity >/dev/null 2>&1; }
if ! rabbit_up; then
  log "starting RabbitMQ"
  as_root rabbitmq-server -detached >/dev/null 2>&1 || true
  for _ in $(seq 1 120); do rabbit_up && break; sleep 1; done
fi
rabbit_up || { log "RabbitMQ does not answer on 127.0.0.1:5672"; exit 1; }
# The sharded intake's exchange type (VOTE_SHARDS); the plugin ships with the server.
if ! as_root rabbitmq-plugins list -e -m 2>/dev/null | grep -qx rabbitmq_consistent_hash_exchange; then
  log "enabling rabbitmq_consistent_hash_exchange"
  as_root rabbitmq-plugins enable rabbitmq_consistent_hash_exchange >/dev/null
fi

# --- Chromium (the results page's browser test drives it headless) ---------------------------------
if [ ! -x /usr/bin/chromium ]; then
  apt_install chromium
fi

# --- Local identity provider: a development signing key and its JWKS ----------------------------
command -v openssl >/dev/null 2>&1 || apt_install openssl
"$ROOT/scripts/dev-auth-keys.sh" "$ROOT/.dev/auth"

log "PostgreSQL ($PGHOST:$PGPORT, database $PGDB), RabbitMQ (127.0.0.1:5672) and Chromium are ready"
