// Package mysql is the MySQL/MariaDB target of a sink: the sink.Target,
// sink.Tx and sink.Dialect over database/sql with
// github.com/go-sql-driver/mysql.
//
// Data flow: sink -> Target.Begin (a pooled connection whose session has
// skip_replication=1) -> Tx: the checkpoint row first, then the entity
// rows -> COMMIT. The system's own capture drops the transaction twice
// over: its binlog events carry the skip-replication flag (0x8000), and its
// first row change is to the checkpoint table.
//
// Every connection of the pool is set up when it opens: time_zone
// '+00:00', a fixed strict sql_mode (STRICT_ALL_TABLES, so that a bad value
// is an error rather than silently truncated), and, where the server
// allows it, skip_replication = 1. MySQL has no skip_replication; there, or
// where MariaDB refuses it, New logs a warning and the checkpoint-first
// rule alone keeps the sink's writes from coming back.
package mysql
