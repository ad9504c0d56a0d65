// Package mysql is the MySQL and MariaDB capture: it reads the binary log as
// a replica would (go-mysql's BinlogSyncer), decoding each row with the
// column metadata of its own TableMap event (binlog_row_metadata=FULL), so
// that rows written before a DDL decode with the schema they were written
// with.
//
// Data flow: binlog -> this reader -> capture transactions -> publisher ->
// Kafka. The position (GTID set, or file:pos) is stored only after Kafka has
// acknowledged every event up to it.
//
// This package also holds the MySQL/MariaDB prerequisites that `tandem check`
// verifies (Preflight).
package mysql
