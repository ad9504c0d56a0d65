//go:build integration

package rowsourcetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/tandem-sync/tandem/capture"
	"github.com/tandem-sync/tandem/capture/internal/rowsource"
)

// Scanner is a connector's RowSource that reads whole tables.
type Scanner interface {
	Source
	Scan(ctx context.Context, table string, fn func(*capture.Table, capture.Row) error) error
}

// ScanB is the count of b values of TestScan's table, whose 3*ScanB rows
// are more than two chunks.
const ScanB = 2*rowsource.ScanRows/3 + 1

// TestScan reads the table (a integer, b integer, v text, primary key
// (a, b)) with 3*ScanB rows, a 1 to 3 and b 1 to ScanB, v 'v' a '-' b
// (e.g. 'v2-17'), and checks that Scan delivers every row once, in key order across its
// chunks, with the shape Rows has; that an error of fn ends it; and the
// errors of a missing table and of one without a primary key (nokey, a
// qualified table of one column, id).
func TestScan(t *testing.T, e *Env, nokey string) {
	ctx := context.Background()
	s, ok := e.Source.(Scanner)
	if !ok {
		t.Fatalf("%T has no Scan", e.Source)
	}
	var shape *capture.Table
	n := 0
	var prev [2]int64
	err := s.Scan(ctx, e.Table, func(tab *capture.Table, row capture.Row) error {
		shape = tab
		key := [2]int64{row[0].(int64), row[1].(int64)}
		if n > 0 && (key[0] < prev[0] || key[0] == prev[0] && key[1] <= prev[1]) {
			t.Fatalf("row %d: key %v after %v", n, key, prev)
		}
		if want := fmt.Sprintf("v%d-%d", key[0], key[1]); row[2] != want {
			t.Fatalf("row %v: v %v, want %s", key, row[2], want)
		}
		prev = key
		n++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n != 3*ScanB {
		t.Errorf("%d rows, want %d", n, 3*ScanB)
	}
	tab, _ := e.Rows(t, "a", "1")
	if shape == nil || !shape.SameShape(tab) || shape.QualifiedName() != e.Table {
		t.Errorf("shape %+v, Rows has %+v", shape, tab)
	}

	boom := errors.New("boom")
	n = 0
	err = s.Scan(ctx, e.Table, func(*capture.Table, capture.Row) error {
		if n++; n == 10 {
			return boom
		}
		return nil
	})
	if !errors.Is(err, boom) || n != 10 {
		t.Errorf("fn's error: %v after %d rows", err, n)
	}

	missing := e.Table + "_missing"
	if err := s.Scan(ctx, missing, func(*capture.Table, capture.Row) error { return nil }); err == nil ||
		!strings.Contains(err.Error(), "table "+missing+" does not exist") {
		t.Errorf("missing table: %v", err)
	}
	if err := s.Scan(ctx, nokey, func(*capture.Table, capture.Row) error { return nil }); err == nil ||
		!strings.Contains(err.Error(), "table "+nokey+" has no primary key") {
		t.Errorf("no primary key: %v", err)
	}
}
