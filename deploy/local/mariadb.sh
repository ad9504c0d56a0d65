#!/usr/bin/env bash
# deploy/local/mariadb.sh {up|down|status}
#
# Runs a private MariaDB 10.11 server (Debian packages mariadb-server,
# mariadb-client) with the binary log set up for CDC. Everything lives under
# $TANDEM_STATE/$INSTANCE/:
#   my.cnf               server config, rewritten from the environment on every "up"
#   data/                datadir (mariadb-install-db), binary logs data/binlog.*
#   log/mariadb.log      server error log (log/install-db.log: first-run setup)
#   run/mariadb.pid      pid file (written by mariadbd)
#   run/mariadb.sock     unix socket
#   run/port             port it was started on (for "status")
# It never uses /var/lib/mysql, /run/mysqld, port 3306 or /etc/mysql, and never
# calls systemctl/service. While apt installs the packages a policy-rc.d
# forbids the package scripts to start the system mariadb service.
#
#   up      install the packages if missing, mariadb-install-db on first run,
#           start mariadbd on 127.0.0.1:$MARIADB_PORT, wait (60 s) until it is
#           ready, make sure user tandem@127.0.0.1 / tandem@localhost (password
#           "tandem", ALL PRIVILEGES WITH GRANT OPTION) and database "tandem"
#           exist (outside the binary log), print the go-sql-driver DSN on stdout.
#           Idempotent: if already running it only says so (and prints the DSN).
#   down    SIGTERM (clean shutdown) of the pid in run/mariadb.pid, SIGKILL
#           after 60 s.
#   status  "<instance>: running on 127.0.0.1:<port> (pid N)" -> exit 0
#           "<instance>: stopped"                              -> exit 3
#
# Environment (all optional):
#   INSTANCE               instance name / state folder   (default: mariadb)
#   MARIADB_PORT           TCP port on 127.0.0.1          (default: 53306)
#   MARIADB_BINLOG_FORMAT  binlog_format ROW|STATEMENT|MIXED (default: ROW)
#   MARIADB_SERVER_ID      server_id                      (default: 1)
#   TANDEM_STATE           state root (see lib.sh)        (default: <repo>/.state)
#
# Logs go to stderr; only the DSN (up) and the status line go to stdout.
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

INSTANCE="${INSTANCE:-mariadb}"
MARIADB_PORT="${MARIADB_PORT:-53306}"
MARIADB_BINLOG_FORMAT="${MARIADB_BINLOG_FORMAT:-ROW}"
MARIADB_SERVER_ID="${MARIADB_SERVER_ID:-1}"
# shellcheck disable=SC2034  # SERVICE is the log prefix used by lib.sh log()
SERVICE="$INSTANCE"

MYSQL_OS_USER=mysql          # mariadbd refuses to run as root
START_TIMEOUT=60
STOP_TIMEOUT=60

# canonical absolute path: it is compared with /proc/<pid>/{cmdline,cwd}
INST="$(realpath -m "$TANDEM_STATE/$INSTANCE")"
CNF="$INST/my.cnf"
DATA="$INST/data"
RUN="$INST/run"
SOCK="$RUN/mariadb.sock"
LOGFILE="$INST/log/mariadb.log"
PIDFILE="$RUN/mariadb.pid"
PORTFILE="$RUN/port"

dsn() { printf 'tandem:tandem@tcp(127.0.0.1:%s)/tandem\n' "$1"; }

# The OS user that runs mariadbd and owns the instance folder.
server_user() { if is_root; then echo "$MYSQL_OS_USER"; else id -un; fi; }

# running_pid -> prints the pid of *our* mariadbd and returns 0, else 1.
# Guards against a stale pid file whose pid now belongs to another process
# (e.g. after a reboot or a crash): it must be a mariadbd using our my.cnf.
running_pid() {
  pid_alive "$PIDFILE" || return 1
  local pid; pid="$(cat "$PIDFILE")"
  tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | grep -qxF -- "--defaults-file=$CNF" || return 1
  printf '%s' "$pid"
}

# mariadbd_pids -> pids of every running mariadbd/mysqld (one a line)
mariadbd_pids() {
  local f
  for f in /proc/[0-9]*/comm; do
    case "$(cat "$f" 2>/dev/null)" in
      mariadbd|mysqld) f="${f#/proc/}"; echo "${f%/comm}" ;;
    esac
  done
}

