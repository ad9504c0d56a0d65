#!/usr/bin/env bash
# deploy/local/fixtures.sh {up|reset|status}
#
# Loads the WooCommerce and Odoo fixture schemas (deploy/fixtures/shop.sql,
# deploy/fixtures/erp.sql) into the running local stack: database "shop" on
# MariaDB (127.0.0.1:53306) and database "erp" on PostgreSQL (127.0.0.1:55432),
# the systems of deploy/examples/woocommerce-odoo.yaml. It does not start the
# servers (deploy/local/stack.sh up does) and stack.sh never calls it; the demo
# does. It loads the schema only: the demo data comes from the Go seeder
# (package demo, demo.Seed), which writes through plain SQL.
#
#   up      create the databases if missing, grant them to user tandem and
#           load the DDL. Idempotent: every statement is CREATE ... IF NOT
#           EXISTS / ON CONFLICT DO NOTHING, so existing tables and rows stay.
#   reset   drop the fixture tables (deploy/fixtures/*-drop.sql), then "up":
#           empty tables with the current DDL. The databases themselves stay,
#           so replication slots and publications on "erp" do not block it.
#   status  one line per database: its fixture tables and row counts
#           -> exit 0 when both databases hold every table, 3 otherwise.
#
# Environment (all optional):
#   SHOP_DB        MariaDB database name           (default: shop)
#   ERP_DB         PostgreSQL database name        (default: erp)
#   MARIADB_PORT   MariaDB port on 127.0.0.1       (default: 53306)
#   PG_PORT        PostgreSQL port on 127.0.0.1    (default: 55432)
#   TANDEM_STATE   state root (see lib.sh)         (default: <repo>/.state)
#
# demo.LoadFixtures does the same from Go (for tests, into databases of any
# name); both read the same SQL files, which hold no database name.
# Logs go to stderr; only the status lines go to stdout.
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck disable=SC2034  # SERVICE is the log prefix used by lib.sh log()
SERVICE=fixtures

SHOP_DB="${SHOP_DB:-shop}"
ERP_DB="${ERP_DB:-erp}"
MARIADB_PORT="${MARIADB_PORT:-53306}"
PG_PORT="${PG_PORT:-55432}"
FIXTURES="$TANDEM_ROOT/deploy/fixtures"

# shellcheck disable=SC2034  # read through a nameref in summary()
SHOP_TABLES=(wp_posts wp_postmeta wp_wc_product_meta_lookup wp_wc_orders wp_wc_order_addresses
  wp_wc_order_operational_data wp_wc_orders_meta wp_woocommerce_order_items
  wp_woocommerce_order_itemmeta wp_wc_customer_lookup wp_woocommerce_tax_rates)
# shellcheck disable=SC2034  # read through a nameref in summary()
ERP_TABLES=(res_currency res_company res_partner uom_uom product_category product_template
  product_product product_pricelist product_pricelist_item stock_location stock_warehouse
  stock_quant sale_order sale_order_line stock_picking account_move account_move_line account_tax)

case "$SHOP_DB$ERP_DB" in *[!A-Za-z0-9_]*) die "SHOP_DB and ERP_DB may hold only letters, digits and _";; esac

# my ARGS... -> the mariadb client as tandem over TCP (no option files)
my() {
  mariadb --no-defaults --protocol=tcp --host=127.0.0.1 --port="$MARIADB_PORT" \
    --user=tandem --password=tandem --batch --skip-column-names "$@"
}
# pg DB ARGS... -> psql as tandem over TCP, stopping at the first error
pg() {
  local db="$1"; shift
  PGPASSWORD=tandem psql --no-psqlrc --quiet --tuples-only --no-align -v ON_ERROR_STOP=1 \
    -h 127.0.0.1 -p "$PG_PORT" -U tandem -d "$db" "$@"
}

need_servers() {
  command -v mariadb >/dev/null || die "the mariadb client is missing: run deploy/local/stack.sh up"
  command -v psql >/dev/null || die "psql is missing: run deploy/local/stack.sh up"
  my -e 'SELECT 1' >/dev/null 2>&1 \
    || die "MariaDB is not reachable on 127.0.0.1:$MARIADB_PORT as tandem: run deploy/local/stack.sh up mariadb"
  pg tandem -c 'SELECT 1' >/dev/null 2>&1 \
    || die "PostgreSQL is not reachable on 127.0.0.1:$PG_PORT as tandem: run deploy/local/stack.sh up postgres"
}

