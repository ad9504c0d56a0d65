#!/usr/bin/env bash
# Local Apache Kafka 4.x broker, single node in KRaft mode (broker+controller),
# run from the jars of Maven Central on the machine's Java 17.
#
#   deploy/local/kafka.sh up | down | status
#   deploy/local/kafka.sh topics ARGS...          # org.apache.kafka.tools.TopicCommand
#   deploy/local/kafka.sh perf-producer ARGS...   # org.apache.kafka.tools.ProducerPerformance
#   deploy/local/kafka.sh bootstrap               # prints 127.0.0.1:<port>
#
# Environment:
#   INSTANCE               state folder name and log prefix (default: kafka)
#   KAFKA_PORT             client listener on 127.0.0.1 (default: 59092)
#   KAFKA_CONTROLLER_PORT  KRaft controller listener (default: 59093)
#   KAFKA_HEAP             -Xms/-Xmx of the broker (default: 512m)
#   KAFKA_VERSION          overrides the version in kafka/pom.xml
#   KAFKA_READY_TIMEOUT    seconds to wait for readiness (default: 90)
#
# "topics" adds --bootstrap-server 127.0.0.1:$KAFKA_PORT when ARGS has none.
# The jars are fetched once with Maven into $TANDEM_STATE/dist/ (Maven's own
# cache is ~/.m2); the broker's data, logs and pid file live under
# $TANDEM_STATE/$INSTANCE/{data,log,run}. The controller endpoint is written
# into the storage when it is formatted: after changing KAFKA_CONTROLLER_PORT
# remove $TANDEM_STATE/$INSTANCE/data.
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

INSTANCE="${INSTANCE:-kafka}"
# shellcheck disable=SC2034 # SERVICE is read by log() in lib.sh
SERVICE="$INSTANCE"
KAFKA_PORT="${KAFKA_PORT:-59092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-59093}"
KAFKA_HEAP="${KAFKA_HEAP:-512m}"
KAFKA_READY_TIMEOUT="${KAFKA_READY_TIMEOUT:-90}"
HERE="$TANDEM_ROOT/deploy/local/kafka"
POM="$HERE/pom.xml"
JAVA="${JAVA_HOME:+$JAVA_HOME/bin/}java"

