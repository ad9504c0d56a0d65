package schema

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// The Confluent wire format: magic byte 0, the schema id as 4 bytes big
// endian, then the Avro binary body.
const (
	magicByte   = 0
	frameHeader = 5
)

// ErrNotFramed is returned by Unframe for a value that is not in the
// Confluent wire format.
var ErrNotFramed = errors.New("not in the Confluent wire format (magic byte 0 + 4-byte schema id)")

// AppendFrame appends the wire-format header for schema id to dst.
func AppendFrame(dst []byte, id int) []byte {
	dst = append(dst, magicByte)
	return binary.BigEndian.AppendUint32(dst, uint32(id))
}

// Unframe splits a wire-format value into its schema id and Avro body. The
// body aliases value.
func Unframe(value []byte) (id int, body []byte, err error) {
	if len(value) < frameHeader {
		return 0, nil, fmt.Errorf("%w: only %d bytes", ErrNotFramed, len(value))
	}
	if value[0] != magicByte {
		return 0, nil, fmt.Errorf("%w: magic byte is %d", ErrNotFramed, value[0])
	}
	return int(binary.BigEndian.Uint32(value[1:frameHeader])), value[frameHeader:], nil
}
