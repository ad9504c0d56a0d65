//go:build integration

package schema

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/tandem-sync/tandem/capture"
)

// TestIntegrationSerializerRealRegistry registers the schemas of a table
// with every kind in the real registry, decodes an event with a fresh
// client, and checks that the registry agrees with tandem's evolution rules:
// an added column is accepted, and a type change tandem lets through on
// purpose (by skipping its own check) is refused by the registry as 409.
func TestIntegrationSerializerRealRegistry(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	prefix := fmt.Sprintf("tandemit%d", time.Now().UnixNano())
	s, err := NewSerializer(realRegistry(), SerializerOptions{System: "shop", Connector: "postgres", Database: "shop", TopicPrefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	tbl := kindsTable()
	row, want := fullRow()
	tx := &capture.TxBegin{ID: "1", Position: lsn(0x16B3748), CommitTime: time.Now().UTC().Truncate(time.Microsecond)}
	rec, err := s.Change(ctx, tx, &capture.Change{Op: capture.OpInsert, Table: tbl, After: row})
	if err != nil {
		t.Fatalf("encode and register (is the registry up? make up): %v", err)
	}
	env, _, err := NewDecoder(realRegistry()).Decode(ctx, rec.Value)
	if err != nil {
		t.Fatal(err)
	}
	checkRow(t, "after", env["after"], want)
	key, _, err := NewDecoder(realRegistry()).Decode(ctx, rec.Key)
	if err != nil {
		t.Fatal(err)
	}
	checkRow(t, "key", key, map[string]any{"id": int64(42), "tenant": int32(7)})

	v2 := cloneTable(tbl)
	v2.Version = 2
	v2.Columns = append(v2.Columns, capture.Column{Name: "added", Type: capture.Type{Kind: capture.KindInt64}, Nullable: true})
	if _, err := s.Change(ctx, tx, &capture.Change{Op: capture.OpInsert, Table: v2, After: append(row, int64(1)), Seq: 1}); err != nil {
		t.Fatalf("adding a column: %v", err)
	}

	// The registry's own check: text -> long for "note", past
	// tandem's check (a fresh Serializer knows no earlier version).
	fresh, _ := NewSerializer(realRegistry(), SerializerOptions{System: "shop", Connector: "postgres", Database: "shop", TopicPrefix: prefix})
	v3 := cloneTable(v2)
	v3.Version = 3
	v3.Columns[20].Type = capture.Type{Kind: capture.KindInt64, Source: "int8"}
	r3 := append(capture.Row{}, row...)
	r3 = append(r3, int64(1))
	r3[20] = int64(5)
	_, err = fresh.Change(ctx, tx, &capture.Change{Op: capture.OpInsert, Table: v3, After: r3, Seq: 2})
	var ie *IncompatibleError
	if !errors.As(err, &ie) || ie.Err == nil {
		t.Fatalf("the registry accepted text -> long for note: err = %v", err)
	}
	t.Logf("registry refusal: %v", err)
}
