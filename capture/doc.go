// Package capture defines how tandem reads a database's change log: the
// Reader contract, the row-change and position types, and the capture
// settings shared by every source.
//
// Data flow: a Reader tails one database's log (capture/postgres for the
// PostgreSQL WAL through pgoutput, capture/mysql for the MySQL/MariaDB
// binlog) and yields whole transactions of typed row changes, each carrying
// its source position. The publisher turns them into events on Kafka and,
// once Kafka has acknowledged every event up to a position, calls the
// Reader's Ack with it. Ack is the only thing that moves the source forward,
// so a crash can repeat events but never lose them.
package capture
