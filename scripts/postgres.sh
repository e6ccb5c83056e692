#!/usr/bin/env bash
# A local PostgreSQL 15 server with pgvector 0.8, for the PostgreSQL store (RAG_STORE=postgresql://...).
#
#   scripts/postgres.sh start    install if needed, start, print the URL to use
#   scripts/postgres.sh status   print the URL when running (exit 1 when not)
#   scripts/postgres.sh stop
#
# Installs from Debian's archive only: bookworm's postgresql-15, and pgvector 0.8 built from trixie's
# source package with Debian's own tools (bookworm has no pgvector; 0.8 is the first with iterative
# index scans, which filtered searches need to return k rows). The server runs as an unprivileged
# user, listens on 127.0.0.1 only, and keeps its data under RAG_PG_DATA (default .pg/ here).
# Environment: RAG_PG_DATA, RAG_PG_PORT (default 54329), RAG_PG_DB (default rag).
set -euo pipefail
cd "$(dirname "$0")/.."

PG_BIN=/usr/lib/postgresql/15/bin
DATA=${RAG_PG_DATA:-$PWD/.pg}
PORT=${RAG_PG_PORT:-54329}
DB=${RAG_PG_DB:-rag}
RUN_AS=$(id -un)
[ "$(id -u)" = 0 ] && RUN_AS=postgres  # PostgreSQL refuses to run as root; Debian's package made this user

as_server_user() {
  if [ "$(id -un)" = "$RUN_AS" ]; then "$@"; else runuser -u "$RUN_AS" -- "$@"; fi
}

url() { echo "postgresql://${RUN_AS}@127.0.0.1:${PORT}/${DB}"; }

install() {
  local apt=(env DEBIAN_FRONTEND=noninteractive apt-get -y -q -o Dpkg::Use-Pty=0)
  if [ ! -x "$PG_BIN/postgres" ]; then
    "${apt[@]}" update >/dev/null
    "${apt[@]}" install --no-install-recommends postgresql-15 >/dev/null
  fi
  local sharedir
  sharedir=$("$PG_BIN/pg_config" --sharedir 2>/dev/null || echo /usr/share/postgresql/15)
  if ls "$sharedir"/extension/vector--0.8*.sql >/dev/null 2>&1; then
    return
  fi
  # The server's headers (pg_config alone may come from the client packages).
  if [ ! -f "$("$PG_BIN/pg_config" --includedir-server 2>/dev/null || echo /nonexistent)/postgres.h" ]; then
    "${apt[@]}" update >/dev/null
    "${apt[@]}" install --no-install-recommends postgresql-server-dev-15 make gcc >/dev/null
  fi
  command -v dpkg-source >/dev/null || "${apt[@]}" install --no-install-recommends dpkg-dev >/dev/null
  local work
  work=$(mktemp -d)
  chmod 755 "$work"
  # trixie's sources only, in a private list folder: the machine's own apt setup is left as it was.
  echo "deb-src http://deb.debian.org/debian trixie main" > "$work/sources.list"
  mkdir -p "$work/lists/partial"
  local src=(-o Dir::Etc::SourceList="$work/sources.list" -o Dir::Etc::SourceParts=/dev/null
             -o Dir::State::Lists="$work/lists")
  apt-get -q "${src[@]}" update >/dev/null
  (cd "$work" && apt-get -q "${src[@]}" source --download-only pgvector=0.8.0-1 >/dev/null 2>&1)
  # apt checks the .dsc against the signed Sources index, dpkg-source every file against the .dsc.
  (cd "$work" && dpkg-source -x pgvector_0.8.0-1.dsc src >/dev/null 2>&1)
  make -s -C "$work/src" -j2 PG_CONFIG="$PG_BIN/pg_config" >/dev/null
  make -s -C "$work/src" install PG_CONFIG="$PG_BIN/pg_config" >/dev/null
  rm -rf "$work"
}

running() { [ -f "$DATA/postmaster.pid" ] && as_server_user "$PG_BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; }

start() {
  install
  if [ ! -f "$DATA/PG_VERSION" ]; then
    mkdir -p "$DATA"
    chown "$RUN_AS" "$DATA"
    chmod 700 "$DATA"
    # Trust on loopback only: the server is a local development and test database.
    as_server_user "$PG_BIN/initdb" -D "$DATA" -U "$RUN_AS" --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
    cat >> "$DATA/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$DATA'
max_connections = 200
shared_buffers = 512MB
maintenance_work_mem = 1GB
fsync = on
EOF
  fi
  if ! running; then
    as_server_user "$PG_BIN/pg_ctl" -D "$DATA" -l "$DATA/server.log" -w -t 60 start >/dev/null
  fi
  if ! as_server_user "$PG_BIN/psql" -h 127.0.0.1 -p "$PORT" -U "$RUN_AS" -d postgres -tAc \
      "select 1 from pg_database where datname = '$DB'" | grep -q 1; then
    as_server_user "$PG_BIN/createdb" -h 127.0.0.1 -p "$PORT" -U "$RUN_AS" "$DB"
  fi
  url
}

case "${1:-}" in
  start) start ;;
  stop) if running; then as_server_user "$PG_BIN/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null; fi ;;
  status) if running; then url; else echo "not running (data: $DATA)" >&2; exit 1; fi ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
