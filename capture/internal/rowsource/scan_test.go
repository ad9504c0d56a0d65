package rowsource

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/tandem-sync/tandem/capture"
)

// scanFake is the fake dialect with a table of rows 1..n (as ordered
// numbers), read in key-ordered chunks. It records the key each chunk
// starts after.
type scanFake struct {
	*fakeDialect
	n        int
	afters   []string // "" for the first chunk
	chunkErr []error  // the errors of the next Chunk calls, one each
}

func (f *scanFake) Chunk(_ context.Context, t *capture.Table, keys []int, after []*string, limit int, fn func(capture.Row, []*string) error) error {
	f.mu.Lock()
	from := 0
	if after != nil {
		from = atoi(*after[0])
		f.afters = append(f.afters, *after[0])
	} else {
		f.afters = append(f.afters, "")
	}
	var err error
	if len(f.chunkErr) > 0 {
		err, f.chunkErr = f.chunkErr[0], f.chunkErr[1:]
	}
	f.mu.Unlock()
	if err != nil {
		return err
	}
	if len(keys) != 1 || keys[0] != 0 {
		return fmt.Errorf("keys %v", keys)
	}
	row := make(capture.Row, len(t.Columns)) // reused, as the dialects do
	key := make([]*string, 1)
	for id := from + 1; id <= f.n && id <= from+limit; id++ {
		s := strconv.Itoa(id)
		row[0], key[0] = s, &s
		for i, c := range t.Columns[1:] {
			row[i+1] = c.Name + s
		}
		if err := fn(row, key); err != nil {
			return err
		}
	}
	return nil
}

func scanAll(t *testing.T, s *Source, table string, limit int) ([]string, error) {
	t.Helper()
	var ids []string
	err := s.scan(context.Background(), table, limit, func(tab *capture.Table, row capture.Row) error {
		if tab.QualifiedName() != table || len(row) != len(tab.Columns) {
			t.Fatalf("shape %+v, row %v", tab, row)
		}
		ids = append(ids, row[0].(string))
		return nil
	})
	return ids, err
}

func TestScanChunks(t *testing.T) {
	for _, n := range []int{0, 1, 6, 7} {
		f := &scanFake{fakeDialect: newFake(), n: n}
		s := New(f)
		ids, err := scanAll(t, s, "s.t", 3)
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		for i := 1; i <= n; i++ {
			want = append(want, strconv.Itoa(i))
		}
		// every row once, in order, though the dialect reuses the row
		if strings.Join(ids, " ") != strings.Join(want, " ") {
			t.Errorf("n=%d: ids %v", n, ids)
		}
		// each chunk after the last key of the one before; a short chunk ends it
		wantAfters := map[int][]string{0: {""}, 1: {""}, 6: {"", "3", "6"}, 7: {"", "3", "6"}}[n]
		if !slices.Equal(f.afters, wantAfters) {
			t.Errorf("n=%d: chunks after %q, want %q", n, f.afters, wantAfters)
		}
	}
}

func TestScanErrors(t *testing.T) {
	ctx := context.Background()
	// the shape is read once, and cached for Rows too
	f := &scanFake{fakeDialect: newFake(), n: 5}
	s := New(f)
	if _, err := scanAll(t, s, "s.t", 2); err != nil || f.shapes != 1 {
		t.Fatalf("%v, %d shapes", err, f.shapes)
	}
	if _, _, err := s.Rows(ctx, "s.t", "id", []string{"1"}); err != nil || f.shapes != 1 {
		t.Fatalf("%v, %d shapes", err, f.shapes)
	}

	// a stale shape on the first chunk: read again, once
	f.chunkErr = []error{errStale}
	ids, err := scanAll(t, s, "s.t", 2)
	if err != nil || len(ids) != 5 || f.shapes != 2 {
		t.Errorf("stale first chunk: %v %v, %d shapes", ids, err, f.shapes)
	}
	// after rows were delivered, a stale error ends the scan
	f.chunkErr = []error{nil, errStale}
	ids, err = scanAll(t, s, "s.t", 2)
	if !errors.Is(err, errStale) || len(ids) != 2 {
		t.Errorf("stale later chunk: %v %v", ids, err)
	}
	// another error is returned as it is, without a retry
	boom := errors.New("boom")
	f.chunkErr = []error{boom}
	shapes := f.shapes
	if _, err := scanAll(t, s, "s.t", 2); !errors.Is(err, boom) || f.shapes != shapes {
		t.Errorf("error: %v, %d shapes", err, f.shapes-shapes)
	}
	// the error of fn ends the scan
	n := 0
	err = s.scan(ctx, "s.t", 2, func(*capture.Table, capture.Row) error {
		if n++; n == 3 {
			return boom
		}
		return nil
	})
	if !errors.Is(err, boom) || n != 3 {
		t.Errorf("fn error: %v after %d rows", err, n)
	}

	// an unknown table, a table without a primary key, a dialect that cannot scan
	if _, err := scanAll(t, s, "s.nope", 2); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("unknown table: %v", err)
	}
	f.columns["s.nokey"] = []string{"a", "b"}
	s.Forget("s.nokey")
	nokey := &noKeyDialect{f}
	if _, err := scanAll(t, New(nokey), "s.nokey", 2); err == nil || !strings.Contains(err.Error(), "table s.nokey has no primary key") ||
		!strings.Contains(err.Error(), "its columns: a, b") {
		t.Errorf("no primary key: %v", err)
	}
	if _, err := scanAll(t, New(newFake()), "s.t", 2); err == nil || !strings.Contains(err.Error(), "cannot read whole tables") {
		t.Errorf("no Scanner: %v", err)
	}
}

// noKeyDialect serves shapes without key columns.
type noKeyDialect struct{ *scanFake }

func (d *noKeyDialect) Shape(ctx context.Context, table string) (*capture.Table, error) {
	t, err := d.scanFake.Shape(ctx, table)
	if t != nil {
		for i := range t.Columns {
			t.Columns[i].Key = false
		}
	}
	return t, err
}
