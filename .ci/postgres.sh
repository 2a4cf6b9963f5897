# A throw-away PostgreSQL cluster for the test suite: Debian's server binaries, a temp
# folder owned by the `postgres` user (the server refuses to run as root), 127.0.0.1 only,
# a free port, password (SCRAM) authentication. Durability is off: the data is disposable.
#
#   source .ci/postgres.sh && pg_start   # exports ANALYTICS_TEST_POSTGRES_URL
#   ...                                  # ANALYTICS_TEST_DATABASE=postgresql pytest ...
#   pg_stop                              # stops the server and removes the folder
#
# Needs: apt-get install -y postgresql (server binaries under /usr/lib/postgresql/*/bin).

pg_start() {
  PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  if [ -z "$PG_BIN" ]; then
    echo "PostgreSQL server binaries not found (apt-get install -y postgresql)" >&2
    return 1
  fi
  PG_DIR=$(mktemp -d /tmp/analytics-pg.XXXXXX)
  PG_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  PG_PASSWORD=$(python3 -c 'import secrets; print(secrets.token_hex(16))')
  printf '%s\n' "$PG_PASSWORD" > "$PG_DIR/pwfile"
  if [ "$(id -u)" = 0 ]; then
    chown -R postgres:postgres "$PG_DIR"
    PG_AS=(runuser -u postgres --)
  else
    PG_AS=()
  fi
  "${PG_AS[@]}" "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres --pwfile="$PG_DIR/pwfile" \
    --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >/dev/null
  rm -f "$PG_DIR/pwfile"
  "${PG_AS[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $PG_DIR -c max_connections=400 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
    start >/dev/null
  export PG_DIR PG_BIN
  export ANALYTICS_TEST_POSTGRES_URL="postgresql+psycopg://postgres:$PG_PASSWORD@127.0.0.1:$PG_PORT/postgres"
  echo "PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PG_PORT ($PG_DIR)"
}

pg_stop() {
  if [ -n "${PG_DIR:-}" ] && [ -d "$PG_DIR/data" ]; then
    "${PG_AS[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate -w stop >/dev/null 2>&1 || true
    rm -rf "$PG_DIR"
  fi
}
