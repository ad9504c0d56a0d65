// Package publish is the publishing path every capture shares: it receives
// a reader's transactions (it is a capture.Handler), encodes each change
// into a Kafka record (through an Encoder, schema.Serializer in production),
// writes the records to Kafka with acks=all, and acks positions back to the
// reader in order once Kafka has made everything up to them durable.
//
// Data flow: Reader -> Publisher.Begin/Change/Commit/Heartbeat -> Encoder ->
// per-partition lanes -> Kafka -> completion -> in-order ack watermark ->
// Reader.Ack.
//
//   - Routing: a record's partition is the Java client's default (murmur2 of
//     the key over the topic's partition count; partition 0 for a nil key).
//     A topic is created (bus.Config.EnsureTopics) the first time a record
//     names it; auto-create is never relied on.
//   - Lanes: each (topic, partition) has a queue and a goroutine that writes
//     it in order, one produce request at a time, in batches bounded by
//     kafka.producer.batch_size, batch_bytes and linger. A failed write
//     (after the writer's retries) stops the whole publisher, so a partition
//     never has a gap: the sink's dedupe by source position relies on that.
//   - Acks: transactions and heartbeats wait in a FIFO with a count of their
//     unwritten records; the newest prefix of complete ones is acked, in
//     order, by Publisher.Run. Nothing is acked after a failure.
//   - Memory: Begin, Change and Commit block while the bytes queued or being
//     written would pass kafka.producer.max_in_flight_bytes. A transaction
//     is streamed record by record; only its counters are kept, so memory
//     does not grow with its size.
//
// Lifecycle: New, then Run(ctx) in the process's errgroup beside the
// reader's Run; after both return, Close (which drains and delivers the
// last ack), then the reader's Close.
package publish
