#!/usr/bin/env bash
# Local Confluent-compatible schema registry: Apicurio Registry 3 from Maven
# Central (io.apicurio:apicurio-registry-app:<v>:tar.gz:all, a ready-built
# Quarkus application), with in-memory H2 storage. Its Confluent API is at
# http://127.0.0.1:$REGISTRY_PORT/apis/ccompat/v7. It needs no Kafka.
#
#   deploy/local/registry.sh up | down | status | url
#
# Environment:
#   INSTANCE                state folder name and log prefix (default: registry)
#   REGISTRY_PORT           HTTP port on 127.0.0.1 (default: 58081)
#   REGISTRY_MGMT_PORT      Quarkus management port, used by Apicurio >= 3.1
#                           (default: REGISTRY_PORT+1)
#   REGISTRY_HEAP           -Xmx of the JVM (default: 384m)
#   REGISTRY_VERSION        Apicurio version (default: the one in registry/pom.xml,
#                           3.0.9, the newest served one that runs on Java 17;
#                           3.3.3 works too where a Java 21+ is installed)
#   REGISTRY_JAVA           java binary to use (default: the first of $JAVA_HOME,
#                           PATH and /usr/lib/jvm that is new enough)
#   REGISTRY_READY_TIMEOUT  seconds to wait for readiness (default: 120)
#
# Storage is in memory: every start begins with an empty registry.
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

INSTANCE="${INSTANCE:-registry}"
# shellcheck disable=SC2034 # SERVICE is read by log() in lib.sh
SERVICE="$INSTANCE"
REGISTRY_PORT="${REGISTRY_PORT:-58081}"
REGISTRY_MGMT_PORT="${REGISTRY_MGMT_PORT:-$(( REGISTRY_PORT + 1 ))}"
REGISTRY_HEAP="${REGISTRY_HEAP:-384m}"
REGISTRY_READY_TIMEOUT="${REGISTRY_READY_TIMEOUT:-120}"
HERE="$TANDEM_ROOT/deploy/local/registry"
POM="$HERE/pom.xml"
BASE_URL="http://127.0.0.1:$REGISTRY_PORT/apis/ccompat/v7"

pom_version() { sed -n 's:.*<apicurio.version>\(.*\)</apicurio.version>.*:\1:p' "$POM" | head -n1; }
REGISTRY_VERSION="${REGISTRY_VERSION:-$(pom_version)}"
DIST="$TANDEM_STATE/dist/apicurio-registry-$REGISTRY_VERSION"

DIR="$TANDEM_STATE/$INSTANCE"
PIDFILE="$DIR/run/registry.pid"
LOGFILE="$DIR/log/registry.log"

# fetch: downloads and unpacks the Apicurio distribution into $DIST once.
fetch() {
  [ -f "$DIST/.complete" ] && return 0
  command -v mvn >/dev/null || die "mvn is not installed (apt-get install maven)"
  command -v tar >/dev/null || apt_install tar
  command -v gzip >/dev/null || apt_install gzip
  mkdir -p "$TANDEM_STATE/dist"
  exec 8>"$TANDEM_STATE/dist/.apicurio.lock"
  flock -w 900 8 || die "another fetch holds $TANDEM_STATE/dist/.apicurio.lock"
  if [ ! -f "$DIST/.complete" ]; then
    log "fetching Apicurio Registry $REGISTRY_VERSION from Maven Central"
    rm -rf "$DIST.tmp"; mkdir -p "$DIST.tmp"
    local mlog="$DIST.tmp/mvn.log"
    mvn -q -B -Dstyle.color=never -f "$POM" dependency:copy \
      -Dapicurio.version="$REGISTRY_VERSION" -Dfetch.dir="$DIST.tmp/fetch" >"$mlog" 2>&1 \
      || { grep -E 'ERROR' "$mlog" | head -n 5 >&2; die "mvn could not fetch io.apicurio:apicurio-registry-app:$REGISTRY_VERSION:tar.gz:all"; }
    local tgz="$DIST.tmp/fetch/apicurio-registry-app-$REGISTRY_VERSION-all.tar.gz"
    [ -f "$tgz" ] || die "$tgz missing after mvn"
    tar -xzf "$tgz" -C "$DIST.tmp" || die "could not unpack $tgz"
    rm -rf "$DIST.tmp/fetch" "$mlog"
    launcher_of "$DIST.tmp" >/dev/null || die "no quarkus-run.jar nor *-runner.jar in the archive"
    touch "$DIST.tmp/.complete"
    rm -rf "$DIST"; mv "$DIST.tmp" "$DIST"
  fi
  exec 8>&-
}

# launcher_of DIR prints the jar that starts the app: quarkus-run.jar in the
# fast-jar layout (3.1 and later), <artifact>-runner.jar in the legacy layout
# (3.0.x, 2.x).
launcher_of() {
  if [ -f "$1/quarkus-run.jar" ]; then echo "$1/quarkus-run.jar"; return 0; fi
  local j; for j in "$1"/*-runner.jar; do [ -f "$j" ] && { echo "$j"; return 0; }; done
  return 1
}

# java_major BIN prints the feature version of a java binary (17, 21, 25...).
java_major() {
  "$1" -version 2>&1 | sed -n 's/.*version "\([0-9][0-9]*\)[."].*/\1/p' | head -n1
}

# The Java that the release needs: 3.0.x and 2.x were built for Java 17 or
# older, later 3.x releases for Java 21 (3.3.3: class file version 65).
required_java() {
  case "$REGISTRY_VERSION" in
    2.*|3.0.*) echo 17 ;;
    *) echo 21 ;;
  esac
}

