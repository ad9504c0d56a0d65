package mysql

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
)

// Position is a point in a MySQL/MariaDB binary log: the GTID set executed
// up to it (empty when GTIDs are off) and the file:pos coordinates. It
// implements capture.Position; Key orders positions of one server by file
// sequence number and offset.
type Position struct {
	GTID string `json:"gtid"`
	File string `json:"file"`
	Pos  uint32 `json:"pos"`
}

func (p Position) String() string {
	if p.GTID == "" {
		return fmt.Sprintf("%s:%d", p.File, p.Pos)
	}
	return fmt.Sprintf("%s (%s:%d)", p.GTID, p.File, p.Pos)
}

// Key is the file's sequence number (the digits after its last dot) in 4
// bytes and the offset in 4 bytes, big-endian.
func (p Position) Key() []byte {
	var seq uint64
	if i := strings.LastIndexByte(p.File, '.'); i >= 0 {
		seq, _ = strconv.ParseUint(p.File[i+1:], 10, 32)
	}
	return binary.BigEndian.AppendUint64(nil, seq<<32|uint64(p.Pos))
}