# install_packages PKG... -> apt_install without starting services. Second
# line of defence: a mariadbd that appeared during the install and is not one
# of ours (its command line does not point into $TANDEM_STATE) is stopped.
install_packages() {
  local before pid
  before="$(mariadbd_pids)"
  without_service_start apt_install "$@"
  for pid in $(mariadbd_pids); do
    grep -qx "$pid" <<<"$before" && continue
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$TANDEM_STATE/" && continue
    log "the package install started a system mariadbd (pid $pid); stopping it"
    stop_pid "$pid" TERM 60
  done
}

install_mariadb() {
  command -v mariadbd >/dev/null && command -v mariadb-install-db >/dev/null \
    && command -v mariadb >/dev/null && return 0
  install_packages mariadb-server mariadb-client
  command -v mariadbd >/dev/null || [ -x /usr/sbin/mariadbd ] || die "mariadb-server installed but mariadbd is missing"
}

init_datadir() {
  [ -d "$DATA/mysql" ] && return 0
  if [ -n "$(ls -A "$DATA" 2>/dev/null)" ]; then
    die "$DATA is not empty but holds no database (no mysql/); remove it and retry"
  fi
  log "initialising datadir $DATA"
  # Install into a scratch folder and move it into place, so an interrupted
  # install never leaves a half-made datadir behind. --no-defaults: ignore
  # /etc/mysql (the system server's config).
  local tmp="$INST/data.install-db"
  rm -rf "$tmp"
  mariadb-install-db --no-defaults --user="$(server_user)" --datadir="$tmp" \
      --auth-root-authentication-method=socket --skip-test-db --skip-name-resolve \
      >"$INST/log/install-db.log" 2>&1 \
    || { tail -n 40 "$INST/log/install-db.log" >&2; die "mariadb-install-db failed"; }
  rmdir "$DATA" && mv "$tmp" "$DATA"
}

write_config() {
  local user_line=""
  is_root && user_line="user                      = $MYSQL_OS_USER"
  cat >"$CNF" <<EOF
# Written by deploy/local/mariadb.sh on every "up"; edit the script, not this.
# Started as: mariadbd --defaults-file=$CNF (no other option file is read).
[mysqld]
$user_line
datadir                   = $DATA
socket                    = $SOCK
pid-file                  = $PIDFILE
log-error                 = $LOGFILE
port                      = $MARIADB_PORT
bind-address              = 127.0.0.1
skip-name-resolve
max_connections           = 200
innodb_buffer_pool_size   = 128M
character-set-server      = utf8mb4
collation-server          = utf8mb4_unicode_ci
default-time-zone         = +00:00

# binary log for CDC
server_id                 = $MARIADB_SERVER_ID
log_bin                   = $DATA/binlog
relay_log                 = $DATA/relay-bin
binlog_format             = $MARIADB_BINLOG_FORMAT
binlog_row_image          = FULL
binlog_row_metadata       = FULL
gtid_strict_mode          = ON
log_slave_updates         = ON
binlog_expire_logs_seconds = 172800

[client]
socket                    = $SOCK
port                      = $MARIADB_PORT
EOF
  chmod 644 "$CNF"
}

# sql_local ARGS... -> the mariadb client as the admin account over our socket
# (root@localhost with unix_socket auth, or the invoking user when not root).
sql_local() {
  mariadb --no-defaults --protocol=socket --socket="$SOCK" --user="$(id -un)" \
    --batch --skip-column-names "$@"
}

bootstrap_sql() {
  # sql_log_bin=0: setup is not replicated / not part of the CDC stream, like
  # role creation on the PostgreSQL side.
  sql_local <<'SQL'
SET SESSION sql_log_bin = 0;
CREATE USER IF NOT EXISTS 'tandem'@'127.0.0.1' IDENTIFIED BY 'tandem';
CREATE USER IF NOT EXISTS 'tandem'@'localhost' IDENTIFIED BY 'tandem';
ALTER USER 'tandem'@'127.0.0.1' IDENTIFIED BY 'tandem';
ALTER USER 'tandem'@'localhost' IDENTIFIED BY 'tandem';
GRANT ALL PRIVILEGES ON *.* TO 'tandem'@'127.0.0.1' WITH GRANT OPTION;
GRANT ALL PRIVILEGES ON *.* TO 'tandem'@'localhost' WITH GRANT OPTION;
CREATE DATABASE IF NOT EXISTS tandem;
SQL
}

