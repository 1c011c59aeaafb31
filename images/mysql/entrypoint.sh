#!/bin/bash
# Entrypoint of the MySQL-compatible image (MariaDB from Debian). It behaves like the official
# mysql image where the scenarios rely on it: MYSQL_ROOT_PASSWORD sets root's password (from any
# host), MYSQL_DATABASE creates a database, and an existing datadir is reused untouched.
set -euo pipefail
DATADIR=${MYSQL_DATADIR:-/var/lib/mysql}

if [[ $# -gt 0 && $1 != mysqld && $1 != mariadbd ]]; then exec "$@"; fi

mkdir -p "$DATADIR" /run/mysqld
chown mysql:mysql "$DATADIR" /run/mysqld

if [[ ! -d $DATADIR/mysql ]]; then
  if [[ -z ${MYSQL_ROOT_PASSWORD:-} && -z ${MYSQL_ALLOW_EMPTY_PASSWORD:-} ]]; then
    echo "error: the datadir is empty and MYSQL_ROOT_PASSWORD is not set (or set MYSQL_ALLOW_EMPTY_PASSWORD=yes)" >&2
    exit 1
  fi
  # The server refuses a datadir holding anything but its own files (e.g. lost+found at a volume
  # root); the seed mounts the volume with subPath: data for that reason.
  if [[ -n $(ls -A "$DATADIR") ]]; then
    echo "error: $DATADIR is not empty but holds no database: $(ls -A "$DATADIR" | head -5 | tr '\n' ' ')" >&2
    exit 1
  fi
  echo "[entrypoint] initialising $DATADIR"
  mariadb-install-db --user=mysql --datadir="$DATADIR" --skip-test-db --auth-root-authentication-method=normal >/dev/null
  mariadbd --user=mysql --datadir="$DATADIR" --skip-networking --socket=/run/mysqld/init.sock &
  pid=$!
  for _ in $(seq 1 60); do
    mariadb-admin --socket=/run/mysqld/init.sock ping >/dev/null 2>&1 && break
    sleep 1
  done
  {
    echo "DELETE FROM mysql.global_priv WHERE User='';"
    if [[ -n ${MYSQL_ROOT_PASSWORD:-} ]]; then
      echo "ALTER USER 'root'@'localhost' IDENTIFIED BY '${MYSQL_ROOT_PASSWORD//\'/\'\'}';"
      echo "CREATE USER 'root'@'%' IDENTIFIED BY '${MYSQL_ROOT_PASSWORD//\'/\'\'}';"
    else
      echo "CREATE USER 'root'@'%';"
    fi
    echo "GRANT ALL ON *.* TO 'root'@'%' WITH GRANT OPTION;"
    [[ -n ${MYSQL_DATABASE:-} ]] && echo "CREATE DATABASE IF NOT EXISTS \`${MYSQL_DATABASE}\`;"
    echo "FLUSH PRIVILEGES;"
  } | mariadb --socket=/run/mysqld/init.sock -uroot
  kill "$pid"; wait "$pid" || true
  echo "[entrypoint] initialised"
fi

exec mariadbd --user=mysql --datadir="$DATADIR" --bind-address=0.0.0.0 --port=3306 \
  --socket=/run/mysqld/mysqld.sock "${@:2}"
