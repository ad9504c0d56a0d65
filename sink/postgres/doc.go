// Package postgres is the PostgreSQL target of a sink (imported elsewhere as
// sinkpg): the sink.Target, sink.Tx and sink.Dialect over a pgxpool.
//
// Data flow: sink -> Target.Begin (a pooled connection, tagged with a
// replication origin) -> Tx: the checkpoint row first, then the entity
// rows -> COMMIT. The system's own capture drops the transaction twice
// over: its Origin message names an origin that starts with "tandem", and
// its first change is to the checkpoint table.
//
// Replication origins: PostgreSQL lets only one session at a time set up a
// given origin (pg_replication_origin_session_setup fails with "replication
// origin with ID n is already active for PID m", SQLSTATE 55006), so one
// origin tandem_<sink> cannot tag concurrent transactions. Each pooled
// connection therefore takes one of MaxConns origins, tandem_<sink>_0 ..
// tandem_<sink>_<MaxConns-1>, the first time it begins a transaction, and
// keeps it set until it is closed (it is released with
// pg_replication_origin_session_reset, or by the backend's exit). Every
// connection of the pool is tagged, so nothing but the sink's own writes
// go through it. Setup creates the origins. Each origin in use holds one of
// the server's max_replication_slots replication-origin states (an array of
// its own, not the slots) until the origin is dropped. Origins are session
// state: a pooler in transaction mode (PgBouncer) between the sink and the
// server would lose them.
package postgres
