package postgres

import (
	"encoding/binary"

	"github.com/jackc/pglogrepl"
)

// LSN is a PostgreSQL log sequence number, the position type of this
// reader. It implements capture.Position.
type LSN pglogrepl.LSN

func (l LSN) String() string { return pglogrepl.LSN(l).String() }

// Key is the LSN as 8 bytes big-endian, which sorts in log order.
func (l LSN) Key() []byte { return binary.BigEndian.AppendUint64(nil, uint64(l)) }
