#!/usr/bin/env bash
# The local stack: PostgreSQL, MariaDB, Kafka and the schema registry, each
# under $TANDEM_STATE (default <repo>/.state) on its own ports.
#
#   stack.sh up [service...]      install what is missing and start (idempotent)
#   stack.sh down [service...]    stop what this project started
#   stack.sh status [service...]  one line per service; exit 0 only if all run
#   stack.sh env                  print the connection settings as shell exports
#
# Services: postgres (127.0.0.1:55432), mariadb (127.0.0.1:53306),
# kafka (127.0.0.1:59092), registry (http://127.0.0.1:58081/apis/ccompat/v7).
# The databases start in parallel with the JVM services.
# The demo's databases "shop" and "erp" (WooCommerce and Odoo tables) are not
# created here: deploy/local/fixtures.sh up loads them once the stack is up.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ALL=(postgres mariadb kafka registry)

verb="${1:-}"; shift || true
services=("$@"); [ ${#services[@]} -eq 0 ] && services=("${ALL[@]}")
for s in "${services[@]}"; do
  [ -f "$HERE/$s.sh" ] || die "unknown service '$s' (services: ${ALL[*]})"
done

# Tests and the demo read the connection settings from these variables.
print_env() {
  cat <<EOT
export TANDEM_STATE='$TANDEM_STATE'
export TANDEM_TEST_PG_DSN='postgres://tandem:tandem@127.0.0.1:${PG_PORT:-55432}/tandem'
export TANDEM_TEST_MYSQL_DSN='tandem:tandem@tcp(127.0.0.1:${MARIADB_PORT:-53306})/tandem'
export TANDEM_TEST_KAFKA='127.0.0.1:${KAFKA_PORT:-59092}'
export TANDEM_TEST_REGISTRY='http://127.0.0.1:${REGISTRY_PORT:-58081}/apis/ccompat/v7'
EOT
}

case "$verb" in
  up)
    mkdir -p "$TANDEM_STATE"
    # Graphviz renders `tandem diagram --format svg`.
    command -v dot >/dev/null 2>&1 || SERVICE=graphviz apt_install graphviz
    # Two lanes in parallel: the databases one after the other (apt and dpkg
    # are not parallel-safe), and the JVM services one after the other (their
    # Maven fetches share ~/.m2, which Maven 3.8 does not lock). Each lane's
    # output goes to a log that is printed when the lane ends.
    lane() { local name="$1"; shift; for s in "$@"; do bash "$HERE/$s.sh" up || return 1; done; }
    pids=(); lanes=()
    start_lane() {
      local name="$1"; shift
      local want=()
      for s in "$@"; do [[ " ${services[*]} " == *" $s "* ]] && want+=("$s"); done
      [ ${#want[@]} -eq 0 ] && return 0
      lane "$name" "${want[@]}" > "$TANDEM_STATE/.lane-$name.log" 2>&1 &
      pids+=($!); lanes+=("$name")
    }
    start_lane databases postgres mariadb
    start_lane jvm kafka registry
    failed=()
    for i in "${!pids[@]}"; do
      wait "${pids[$i]}" || failed+=("${lanes[$i]}")
      cat "$TANDEM_STATE/.lane-${lanes[$i]}.log" >&2
    done
    [ ${#failed[@]} -eq 0 ] || die "failed to start: ${failed[*]} (see the lines above)"
    log "stack is up"
    ;;
  down)
    for (( i=${#services[@]}-1; i>=0; i-- )); do bash "$HERE/${services[$i]}.sh" down || true; done
    ;;
  status)
    rc=0
    for s in "${services[@]}"; do bash "$HERE/$s.sh" status || rc=3; done
    exit $rc
    ;;
  env) print_env ;;
  *) echo "usage: $0 {up|down|status|env} [service...]" >&2; exit 2 ;;
esac
