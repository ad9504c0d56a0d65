package entities

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/linkedin/goavro/v2"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden and the generated part of README.md")

// The entities DESIGN.md section 3 names, and only those.
var wantEntities = []string{"customer", "invoice", "order", "order_line", "price", "product", "return", "shipment", "stock_level", "tax_rate"}

// canonical formats a schema for its golden file: compact, then indented
// by two spaces, members in the order the .avsc has them.
func canonical(t *testing.T, data []byte) []byte {
	t.Helper()
	var compact, out bytes.Buffer
	if err := json.Compact(&compact, data); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	if err := json.Indent(&out, compact.Bytes(), "", "  "); err != nil {
		t.Fatal(err)
	}
	out.WriteByte('\n')
	return out.Bytes()
}

func TestSchemasGolden(t *testing.T) {
	files, err := fs.Glob(avsc, "avsc/*.avsc")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range files {
		name := strings.TrimSuffix(filepath.Base(p), ".avsc")
		names = append(names, name)
		t.Run(name, func(t *testing.T) {
			data, err := fs.ReadFile(avsc, p)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := goavro.NewCodec(string(data)); err != nil {
				t.Fatalf("goavro does not parse %s: %v", p, err)
			}
			got := canonical(t, data)
			golden := filepath.Join("testdata", name+".golden")
			if *update {
				if err := os.MkdirAll("testdata", 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./schema/entities -run TestSchemasGolden -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from %s (run with -update if the change is intended and compatible, see README.md):\n%s", p, golden, got)
			}
		})
	}
	if !slices.Equal(names, wantEntities) {
		t.Errorf("schema files %v, want %v", names, wantEntities)
	}
	// No golden file may outlive its schema.
	goldens, _ := filepath.Glob(filepath.Join("testdata", "*.golden"))
	for _, g := range goldens {
		if !slices.Contains(names, strings.TrimSuffix(filepath.Base(g), ".golden")) {
			t.Errorf("%s has no schema in avsc/", g)
		}
	}
}

func TestBuiltinAndLookup(t *testing.T) {
	all := Builtin()
	var names []string
	for _, e := range all {
		names = append(names, e.Name)
		if _, err := goavro.NewCodec(e.Schema); err != nil {
			t.Errorf("%s: goavro does not parse Schema: %v", e.Name, err)
		}
		var rec struct{ Name, Namespace string }
		if err := json.Unmarshal([]byte(e.Schema), &rec); err != nil || rec.Namespace+"."+rec.Name != e.FullName() {
			t.Errorf("%s: Schema names %s.%s (%v), FullName %s", e.Name, rec.Namespace, rec.Name, err, e.FullName())
		}
		if strings.ContainsAny(e.Schema, "\n\t") {
			t.Errorf("%s: Schema is not compact", e.Name)
		}
		if e.Doc == "" {
			t.Errorf("%s: record has no doc", e.Name)
		}
	}
	if !slices.Equal(names, wantEntities) {
		t.Fatalf("Builtin() names %v, want %v (sorted)", names, wantEntities)
	}

	got, ok := Lookup("order_line")
	if !ok || got.Name != "order_line" || got.Aggregate != "order" || !slices.Equal(got.AggregateKey, []string{"order_number"}) {
		t.Errorf("Lookup(order_line) = %s, aggregate %s by %v, %v", got.Name, got.Aggregate, got.AggregateKey, ok)
	}
	if _, ok := Lookup("orders"); ok {
		t.Error("Lookup(orders) found an entity")
	}

	// Results are copies: changing one changes nothing for the next caller.
	got.NaturalKey[0] = "changed"
	got.References["sku"] = "changed"
	got.Fields[0].Name = "changed"
	all[0].Fields[0].Name = "changed"
	again, _ := Lookup("order_line")
	if again.NaturalKey[0] != "order_number" || again.References["sku"] != "product.sku" || again.Fields[0].Name != "order_number" {
		t.Errorf("Lookup shares state with an earlier result: %+v", again)
	}
	if Builtin()[0].Fields[0].Name == "changed" {
		t.Error("Builtin shares state with an earlier result")
	}

	f, ok := again.Field("unit_price")
	if !ok || f.Type != "decimal" || f.Precision != 26 || f.Scale != 8 || f.Kind != KindMoney || f.Required {
		t.Errorf("order_line.unit_price = %+v, %v", f, ok)
	}
	ship, _ := Lookup("shipment")
	if f, ok := ship.Field("lines.sku"); !ok || f.Type != "string" {
		t.Errorf("shipment lines.sku = %+v, %v", f, ok)
	}
	if f, ok := ship.Field("lines"); !ok || f.Type != "array" || f.Items != "record" || f.Record != "shipment_line" || !slices.Equal(f.NaturalKey, []string{"line_no"}) {
		t.Errorf("shipment lines = %+v, %v", f, ok)
	}
	if _, ok := ship.Field("lines.nope"); ok {
		t.Error("shipment lines.nope found")
	}
}

// walk calls fn for every field of fields and of their nested records,
// with its dotted path.
func walk(fields []Field, prefix string, fn func(path string, f Field)) {
	for _, f := range fields {
		fn(prefix+f.Name, f)
		walk(f.Fields, prefix+f.Name+".", fn)
	}
}

// moneyName matches the names of fields that hold amounts of money.
var moneyName = regexp.MustCompile(`(^|_)(price|amount|total|subtotal|tax|discount|cost)$`)

func TestInvariants(t *testing.T) {
	all := Builtin()
	byName := map[string]Entity{}
	for _, e := range all {
		byName[e.Name] = e
	}
	nested := map[string]Field{} // record name -> its first definition
	for _, e := range all {
		t.Run(e.Name, func(t *testing.T) {
			// Natural key fields are required, and they are the only required
			// fields of the entity record.
			for _, f := range e.Fields {
				if got, want := f.Required, slices.Contains(e.NaturalKey, f.Name); got != want {
					t.Errorf("field %s: required %v, want %v (required exactly when in the natural key %v)", f.Name, got, want, e.NaturalKey)
				}
			}
			hasMoney := false
			walk(e.Fields, "", func(path string, f Field) {
				if f.Doc == "" {
					t.Errorf("%s has no doc", path)
				}
				switch f.Type {
				case "string", "decimal", "long", "int", "boolean", "timestamp", "date", "record", "array":
				default:
					t.Errorf("%s has type %q", path, f.Type)
				}
				if f.Type == "record" || f.Items == "record" {
					for _, sub := range f.Fields {
						if got, want := sub.Required, slices.Contains(f.NaturalKey, sub.Name); got != want {
							t.Errorf("%s.%s: required %v, want %v (the key of %s is %v)", path, sub.Name, got, want, f.Record, f.NaturalKey)
						}
					}
					if prev, ok := nested[f.Record]; ok {
						// One name, one definition: tandem.entity.address is the same
						// record in customer and in order.
						prev.Name, prev.Doc, prev.Required, prev.Type = f.Name, f.Doc, f.Required, f.Type
						if !reflect.DeepEqual(prev.Fields, f.Fields) || !slices.Equal(prev.NaturalKey, f.NaturalKey) {
							t.Errorf("%s: record %s differs from its definition elsewhere", path, f.Record)
						}
					} else {
						nested[f.Record] = f
					}
				}
				if f.Kind == KindMoney {
					hasMoney = true
					if f.Type != "decimal" || f.Precision != 26 || f.Scale != 8 {
						t.Errorf("money field %s is %s(%d,%d), want decimal(26,8)", path, f.Type, f.Precision, f.Scale)
					}
				}
				if moneyName.MatchString(f.Name) && f.Type != "boolean" && f.Kind != KindMoney {
					t.Errorf("%s is named like money but has tandem.kind %q, want money", path, f.Kind)
				}
				if f.Type == "decimal" {
					want := [2]int{26, 8}
					if f.Kind == KindPercent {
						want = [2]int{16, 4}
					}
					if [2]int{f.Precision, f.Scale} != want {
						t.Errorf("%s field %s is decimal(%d,%d), want decimal(%d,%d)", f.Kind, path, f.Precision, f.Scale, want[0], want[1])
					}
				}
				if strings.HasSuffix(f.Name, "_at") && f.Type != "timestamp" || strings.HasSuffix(f.Name, "_date") && f.Type != "date" {
					t.Errorf("%s is %s: *_at fields are timestamps, *_date fields dates", path, f.Type)
				}
				if f.Name == "status" || f.Name == "type" || strings.HasSuffix(f.Name, "_status") || strings.HasSuffix(f.Name, "_state") || f.Name == "reason_code" || f.Name == "scope" {
					if len(f.Values) == 0 {
						t.Errorf("status-like field %s has no tandem.values", path)
					}
				}
				seen := map[string]bool{}
				for _, v := range f.Values {
					if !regexp.MustCompile(`^[a-z][a-z0-9_]*$`).MatchString(v) || seen[v] {
						t.Errorf("%s: value %q is not lower snake case, or repeated", path, v)
					}
					seen[v] = true
				}
				if len(f.Values) > 0 && !strings.Contains(f.Doc, "One of: "+strings.Join(f.Values, ", ")+".") {
					t.Errorf("%s: doc does not list the values %v: %q", path, f.Values, f.Doc)
				}
			})
			if hasMoney {
				if c, ok := e.Field("currency"); !ok || c.Type != "string" {
					t.Errorf("%s has money but no currency field", e.Name)
				}
			}

			// References name an existing entity's whole natural key, with the
			// same type.
			for from, to := range e.References {
				src, ok := e.Field(from)
				if !ok {
					t.Errorf("reference from %s: no such field", from)
					continue
				}
				entName, fieldName, _ := strings.Cut(to, ".")
				target, ok := byName[entName]
				if !ok {
					t.Errorf("reference %s -> %s: no entity %s", from, to, entName)
					continue
				}
				dst, ok := target.Field(fieldName)
				if !ok {
					t.Errorf("reference %s -> %s: %s has no field %s", from, to, entName, fieldName)
					continue
				}
				if !slices.Equal(target.NaturalKey, []string{fieldName}) {
					t.Errorf("reference %s -> %s: the target's natural key is %v, a reference must name all of it", from, to, target.NaturalKey)
				}
				if src.Type != dst.Type {
					t.Errorf("reference %s -> %s: %s refers to %s", from, to, src.Type, dst.Type)
				}
			}

			// Aggregates: a root is keyed by its natural key; a child names an
			// existing root and holds the root's natural key, referring to it.
			root, ok := byName[e.Aggregate]
			switch {
			case !ok:
				t.Errorf("aggregate %q is not an entity", e.Aggregate)
			case !root.Root():
				t.Errorf("aggregate %s is itself a child of %s", e.Aggregate, root.Aggregate)
			case e.Root():
				if !slices.Equal(e.AggregateKey, e.NaturalKey) {
					t.Errorf("root %s: aggregate key %v, want its natural key %v", e.Name, e.AggregateKey, e.NaturalKey)
				}
			default:
				if len(e.AggregateKey) != len(root.NaturalKey) {
					t.Errorf("child %s: aggregate key %v does not match %s's natural key %v", e.Name, e.AggregateKey, root.Name, root.NaturalKey)
					break
				}
				for i, k := range e.AggregateKey {
					if f, ok := e.Field(k); !ok || !f.Required {
						t.Errorf("child %s: aggregate key field %s missing or optional", e.Name, k)
					}
					if want := root.Name + "." + root.NaturalKey[i]; e.References[k] != want {
						t.Errorf("child %s: aggregate key field %s refers to %q, want %s", e.Name, k, e.References[k], want)
					}
					if !slices.Contains(e.NaturalKey, k) {
						t.Errorf("child %s: aggregate key field %s is not part of its natural key %v", e.Name, k, e.NaturalKey)
					}
				}
			}
		})
	}
}

// TestNoFloats reads the schemas as plain JSON, apart from the parser:
// no type anywhere is float or double.
func TestNoFloats(t *testing.T) {
	var check func(path string, v any)
	isFloat := func(v any) bool { return v == "float" || v == "double" }
	check = func(path string, v any) {
		switch x := v.(type) {
		case map[string]any:
			for _, k := range []string{"type", "items", "values"} {
				if isFloat(x[k]) {
					t.Errorf("%s: %s is %v", path, k, x[k])
				}
				if arr, ok := x[k].([]any); ok && slices.ContainsFunc(arr, isFloat) {
					t.Errorf("%s: %s has %v", path, k, arr)
				}
			}
			for k, sub := range x {
				check(path+"/"+k, sub)
			}
		case []any:
			for i, sub := range x {
				check(fmt.Sprintf("%s[%d]", path, i), sub)
			}
		}
	}
	for _, e := range Builtin() {
		var v any
		if err := json.Unmarshal([]byte(e.Schema), &v); err != nil {
			t.Fatal(err)
		}
		check(e.Name, v)
		if strings.Contains(e.Schema, `"float"`) || strings.Contains(e.Schema, `"double"`) {
			t.Errorf("%s mentions float or double", e.Name)
		}
	}
}

// TestCanonicalValues pins the canonical value sets: mappings and sinks on
// both sides depend on them, and only additions are compatible.
func TestCanonicalValues(t *testing.T) {
	tests := []struct {
		entity, field string
		want          []string
	}{
		{"order", "status", []string{"pending", "processing", "on_hold", "completed", "cancelled", "refunded", "failed"}},
		{"order", "fulfilment_status", []string{"unfulfilled", "partial", "fulfilled"}},
		{"product", "status", []string{"active", "draft", "inactive", "archived"}},
		{"product", "type", []string{"simple", "variable", "variation", "service"}},
		{"shipment", "status", []string{"pending", "ready", "shipped", "delivered", "cancelled"}},
		{"invoice", "status", []string{"draft", "posted", "paid", "cancelled"}},
		{"invoice", "payment_state", []string{"not_paid", "partial", "in_payment", "paid", "reversed"}},
		{"invoice", "type", []string{"invoice", "credit_note"}},
		{"return", "status", []string{"requested", "approved", "rejected", "received", "refunded", "cancelled"}},
		{"customer", "addresses.type", []string{"billing", "shipping", "other"}},
		{"order", "billing_address.type", []string{"billing", "shipping", "other"}},
		{"stock_level", "stock_status", []string{"in_stock", "out_of_stock", "on_backorder"}},
		{"order_line", "type", []string{"product", "shipping", "fee", "discount", "tax"}},
		{"tax_rate", "scope", []string{"sale", "purchase", "none"}},
	}
	for _, tt := range tests {
		e, ok := Lookup(tt.entity)
		if !ok {
			t.Errorf("no entity %s", tt.entity)
			continue
		}
		f, ok := e.Field(tt.field)
		if !ok {
			t.Errorf("%s has no field %s", tt.entity, tt.field)
			continue
		}
		if f.Type != "string" || !slices.Equal(f.Values, tt.want) {
			t.Errorf("%s.%s: %s with values %v, want string with %v", tt.entity, tt.field, f.Type, f.Values, tt.want)
		}
	}
}

// TestKeysAndReferences pins the keys and references the sinks resolve by.
func TestKeysAndReferences(t *testing.T) {
	tests := []struct {
		name       string
		natural    []string
		aggregate  string
		aggKey     []string
		references map[string]string
	}{
		{"customer", []string{"email"}, "customer", []string{"email"}, map[string]string{}},
		{"invoice", []string{"number"}, "invoice", []string{"number"}, map[string]string{
			"order_number": "order.number", "customer_email": "customer.email", "origin_invoice_number": "invoice.number",
			"lines.sku": "product.sku", "lines.tax_code": "tax_rate.code"}},
		{"order", []string{"number"}, "order", []string{"number"}, map[string]string{"customer_email": "customer.email"}},
		{"order_line", []string{"order_number", "line_no"}, "order", []string{"order_number"}, map[string]string{
			"order_number": "order.number", "sku": "product.sku", "tax_code": "tax_rate.code"}},
		{"price", []string{"sku", "price_list", "min_quantity"}, "price", []string{"sku", "price_list", "min_quantity"}, map[string]string{"sku": "product.sku"}},
		{"product", []string{"sku"}, "product", []string{"sku"}, map[string]string{"parent_sku": "product.sku"}},
		{"return", []string{"number"}, "return", []string{"number"}, map[string]string{
			"order_number": "order.number", "customer_email": "customer.email", "credit_note_number": "invoice.number", "lines.sku": "product.sku"}},
		{"shipment", []string{"number"}, "shipment", []string{"number"}, map[string]string{"order_number": "order.number", "lines.sku": "product.sku"}},
		{"stock_level", []string{"sku", "warehouse"}, "stock_level", []string{"sku", "warehouse"}, map[string]string{"sku": "product.sku"}},
		{"tax_rate", []string{"code"}, "tax_rate", []string{"code"}, map[string]string{}},
	}
	for _, tt := range tests {
		e, ok := Lookup(tt.name)
		if !ok {
			t.Errorf("no entity %s", tt.name)
			continue
		}
		if !slices.Equal(e.NaturalKey, tt.natural) || e.Aggregate != tt.aggregate || !slices.Equal(e.AggregateKey, tt.aggKey) || !reflect.DeepEqual(e.References, tt.references) {
			t.Errorf("%s: natural key %v, aggregate %s by %v, references %v\nwant %v, %s by %v, %v",
				tt.name, e.NaturalKey, e.Aggregate, e.AggregateKey, e.References, tt.natural, tt.aggregate, tt.aggKey, tt.references)
		}
	}
}

func TestParseErrors(t *testing.T) {
	rec := func(props, fields string) string {
		return `{"type":"record","name":"thing","namespace":"tandem.entity"` + props + `,"fields":[` + fields + `]}`
	}
	const keyed = `,"tandem.natural_key":["code"],"tandem.aggregate":"thing","tandem.aggregate_key":["code"]`
	const code = `{"name":"code","type":"string"}`
	tests := []struct {
		name, schema, want string
	}{
		{"float field", rec(keyed, code+`,{"name":"x","type":["null","double"],"default":null}`), `"double" is not used`},
		{"float array", rec(keyed, code+`,{"name":"x","type":["null",{"type":"array","items":"float"}],"default":null}`), `"float" is not used`},
		{"optional key", rec(keyed, `{"name":"code","type":["null","string"],"default":null}`), "must be required"},
		{"missing key field", rec(`,"tandem.natural_key":["sku"],"tandem.aggregate":"thing","tandem.aggregate_key":["sku"]`, code), "no field sku"},
		{"no natural key", rec(`,"tandem.aggregate":"thing","tandem.aggregate_key":["code"]`, code), `no "tandem.natural_key"`},
		{"no aggregate", rec(`,"tandem.natural_key":["code"]`, code), `no "tandem.aggregate"`},
		{"optional without default", rec(keyed, code+`,{"name":"x","type":["null","string"]}`), `"default": null`},
		{"wide union", rec(keyed, code+`,{"name":"x","type":["null","string","long"],"default":null}`), "only [\"null\", type]"},
		{"undefined record", rec(keyed, code+`,{"name":"x","type":["null","tandem.entity.address"],"default":null}`), "not defined before"},
		{"decimal without kind", rec(keyed, code+`,{"name":"x","type":["null",{"type":"bytes","logicalType":"decimal","precision":26,"scale":8}],"default":null}`), `"tandem.kind"`},
		{"values on a number", rec(keyed, code+`,{"name":"x","type":["null","long"],"default":null,"tandem.values":["a"]}`), `"tandem.values" on a long`},
		{"bad reference", rec(keyed+`,"tandem.references":{"nope":"product.sku"}`, code), "reference from nope: no such field"},
		{"reference without field", rec(keyed+`,"tandem.references":{"code":"product"}`, code), "want entity.field"},
		{"wrong name", strings.Replace(rec(keyed, code), `"thing"`, `"other"`, 1), "want a record named thing"},
		{"not JSON", `{"type":`, "not JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("thing", []byte(tt.schema))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("parseEntity: %v, want an error containing %q", err, tt.want)
			}
		})
	}

	// A good one parses, and load reports the file of a bad one.
	good := rec(keyed, code)
	if _, err := Parse("thing", []byte(good)); err != nil {
		t.Errorf("Parse(good): %v", err)
	}
	_, err := load(fstest.MapFS{
		"avsc/thing.avsc": {Data: []byte(good)},
		"avsc/bad.avsc":   {Data: []byte(`{}`)},
	})
	if err == nil || !strings.Contains(err.Error(), "avsc/bad.avsc") {
		t.Errorf("load: %v, want an error naming avsc/bad.avsc", err)
	}
}

