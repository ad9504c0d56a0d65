#!/usr/bin/env bash
# deploy/local/postgres.sh {up|down|status}
#
# Runs a private PostgreSQL 15 server (Debian package postgresql-15) for the
# local stack and the integration tests. Everything lives under
# $TANDEM_STATE/$INSTANCE/:
#   data/                 cluster (initdb); data/tandem.conf + pg_hba.conf are
#                         rewritten from the environment on every "up"
#   log/postgres.log      server log (log/initdb.log: output of the first initdb)
#   run/postgres.pid      pid of the postmaster this script started
#   run/port              port it was started on (for "status")
#   run/.s.PGSQL.<port>   unix socket
# It never touches the system cluster (/var/lib/postgresql, port 5432,
# /var/run/postgresql) and never calls systemctl/service.
#
#   up      install postgresql-15 if missing, initdb on first run, start the
#           server on 127.0.0.1:$PG_PORT, wait (60 s) until it is ready, make
#           sure role "tandem" (password "tandem", SUPERUSER LOGIN REPLICATION)
#           and database "tandem" exist, print the DSN on stdout.
#           Idempotent: if already running it only says so (and prints the DSN).
#   down    fast shutdown (SIGINT) of the pid in run/postgres.pid, SIGKILL
#           after 60 s.
#   status  "<instance>: running on 127.0.0.1:<port> (pid N)" -> exit 0
#           "<instance>: stopped"                              -> exit 3
#
# Environment (all optional):
#   INSTANCE      instance name / state folder      (default: postgres)
#   PG_PORT       TCP port on 127.0.0.1             (default: 55432)
#   PG_WAL_LEVEL  wal_level (minimal|replica|logical) (default: logical)
#                 (minimal also sets max_wal_senders=0, or the server refuses to start)
#   TANDEM_STATE  state root (see lib.sh)           (default: <repo>/.state)
#
# Logs go to stderr; only the DSN (up) and the status line go to stdout.
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

INSTANCE="${INSTANCE:-postgres}"
PG_PORT="${PG_PORT:-55432}"
PG_WAL_LEVEL="${PG_WAL_LEVEL:-logical}"
# shellcheck disable=SC2034  # SERVICE is the log prefix used by lib.sh log()
SERVICE="$INSTANCE"

PG_MAJOR=15
PGBIN="/usr/lib/postgresql/$PG_MAJOR/bin"
PG_OS_USER=postgres          # the server refuses to run as root
START_TIMEOUT=60
STOP_TIMEOUT=60

# canonical absolute path: it is compared with /proc/<pid>/{cmdline,cwd}
INST="$(realpath -m "$TANDEM_STATE/$INSTANCE")"
DATA="$INST/data"
RUN="$INST/run"
LOGFILE="$INST/log/postgres.log"
PIDFILE="$RUN/postgres.pid"
PORTFILE="$RUN/port"

dsn() { printf 'postgres://tandem:tandem@127.0.0.1:%s/tandem\n' "$1"; }

# as_pg CMD... runs CMD as the postgres OS user when we are root, or as
# ourselves otherwise (a non-root user may run its own server).
as_pg() {
  if is_root; then
    setpriv --reuid="$PG_OS_USER" --regid="$PG_OS_USER" --init-groups -- "$@"
  else
    "$@"
  fi
}

# running_pid -> prints the pid of *our* postmaster and returns 0, else 1.
# Guards against a stale pid file whose pid now belongs to another process
# (e.g. after a reboot): the process must be a postgres serving our data dir.
running_pid() {
  pid_alive "$PIDFILE" || return 1
  local pid; pid="$(cat "$PIDFILE")"
  tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | grep -qxF -- "$DATA" || return 1
  printf '%s' "$pid"
}

