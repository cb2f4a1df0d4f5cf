#!/usr/bin/env bash
# Start a throw-away PostgreSQL server on 127.0.0.1 for the tests (installs Debian's postgresql if missing).
#   scripts/postgres.sh start DIR PORT   -> prints the connection URL
#   scripts/postgres.sh stop DIR
set -euo pipefail
cmd="$1"; dir="$2"; port="${3:-55432}"
bin=""
for d in /usr/lib/postgresql/*/bin; do [ -x "$d/initdb" ] && bin="$d"; done
if [ -z "$bin" ] && [ "$cmd" = start ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null && apt-get install -y -qq postgresql >/dev/null
  for d in /usr/lib/postgresql/*/bin; do [ -x "$d/initdb" ] && bin="$d"; done
fi
[ -n "$bin" ] || { echo "no PostgreSQL binaries found" >&2; exit 1; }
run() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
case "$cmd" in
  start)
    mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown postgres "$dir"
    run "$bin/initdb" -D "$dir/data" -U curation --auth=trust -E UTF8 >/dev/null
    run "$bin/pg_ctl" -D "$dir/data" -o "-p $port -k $dir -c listen_addresses=127.0.0.1" -l "$dir/log" -w start >/dev/null
    run "$bin/createdb" -h 127.0.0.1 -p "$port" -U curation dagster
    echo "postgresql://curation@127.0.0.1:$port/dagster"
    ;;
  stop)
    run "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null || true
    ;;
esac
