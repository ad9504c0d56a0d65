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
