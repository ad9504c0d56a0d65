#!/usr/bin/env bash
# Shared helpers for the local stack scripts. Source it; do not run it.
#
# Conventions (every service script follows them):
#   - state lives under $TANDEM_STATE (default: <repo>/.state), one folder per
#     instance: $TANDEM_STATE/<instance>/{data,log,run}
#   - a service script takes one verb: up | down | status
#   - "up" is idempotent, installs what is missing, waits for readiness with a
#     timeout and, on failure, prints the tail of the service log and exits 1
#   - "down" stops only what this project started (it reads its own pid file)
set -euo pipefail

TANDEM_ROOT="${TANDEM_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
TANDEM_STATE="${TANDEM_STATE:-$TANDEM_ROOT/.state}"
export TANDEM_ROOT TANDEM_STATE

log()  { printf '%s [%s] %s\n' "$(date +%H:%M:%S)" "${SERVICE:-stack}" "$*" >&2; }
die()  { log "ERROR: $*"; exit 1; }

# instance_dir NAME -> creates and prints $TANDEM_STATE/NAME
instance_dir() {
  local d="$TANDEM_STATE/$1"
  mkdir -p "$d/data" "$d/log" "$d/run"
  printf '%s' "$d"
}

# apt_install PKG... installs the Debian packages that are not installed yet.
apt_install() {
  local missing=() p sudo stamp
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing Debian packages: ${missing[*]}"
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  stamp="$TANDEM_STATE/.apt-updated"
  if [ ! -f "$stamp" ] || [ -n "$(find "$stamp" -mmin +720 2>/dev/null)" ]; then
    $sudo apt-get update -qq >&2 || die "apt-get update failed"
    mkdir -p "$TANDEM_STATE"; touch "$stamp"
  fi
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2 \
    || die "apt-get install ${missing[*]} failed"
}

# pid_alive PIDFILE -> 0 when the process in PIDFILE is running
pid_alive() {
  [ -f "$1" ] || return 1
  local pid; pid="$(cat "$1" 2>/dev/null)" || return 1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

# port_open PORT -> 0 when something listens on 127.0.0.1:PORT
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# wait_for TIMEOUT_SECONDS LOGFILE CMD... polls CMD until it succeeds. On
# timeout it prints the last 40 lines of LOGFILE and fails.
wait_for() {
  local timeout="$1" logfile="$2"; shift 2
  local deadline=$(( $(date +%s) + timeout ))
  until "$@" >/dev/null 2>&1; do
    if [ "$(date +%s)" -ge "$deadline" ]; then
      log "not ready after ${timeout}s; last lines of $logfile:"
      tail -n 40 "$logfile" >&2 2>/dev/null || true
      return 1
    fi
    sleep 0.5
  done
}

# stop_pidfile PIDFILE TIMEOUT -> TERM, wait, then KILL the process in PIDFILE
stop_pidfile() {
  local pidfile="$1" timeout="${2:-30}"
  pid_alive "$pidfile" || { rm -f "$pidfile"; return 0; }
  local pid; pid="$(cat "$pidfile")"
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$(( $(date +%s) + timeout ))
  while kill -0 "$pid" 2>/dev/null; do
    if [ "$(date +%s)" -ge "$deadline" ]; then kill -KILL "$pid" 2>/dev/null || true; break; fi
    sleep 0.3
  done
  rm -f "$pidfile"
}

is_root() { [ "$(id -u)" -eq 0 ]; }

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

# without_service_start CMD... runs CMD (an apt install) while a policy-rc.d
# that answers 101 ("action forbidden") is in place, so package scripts do not
# start system services (the system cluster / server on the default port).
# An existing policy-rc.d (Docker images ship one) is moved aside and put
# back afterwards, also when CMD dies (EXIT trap). A lock serialises
# concurrent installs (several service scripts started at once).
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

# ensure_os_user USER HOME -> creates the system user a server runs as, when
# we are root and it does not exist yet.
ensure_os_user() {
  is_root || return 0
  id -u "$1" >/dev/null 2>&1 && return 0
  log "creating system user $1"
  useradd --system --user-group --home-dir "$2" --no-create-home --shell /usr/sbin/nologin "$1"
}

# ensure_traversable USER DIR -> lets USER reach DIR. A server runs as an
# unprivileged user, but the state folder is inside the repository, which
# may sit below a directory that user cannot enter (a clone in /root, a CI
# workspace with mode 0700, ...). For every such ancestor we add o+x:
# "search" permission only, which lets other users pass through by exact
# path but not list the directory. Moving state out of the repo instead
# would break the "$TANDEM_STATE/<instance>" convention.
ensure_traversable() {
  is_root || return 0
  local user="$1" d="" part
  local IFS=/
  for part in $2; do
    [ -n "$part" ] || continue
    d="$d/$part"
    [ -d "$d" ] || break
    if ! setpriv --reuid="$user" --regid="$user" --init-groups -- test -x "$d"; then
      log "making $d traversable (chmod o+x) so the $user user can reach $2"
      chmod o+x "$d"
    fi
  done
}

# settle_stale_server PIDFILE DATADIR -> after a crash or kill -9 the old
# server may not be gone yet for a moment (an unreaped zombie, or backends
# still exiting). Starting then fails on the lock file or shared memory, so
# wait (at most 10 s) until the pid from the stale pid file is gone and no
# process runs inside the data dir (servers chdir into it).
settle_stale_server() {
  local pidfile="$1" data="$2" old busy
  [ -f "$pidfile" ] || return 0
  old="$(cat "$pidfile" 2>/dev/null || true)"
  for _ in $(seq 1 40); do
    busy=""
    if [ -n "$old" ] && [ -e "/proc/$old" ] && ! child_alive "$old"; then busy=1; fi
    [ -n "$(find /proc/[0-9]*/cwd -maxdepth 0 -lname "$data" 2>/dev/null)" ] && busy=1
    [ -z "$busy" ] && break
    sleep 0.25
  done
  rm -f "$pidfile"
}

# await_started WHAT TIMEOUT PIDFILE LOGFILE [MORE_LOG] -> polls the caller's
# "ready" function until it succeeds. Fails, printing the log tails, when the
# process in PIDFILE exits first (a JVM that died is our zombie child until
# we exit, hence child_alive) or after TIMEOUT seconds.
await_started() {
  local what="$1" timeout="$2" pidfile="$3" logfile="$4" more="${5:-}"
  local deadline=$(( $(date +%s) + timeout ))
  until ready; do
    if ! pid_alive "$pidfile" || ! child_alive "$(cat "$pidfile")"; then
      log "the $what exited during start-up; last lines of $logfile ${more:+and $more}:"
      tail -n 40 "$logfile" >&2 2>/dev/null || true
      [ -n "$more" ] && tail -n 20 "$more" >&2 2>/dev/null
      rm -f "$pidfile"
      return 1
    fi
    if [ "$(date +%s)" -ge "$deadline" ]; then
      log "not ready after ${timeout}s; last lines of $logfile:"
      tail -n 40 "$logfile" >&2 2>/dev/null || true
      [ -n "$more" ] && tail -n 20 "$more" >&2 2>/dev/null
      return 1
    fi
    sleep 0.5
  done
}