load() {
  log "MariaDB: database $SHOP_DB <- deploy/fixtures/shop.sql"
  my -e "CREATE DATABASE IF NOT EXISTS \`$SHOP_DB\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_520_ci;
         GRANT ALL PRIVILEGES ON \`$SHOP_DB\`.* TO 'tandem'@'127.0.0.1';
         GRANT ALL PRIVILEGES ON \`$SHOP_DB\`.* TO 'tandem'@'localhost';" \
    || die "could not create database $SHOP_DB"
  my --database="$SHOP_DB" <"$FIXTURES/shop.sql" || die "loading shop.sql into $SHOP_DB failed"

  log "PostgreSQL: database $ERP_DB <- deploy/fixtures/erp.sql"
  if [ -z "$(pg tandem -c "SELECT 1 FROM pg_database WHERE datname = '$ERP_DB'")" ]; then
    pg tandem -c "CREATE DATABASE \"$ERP_DB\" OWNER tandem" || die "could not create database $ERP_DB"
  fi
  pg tandem -c "GRANT ALL PRIVILEGES ON DATABASE \"$ERP_DB\" TO tandem" >/dev/null
  pg "$ERP_DB" -c 'SET client_min_messages = warning' -f "$FIXTURES/erp.sql" >/dev/null \
    || die "loading erp.sql into $ERP_DB failed"
  log "fixtures loaded (seed the demo data with the Go seeder, demo.Seed)"
}

drop() {
  if [ -n "$(my -e "SHOW DATABASES LIKE '$SHOP_DB'")" ]; then
    log "MariaDB: dropping the fixture tables of $SHOP_DB"
    my --database="$SHOP_DB" <"$FIXTURES/shop-drop.sql" || die "dropping the tables of $SHOP_DB failed"
  fi
  if [ -n "$(pg tandem -c "SELECT 1 FROM pg_database WHERE datname = '$ERP_DB'")" ]; then
    log "PostgreSQL: dropping the fixture tables of $ERP_DB"
    pg "$ERP_DB" -c 'SET client_min_messages = warning' -f "$FIXTURES/erp-drop.sql" >/dev/null \
      || die "dropping the tables of $ERP_DB failed"
  fi
}

# summary LABEL TABLES COUNT_FN WANT_ARRAY COUNTED... -> one status line:
# how many of the tables named in WANT_ARRAY are among TABLES (one a line)
# and the row counts of COUNTED; fails when one is missing.
summary() {
  local label="$1" have="$2" count="$3" t n=0 counts=""
  local -n want="$4"
  shift 4
  for t in "${want[@]}"; do grep -qx "$t" <<<"$have" && n=$((n + 1)); done
  for t in "$@"; do grep -qx "$t" <<<"$have" && counts="$counts $t=$("$count" "$t")"; done
  echo "$label: $n/${#want[@]} tables;$counts"
  [ "$n" -eq "${#want[@]}" ]
}
shop_count() { my --database="$SHOP_DB" -e "SELECT count(*) FROM $1"; }
erp_count() { pg "$ERP_DB" -c "SELECT count(*) FROM $1"; }

cmd_status() {
  local rc=0
  if ! command -v mariadb >/dev/null || ! command -v psql >/dev/null; then
    echo "fixtures: the mariadb or psql client is missing (deploy/local/stack.sh up installs them)"; return 3
  fi
  if ! my -e 'SELECT 1' >/dev/null 2>&1; then
    echo "shop (mariadb $SHOP_DB): server not reachable"; rc=3
  elif [ -z "$(my -e "SHOW DATABASES LIKE '$SHOP_DB'")" ]; then
    echo "shop (mariadb $SHOP_DB): no database"; rc=3
  else
    summary "shop (mariadb $SHOP_DB)" "$(my -e "SELECT table_name FROM information_schema.tables WHERE table_schema = '$SHOP_DB'")" \
      shop_count SHOP_TABLES wp_posts wp_wc_customer_lookup wp_wc_orders || rc=3
  fi
  if ! pg tandem -c 'SELECT 1' >/dev/null 2>&1; then
    echo "erp (postgres $ERP_DB): server not reachable"; rc=3
  elif [ -z "$(pg tandem -c "SELECT 1 FROM pg_database WHERE datname = '$ERP_DB'")" ]; then
    echo "erp (postgres $ERP_DB): no database"; rc=3
  else
    summary "erp (postgres $ERP_DB)" "$(pg "$ERP_DB" -c "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")" \
      erp_count ERP_TABLES product_product res_partner sale_order || rc=3
  fi
  return $rc
}

case "${1:-}" in
  up)     need_servers; load ;;
  reset)  need_servers; drop; load ;;
  status) cmd_status ;;
  *)      echo "usage: $0 {up|reset|status}" >&2; exit 2 ;;
esac
