package schema

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/linkedin/goavro/v2"

	"github.com/tandem-sync/tandem/capture"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// kindsTable has a column of every capture.Kind, key columns, nullable
// columns and column names that need sanitizing.
func kindsTable() *capture.Table {
	typ := func(k capture.Kind, src string) capture.Type { return capture.Type{Kind: k, Source: src} }
	dec := func(p, s int, src string) capture.Type {
		return capture.Type{Kind: capture.KindDecimal, Precision: p, Scale: s, Source: src}
	}
	return &capture.Table{Database: "shop", Schema: "public", Name: "order line", Version: 1, Columns: []capture.Column{
		{Name: "id", Type: typ(capture.KindInt64, "int8"), Key: true},
		{Name: "tenant", Type: typ(capture.KindInt32, "int4"), Key: true},
		{Name: "qty", Type: typ(capture.KindInt16, "int2")},
		{Name: "paid", Type: typ(capture.KindBool, "bool"), Nullable: true},
		{Name: "big", Type: typ(capture.KindUint64, "bigint unsigned"), Nullable: true},
		{Name: "ratio", Type: typ(capture.KindFloat32, "float4"), Nullable: true},
		{Name: "score", Type: typ(capture.KindFloat64, "float8"), Nullable: true},
		{Name: "amount", Type: dec(26, 8, "numeric(26,8)"), Nullable: true},
		{Name: "price", Type: dec(12, 2, "numeric(12,2)"), Nullable: true},
		{Name: "whole", Type: dec(0, 0, "decimal"), Nullable: true},
		{Name: "any_num", Type: dec(0, -1, "numeric"), Nullable: true},
		{Name: "blob", Type: typ(capture.KindBytes, "bytea"), Nullable: true},
		{Name: "day", Type: typ(capture.KindDate, "date"), Nullable: true},
		{Name: "local_ts", Type: typ(capture.KindTimestamp, "timestamp"), Nullable: true},
		{Name: "created_at", Type: typ(capture.KindTimestampTZ, "timestamptz"), Nullable: true},
		{Name: "at", Type: typ(capture.KindTime, "time"), Nullable: true},
		{Name: "wait", Type: typ(capture.KindInterval, "interval"), Nullable: true},
		{Name: "uid", Type: typ(capture.KindUUID, "uuid"), Nullable: true},
		{Name: "doc", Type: typ(capture.KindJSON, "jsonb"), Nullable: true},
		{Name: "mood", Type: capture.Type{Kind: capture.KindEnum, Symbols: []string{"sad", "ok", "happy"}, Source: "mood"}, Nullable: true},
		{Name: "note", Type: typ(capture.KindString, "text"), Nullable: true},
		{Name: "tags", Type: capture.Type{Kind: capture.KindArray, Elem: &capture.Type{Kind: capture.KindString, Source: "text"}, Source: "text[]"}, Nullable: true},
		{Name: "rates", Type: capture.Type{Kind: capture.KindArray, Elem: &capture.Type{Kind: capture.KindDecimal, Precision: 5, Scale: 2, Source: "numeric(5,2)"}, Source: "numeric(5,2)[]"}, Nullable: true},
		{Name: "Unit Price (€)", Type: dec(10, 4, "numeric(10,4)"), Nullable: true},
		{Name: "2nd-line", Type: typ(capture.KindString, "varchar(40)"), Nullable: true},
		{Name: "Unit_Price____", Type: typ(capture.KindString, "text"), Nullable: true},
	}}
}

const testNS = "tandem.shop.public"

func TestSchemasGolden(t *testing.T) {
	tbl := kindsTable()
	gen := map[string]func() (string, error){
		"row":         func() (string, error) { return RowSchema(testNS, tbl) },
		"key":         func() (string, error) { return KeySchema(testNS, tbl) },
		"envelope":    func() (string, error) { return EnvelopeSchema(testNS, tbl) },
		"transaction": func() (string, error) { return TransactionSchema(), nil },
	}
	for name, f := range gen {
		t.Run(name, func(t *testing.T) {
			s, err := f()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := goavro.NewCodec(s); err != nil {
				t.Fatalf("goavro does not parse the %s schema: %v\n%s", name, err, s)
			}
			var pretty bytes.Buffer
			if err := json.Indent(&pretty, []byte(s), "", "  "); err != nil {
				t.Fatalf("not JSON: %v", err)
			}
			pretty.WriteByte('\n')
			path := filepath.Join("testdata", name+".golden")
			if *update {
				if err := os.WriteFile(path, pretty.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./schema -run TestSchemasGolden -update)", err)
			}
			if !bytes.Equal(pretty.Bytes(), want) {
				t.Errorf("%s schema differs from %s (run with -update if the change is intended):\n%s", name, path, pretty.String())
			}
		})
	}
}

