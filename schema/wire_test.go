package schema

import (
	"bytes"
	"errors"
	"testing"
)

func TestFrameRoundTrip(t *testing.T) {
	body := []byte{0x02, 0x61}
	framed := append(AppendFrame(nil, 70000), body...)
	if !bytes.Equal(framed[:5], []byte{0, 0, 1, 0x11, 0x70}) {
		t.Fatalf("header = % x", framed[:5])
	}
	id, got, err := Unframe(framed)
	if err != nil || id != 70000 || !bytes.Equal(got, body) {
		t.Fatalf("Unframe = %d % x %v", id, got, err)
	}
	for _, bad := range [][]byte{nil, {0, 0, 0}, {1, 0, 0, 0, 1, 2}} {
		if _, _, err := Unframe(bad); !errors.Is(err, ErrNotFramed) {
			t.Errorf("Unframe(% x) err = %v, want ErrNotFramed", bad, err)
		}
	}
}
