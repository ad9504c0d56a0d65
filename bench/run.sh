#!/usr/bin/env bash
# Runs every benchmark against the local stack (make up first; make bench
# does) and writes bench/results/<YYYY-MM-DD>.{txt,md,svg} (full mode:
# <YYYY-MM-DD>-full.*): the raw go test
# output with the machine and the versions, the table, and the plot.
#
#   bash bench/run.sh [quick|full]     # make bench / make bench-full
#
# quick (default, under 3 minutes on 2 cores): 3 runs of each benchmark,
# 50,000 capture rows (10,000 in small transactions), 20,000 sink rows, 3 s
# of load per latency run. full: 5 runs, 200,000 capture rows (40,000),
# 100,000 sink rows, 10 s per latency run. TANDEM_BENCH_ROWS,
# TANDEM_BENCH_SMALLTX_ROWS, TANDEM_BENCH_SINK_ROWS,
# TANDEM_BENCH_LATENCY_SECONDS and BENCH_COUNT override the mode's values;
# BENCH_FILTER (a go test -bench pattern) runs a subset.
set -euo pipefail
cd "$(dirname "$0")/.."
GO="${GO:-go}"
mode="${1:-quick}"
case "$mode" in
  quick) count=3 rows=50000 smalltx=10000 sink=20000 latency=3 unittime=0.2s timeout=20m ;;
  full) count=5 rows=200000 smalltx=40000 sink=100000 latency=10 unittime=1s timeout=120m ;;
  *) echo "usage: $0 [quick|full]" >&2; exit 2 ;;
esac
count="${BENCH_COUNT:-$count}"
export TANDEM_BENCH_MODE="$mode"
export TANDEM_BENCH_ROWS="${TANDEM_BENCH_ROWS:-$rows}"
export TANDEM_BENCH_SMALLTX_ROWS="${TANDEM_BENCH_SMALLTX_ROWS:-$smalltx}"
export TANDEM_BENCH_SINK_ROWS="${TANDEM_BENCH_SINK_ROWS:-$sink}"
export TANDEM_BENCH_LATENCY_SECONDS="${TANDEM_BENCH_LATENCY_SECONDS:-$latency}"
filter="${BENCH_FILTER:-.}"

day="$(date -u +%F)"
[ "$mode" = full ] && day="$day-full"
out=bench/results
mkdir -p "$out"
raw="$out/$day.txt"

# The MariaDB DSN of the tests, user:password@tcp(host:port)/db.
mydsn="${TANDEM_TEST_MYSQL_DSN:-tandem:tandem@tcp(127.0.0.1:53306)/tandem}"
[[ "$mydsn" =~ ^([^:]*):([^@]*)@tcp\(([^:]*):([0-9]+)\) ]] || { echo "cannot parse TANDEM_TEST_MYSQL_DSN $mydsn" >&2; exit 1; }
pgdsn="${TANDEM_TEST_PG_DSN:-postgres://tandem:tandem@127.0.0.1:55432/tandem}"

version() { "$@" 2>/dev/null || echo unknown; }
tandem_version() {
  # read-only: no index refresh, so a concurrent git command is never blocked
  local v
  v="$(GIT_OPTIONAL_LOCKS=0 git describe --tags --always 2>/dev/null)" || { echo unknown; return; }
  [ -n "$(GIT_OPTIONAL_LOCKS=0 git status --porcelain --untracked-files=no 2>/dev/null)" ] && v="$v-dirty"
  echo "$v"
}

{
  echo "mode: $mode"
  echo "count: $count"
  echo "rows: $TANDEM_BENCH_ROWS"
  echo "smalltx-rows: $TANDEM_BENCH_SMALLTX_ROWS"
  echo "sink-rows: $TANDEM_BENCH_SINK_ROWS"
  echo "latency-seconds: $TANDEM_BENCH_LATENCY_SECONDS"
  echo "started: $(date -u '+%F %T UTC')"
  echo "cores: $(nproc)"
  echo "memory: $(awk '/^MemTotal:/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
  echo "cpu-model: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)"
  echo "loadavg-start: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "kafka-topics: $(bash deploy/local/kafka.sh topics --list 2>/dev/null | wc -l)"
  echo "go: $("$GO" env GOVERSION)"
  echo "postgres: $(version psql "$pgdsn" -XAtc 'SHOW server_version')"
  echo "mariadb: $(version env MYSQL_PWD="${BASH_REMATCH[2]}" mysql -u"${BASH_REMATCH[1]}" -h"${BASH_REMATCH[3]}" -P"${BASH_REMATCH[4]}" -Nse 'SELECT VERSION()')"
  echo "kafka: $(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' deploy/local/kafka/pom.xml | head -n1)"
  echo "tandem: $(tandem_version)"
} > "$raw"
cat "$raw"
topics="$(sed -n 's/^kafka-topics: //p' "$raw")"
if [ "${topics:-0}" -gt 500 ]; then
  echo "warning: the local Kafka holds $topics topics from earlier runs, which slows it and every figure here;" >&2
  echo "         for comparable figures: make down && rm -rf .state/kafka/data && make up" >&2
fi

start=$(date +%s)
status=0
# The unit benchmarks (no services), then everything against the stack.
mapfile -t unitpkgs < <(grep -rl --include='*_test.go' --exclude-dir=.state --exclude-dir=.git --exclude-dir=bin '^func Benchmark' . |
  xargs grep -L '^//go:build integration' |
  xargs -r -n1 dirname | sort -u)
if [ ${#unitpkgs[@]} -gt 0 ]; then
  "$GO" test -run '^$' -bench "$filter" -benchmem -benchtime "$unittime" -count "$count" "${unitpkgs[@]}" 2>&1 | tee -a "$raw" || status=1
fi
"$GO" test -tags integration -run '^$' -bench "$filter" -benchtime 1x -count "$count" -timeout "$timeout" ./cmd/tandem/ 2>&1 |
  tee -a "$raw" || status=1
secs=$(($(date +%s) - start))
{
  echo "loadavg-end: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "wall-time: $((secs / 60))m$((secs % 60))s"
} | tee -a "$raw"

"$GO" run ./bench/report -in "$raw"
echo "wrote $raw, $out/$day.md and $out/$day.svg"
[ "$status" -eq 0 ] || echo "some benchmarks failed: see $raw" >&2
exit "$status"
