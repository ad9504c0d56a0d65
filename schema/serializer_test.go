package schema

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/linkedin/goavro/v2"

	"github.com/tandem-sync/tandem/capture"
)

// memRegistry is a hand-written in-memory stand-in for the Confluent API:
// register under a subject (one id per distinct schema, as Confluent does)
// and fetch by id. RegisterFn, when set, may refuse a registration with an
// HTTP status.
type memRegistry struct {
	RegisterFn func(subject, schema string) int

	mu       sync.Mutex
	ids      map[string]int
	schemas  map[int]string
	subjects map[string][]int
	posts    int
}

func (m *memRegistry) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.ids == nil {
		m.ids, m.schemas, m.subjects = map[string]int{}, map[int]string{}, map[string][]int{}
	}
	switch {
	case r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, "/subjects/") && strings.HasSuffix(r.URL.Path, "/versions"):
		subject := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/subjects/"), "/versions")
		var in struct{ Schema string }
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		m.posts++
		if m.RegisterFn != nil {
			if status := m.RegisterFn(subject, in.Schema); status != 0 {
				w.WriteHeader(status)
				fmt.Fprintf(w, `{"error_code":%d,"message":"Schema being registered is incompatible with an earlier schema"}`, status)
				return
			}
		}
		id, ok := m.ids[in.Schema]
		if !ok {
			id = len(m.ids) + 1
			m.ids[in.Schema], m.schemas[id] = id, in.Schema
		}
		if !slices.Contains(m.subjects[subject], id) {
			m.subjects[subject] = append(m.subjects[subject], id)
		}
		fmt.Fprintf(w, `{"id":%d}`, id)
	case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/schemas/ids/"):
		id, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/schemas/ids/"))
		s, ok := m.schemas[id]
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"error_code":40403,"message":"Schema not found"}`))
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"schema": s})
	default:
		w.WriteHeader(http.StatusNotFound)
	}
}

func (m *memRegistry) versions(subject string) []int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.subjects[subject])
}

// newSerializer returns a Serializer on a fresh memRegistry, and a Decoder
// with its own registry client (so that decoding fetches schemas by id).
func newSerializer(t testing.TB, m *memRegistry) (*Serializer, *Decoder) {
	srv := httptest.NewServer(m)
	t.Cleanup(srv.Close)
	cfg := RegistryConfig{URL: srv.URL, Timeout: time.Second}
	s, err := NewSerializer(NewRegistry(cfg), SerializerOptions{System: "shop", Connector: "postgres", Database: "shop", TopicPrefix: "tandem"})
	if err != nil {
		t.Fatal(err)
	}
	return s, NewDecoder(NewRegistry(cfg))
}

// lsn is a test position with an 8-byte key, like PostgreSQL's.
type lsn uint64

func (l lsn) String() string { return fmt.Sprintf("%X/%X", uint32(l>>32), uint32(l)) }
func (l lsn) Key() []byte    { return binary.BigEndian.AppendUint64(nil, uint64(l)) }

func rat(s string) *big.Rat {
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		panic("bad rational " + s)
	}
	return r
}

// fullRow is a value for every column of kindsTable, and what each decodes to.
func fullRow() (capture.Row, map[string]any) {
	day := time.Date(1969, 7, 20, 0, 0, 0, 0, time.UTC)
	local := time.Date(2024, 2, 29, 23, 59, 58, 123456000, time.UTC)
	created := time.Date(2025, 1, 2, 3, 4, 5, 678901000, time.UTC)
	at := 13*time.Hour + 14*time.Minute + 15*time.Second + 654321*time.Microsecond
	row := capture.Row{
		int64(42), int64(7), int64(-3), true, uint64(18446744073709551615), float32(1.5), 2.25,
		rat("12345678901234567.12345678"), rat("-42.5"), rat("123456789012345678901234567890"), rat("-3.14159265358979323846"),
		[]byte{0, 1, 0xff}, day, local, created, at, "P1Y2M3DT4H5M6.5S", "0b3e8f5a-6f7b-4a51-9a3c-3f1c2d4e5f60",
		`{"a": [1, 2.50, null]}`, "happy", "first line\nsecond", []any{"a", nil, "c"}, []any{rat("1.25"), nil, rat("-0.5")},
		rat("0.0001"), "x", nil,
	}
	want := map[string]any{
		"id": int64(42), "tenant": int32(7), "qty": int32(-3), "paid": true, "big": rat("18446744073709551615"),
		"ratio": float32(1.5), "score": 2.25, "amount": rat("12345678901234567.12345678"), "price": rat("-42.50"),
		"whole": rat("123456789012345678901234567890"), "any_num": "-3.14159265358979323846",
		"blob": []byte{0, 1, 0xff}, "day": day, "local_ts": local, "created_at": created, "at": at,
		"wait": "P1Y2M3DT4H5M6.5S", "uid": "0b3e8f5a-6f7b-4a51-9a3c-3f1c2d4e5f60", "doc": `{"a": [1, 2.50, null]}`,
		"mood": "happy", "note": "first line\nsecond", "tags": []any{"a", nil, "c"}, "rates": []any{rat("1.25"), nil, rat("-0.50")},
		"Unit_Price_____2": rat("0.0001"), "_2nd_line": "x", "Unit_Price____": nil,
	}
	return row, want
}

func checkRow(t *testing.T, what string, got any, want map[string]any) {
	t.Helper()
	m, ok := got.(map[string]any)
	if !ok {
		t.Fatalf("%s is %T, want a record", what, got)
	}
	if len(m) != len(want) {
		t.Errorf("%s has %d fields, want %d", what, len(m), len(want))
	}
	for f, w := range want {
		g, ok := m[f]
		if !ok {
			t.Errorf("%s.%s is missing", what, f)
			continue
		}
		if !capture.Equal(g, w) || fmt.Sprintf("%T", g) != fmt.Sprintf("%T", w) {
			t.Errorf("%s.%s = %T %v, want %T %v", what, f, g, show(g), w, show(w))
		}
	}
}

func show(v any) string {
	if r, ok := v.(*big.Rat); ok {
		return r.FloatString(10)
	}
	return fmt.Sprint(v)
}

func strs(v any) []string {
	xs, _ := v.([]any)
	out := []string{}
	for _, x := range xs {
		out = append(out, x.(string))
	}
	return out
}

var orderRE = regexp.MustCompile(`^[0-9a-f]{32}$`)

func TestSerializerRoundTrip(t *testing.T) {
	ctx := context.Background()
	m := &memRegistry{}
	s, dec := newSerializer(t, m)
	tbl := kindsTable()
	row, want := fullRow()
	commit := time.Date(2025, 3, 4, 5, 6, 7, 890123000, time.UTC)
	tx := &capture.TxBegin{ID: "771", Position: lsn(0x16B3748), CommitTime: commit}
	const topic = "tandem.shop.public.order_line"

	// What each case encodes, and what the decoded envelope must hold.
	unchanged := slices.Clone(row)
	unchanged[20] = capture.Unchanged // note: an unchanged TOAST value
	unchanged[2] = int64(-4)          // qty changed
	keyOnly := make(capture.Row, len(row))
	for i := range keyOnly {
		keyOnly[i] = capture.Unchanged
	}
	keyOnly[0], keyOnly[1] = int64(42), int64(7)
	wantUpdated := maps(want, "qty", int32(-4), "note", nil)
	wantKeyOnly := map[string]any{}
	for f := range want {
		wantKeyOnly[f] = nil
	}
	wantKeyOnly["id"], wantKeyOnly["tenant"] = int64(42), int32(7)
	allFields := fieldNames(tbl.Columns) // a NULL is known, so it is set too
	withoutNote := slices.DeleteFunc(slices.Clone(allFields), func(f string) bool { return f == "note" })
	notKey := slices.DeleteFunc(slices.Clone(allFields), func(f string) bool { return f == "id" || f == "tenant" })

	cases := []struct {
		name                           string
		tx                             *capture.TxBegin
		c                              capture.Change
		before, after                  map[string]any
		changed, unknown, beforeUnknwn []string
		key                            bool
	}{
		{name: "insert", tx: tx, c: capture.Change{Op: capture.OpInsert, Table: tbl, After: row, Position: lsn(0x16B3700), Seq: 0},
			after: want, changed: allFields, unknown: []string{}, beforeUnknwn: []string{}, key: true},
		{name: "update with an unchanged TOAST value", tx: tx, c: capture.Change{Op: capture.OpUpdate, Table: tbl, After: unchanged, Seq: 1},
			after: wantUpdated, changed: withoutNote, unknown: []string{"note"}, beforeUnknwn: []string{}, key: true},
		{name: "update with a before image", tx: tx, c: capture.Change{Op: capture.OpUpdate, Table: tbl, Before: row, After: unchanged, Seq: 2},
			before: want, after: wantUpdated, changed: []string{"id", "tenant", "qty"}, unknown: []string{"note"}, beforeUnknwn: []string{}, key: true},
		{name: "delete with the key only", tx: tx, c: capture.Change{Op: capture.OpDelete, Table: tbl, Before: keyOnly, Seq: 3},
			before: wantKeyOnly, changed: []string{}, unknown: []string{}, beforeUnknwn: notKey, key: true},
		{name: "snapshot read", tx: &capture.TxBegin{ID: "snap-1", Position: lsn(0x1000), Snapshot: true},
			c:     capture.Change{Op: capture.OpRead, Table: tbl, After: row, Seq: 1 << 40},
			after: want, changed: allFields, unknown: []string{}, beforeUnknwn: []string{}, key: true},
		{name: "truncate", tx: tx, c: capture.Change{Op: capture.OpTruncate, Table: tbl, Seq: 4},
			changed: []string{}, unknown: []string{}, beforeUnknwn: []string{}, key: false},
	}
	prevOrder := ""
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec, err := s.Change(ctx, tc.tx, &tc.c)
			if err != nil {
				t.Fatal(err)
			}
			if rec.Topic != topic {
				t.Errorf("topic %q, want %q", rec.Topic, topic)
			}
			env, id, err := dec.Decode(ctx, rec.Value)
			if err != nil {
				t.Fatal(err)
			}
			if got := m.versions(topic + "-value"); len(got) != 1 || got[0] != id {
				t.Errorf("value schema id %d; registered under %s-value: %v", id, topic, got)
			}
			if env["op"] != tc.c.Op.String() {
				t.Errorf("op %v, want %s", env["op"], tc.c.Op)
			}
			if tc.before == nil {
				if env["before"] != nil {
					t.Errorf("before = %v, want null", env["before"])
				}
			} else {
				checkRow(t, "before", env["before"], tc.before)
			}
			if tc.after == nil {
				if env["after"] != nil {
					t.Errorf("after = %v, want null", env["after"])
				}
			} else {
				checkRow(t, "after", env["after"], tc.after)
			}
			for name, w := range map[string][]string{"changed": tc.changed, "unknown": tc.unknown, "before_unknown": tc.beforeUnknwn} {
				if got := strs(env[name]); !slices.Equal(got, w) {
					t.Errorf("%s = %q, want %q", name, got, w)
				}
			}
			src := env["source"].(map[string]any)
			order := src["order"].(string)
			if !orderRE.MatchString(order) {
				t.Errorf("order %q is not 32 lower-case hex digits", order)
			}
			if wantOrder := fmt.Sprintf("%016x%016x", uint64(tc.tx.Position.(lsn)), tc.c.Seq); order != wantOrder {
				t.Errorf("order %s, want %s", order, wantOrder)
			}
			if tc.tx == tx && order <= prevOrder {
				t.Errorf("order %s does not increase after %s", order, prevOrder)
			}
			if tc.tx == tx {
				prevOrder = order
			}
			if env["event_id"] != "shop:"+order || env["origin"] != "shop" {
				t.Errorf("event_id %v origin %v", env["event_id"], env["origin"])
			}
			wantPos := tc.tx.Position.String()
			if tc.c.Position != nil {
				wantPos = tc.c.Position.String()
			}
			wantCommit := any(nil)
			if !tc.tx.CommitTime.IsZero() {
				wantCommit = tc.tx.CommitTime
			}
			wantSrc := map[string]any{
				"system": "shop", "connector": "postgres", "database": "shop", "schema": "public", "table": "order line",
				"position": wantPos, "order": order, "tx_id": tc.tx.ID, "commit_time": wantCommit,
				"snapshot": tc.tx.Snapshot, "sequence": int64(tc.c.Seq), "table_version": int32(1),
			}
			checkRow(t, "source", src, wantSrc)

			if !tc.key {
				if rec.Key != nil {
					t.Errorf("key = % x, want none", rec.Key)
				}
				return
			}
			key, kid, err := dec.Decode(ctx, rec.Key)
			if err != nil {
				t.Fatal(err)
			}
			if got := m.versions(topic + "-key"); len(got) != 1 || got[0] != kid {
				t.Errorf("key schema id %d; registered under %s-key: %v", kid, topic, got)
			}
			checkRow(t, "key", key, map[string]any{"id": int64(42), "tenant": int32(7)})
		})
	}
}

// maps returns a copy of m with the given field, value pairs set.
func maps(m map[string]any, kv ...any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		out[kv[i].(string)] = kv[i+1]
	}
	return out
}

func TestSerializerRecordsOwnTheirBytes(t *testing.T) {
	ctx := context.Background()
	s, dec := newSerializer(t, &memRegistry{})
	tbl := kindsTable()
	row, _ := fullRow()
	tx := &capture.TxBegin{ID: "1", Position: lsn(1)}
	first, err := s.Change(ctx, tx, &capture.Change{Op: capture.OpInsert, Table: tbl, After: row})
	if err != nil {
		t.Fatal(err)
	}
	keep := slices.Clone(first.Value)
	row2 := slices.Clone(row)
	row2[0] = int64(43)
	if _, err := s.Change(ctx, tx, &capture.Change{Op: capture.OpInsert, Table: tbl, After: row2, Seq: 1}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(first.Value, keep) {
		t.Fatal("encoding a second change changed the first record's value")
	}
	env, _, err := dec.Decode(ctx, first.Value)
	if err != nil {
		t.Fatal(err)
	}
	if id := env["after"].(map[string]any)["id"]; id != int64(42) {
		t.Errorf("first record's id = %v", id)
	}
}

func TestSerializerTransactions(t *testing.T) {
	ctx := context.Background()
	m := &memRegistry{}
	s, dec := newSerializer(t, m)
	commit := time.Date(2025, 3, 4, 5, 6, 7, 890123000, time.UTC)
	begin, err := s.Begin(ctx, &capture.TxBegin{ID: "771", Position: lsn(0x16B3748), CommitTime: commit, Snapshot: true})
	if err != nil {
		t.Fatal(err)
	}
	end, err := s.End(ctx, &capture.TxEnd{ID: "771", Position: lsn(0x16B3748), CommitTime: commit, Changes: 5},
		map[string]int{"public.order_line": 3, "public.orders": 1, "inventory.stock": 1})
	if err != nil {
		t.Fatal(err)
	}
	const topic = "tandem.shop.transactions"
	for _, rec := range []struct {
		name string
		got  []byte
		want map[string]any
	}{
		{"BEGIN", begin.Value, map[string]any{"status": "BEGIN", "id": "771", "system": "shop", "position": "0/16B3748",
			"order": "00000000016b3748", "commit_time": commit, "snapshot": true, "event_count": nil, "data_collections": nil}},
		{"END", end.Value, map[string]any{"status": "END", "id": "771", "system": "shop", "position": "0/16B3748",
			"order": "00000000016b3748", "commit_time": commit, "snapshot": true, "event_count": int64(5), "data_collections": "checked below"}},
	} {
		v, id, err := dec.Decode(ctx, rec.got)
		if err != nil {
			t.Fatal(err)
		}
		if got := m.versions(topic + "-value"); len(got) != 1 || got[0] != id {
			t.Errorf("%s: schema id %d, registered %v", rec.name, id, got)
		}
		if rec.name == "END" {
			colls := v["data_collections"].([]any)
			var got []string
			for _, c := range colls {
				c := c.(map[string]any)
				got = append(got, fmt.Sprintf("%s=%d", c["name"], c["event_count"]))
			}
			if want := []string{"inventory.stock=1", "public.order_line=3", "public.orders=1"}; !slices.Equal(got, want) {
				t.Errorf("data_collections %v, want %v", got, want)
			}
			delete(v, "data_collections")
			delete(rec.want, "data_collections")
		}
		checkRow(t, rec.name, v, rec.want)
	}
	for _, rec := range []struct {
		name  string
		topic string
		key   []byte
	}{{"BEGIN", begin.Topic, begin.Key}, {"END", end.Topic, end.Key}} {
		if rec.topic != topic {
			t.Errorf("%s topic %q, want %q", rec.name, rec.topic, topic)
		}
		k, _, err := dec.DecodeAny(ctx, rec.key)
		if err != nil || k != "771" {
			t.Errorf("%s key = %v, %v; want the tx id as an Avro string", rec.name, k, err)
		}
	}
}

// evolving returns a small table at a version, with the columns given as
// name:kind pairs; the first column is the key.
func evolving(version int, cols ...string) *capture.Table {
	kinds := map[string]capture.Kind{"int": capture.KindInt32, "long": capture.KindInt64, "text": capture.KindString,
		"double": capture.KindFloat64, "date": capture.KindDate}
	t := &capture.Table{Database: "shop", Schema: "public", Name: "item", Version: version}
	for i, c := range cols {
		name, kind, _ := strings.Cut(c, ":")
		t.Columns = append(t.Columns, capture.Column{Name: name, Type: capture.Type{Kind: kinds[kind], Source: kind}, Key: i == 0, Nullable: i > 0})
	}
	return t
}

func TestSerializerEvolution(t *testing.T) {
	ctx := context.Background()
	m := &memRegistry{}
	s, dec := newSerializer(t, m)
	tx := &capture.TxBegin{ID: "1", Position: lsn(1)}
	const subject = "tandem.shop.public.item-value"
	insert := func(tbl *capture.Table, vals ...any) (int, error) {
		rec, err := s.Change(ctx, tx, &capture.Change{Op: capture.OpInsert, Table: tbl, After: vals})
		if err != nil {
			return 0, err
		}
		env, id, err := dec.Decode(ctx, rec.Value)
		if err != nil {
			t.Fatal(err)
		}
		if got := env["after"].(map[string]any)["id"]; got != int64(1) {
			t.Errorf("after.id = %v", got)
		}
		return id, nil
	}
	steps := []struct {
		name  string
		table *capture.Table
		vals  []any
	}{
		{"first version", evolving(1, "id:long", "name:text", "qty:int"), []any{int64(1), "a", int64(2)}},
		{"add a column", evolving(2, "id:long", "name:text", "qty:int", "price:double"), []any{int64(1), "a", int64(2), 1.5}},
		{"drop a column", evolving(3, "id:long", "qty:int", "price:double"), []any{int64(1), int64(2), 1.5}},
		{"int to long", evolving(4, "id:long", "qty:long", "price:double"), []any{int64(1), int64(1) << 40, 1.5}},
	}
	var ids []int
	for _, st := range steps {
		id, err := insert(st.table, st.vals...)
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if slices.Contains(ids, id) {
			t.Errorf("%s: schema id %d was used by an earlier version", st.name, id)
		}
		ids = append(ids, id)
	}
	if got := m.versions(subject); !slices.Equal(got, ids) {
		t.Errorf("versions under %s = %v, want %v", subject, got, ids)
	}
	// The same version again is served from the cache: no registration.
	posts := m.posts
	if _, err := insert(steps[3].table, steps[3].vals...); err != nil || m.posts != posts {
		t.Errorf("re-encoding a known version: %v, %d registrations (want none)", err, m.posts-posts)
	}

	// text -> int is not a promotion.
	_, err := insert(evolving(5, "id:long", "qty:long", "price:double", "name:text"), int64(1), int64(2), 1.5, "x")
	if err != nil {
		t.Fatalf("adding name back as text: %v", err)
	}
	_, err = insert(evolving(6, "id:long", "qty:long", "price:double", "name:int"), int64(1), int64(2), 1.5, int64(3))
	var ie *IncompatibleError
	if !errors.As(err, &ie) {
		t.Fatalf("text -> int: err = %v, want *IncompatibleError", err)
	}
	if ie.Column != "name" || ie.From != "text (Avro string)" || ie.To != "int (Avro int)" || ie.Topic != "tandem.shop.public.item" {
		t.Errorf("IncompatibleError = %+v", ie)
	}
	for _, part := range []string{"column name", "re-snapshot", "new topic"} {
		if !strings.Contains(err.Error(), part) {
			t.Errorf("message %q does not say %q", err, part)
		}
	}
	// A date cannot become a long although both are Avro numbers underneath.
	_, err = insert(evolving(7, "id:long", "qty:date"), int64(1), time.Unix(0, 0).UTC())
	if !errors.As(err, &ie) || ie.Column != "qty" {
		t.Errorf("long -> date: err = %v, want an IncompatibleError naming qty", err)
	}
	// Another key is another partitioning.
	_, err = insert(evolving(8, "sku:text", "id:long"), "x", int64(1))
	if !errors.As(err, &ie) || ie.Column != "sku" {
		t.Errorf("new key column: err = %v, want an IncompatibleError naming sku", err)
	}
}

func TestPromotes(t *testing.T) {
	typ := func(k capture.Kind, p, s int) *avroType {
		a, err := typeOf(&capture.Type{Kind: k, Precision: p, Scale: s})
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	arr := func(e capture.Kind) *avroType {
		a, _ := typeOf(&capture.Type{Kind: capture.KindArray, Elem: &capture.Type{Kind: e}})
		return a
	}
	for _, tc := range []struct {
		from, to *avroType
		ok       bool
	}{
		{typ(capture.KindInt32, 0, 0), typ(capture.KindInt64, 0, 0), true},
		{typ(capture.KindInt16, 0, 0), typ(capture.KindFloat64, 0, 0), true},
		{typ(capture.KindInt64, 0, 0), typ(capture.KindFloat32, 0, 0), true},
		{typ(capture.KindFloat32, 0, 0), typ(capture.KindFloat64, 0, 0), true},
		{typ(capture.KindString, 0, 0), typ(capture.KindBytes, 0, 0), true},
		{typ(capture.KindBytes, 0, 0), typ(capture.KindString, 0, 0), true},
		{typ(capture.KindString, 0, 0), typ(capture.KindJSON, 0, 0), true},
		{typ(capture.KindDecimal, 10, 2), typ(capture.KindDecimal, 12, 2), true},
		{arr(capture.KindInt32), arr(capture.KindInt64), true},
		{typ(capture.KindInt64, 0, 0), typ(capture.KindInt32, 0, 0), false},
		{typ(capture.KindFloat64, 0, 0), typ(capture.KindDecimal, 10, 2), false},
		{typ(capture.KindDecimal, 12, 2), typ(capture.KindDecimal, 10, 2), false},
		{typ(capture.KindDecimal, 10, 2), typ(capture.KindDecimal, 12, 3), false},
		{typ(capture.KindDecimal, 10, 2), typ(capture.KindDecimal, 0, -1), false},
		{typ(capture.KindUint64, 0, 0), typ(capture.KindInt64, 0, 0), false},
		{typ(capture.KindInt32, 0, 0), typ(capture.KindDate, 0, 0), false},
		{typ(capture.KindTimestampTZ, 0, 0), typ(capture.KindInt64, 0, 0), false},
		{typ(capture.KindString, 0, 0), typ(capture.KindUUID, 0, 0), false},
		{arr(capture.KindString), typ(capture.KindString, 0, 0), false},
	} {
		if got := promotes(tc.from, tc.to); got != tc.ok {
			t.Errorf("promotes(%s, %s) = %v, want %v", tc.from, tc.to, got, tc.ok)
		}
	}
}

func TestSerializerRegistryRefusal(t *testing.T) {
	m := &memRegistry{RegisterFn: func(subject, _ string) int {
		if strings.HasSuffix(subject, "-value") {
			return http.StatusConflict
		}
		return 0
	}}
	s, _ := newSerializer(t, m)
	_, err := s.Change(context.Background(), &capture.TxBegin{ID: "1", Position: lsn(1)},
		&capture.Change{Op: capture.OpInsert, Table: evolving(1, "id:long"), After: capture.Row{int64(1)}})
	var ie *IncompatibleError
	var re *RegistryError
	if !errors.As(err, &ie) || ie.Topic != "tandem.shop.public.item" || !errors.As(err, &re) || re.Status != http.StatusConflict {
		t.Fatalf("a 409 from the registry: err = %v, want an IncompatibleError wrapping the RegistryError", err)
	}
	if !strings.Contains(err.Error(), "re-snapshot") {
		t.Errorf("message %q does not say how to recover", err)
	}
}

func TestSerializerEncodeErrors(t *testing.T) {
	ctx := context.Background()
	s, _ := newSerializer(t, &memRegistry{})
	tx := &capture.TxBegin{ID: "1", Position: lsn(1)}
	row, _ := fullRow()
	for _, tc := range []struct {
		name   string
		col    int
		value  any
		column string
		reason string
	}{
		{"too many fractional digits", 8, rat("1.005"), "price", "more than 2 digits after the point"},
		{"a third that no scale holds", 7, rat("1/3"), "amount", "more than 8 digits after the point"},
		{"too many integer digits", 8, rat("10000000000"), "price", "more than 10 digits before the point"},
		{"precision with a fraction", 8, rat("-10000000000.5"), "price", "more than 10 digits before the point"},
		{"unconstrained without a decimal expansion", 10, rat("1/3"), "any_num", "no finite decimal expansion"},
		{"a wrong Go type", 0, int32(1), "id", "a int64 column got a Go int32"},
		{"a nanosecond", 14, time.Unix(0, 1).UTC(), "created_at", "finer than a microsecond"},
		{"a date that is not midnight", 12, time.Unix(3600, 0).UTC(), "day", "not a UTC midnight"},
		{"an int32 that is not", 1, int64(1) << 40, "tenant", "does not fit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := slices.Clone(row)
			r[tc.col] = tc.value
			_, err := s.Change(ctx, tx, &capture.Change{Op: capture.OpInsert, Table: kindsTable(), After: r})
			var ee *EncodeError
			if !errors.As(err, &ee) || ee.Column != tc.column || ee.Topic != "tandem.shop.public.order_line" || !strings.Contains(ee.Reason, tc.reason) {
				t.Fatalf("err = %v, want an EncodeError for column %s saying %q", err, tc.column, tc.reason)
			}
		})
	}
	// A key column needs a value.
	r := slices.Clone(row)
	r[0] = capture.Unchanged
	_, err := s.Change(ctx, tx, &capture.Change{Op: capture.OpInsert, Table: kindsTable(), After: r})
	var ee *EncodeError
	if !errors.As(err, &ee) || ee.Column != "id" {
		t.Errorf("unknown key value: err = %v, want an EncodeError for id", err)
	}
	// The exact boundaries pass.
	r = slices.Clone(row)
	r[8] = rat("-9999999999.99")
	r[7] = rat("-99999999999999999.99999999")
	if _, err := s.Change(ctx, tx, &capture.Change{Op: capture.OpInsert, Table: kindsTable(), After: r}); err != nil {
		t.Errorf("the largest values of numeric(12,2) and numeric(26,8): %v", err)
	}
}

func TestDecimalText(t *testing.T) {
	for in, want := range map[string]string{
		"0": "0", "-12": "-12", "1/8": "0.125", "-3/40": "-0.075", "123456789012345678901234567890.5": "123456789012345678901234567890.5",
		"1/1024": "0.0009765625",
	} {
		if got, ok := decimalText(rat(in)); !ok || got != want {
			t.Errorf("decimalText(%s) = %q, %v; want %q", in, got, ok, want)
		}
	}
	if _, ok := decimalText(rat("2/3")); ok {
		t.Error("decimalText(2/3) claims a finite expansion")
	}
}

// BenchmarkSerializerChange encodes an 8-column insert of mixed types.
func BenchmarkSerializerChange(b *testing.B) {
	ctx := context.Background()
	s, _ := newSerializer(b, &memRegistry{})
	tbl := &capture.Table{Database: "shop", Schema: "public", Name: "orders", Version: 1, Columns: []capture.Column{
		{Name: "id", Type: capture.Type{Kind: capture.KindInt64, Source: "int8"}, Key: true},
		{Name: "number", Type: capture.Type{Kind: capture.KindString, Source: "varchar(20)"}},
		{Name: "total", Type: capture.Type{Kind: capture.KindDecimal, Precision: 12, Scale: 2, Source: "numeric(12,2)"}},
		{Name: "created_at", Type: capture.Type{Kind: capture.KindTimestampTZ, Source: "timestamptz"}},
		{Name: "paid", Type: capture.Type{Kind: capture.KindBool, Source: "bool"}},
		{Name: "lines", Type: capture.Type{Kind: capture.KindInt32, Source: "int4"}},
		{Name: "note", Type: capture.Type{Kind: capture.KindString, Source: "text"}, Nullable: true},
		{Name: "ship_on", Type: capture.Type{Kind: capture.KindDate, Source: "date"}},
	}}
	row := capture.Row{int64(1000042), "SO-2025-000000042-AB", rat("1234.56"), time.Date(2025, 1, 2, 3, 4, 5, 678901000, time.UTC),
		true, int64(3), strings.Repeat("n", 60), time.Date(2025, 1, 9, 0, 0, 0, 0, time.UTC)}
	tx := &capture.TxBegin{ID: "771", Position: lsn(0x16B3748), CommitTime: time.Date(2025, 1, 2, 3, 4, 6, 0, time.UTC)}
	c := &capture.Change{Op: capture.OpInsert, Table: tbl, After: row}
	if _, err := s.Change(ctx, tx, c); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	var n int
	for i := 0; b.Loop(); i++ {
		c.Seq = uint64(i)
		rec, err := s.Change(ctx, tx, c)
		if err != nil {
			b.Fatal(err)
		}
		n += len(rec.Value)
	}
	b.SetBytes(int64(n / max(b.N, 1)))
}

// TestEncodingFormMatchesLogicalTypes checks that what the Serializer
// encodes with the plain Avro type is byte for byte what goavro encodes
// with the registered logical type, so consumers decode it exactly.
func TestEncodingFormMatchesLogicalTypes(t *testing.T) {
	var sc scratch
	enc := func(kind capture.Kind, p, s int, v any) ([]byte, []byte) {
		t.Helper()
		a, err := typeOf(&capture.Type{Kind: kind, Precision: p, Scale: s})
		if err != nil {
			t.Fatal(err)
		}
		logical, err := goavro.NewCodec(marshal(a.schema(false)))
		if err != nil {
			t.Fatal(err)
		}
		plain, err := goavro.NewCodec(marshal(a.schema(true)))
		if err != nil {
			t.Fatal(err)
		}
		n, why := newValueCodec(a).native(v, &sc)
		if why != "" {
			t.Fatalf("%s %v: %s", kind, v, why)
		}
		ours, err := plain.BinaryFromNative(nil, n)
		if err != nil {
			t.Fatal(err)
		}
		lv := v
		if u, ok := v.(uint64); ok {
			lv = new(big.Rat).SetUint64(u)
		}
		theirs, err := logical.BinaryFromNative(nil, lv)
		if err != nil {
			t.Fatal(err)
		}
		back, _, err := logical.NativeFromBinary(ours)
		if err != nil || !capture.Equal(back, lv) && !capture.Equal(back, v) {
			t.Errorf("%s %v decodes back as %v, %v", kind, show(v), show(back), err)
		}
		return ours, theirs
	}
	for _, d := range []string{"0", "1", "-1", "127", "128", "-128", "-129", "255", "256", "-256", "-32768", "32767", "32768",
		"0.01", "-0.01", "-1.28", "1.28", "12345678901234567.12345678", "-99999999999999999.99999999", "99999999999999999.99999999",
		"-12345678901234567.1", "170141183460469231731687303715884105727", "-170141183460469231731687303715884105728"} {
		p, s := 39, 0
		if strings.Contains(d, ".") {
			p, s = 26, 8
		}
		ours, theirs := enc(capture.KindDecimal, p, s, rat(d))
		if !slices.Equal(ours, theirs) {
			t.Errorf("decimal(%d,%d) %s: ours % x, goavro's % x", p, s, d, ours, theirs)
		}
	}
	for _, u := range []uint64{0, 1, 127, 128, 1<<63 - 1, 1 << 63, 18446744073709551615} {
		ours, theirs := enc(capture.KindUint64, 0, 0, u)
		if !slices.Equal(ours, theirs) {
			t.Errorf("uint64 %d: ours % x, goavro's % x", u, ours, theirs)
		}
	}
	for _, ts := range []time.Time{time.Unix(0, 0).UTC(), time.Date(1901, 12, 13, 20, 45, 52, 999999000, time.UTC),
		time.Date(2038, 1, 19, 3, 14, 8, 1000, time.UTC), time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC)} {
		for _, k := range []capture.Kind{capture.KindTimestamp, capture.KindTimestampTZ} {
			if ours, theirs := enc(k, 0, 0, ts); !slices.Equal(ours, theirs) {
				t.Errorf("%s %s: ours % x, goavro's % x", k, ts, ours, theirs)
			}
		}
		day := time.Date(ts.Year(), ts.Month(), ts.Day(), 0, 0, 0, 0, time.UTC)
		if ours, theirs := enc(capture.KindDate, 0, 0, day); !slices.Equal(ours, theirs) {
			t.Errorf("date %s: ours % x, goavro's % x", day, ours, theirs)
		}
	}
	for _, d := range []time.Duration{0, time.Microsecond, 24 * time.Hour, 13*time.Hour + 999999*time.Microsecond} {
		if ours, theirs := enc(capture.KindTime, 0, 0, d); !slices.Equal(ours, theirs) {
			t.Errorf("time %s: ours % x, goavro's % x", d, ours, theirs)
		}
	}
}

func TestSerializerTableWithoutKey(t *testing.T) {
	ctx := context.Background()
	m := &memRegistry{}
	s, dec := newSerializer(t, m)
	tbl := &capture.Table{Database: "shop", Schema: "public", Name: "audit log", Version: 1, Columns: []capture.Column{
		{Name: "line", Type: capture.Type{Kind: capture.KindString, Source: "text"}, Nullable: true},
	}}
	rec, err := s.Change(ctx, &capture.TxBegin{ID: "9", Position: lsn(9)}, &capture.Change{Op: capture.OpInsert, Table: tbl, After: capture.Row{"hello"}})
	if err != nil {
		t.Fatal(err)
	}
	if rec.Key != nil || rec.Topic != "tandem.shop.public.audit_log" {
		t.Errorf("record key % x topic %q; want no key on tandem.shop.public.audit_log", rec.Key, rec.Topic)
	}
	if got := m.versions(rec.Topic + "-key"); len(got) != 0 {
		t.Errorf("a key schema was registered for a table without key: %v", got)
	}
	env, _, err := dec.Decode(ctx, rec.Value)
	if err != nil {
		t.Fatal(err)
	}
	checkRow(t, "after", env["after"], map[string]any{"line": "hello"})
}