pom_version() { sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$POM" | head -n1; }
KAFKA_VERSION="${KAFKA_VERSION:-$(pom_version)}"
# The cache key holds the version and the pom's hash, so editing the pom
# (another dependency, another log4j) fetches again.
DIST="$TANDEM_STATE/dist/kafka-$KAFKA_VERSION-$(sha1sum "$POM" | cut -c1-10)"

DIR="$TANDEM_STATE/$INSTANCE"
PIDFILE="$DIR/run/kafka.pid"
LOGFILE="$DIR/log/server.log"
OUTFILE="$DIR/log/kafka.out"
PROPS="$DIR/run/server.properties"
CLIENT_PROPS="$DIR/run/client.properties"
DATA="$DIR/data/kafka-logs"
CLUSTER_ID_FILE="$DIR/data/cluster.id"

# fetch: copies the broker and tools jars into $DIST/libs once.
fetch() {
  [ -f "$DIST/.complete" ] && return 0
  command -v mvn >/dev/null || die "mvn is not installed (apt-get install maven)"
  mkdir -p "$TANDEM_STATE/dist"
  exec 8>"$TANDEM_STATE/dist/.kafka.lock"
  flock -w 600 8 || die "another fetch holds $TANDEM_STATE/dist/.kafka.lock"
  if [ ! -f "$DIST/.complete" ]; then
    log "fetching Kafka $KAFKA_VERSION jars from Maven Central"
    rm -rf "$DIST.tmp"; mkdir -p "$DIST.tmp"
    local mlog="$DIST.tmp/mvn.log"
    mvn -q -B -Dstyle.color=never -f "$POM" -Dkafka.version="$KAFKA_VERSION" \
      dependency:copy-dependencies -DincludeScope=runtime \
      -DoutputDirectory="$DIST.tmp/libs" >"$mlog" 2>&1 \
      || { grep -E 'ERROR' "$mlog" | head -n 5 >&2; die "mvn could not fetch Kafka $KAFKA_VERSION"; }
    rm -f "$mlog"
    ls "$DIST.tmp/libs/kafka_2.13-$KAFKA_VERSION.jar" >/dev/null || die "kafka_2.13-$KAFKA_VERSION.jar missing after mvn"
    touch "$DIST.tmp/.complete"
    rm -rf "$DIST"; mv "$DIST.tmp" "$DIST"
  fi
  exec 8>&-
}

# run_tool MAINCLASS ARGS... runs a Kafka command-line class with the jars.
run_tool() {
  local main="$1"; shift
  "$JAVA" -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$HERE/tools-log4j2.properties" \
    -cp "$DIST/libs/*" "$main" "$@"
}

render_config() {
  mkdir -p "$DATA"
  sed -e "s|@PORT@|$KAFKA_PORT|g" \
      -e "s|@CONTROLLER_PORT@|$KAFKA_CONTROLLER_PORT|g" \
      -e "s|@DATA_DIR@|$DATA|g" \
      "$HERE/server.properties.tmpl" > "$PROPS"
  # Short timeouts for the tools that kafka.sh runs against the broker.
  printf '%s\n' "request.timeout.ms=5000" "default.api.timeout.ms=8000" > "$CLIENT_PROPS"
}

format_storage() {
  [ -f "$DATA/meta.properties" ] && return 0
  if [ ! -s "$CLUSTER_ID_FILE" ]; then
    run_tool kafka.tools.StorageTool random-uuid > "$CLUSTER_ID_FILE.tmp" \
      || die "StorageTool random-uuid failed"
    mv "$CLUSTER_ID_FILE.tmp" "$CLUSTER_ID_FILE"
  fi
  local id; id="$(tr -d '[:space:]' < "$CLUSTER_ID_FILE")"
  log "formatting storage in $DATA (cluster id $id)"
  run_tool kafka.tools.StorageTool format --standalone -t "$id" -c "$PROPS" >>"$OUTFILE" 2>&1 \
    || { tail -n 20 "$OUTFILE" >&2; die "StorageTool format failed"; }
}

# ready: the listener accepts connections and answers a metadata request.
ready() {
  port_open "$KAFKA_PORT" || return 1
  timeout 20 "$JAVA" -Xmx128m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
    -Dlog4j2.configurationFile="$HERE/tools-log4j2.properties" -cp "$DIST/libs/*" \
    org.apache.kafka.tools.TopicCommand --bootstrap-server "127.0.0.1:$KAFKA_PORT" \
    --command-config "$CLIENT_PROPS" --list >/dev/null 2>&1
}

# await_ready: polls ready() until the timeout; fails at once if the broker
# process exits.
await_ready() { await_started broker "$KAFKA_READY_TIMEOUT" "$PIDFILE" "$LOGFILE" "$OUTFILE"; }

cmd_up() {
  DIR="$(instance_dir "$INSTANCE")"
  # One "up" at a time per instance; the broker must not inherit fd 9.
  exec 9>"$DIR/run/up.lock"
  flock -w 300 9 || die "another '$0 up' holds $DIR/run/up.lock"
  if pid_alive "$PIDFILE"; then
    log "already running on 127.0.0.1:$KAFKA_PORT (pid $(cat "$PIDFILE"))"
    return 0
  fi
  rm -f "$PIDFILE"
  command -v "$JAVA" >/dev/null || die "java not found (need Java 17+)"
  for p in "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT"; do
    port_open "$p" && die "port $p on 127.0.0.1 is taken by another process"
  done
  local t0; t0=$(date +%s)
  fetch
  render_config
  format_storage
  log "starting Kafka $KAFKA_VERSION on 127.0.0.1:$KAFKA_PORT (controller $KAFKA_CONTROLLER_PORT, heap $KAFKA_HEAP)"
  : > "$OUTFILE"
  # setsid: the broker gets its own session and outlives this shell.
  setsid "$JAVA" "-Xms$KAFKA_HEAP" "-Xmx$KAFKA_HEAP" \
    -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 \
    -XX:+ExplicitGCInvokesConcurrent -Djava.awt.headless=true \
    -Dkafka.logs.dir="$DIR/log" \
    -Dlog4j2.configurationFile="$HERE/log4j2.properties" \
    -cp "$DIST/libs/*" kafka.Kafka "$PROPS" \
    </dev/null >>"$OUTFILE" 2>&1 9>&- &
  echo $! > "$PIDFILE"
  await_ready || { stop_pidfile "$PIDFILE" 10; die "Kafka did not start"; }
  log "ready on 127.0.0.1:$KAFKA_PORT (pid $(cat "$PIDFILE"), $(( $(date +%s) - t0 ))s)"
}

cmd_down() {
  if pid_alive "$PIDFILE"; then
    log "stopping (pid $(cat "$PIDFILE"))"
    stop_pidfile "$PIDFILE" 60
    log "stopped"
  else
    rm -f "$PIDFILE"
    log "not running"
  fi
}

cmd_status() {
  if pid_alive "$PIDFILE"; then
    echo "$INSTANCE: running on 127.0.0.1:$KAFKA_PORT (pid $(cat "$PIDFILE"))"
  else
    echo "$INSTANCE: stopped"
    exit 3
  fi
}

cmd_topics() {
  fetch
  local a has_bootstrap=0
  for a in "$@"; do [ "$a" = "--bootstrap-server" ] && has_bootstrap=1; done
  if [ "$has_bootstrap" = 1 ]; then
    run_tool org.apache.kafka.tools.TopicCommand "$@"
  else
    run_tool org.apache.kafka.tools.TopicCommand --bootstrap-server "127.0.0.1:$KAFKA_PORT" "$@"
  fi
}

cmd_perf_producer() {
  fetch
  "$JAVA" -Xmx512m -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$HERE/tools-log4j2.properties" \
    -cp "$DIST/libs/*" org.apache.kafka.tools.ProducerPerformance "$@"
}

verb="${1:-}"; [ $# -gt 0 ] && shift
case "$verb" in
  up)            cmd_up ;;
  down)          cmd_down ;;
  status)        cmd_status ;;
  topics)        cmd_topics "$@" ;;
  perf-producer) cmd_perf_producer "$@" ;;
  bootstrap)     echo "127.0.0.1:$KAFKA_PORT" ;;
  *) echo "usage: $0 {up|down|status|topics ARGS...|perf-producer ARGS...|bootstrap}" >&2; exit 2 ;;
esac
