// Package publish is the publishing path every capture shares: it receives
// a reader's transactions (it is a capture.Handler), encodes each change
// into a Kafka record (through an Encoder, schema.Serializer in production),
// writes the records to Kafka with acks=all, and acks positions back to the
// reader in order once Kafka has made everything up to them durable.
//
// Data flow: Reader -> Publisher.Begin/Change/Commit/Heartbeat -> Encoder ->
// per-partition lanes -> Kafka -> completion -> in-order ack watermark ->
// Reader.Ack. Memory is bounded: Change blocks while the bytes in flight
// exceed the cap.
package publish