cmd_up() {
  local pid
  if pid="$(running_pid)"; then
    local port; port="$(cat "$PORTFILE" 2>/dev/null || echo "$MARIADB_PORT")"
    log "already running on 127.0.0.1:$port (pid $pid)"
    dsn "$port"
    return 0
  fi
  settle_stale_server "$PIDFILE" "$DATA"
  case "$MARIADB_PORT" in ''|*[!0-9]*) die "MARIADB_PORT must be a number, got '$MARIADB_PORT'";; esac
  [ "$MARIADB_PORT" != 3306 ] || die "refusing to use 3306 (the system MariaDB/MySQL port)"
  port_open "$MARIADB_PORT" && die "127.0.0.1:$MARIADB_PORT is already in use by another process"

  install_mariadb
  ensure_os_user "$MYSQL_OS_USER" /nonexistent
  instance_dir "$INSTANCE" >/dev/null
  # unix socket paths are limited to 107 bytes
  [ ${#SOCK} -le 100 ] || die "socket $SOCK is too long for a unix socket; set a shorter TANDEM_STATE"
  touch "$LOGFILE"
  if is_root; then
    # hand the whole instance folder to the mysql user (cheap when done)
    find "$INST" ! -user "$MYSQL_OS_USER" -exec chown -h "$MYSQL_OS_USER:$MYSQL_OS_USER" {} +
    ensure_traversable "$MYSQL_OS_USER" "$INST"
  fi
  chmod 700 "$DATA"

  init_datadir
  write_config

  log "starting on 127.0.0.1:$MARIADB_PORT (binlog_format=$MARIADB_BINLOG_FORMAT, server_id=$MARIADB_SERVER_ID, datadir $DATA)"
  # setsid: own session, so a Ctrl-C or the end of a CI step does not kill it.
  # The subshell execs setsid, which execs mariadbd: $! is the server itself.
  # mariadbd drops to user=mysql (from my.cnf) by itself.
  ( cd "$INST" && exec setsid "$(command -v mariadbd || echo /usr/sbin/mariadbd)" --defaults-file="$CNF" ) \
    </dev/null >>"$LOGFILE" 2>&1 &
  pid=$!
  echo "$MARIADB_PORT" >"$PORTFILE"

  # Ready when a query over our socket works; stop waiting early if it died.
  ready_or_dead() { ! child_alive "$pid" || sql_local -e 'SELECT 1'; }
  if ! wait_for "$START_TIMEOUT" "$LOGFILE" ready_or_dead || ! child_alive "$pid"; then
    if ! child_alive "$pid"; then
      log "server exited during startup; last lines of $LOGFILE:"
      tail -n 40 "$LOGFILE" >&2 || true
    fi
    stop_pid "$pid" TERM 20
    rm -f "$PORTFILE"
    die "MariaDB instance $INSTANCE did not start"
  fi

  if ! bootstrap_sql; then
    stop_pid "$pid" TERM 20
    rm -f "$PORTFILE"
    die "could not create user/database tandem; server stopped again"
  fi
  log "ready (pid $pid)"
  dsn "$MARIADB_PORT"
}

cmd_down() {
  local pid
  if ! pid="$(running_pid)"; then
    rm -f "$PORTFILE"
    log "not running"
    return 0
  fi
  log "stopping pid $pid"
  # SIGTERM = clean shutdown (flush InnoDB, close binlog); KILL after timeout.
  stop_pid "$pid" TERM "$STOP_TIMEOUT"
  rm -f "$PIDFILE"     # mariadbd removes it itself, except after SIGKILL
  rm -f "$PORTFILE"
  log "stopped"
}

cmd_status() {
  local pid
  if pid="$(running_pid)"; then
    echo "$INSTANCE: running on 127.0.0.1:$(cat "$PORTFILE" 2>/dev/null || echo "$MARIADB_PORT") (pid $pid)"
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
