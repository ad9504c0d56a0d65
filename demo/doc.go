// Package demo sets up and drives the WooCommerce and Odoo demo of tandem
// (deploy/examples/woocommerce-odoo.yaml): a shop on MariaDB (database
// "shop", WooCommerce's wp_ tables with HPOS orders) and an ERP on PostgreSQL
// (database "erp", Odoo's tables).
//
//   - LoadFixtures creates the two databases under any names and applies the
//     fixture DDL of deploy/fixtures (the same files deploy/local/fixtures.sh
//     loads with the mysql and psql clients).
//   - Seed fills them with a deterministic, realistic starting state, as if
//     tandem had synced both sides before: products with variants, prices,
//     three warehouses' stock and taxes in the ERP; the same products (by
//     SKU), customers and orders in the shop, with matching ERP partners and
//     sale orders. Everything is written with plain SQL.
package demo