install_postgres() {
  [ -x "$PGBIN/postgres" ] && [ -x "$PGBIN/psql" ] && return 0
  without_service_start apt_install "postgresql-$PG_MAJOR" "postgresql-client-$PG_MAJOR"
  [ -x "$PGBIN/postgres" ] || die "postgresql-$PG_MAJOR installed but $PGBIN/postgres is missing"
}

init_cluster() {
  [ -f "$DATA/PG_VERSION" ] && return 0
  if [ -n "$(ls -A "$DATA" 2>/dev/null)" ]; then
    die "$DATA is not empty but holds no cluster (no PG_VERSION); remove it and retry"
  fi
  log "initialising cluster in $DATA"
  # initdb into a scratch folder and move it into place, so an interrupted
  # initdb never leaves a half-made cluster behind.
  local tmp="$INST/data.initdb"
  rm -rf "$tmp"
  as_pg "$PGBIN/initdb" -D "$tmp" -U postgres --encoding=UTF8 --locale=C.UTF-8 \
    --data-checksums --auth-local=trust --auth-host=scram-sha-256 --no-instructions \
    >"$INST/log/initdb.log" 2>&1 || { tail -n 40 "$INST/log/initdb.log" >&2; die "initdb failed"; }
  echo "include_if_exists = 'tandem.conf'   # written by deploy/local/postgres.sh" >>"$tmp/postgresql.conf"
  rmdir "$DATA" && mv "$tmp" "$DATA"
}

write_config() {
  # wal_level=minimal refuses to start with WAL senders enabled; allow it
  # anyway (tests start such an instance on purpose) by disabling them.
  local senders=20
  [ "$PG_WAL_LEVEL" = minimal ] && senders=0
  # Appended (via include) after initdb's postgresql.conf, so these win.
  cat >"$DATA/tandem.conf" <<EOF
# Written by deploy/local/postgres.sh on every "up"; edit the script, not this.
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$RUN'
unix_socket_permissions = 0700      # only the postgres OS user (and root)
max_connections = 200
shared_buffers = 128MB
wal_level = $PG_WAL_LEVEL
max_replication_slots = 20
max_wal_senders = $senders
wal_keep_size = 0
password_encryption = scram-sha-256
logging_collector = off             # stderr goes to $LOGFILE
log_destination = 'stderr'
log_timezone = 'UTC'
timezone = 'UTC'
EOF
  cat >"$DATA/pg_hba.conf" <<'EOF'
# Written by deploy/local/postgres.sh on every "up".
# TYPE  DATABASE     USER      ADDRESS        METHOD
local   all          postgres                 trust
local   replication  postgres                 trust
host    all          all       127.0.0.1/32   scram-sha-256
host    replication  all       127.0.0.1/32   scram-sha-256
EOF
  is_root && chown "$PG_OS_USER:$PG_OS_USER" "$DATA/tandem.conf" "$DATA/pg_hba.conf"
  chmod 600 "$DATA/tandem.conf" "$DATA/pg_hba.conf"
}

psql_local() {
  as_pg "$PGBIN/psql" -X -q -w -v ON_ERROR_STOP=1 -h "$RUN" -p "$PG_PORT" -U postgres "$@"
}

bootstrap_sql() {
  psql_local -d postgres <<'SQL'
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'tandem') THEN
    CREATE ROLE tandem;
  END IF;
END
$$;
ALTER ROLE tandem WITH SUPERUSER LOGIN REPLICATION PASSWORD 'tandem';
SELECT 'CREATE DATABASE tandem OWNER tandem'
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'tandem') \gexec
SQL
}

