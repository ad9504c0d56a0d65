// Package bus sets up tandem's Kafka clients: the connection settings that
// every capture and sink shares (brokers, TLS, SASL), topic naming and
// creation, and the prerequisite checks for `tandem check`.
//
// Data flows through it, not into it: captures get a writer from here and
// publish; sinks get a reader from here and consume. Nothing in this package
// holds events.
package bus