// sample builds a goavro native value of f's type. full sets every
// optional field; otherwise optional fields are null. seq varies values.
func sample(f Field, full bool, seq int) any {
	switch f.Type {
	case "string":
		if len(f.Values) > 0 {
			return f.Values[seq%len(f.Values)]
		}
		return fmt.Sprintf("%s-%d Blå mugg €", f.Name, seq)
	case "decimal":
		// The most digits the type holds, negative on odd seq.
		digits := strings.Repeat("9876543210", 3)[:f.Precision]
		s := digits[:f.Precision-f.Scale] + "." + digits[f.Precision-f.Scale:]
		if seq%2 == 1 {
			s = "-" + s
		}
		r, ok := new(big.Rat).SetString(s)
		if !ok {
			panic(s)
		}
		return r
	case "long":
		return int64(1)<<53 + int64(seq)
	case "int":
		return int32(-7 - seq)
	case "boolean":
		return seq%2 == 0
	case "timestamp":
		return time.Date(2025, 3, 14, 15, 9, 26, 535897000+seq*1000, time.UTC)
	case "date":
		return time.Date(2025, 4, 30+seq, 0, 0, 0, 0, time.UTC)
	case "record":
		return sampleRecord(f.Fields, full, seq)
	case "array":
		elem := Field{Type: f.Items, Fields: f.Fields, Name: f.Name}
		return []any{sample(elem, full, seq), sample(elem, full, seq+1)}
	}
	panic("no sample for " + f.Type)
}

