#!/bin/sh
# One member of a pg_auto_failover set in a container: `monitor`, or `node` (a data node that
# registers with the monitor pg-monitor; the first becomes the primary, the next its secondary).
# Created on first start, then run; its data lives on the volume at /var/lib/postgresql/ha.
# pg_auto_failover's own roles are trusted from the set's hosts only (rules pg_autoctl writes);
# everyone else logs in with a password (scram-sha-256). The application role POSTGRES_USER,
# allowed to create the services' databases, is made once this node is the primary.
set -eu
export PGDATA=/var/lib/postgresql/ha/data
export XDG_CONFIG_HOME=/var/lib/postgresql/ha/config XDG_DATA_HOME=/var/lib/postgresql/ha/share
host=$(hostname)

if [ ! -f "$PGDATA/PG_VERSION" ]; then
  case ${1:-} in
    monitor) pg_autoctl create monitor --hostname "$host" --pgport 5432 --auth trust --ssl-self-signed ;;
    node)
      pg_autoctl create postgres --hostname "$host" --name "$host" --pgport 5432 --auth trust \
        --ssl-self-signed --monitor "postgres://autoctl_node@pg-monitor:5432/pg_auto_failover?sslmode=require"
      ;;
    *) echo "usage: postgres-ha monitor|node" >&2; exit 2 ;;
  esac
  echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
fi

if [ "$1" = node ]; then
  (
    until [ "$(psql -qtAX -d postgres -c 'SELECT NOT pg_is_in_recovery()' 2>/dev/null)" = t ]; do sleep 2; done
    psql -qX -d postgres -v ON_ERROR_STOP=1 -v user="$POSTGRES_USER" -v password="$POSTGRES_PASSWORD" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN CREATEDB PASSWORD %L', :'user', :'password')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'user') \gexec
SQL
  ) &
fi
exec pg_autoctl run
