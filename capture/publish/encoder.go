package publish

import (
	"context"

	"github.com/tandem-sync/tandem/bus"
	"github.com/tandem-sync/tandem/capture"
)

// Encoder turns captured transactions into Kafka records. schema.Serializer
// implements it. Calls come from the publisher's single caller goroutine.
//
// The publisher holds a returned record's Key, Value and Headers until Kafka
// has acknowledged it, so an Encoder must not reuse their bytes. It may keep
// nothing of a Change after the call (readers reuse them), nor the perTable
// map passed to End.
type Encoder interface {
	// Change encodes one change of the transaction tx.
	Change(ctx context.Context, tx *capture.TxBegin, c *capture.Change) (bus.Record, error)
	// Begin encodes the BEGIN record of tx for the transactions topic.
	Begin(ctx context.Context, tx *capture.TxBegin) (bus.Record, error)
	// End encodes the END record of tx, with its event count per table
	// (qualified name -> count).
	End(ctx context.Context, tx *capture.TxEnd, perTable map[string]int) (bus.Record, error)
}

// DDLEncoder is implemented by encoders that publish DDL statements (to
// <prefix>.<system>.schema_changes); schema.Serializer does.
type DDLEncoder interface {
	DDL(ctx context.Context, d *capture.DDL) (bus.Record, error)
}
