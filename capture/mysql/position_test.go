package mysql

import (
	"bytes"
	"testing"
)

func TestPositionKeyOrders(t *testing.T) {
	ps := []Position{
		{File: "mariadb-bin.000009", Pos: 4},
		{File: "mariadb-bin.000009", Pos: 999999},
		{File: "mariadb-bin.000010", Pos: 4},
		{File: "mariadb-bin.000010", Pos: 5},
		{File: "mariadb-bin.1000000", Pos: 1},
	}
	for i := 1; i < len(ps); i++ {
		if bytes.Compare(ps[i-1].Key(), ps[i].Key()) >= 0 {
			t.Errorf("%v does not sort before %v", ps[i-1], ps[i])
		}
	}
	if s := (Position{GTID: "0-1-42", File: "b.000001", Pos: 7}).String(); s != "0-1-42 (b.000001:7)" {
		t.Errorf("String = %q", s)
	}
}
