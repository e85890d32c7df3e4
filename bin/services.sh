# Shared by bin/test and bin/demo: install what a fresh Debian/Ubuntu machine lacks,
# start MariaDB and Redis when they are not answering, create the databases.
# shellcheck shell=bash

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

apt_install() {
  local missing=()
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "installing: ${missing[*]}"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

ensure_python() {
  if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
    apt_install python3 python3-venv python3-pip
  fi
  if [ ! -x .venv/bin/python ]; then python3 -m venv .venv; fi
  # The lock pins every package with its hashes: the same bytes on every machine, nothing unpinned
  # (not even a newer pip) is fetched. bin/lock writes the locks.
  .venv/bin/python -m pip install -q --require-hashes -r "$1"
}

wait_for() {  # wait_for NAME COMMAND...
  local name=$1; shift
  for _ in $(seq 1 60); do "$@" >/dev/null 2>&1 && return 0; sleep 1; done
  echo "$name did not start" >&2; return 1
}

ensure_redis() {
  command -v redis-server >/dev/null || apt_install redis-server
  if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
    as_root mkdir -p /var/lib/redis /var/log/redis
    as_root redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
      --dir /var/lib/redis --logfile /var/log/redis/ci.log
    wait_for redis redis-cli -h 127.0.0.1 -p 6379 ping
  fi
}

ensure_mariadb() {  # ensure_mariadb DBNAME...
  [ -x /usr/sbin/mariadbd ] || apt_install mariadb-server
  if ! mariadb-admin -h 127.0.0.1 -P 3306 -uroot ping >/dev/null 2>&1 \
     && ! mariadb-admin -uroot ping >/dev/null 2>&1; then
    as_root mkdir -p /run/mysqld && as_root chown mysql:mysql /run/mysqld 2>/dev/null || true
    as_root start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
    wait_for mariadb sh -c 'mariadb-admin -uroot ping || mariadb-admin -h 127.0.0.1 -uroot ping'
  fi
  # The app connects as its own user over TCP (root may be socket-only on a fresh install).
  local sql="CREATE USER IF NOT EXISTS 'loyalty'@'localhost' IDENTIFIED BY 'loyalty';
CREATE USER IF NOT EXISTS 'loyalty'@'127.0.0.1' IDENTIFIED BY 'loyalty';"
  for db in "$@"; do
    sql="$sql
CREATE DATABASE IF NOT EXISTS \`$db\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
GRANT ALL PRIVILEGES ON \`$db\`.* TO 'loyalty'@'localhost';
GRANT ALL PRIVILEGES ON \`$db\`.* TO 'loyalty'@'127.0.0.1';"
  done
  echo "$sql" | as_root mariadb -uroot 2>/dev/null || echo "$sql" | mariadb -h 127.0.0.1 -P 3306 -uroot
}