cmd_up() {
  local pid
  if pid="$(running_pid)"; then
    log "already running on 127.0.0.1:$(cat "$PORTFILE" 2>/dev/null || echo "$PG_PORT") (pid $pid)"
    dsn "$(cat "$PORTFILE" 2>/dev/null || echo "$PG_PORT")"
    return 0
  fi
  settle_stale_server "$PIDFILE" "$DATA"
  case "$PG_PORT" in ''|*[!0-9]*) die "PG_PORT must be a number, got '$PG_PORT'";; esac
  [ "$PG_PORT" != 5432 ] || die "refusing to use 5432 (the system PostgreSQL port)"
  port_open "$PG_PORT" && die "127.0.0.1:$PG_PORT is already in use by another process"

  install_postgres
  ensure_os_user "$PG_OS_USER" /var/lib/postgresql
  instance_dir "$INSTANCE" >/dev/null
  # unix socket paths are limited to 107 bytes
  [ ${#RUN} -le 90 ] || die "socket dir $RUN is too long for a unix socket; set a shorter TANDEM_STATE"
  touch "$LOGFILE"
  if is_root; then
    # hand the whole instance folder to the postgres user (cheap when done)
    find "$INST" ! -user "$PG_OS_USER" -exec chown -h "$PG_OS_USER:$PG_OS_USER" {} +
    ensure_traversable "$PG_OS_USER" "$INST"
  fi
  chmod 700 "$DATA"

  init_cluster
  write_config

  log "starting on 127.0.0.1:$PG_PORT (wal_level=$PG_WAL_LEVEL, data $DATA)"
  local -a cmd=("$PGBIN/postgres" -D "$DATA")
  is_root && cmd=(setpriv --reuid="$PG_OS_USER" --regid="$PG_OS_USER" --init-groups -- "${cmd[@]}")
  # setsid: own session, so a Ctrl-C or the end of a CI step does not kill it.
  # The subshell execs setsid, which execs (setpriv, which execs) postgres:
  # no extra fork, so $! is the postmaster itself (running_pid double-checks).
  ( cd "$INST" && exec setsid "${cmd[@]}" ) </dev/null >>"$LOGFILE" 2>&1 &
  pid=$!
  echo "$pid" >"$PIDFILE"
  echo "$PG_PORT" >"$PORTFILE"

  # Ready when the socket answers; stop waiting early if the server died.
  ready_or_dead() { ! child_alive "$pid" || "$PGBIN/pg_isready" -q -h "$RUN" -p "$PG_PORT" -U postgres -d postgres; }
  if ! wait_for "$START_TIMEOUT" "$LOGFILE" ready_or_dead || ! child_alive "$pid"; then
    if ! child_alive "$pid"; then
      log "server exited during startup; last lines of $LOGFILE:"
      tail -n 40 "$LOGFILE" >&2 || true
    fi
    stop_pid "$pid" INT 10
    rm -f "$PIDFILE" "$PORTFILE"
    die "PostgreSQL instance $INSTANCE did not start"
  fi

  if ! bootstrap_sql; then
    stop_pid "$pid" INT 10
    rm -f "$PIDFILE" "$PORTFILE"
    die "could not create role/database tandem; server stopped again"
  fi
  log "ready (pid $pid)"
  dsn "$PG_PORT"
}

cmd_down() {
  local pid
  if ! pid="$(running_pid)"; then
    rm -f "$PIDFILE" "$PORTFILE"
    log "not running"
    return 0
  fi
  log "stopping pid $pid (fast shutdown)"
  # SIGINT = "fast" shutdown: disconnect clients (incl. replication), checkpoint,
  # exit. (SIGTERM would be "smart" and wait for every client to leave.)
  stop_pid "$pid" INT "$STOP_TIMEOUT"
  rm -f "$PIDFILE" "$PORTFILE"
  log "stopped"
}

cmd_status() {
  local pid
  if pid="$(running_pid)"; then
    echo "$INSTANCE: running on 127.0.0.1:$(cat "$PORTFILE" 2>/dev/null || echo "$PG_PORT") (pid $pid)"
    return 0
  fi
  echo "$INSTANCE: stopped"
  return 3
}

case "${1:-}" in
  up)     cmd_up ;;
  down)   cmd_down ;;
  status) cmd_status ;;
  *)      echo "usage: $0 {up|down|status}" >&2; exit 2 ;;
esac
