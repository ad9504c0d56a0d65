// Package sink applies entity events from Kafka to a target database, so
// that it stays equal to the source, exactly once in effect and without
// loops.
//
// Data flow (DESIGN.md sections 4 and 5): a consumer reads a system's
// topics; each source transaction's events for one partition are applied in
// one target transaction whose first statement upserts the sink's checkpoint
// row (consumer, topic, partition, offset, source position); events at or
// below the stored position are skipped; on start the consumer seeks to the
// offsets stored in the target, not to the group's. sink/postgres and
// sink/mysql hold the SQL dialects.
package sink