func TestRowSchemaMapping(t *testing.T) {
	s, err := RowSchema(testNS, kindsTable())
	if err != nil {
		t.Fatal(err)
	}
	var rec struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
		Fields    []struct {
			Name     string          `json:"name"`
			Type     json.RawMessage `json:"type"`
			Default  json.RawMessage `json:"default"`
			Column   string          `json:"tandem.column"`
			Nullable *bool           `json:"tandem.nullable"`
			Key      bool            `json:"tandem.key"`
		} `json:"fields"`
	}
	if err := json.Unmarshal([]byte(s), &rec); err != nil {
		t.Fatal(err)
	}
	if rec.Name != "order_line" || rec.Namespace != testNS {
		t.Errorf("record %s.%s, want %s.order_line", rec.Namespace, rec.Name, testNS)
	}
	want := map[string]string{ // field -> its type
		"id":         `["null","long"]`,
		"tenant":     `["null","int"]`,
		"qty":        `["null","int"]`,
		"paid":       `["null","boolean"]`,
		"big":        `["null",{"type":"bytes","logicalType":"decimal","precision":20,"scale":0}]`,
		"ratio":      `["null","float"]`,
		"score":      `["null","double"]`,
		"amount":     `["null",{"type":"bytes","logicalType":"decimal","precision":26,"scale":8}]`,
		"whole":      `["null",{"type":"bytes","logicalType":"decimal","precision":38,"scale":0}]`,
		"any_num":    `["null",{"type":"string","tandem.type":"decimal"}]`,
		"blob":       `["null","bytes"]`,
		"day":        `["null",{"type":"int","logicalType":"date"}]`,
		"local_ts":   `["null",{"type":"long","logicalType":"timestamp-micros","tandem.type":"timestamp"}]`,
		"created_at": `["null",{"type":"long","logicalType":"timestamp-micros"}]`,
		"at":         `["null",{"type":"long","logicalType":"time-micros"}]`,
		"wait":       `["null",{"type":"string","tandem.type":"interval"}]`,
		"uid":        `["null",{"type":"string","logicalType":"uuid"}]`,
		"doc":        `["null",{"type":"string","tandem.type":"json"}]`,
		"mood":       `["null",{"type":"string","tandem.type":"enum","tandem.symbols":["sad","ok","happy"]}]`,
		"note":       `["null","string"]`,
		"tags":       `["null",{"type":"array","items":["null","string"]}]`,
		"_2nd_line":  `["null","string"]`,
		// a real column holds the sanitized name, so the sanitized one gets _2
		"Unit_Price_____2": `["null",{"type":"bytes","logicalType":"decimal","precision":10,"scale":4}]`,
		"Unit_Price____":   `["null","string"]`,
	}
	seen := map[string]bool{}
	for _, f := range rec.Fields {
		seen[f.Name] = true
		if w, ok := want[f.Name]; ok && string(f.Type) != w {
			t.Errorf("field %s: type %s, want %s", f.Name, f.Type, w)
		}
		if string(f.Default) != "null" {
			t.Errorf("field %s: no null default", f.Name)
		}
		if f.Nullable == nil {
			t.Errorf("field %s: no tandem.nullable", f.Name)
		}
	}
	for f := range want {
		if !seen[f] {
			t.Errorf("no field %s; fields: %v", f, rec.Fields)
		}
	}
	byName := map[string]int{}
	for i, f := range rec.Fields {
		byName[f.Name] = i
	}
	if f := rec.Fields[byName["Unit_Price_____2"]]; f.Column != "Unit Price (€)" {
		t.Errorf("tandem.column of Unit_Price_____2 = %q", f.Column)
	}
	if f := rec.Fields[byName["id"]]; !f.Key || *f.Nullable || f.Column != "" {
		t.Errorf("id: key %v nullable %v column %q; want key, not nullable, no tandem.column", f.Key, *f.Nullable, f.Column)
	}
	if f := rec.Fields[byName["note"]]; f.Key || !*f.Nullable {
		t.Errorf("note: key %v nullable %v", f.Key, *f.Nullable)
	}
}

func TestFieldNames(t *testing.T) {
	cols := func(names ...string) []capture.Column {
		out := make([]capture.Column, len(names))
		for i, n := range names {
			out[i].Name = n
		}
		return out
	}
	for _, tc := range []struct {
		in, want []string
	}{
		{[]string{"id", "Name", "_x9"}, []string{"id", "Name", "_x9"}},
		{[]string{"a-b", "a_b"}, []string{"a_b_2", "a_b"}},
		{[]string{"a-b", "a.b", "a b"}, []string{"a_b", "a_b_2", "a_b_3"}},
		{[]string{"1st", "", "ünit"}, []string{"_1st", "_", "_nit"}},
		{[]string{"a_b_2", "a-b", "a_b"}, []string{"a_b_2", "a_b_3", "a_b"}},
	} {
		if got := fieldNames(cols(tc.in...)); !slices.Equal(got, tc.want) {
			t.Errorf("fieldNames(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestKeySchemaWithoutKey(t *testing.T) {
	tbl := &capture.Table{Schema: "s", Name: "log", Columns: []capture.Column{{Name: "line", Type: capture.Type{Kind: capture.KindString}}}}
	if _, err := KeySchema("ns", tbl); err == nil || !errors.Is(err, ErrNoKey) {
		t.Fatalf("KeySchema of a table without key: %v, want ErrNoKey", err)
	}
}

func TestTopicNames(t *testing.T) {
	tbl := &capture.Table{Schema: "Sales Data", Name: "order.lines"}
	if got, want := TableTopic("tandem", "shop", tbl), "tandem.shop.Sales_Data.order_lines"; got != want {
		t.Errorf("TableTopic = %q, want %q", got, want)
	}
	if got, want := TransactionsTopic("tandem", "erp"), "tandem.erp.transactions"; got != want {
		t.Errorf("TransactionsTopic = %q, want %q", got, want)
	}
	if got, want := Namespace("my-prefix", "shop", "1public"), "my_prefix.shop._1public"; got != want {
		t.Errorf("Namespace = %q, want %q", got, want)
	}
}
