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

is_root() { [ "$(id -u)" -eq 0 ]; }

# as_pg CMD... runs CMD as the postgres OS user when we are root, or as
# ourselves otherwise (a non-root user may run its own server).
as_pg() {
  if is_root; then
    setpriv --reuid="$PG_OS_USER" --regid="$PG_OS_USER" --init-groups -- "$@"
  else
    "$@"
  fi
}

# child_alive PID -> 0 while PID runs. Unlike "kill -0" it is false for a
# zombie, which is what a server that died during startup is until we exit.
child_alive() {
  local st; st="$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)" || return 1
  [ -n "$st" ] && [ "$st" != Z ]
}

# stop_pid PID SIGNAL TIMEOUT -> send SIGNAL, wait up to TIMEOUT s, then KILL
stop_pid() {
  local pid="$1" sig="$2" timeout="$3"
  kill -"$sig" "$pid" 2>/dev/null || true
  local deadline=$(( $(date +%s) + timeout ))
  while child_alive "$pid"; do
    if [ "$(date +%s)" -ge "$deadline" ]; then
      log "pid $pid still running after ${timeout}s, sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.2
  done
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

# without_service_start CMD... runs CMD (an apt install) while a policy-rc.d
# that answers 101 ("action forbidden") is in place, so package scripts do not
# start system services (the system cluster / server on the default port).
# An existing policy-rc.d (Docker images ship one) is moved aside and put
# back afterwards, also when CMD dies (EXIT trap). A lock serialises
# concurrent installs (e.g. "make -j" running several service scripts).
# NB: lib.sh's apt_install assigns the non-local variables p, missing, sudo
# and stamp; do not use those names here.
POLICY_RC=/usr/sbin/policy-rc.d
POLICY_RC_SAVED=/usr/sbin/policy-rc.d.tandem-saved
POLICY_RC_MARK="# temporary, written by tandem deploy/local"
restore_policy_rc() {
  if [ -e "$POLICY_RC_SAVED" ]; then
    mv -f "$POLICY_RC_SAVED" "$POLICY_RC"
  elif grep -qxF "$POLICY_RC_MARK" "$POLICY_RC" 2>/dev/null; then
    rm -f "$POLICY_RC"
  fi
}
without_service_start() {
  is_root || { "$@"; return; }
  mkdir -p "$TANDEM_STATE"
  local wss_lock wss_rc=0
  exec {wss_lock}>"$TANDEM_STATE/.install.lock"
  flock "$wss_lock"
  # a run that was SIGKILLed mid-install may have left ours + the saved one
  grep -qxF "$POLICY_RC_MARK" "$POLICY_RC" 2>/dev/null && restore_policy_rc
  [ -e "$POLICY_RC" ] && mv -f "$POLICY_RC" "$POLICY_RC_SAVED"
  printf '#!/bin/sh\n%s\nexit 101\n' "$POLICY_RC_MARK" >"$POLICY_RC"
  chmod 755 "$POLICY_RC"
  trap restore_policy_rc EXIT
  "$@" || wss_rc=$?
  restore_policy_rc
  trap - EXIT
  flock -u "$wss_lock"
  exec {wss_lock}>&-
  return "$wss_rc"
}

install_postgres() {
  [ -x "$PGBIN/postgres" ] && [ -x "$PGBIN/psql" ] && return 0
  without_service_start apt_install "postgresql-$PG_MAJOR" "postgresql-client-$PG_MAJOR"
  [ -x "$PGBIN/postgres" ] || die "postgresql-$PG_MAJOR installed but $PGBIN/postgres is missing"
}

# The server runs as the unprivileged postgres user, but the state folder is
# inside the repository, which may sit below a directory that user cannot
# enter (a clone in /root, a CI workspace with mode 0700, ...). For every
# ancestor the postgres user cannot traverse we add o+x: "search" permission
# only, which lets other users pass through by exact path but not list the
# directory. The alternative (moving state out of the repo) would break the
# "$TANDEM_STATE/<instance>" convention that tests and the Makefile rely on.
ensure_traversable() {
  is_root || return 0
  local d="" part
  local IFS=/
  for part in $INST; do
    [ -n "$part" ] || continue
    d="$d/$part"
    [ -d "$d" ] || break
    if ! as_pg test -x "$d"; then
      log "making $d traversable (chmod o+x) so the $PG_OS_USER user can reach $INST"
      chmod o+x "$d"
    fi
  done
}

ensure_os_user() {
  is_root || return 0
  id -u "$PG_OS_USER" >/dev/null 2>&1 && return 0
  log "creating system user $PG_OS_USER"
  useradd --system --user-group --home-dir /var/lib/postgresql --no-create-home \
    --shell /usr/sbin/nologin "$PG_OS_USER"
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

# settle_stale_server -> after a crash or kill -9 the old server may not be
# gone yet for a moment (an unreaped zombie, or, for PostgreSQL, backends
# still exiting). Starting then fails on the lock file / shared memory, so
# wait (at most 10 s) until the pid from the stale pid file is gone and no
# process runs inside our data dir (servers chdir into it).
settle_stale_server() {
  [ -f "$PIDFILE" ] || return 0
  local old busy
  old="$(cat "$PIDFILE" 2>/dev/null || true)"
  for _ in $(seq 1 40); do
    busy=""
    if [ -n "$old" ] && [ -e "/proc/$old" ] && ! child_alive "$old"; then busy=1; fi
    [ -n "$(find /proc/[0-9]*/cwd -maxdepth 0 -lname "$DATA" 2>/dev/null)" ] && busy=1
    [ -z "$busy" ] && break
    sleep 0.25
  done
  rm -f "$PIDFILE"
}

cmd_up() {
  local pid
  if pid="$(running_pid)"; then
    log "already running on 127.0.0.1:$(cat "$PORTFILE" 2>/dev/null || echo "$PG_PORT") (pid $pid)"
    dsn "$(cat "$PORTFILE" 2>/dev/null || echo "$PG_PORT")"
    return 0
  fi
  settle_stale_server
  case "$PG_PORT" in ''|*[!0-9]*) die "PG_PORT must be a number, got '$PG_PORT'";; esac
  [ "$PG_PORT" != 5432 ] || die "refusing to use 5432 (the system PostgreSQL port)"
  port_open "$PG_PORT" && die "127.0.0.1:$PG_PORT is already in use by another process"

  install_postgres
  ensure_os_user
  instance_dir "$INSTANCE" >/dev/null
  # unix socket paths are limited to 107 bytes
  [ ${#RUN} -le 90 ] || die "socket dir $RUN is too long for a unix socket; set a shorter TANDEM_STATE"
  touch "$LOGFILE"
  if is_root; then
    # hand the whole instance folder to the postgres user (cheap when done)
    find "$INST" ! -user "$PG_OS_USER" -exec chown -h "$PG_OS_USER:$PG_OS_USER" {} +
    ensure_traversable
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
