#!/bin/bash
# Entrypoint of the PostgreSQL image (Debian's postgresql-15). It acts as the official postgres image
# does where the harness relies on it: POSTGRES_PASSWORD is the superuser's password (required unless
# POSTGRES_HOST_AUTH_METHOD=trust), PGDATA names the data directory, an empty one is initialised and
# an existing one is used as it is. POSTGRES_USER and POSTGRES_DB name the superuser and a database.
set -euo pipefail
export PGDATA=${PGDATA:-/var/lib/postgresql/data}

# Bare options are the server's; any other command (a client pod's `sleep infinity`) runs as given.
if [[ $# -eq 0 || $1 == -* ]]; then set -- postgres "$@"; fi
if [[ $1 != postgres ]]; then exec "$@"; fi

# The server refuses to run as root. setpriv changes user and then execs, so the server's processes
# are named postgres on the host (runuser and su fork and wait, and would sit in between).
as_postgres=()
if [[ $(id -u) == 0 ]]; then
  as_postgres=(setpriv --reuid=postgres --regid=postgres --init-groups)
  # Directories from a volume or the image belong to root; the server wants its data private.
  mkdir -p "$PGDATA" /var/run/postgresql
  chown postgres:postgres "$PGDATA" /var/run/postgresql
  chmod 0700 "$PGDATA"
fi

if [[ ! -s $PGDATA/PG_VERSION ]]; then
  auth=${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}
  user=${POSTGRES_USER:-postgres}
  if [[ -z ${POSTGRES_PASSWORD:-} && $auth != trust ]]; then
    echo "error: $PGDATA holds no database and POSTGRES_PASSWORD is not set" \
      "(or set POSTGRES_HOST_AUTH_METHOD=trust to allow connections without one)" >&2
    exit 1
  fi
  # initdb wants an empty directory; a volume's root may hold lost+found, hence PGDATA one level down.
  if [[ -n $(ls -A "$PGDATA") ]]; then
    echo "error: $PGDATA is not empty but holds no database: $(find "$PGDATA" -mindepth 1 -maxdepth 1 -printf '%f ')" >&2
    exit 1
  fi
  echo "[entrypoint] initialising $PGDATA"
  initdb_args=(--username="$user" --encoding=UTF8 --locale=C.UTF-8 --auth-local=trust --auth-host="$auth")
  # The password goes through a file only the postgres user can read, never through argv.
  pwdir=$(mktemp -d)
  if [[ -n ${POSTGRES_PASSWORD:-} ]]; then
    printf '%s\n' "$POSTGRES_PASSWORD" >"$pwdir/pw"
    initdb_args+=(--pwfile="$pwdir/pw")
  fi
  if [[ ${#as_postgres[@]} -gt 0 ]]; then chown -R postgres:postgres "$pwdir"; fi
  "${as_postgres[@]}" initdb "${initdb_args[@]}" >/dev/null
  rm -rf "$pwdir"
  # initdb allows host connections from the loopback only; the pod is reached over the network.
  echo "host all all all $auth" >>"$PGDATA/pg_hba.conf"
  echo "listen_addresses = '*'" >>"$PGDATA/postgresql.conf"
  db=${POSTGRES_DB:-$user}
  if [[ $db != postgres ]]; then
    # Single-user mode: the database exists before the server first listens on the network.
    echo "CREATE DATABASE \"${db//\"/\"\"}\";" | "${as_postgres[@]}" postgres --single -D "$PGDATA" -c log_checkpoints=off postgres >/dev/null
  fi
  echo "[entrypoint] initialised"
fi

# tini is PID 1 and the server its only child: tini passes the stop signal on to the server and
# reaps the orphans of `kubectl exec` and probe processes cut off at their timeout, which the kernel
# hands to PID 1. A server that is PID 1 itself takes any unknown child exiting with a code other
# than 0 or 1 for a crashed backend, and restarts every session and runs crash recovery (seen when
# a wrapped probe's orphan exited 127 after the wrapper was taken away).
exec tini -- "${as_postgres[@]}" "$@"