pick_java() {
  local need; need="$(required_java)"
  if [ -n "${REGISTRY_JAVA:-}" ]; then
    local m; m="$(java_major "$REGISTRY_JAVA")"
    [ -n "$m" ] && [ "$m" -ge "$need" ] || die "REGISTRY_JAVA=$REGISTRY_JAVA is Java ${m:-?}; Apicurio $REGISTRY_VERSION needs $need+"
    echo "$REGISTRY_JAVA"; return 0
  fi
  local c m
  for c in ${JAVA_HOME:+"$JAVA_HOME/bin/java"} "$(command -v java || true)" \
           $(ls -d /usr/lib/jvm/*/bin/java 2>/dev/null | sort -rV); do
    [ -n "$c" ] && [ -x "$c" ] || continue
    m="$(java_major "$c")"
    if [ -n "$m" ] && [ "$m" -ge "$need" ]; then echo "$c"; return 0; fi
  done
  die "Apicurio $REGISTRY_VERSION needs Java $need+ and none was found (set REGISTRY_JAVA, or use REGISTRY_VERSION=3.0.9 on Java 17)"
}

http_code() { curl -s -o /dev/null -m 5 -w '%{http_code}' "$1" 2>/dev/null || true; }

ready() { [ "$(http_code "$BASE_URL/subjects")" = 200 ]; }

# await_ready: polls ready() until the timeout; fails at once if the JVM exits.
await_ready() { await_started registry "$REGISTRY_READY_TIMEOUT" "$PIDFILE" "$LOGFILE"; }

cmd_up() {
  DIR="$(instance_dir "$INSTANCE")"
  # One "up" at a time per instance; the JVM must not inherit fd 9.
  exec 9>"$DIR/run/up.lock"
  flock -w 300 9 || die "another '$0 up' holds $DIR/run/up.lock"
  if pid_alive "$PIDFILE"; then
    log "already running on 127.0.0.1:$REGISTRY_PORT (pid $(cat "$PIDFILE"))"
    echo "$BASE_URL"
    return 0
  fi
  rm -f "$PIDFILE"
  command -v curl >/dev/null || apt_install curl ca-certificates
  port_open "$REGISTRY_PORT" && die "port $REGISTRY_PORT on 127.0.0.1 is taken by another process"
  local t0; t0=$(date +%s)
  fetch
  local java jar
  java="$(pick_java)"
  jar="$(launcher_of "$DIST")" || die "no launcher jar in $DIST"
  mkdir -p "$DIR/run/config"
  cp "$HERE/application.properties" "$DIR/run/config/application.properties"
  [ -f "$LOGFILE" ] && mv -f "$LOGFILE" "$LOGFILE.1"
  log "starting Apicurio Registry $REGISTRY_VERSION on 127.0.0.1:$REGISTRY_PORT (java $(java_major "$java"), heap $REGISTRY_HEAP)"
  # Run in $DIR/run so that Quarkus finds config/application.properties;
  # setsid: the JVM gets its own session and outlives this shell.
  (
    cd "$DIR/run" || exit 1
    exec setsid "$java" -Xms64m "-Xmx$REGISTRY_HEAP" -XX:+UseSerialGC \
      -Djava.awt.headless=true \
      -Dquarkus.http.host=127.0.0.1 -Dquarkus.http.port="$REGISTRY_PORT" \
      -Dquarkus.management.host=127.0.0.1 -Dquarkus.management.port="$REGISTRY_MGMT_PORT" \
      -Dapicurio.storage.snapshot.location="$DIR/data" \
      -Dapicurio.datasource.url="jdbc:h2:file:$DIR/data/registry;DB_CLOSE_ON_EXIT=FALSE" \
      -jar "$jar"
  ) </dev/null >>"$LOGFILE" 2>&1 9>&- &
  echo $! > "$PIDFILE"
  await_ready || { stop_pidfile "$PIDFILE" 10; die "the registry did not start"; }
  # tandem registers only BACKWARD-compatible schema changes; make the
  # registry enforce it too (Apicurio's default global rule is NONE).
  curl -fsS -X PUT -H 'Content-Type: application/vnd.schemaregistry.v1+json' \
    --data '{"compatibility":"BACKWARD"}' "$BASE_URL/config" >/dev/null \
    || die "could not set the global compatibility to BACKWARD"
  log "ready on 127.0.0.1:$REGISTRY_PORT (pid $(cat "$PIDFILE"), $(( $(date +%s) - t0 ))s); Confluent API:"
  echo "$BASE_URL"
}

cmd_down() {
  if pid_alive "$PIDFILE"; then
    log "stopping (pid $(cat "$PIDFILE"))"
    stop_pidfile "$PIDFILE" 30
    log "stopped"
  else
    rm -f "$PIDFILE"
    log "not running"
  fi
}

cmd_status() {
  if pid_alive "$PIDFILE"; then
    echo "$INSTANCE: running on 127.0.0.1:$REGISTRY_PORT (pid $(cat "$PIDFILE"))"
  else
    echo "$INSTANCE: stopped"
    exit 3
  fi
}

case "${1:-}" in
  up)     cmd_up ;;
  down)   cmd_down ;;
  status) cmd_status ;;
  url)    echo "$BASE_URL" ;;
  *) echo "usage: $0 {up|down|status|url}" >&2; exit 2 ;;
esac
