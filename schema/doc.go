// Package schema owns what travels on Kafka: the Avro schemas of tandem's
// events, the Confluent wire format (magic byte 0, 4-byte schema id, Avro
// body) and the client of the Confluent-compatible schema registry.
//
// Data flow: a capture asks the Registry for the id of an Avro schema
// (registering it under the topic's subject the first time, cached after
// that) and frames each encoded value with that id. A consumer reads the id
// from the frame, fetches the schema by id (cached), and decodes.
package schema
