// Package schema owns what travels on Kafka: the Avro schemas of tandem's
// events, the Confluent wire format (magic byte 0, 4-byte schema id, Avro
// body) and the client of the Confluent-compatible schema registry.
//
// Data flow: a capture asks the Registry for the id of an Avro schema
// (registering it under the topic's subject the first time, cached after
// that) and frames each encoded value with that id. A consumer reads the id
// from the frame, fetches the schema by id (cached), and decodes.
//
// In raw mode the Serializer (a publish.Encoder) does this for captured
// tables: capture.Change -> schemas of the table version (generated from its
// columns, checked against the previous version, registered once) ->
// Envelope record on <prefix>.<system>.<schema>.<table> under subject
// <topic>-value, keyed by the key columns' record under <topic>-key; BEGIN
// and END records of each transaction go to <prefix>.<system>.transactions.
// The Decoder reads any of them back.
//
// # Row records
//
// A table's row is a record named after the table in namespace
// <prefix>.<system>.<schema>. Names are made Avro names ([A-Za-z_][A-Za-z0-9_]*:
// other characters become _, a leading digit gets a _ in front, a
// collision gets _2, _3, ...; valid column names keep theirs), and the
// column's own name is kept in the field property "tandem.column". Every
// field is a union of null and its type with a null default, whether or not
// the column is nullable: a value the log does not carry (capture.Unchanged,
// e.g. an unchanged TOAST value) is null there and its field is listed in
// the envelope's unknown (after) or before_unknown (before), so a sink never
// mistakes it for NULL. Field properties "tandem.nullable", "tandem.key" and
// "tandem.source_type" keep the column's nullability, key membership and
// database type.
//
// Column kinds map to Avro as follows:
//
//	bool                    boolean
//	int16, int32            int
//	int64                   long
//	uint64                  bytes, decimal(20,0)  (BIGINT UNSIGNED above 2^63-1 does not wrap)
//	float32, float64        float, double
//	decimal(p,s), s>=0      bytes, decimal(p,s)   (p=0 becomes 38; p<s becomes s)
//	decimal, unconstrained  string, "tandem.type":"decimal" (the exact decimal text)
//	bytes                   bytes
//	date                    int, date
//	timestamp (no zone)     long, timestamp-micros, "tandem.type":"timestamp"
//	timestamptz             long, timestamp-micros
//	time                    long, time-micros
//	interval                string, "tandem.type":"interval" (ISO 8601)
//	uuid                    string, uuid
//	json                    string, "tandem.type":"json"
//	enum                    string, "tandem.type":"enum", "tandem.symbols":[labels]
//	string                  string
//	array                   array of union [null, element type]
//
// A timestamp without time zone is the wall-clock value read as if it were
// UTC, in timestamp-micros: goavro v2.15.0 has no local-timestamp-micros
// codec (it drops that logical type to a bare long), and the sinks decode
// with goavro. "tandem.type":"timestamp" tells the two kinds apart. An enum
// is a string, not an Avro enum, so that a label added to the database type
// keeps the schema compatible. Money is a decimal, never a float: a value
// that its column's scale or precision cannot hold exactly is an
// *EncodeError, never rounded.
//
// # Schema evolution
//
// Each topic's subjects are BACKWARD compatible: a consumer holding a new
// version's schema reads every event of the versions before it. On the
// first change of a new table version the Serializer compares it with the
// previous version it saw on the same topic, matching columns by field
// name. Allowed:
//
//   - adding a column (its field is nullable with a null default);
//   - dropping a column;
//   - changing a column's type by Avro promotion: int -> long -> float ->
//     double (int and long may also go straight to float or double),
//     float -> double, string <-> bytes;
//   - a larger decimal precision at the same scale;
//   - any change of "tandem.*" properties (an enum's labels, json to text).
//
// Any other type change of a same-named column, including to or from a
// logical type (date, timestamps, time, uuid, decimal) and a change of
// decimal scale, and any change of the key columns (another key is another
// partitioning), fails with an *IncompatibleError naming the column. The
// registry's own refusal (HTTP 409) is one too. Such a change needs a new
// topic: publish the table there and re-snapshot it, leaving the old topic's
// consumers on the old schema.
package schema
