// Package postgres is the PostgreSQL capture: it reads the write-ahead log
// through a logical replication slot with the pgoutput plugin
// (github.com/jackc/pglogrepl) and turns it into capture transactions.
//
// Data flow: WAL -> slot (pgoutput) -> this reader -> capture transactions ->
// publisher -> Kafka. The slot's confirmed flush LSN moves only when the
// publisher acks a position that Kafka has made durable.
//
// This package also holds the PostgreSQL prerequisites that `tandem check`
// verifies (Preflight).
package postgres