func sampleRecord(fields []Field, full bool, seq int) map[string]any {
	m := map[string]any{}
	for i, f := range fields {
		if !f.Required && !full {
			m[f.Name] = nil
			continue
		}
		v := sample(f, full, seq+i)
		if !f.Required {
			v = map[string]any{unionBranch(f): v}
		}
		m[f.Name] = v
	}
	return m
}

// unionBranch is goavro's name for the non-null branch of f's union.
func unionBranch(f Field) string {
	switch f.Type {
	case "decimal":
		return "bytes.decimal"
	case "timestamp":
		return "long.timestamp-micros"
	case "date":
		return "int.date"
	case "record":
		return Namespace + "." + f.Record
	}
	return f.Type
}

// equal compares goavro native values exactly: decimals by value, times by
// instant.
func equal(a, b any) bool {
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !equal(v, w) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		return ok && slices.EqualFunc(x, y, equal)
	case *big.Rat:
		y, ok := b.(*big.Rat)
		return ok && x.Cmp(y) == 0
	case time.Time:
		y, ok := b.(time.Time)
		return ok && x.Equal(y)
	}
	return a == b
}

func TestRoundTrip(t *testing.T) {
	for _, e := range Builtin() {
		codec, err := goavro.NewCodec(e.Schema)
		if err != nil {
			t.Fatalf("%s: %v", e.Name, err)
		}
		for _, full := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/full=%v", e.Name, full), func(t *testing.T) {
				for seq := range 2 {
					in := sampleRecord(e.Fields, full, seq)
					bin, err := codec.BinaryFromNative(nil, in)
					if err != nil {
						t.Fatalf("encode: %v\n%v", err, in)
					}
					out, rest, err := codec.NativeFromBinary(bin)
					if err != nil {
						t.Fatalf("decode: %v", err)
					}
					if len(rest) != 0 {
						t.Errorf("%d bytes left after decoding", len(rest))
					}
					if !equal(in, out) {
						t.Errorf("round trip changed the record:\n in: %v\nout: %v", in, out)
					}
				}
			})
		}
	}

	// The check itself can fail: a decimal off by 1e-8 and a timestamp off
	// by a microsecond are different.
	if equal(big.NewRat(1, 1), new(big.Rat).SetFrac64(100000001, 100000000)) ||
		equal(time.Unix(0, 0), time.Unix(0, 1000)) || equal(map[string]any{"a": nil}, map[string]any{"b": nil}) {
		t.Error("equal does not tell values apart")
	}
}

// TestDecimalAtScale shows the money type keeps 8 decimals exactly, at both
// ends of its range.
func TestDecimalAtScale(t *testing.T) {
	e, _ := Lookup("order")
	codec, err := goavro.NewCodec(e.Schema)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"0.00000001", "-0.00000001", "999999999999999999.99999999", "-999999999999999999.99999999", "19.99"} {
		r, _ := new(big.Rat).SetString(s)
		in := sampleRecord(e.Fields, false, 0)
		in["number"] = "1001"
		in["total"] = map[string]any{"bytes.decimal": r}
		bin, err := codec.BinaryFromNative(nil, in)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		out, _, err := codec.NativeFromBinary(bin)
		if err != nil {
			t.Fatal(err)
		}
		got := out.(map[string]any)["total"].(map[string]any)["bytes.decimal"].(*big.Rat)
		if got.Cmp(r) != 0 {
			t.Errorf("%s came back as %s", s, got.FloatString(8))
		}
	}
}
