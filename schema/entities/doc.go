// Package entities holds tandem's canonical commerce entities: product,
// price, stock_level, customer, order, order_line, shipment, invoice,
// tax_rate and return. Each is an Avro record in namespace tandem.entity,
// kept as an embedded .avsc file under avsc/, and described to Go code by
// an Entity (Builtin, Lookup). README.md documents every field.
//
// Data flow: a capture's mapping turns the rows of one system (a
// WooCommerce order spread over wc_orders, wc_order_addresses,
// wc_order_operational_data and woocommerce_order_itemmeta; an Odoo
// sale_order) into entity records of these schemas. The record travels as
// the before and after of an event envelope on the topic of its aggregate,
// <prefix>.<system>.<Aggregate> (tandem.shop.order carries order and
// order_line records), with the aggregate key (Entity.AggregateKey, e.g.
// the order number) as the Kafka key, so that a root and its children share
// one partition and keep their commit order. A topic that carries several
// record types registers them under <topic>-<record full name>. A sink's
// mapping turns the records back into rows of the other system: it finds
// the target row by the natural key (Entity.NaturalKey: SKU, email, order
// number), resolves references to other entities (Entity.References,
// e.g. order.customer_email -> customer.email) through their natural keys,
// and applies only the fields listed in the envelope's changed.
//
// Conventions every schema follows, checked by the package's tests:
//
//   - Only the natural key fields (and the key of a nested line record) are
//     required. Every other field is a union of null and its type with
//     default null, so that an event can carry just the fields it changed
//     and each field can have its own owner system. Null in an after image
//     means "not set" for a field listed in changed and "not known" for any
//     other field.
//   - Money is decimal(26,8) (bytes), marked "tandem.kind":"money", and the
//     record carries its currency (ISO 4217). 26,8 is WooCommerce's own
//     column type for amounts, so every WooCommerce value fits exactly; Odoo
//     stores amounts as unconstrained numeric rounded to the currency (at
//     most a few decimals), which fits too; 18 integer digits are far above
//     any real amount. A value with more than 8 decimals is an error at
//     encoding, never rounded.
//   - Quantities ("tandem.kind":"quantity") and weights ("weight", in
//     kilograms) are decimal(26,8) as well: Odoo quantities are
//     numeric in fractional units of measure (2.5 kg), and one shape for
//     every amount keeps the arithmetic exact. Tax rates are percentages,
//     decimal(16,4) ("percent"), Odoo's account_tax.amount.
//   - Times are timestamp-micros in UTC; calendar dates (invoice dates) are
//     date. No field is a float or a double.
//   - Status-like fields are Avro strings, not Avro enums, so that a new
//     canonical value keeps the schema compatible. The values are listed in
//     the field property "tandem.values" and in the field's doc.
//   - Record properties "tandem.natural_key", "tandem.aggregate",
//     "tandem.aggregate_key" and "tandem.references" carry the keys and
//     references, and fill the Entity fields of the same names.
//
// The schemas are parsed once, on first use, and are never modified:
// Builtin and Lookup return copies and are safe to call concurrently.
package entities
