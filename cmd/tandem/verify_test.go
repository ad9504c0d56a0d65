package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tandem-sync/tandem/capture"
	"github.com/tandem-sync/tandem/mapping"
)

func dec(s string) *big.Rat {
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		panic(s)
	}
	return r
}

// squeeze returns the lines of out with each run of spaces made one.
func squeeze(out string) []string {
	var lines []string
	for l := range strings.Lines(out) {
		lines = append(lines, strings.Join(strings.Fields(l), " "))
	}
	return lines
}

// wantLines fails the test for each of want that is not a line of out
// (spaces squeezed).
func wantLines(t *testing.T, out string, want ...string) {
	t.Helper()
	lines := squeeze(out)
	for _, w := range want {
		if !slices.Contains(lines, w) {
			t.Errorf("no line %q in:\n%s", w, out)
		}
	}
}

func TestCompareFlow(t *testing.T) {
	from := map[string]map[string]any{
		"email=ann": {"email": "ann", "last_name": "Lee", "balance": dec("19.90000000"), "address": map[string]any{"city": "Lyon"}},
		"email=bob": {"email": "bob", "last_name": "Bee", "balance": dec("5")},
		"email=cy":  {"email": "cy", "last_name": "Cy"},
		"email=eve": {"email": "eve", "last_name": "Eve", "note": "not compared"},
	}
	to := map[string]map[string]any{
		// a decimal of another scale, a record with a null field more, a
		// field that is absent on one side and null on the other: equal
		"email=ann": {"email": "ann", "last_name": "Lee", "balance": dec("19.9"), "address": map[string]any{"city": "Lyon", "company": nil}},
		"email=bob": {"email": "bob", "last_name": "Bee", "balance": dec("5.01")},
		"email=cy":  {"email": "cy", "last_name": "Cyan", "balance": nil, "address": map[string]any{"city": "Paris"}},
		"email=dee": {"email": "dee", "last_name": "Dee"},
	}
	f := verifyFlow{Entity: "customer", From: "shop", To: "erp", Fields: []string{"address", "balance", "email", "last_name"}, Creates: true}
	res, diffs, total := compareFlow(f, from, to, -1)
	if fmt.Sprint(res.Compared, res.Equal, res.Different, res.Missing, res.Extra, res.OneSided) != "3 1 2 1 1 0" || !res.drift() {
		t.Errorf("summary %+v", res)
	}
	var got []string
	for _, d := range diffs {
		got = append(got, fmt.Sprintf("%s %s %s %s %s", d.Kind, d.Key, d.Field, mapping.ValueText(d.FromValue), mapping.ValueText(d.ToValue)))
	}
	want := []string{
		`different email=bob balance 5 5.01`,
		`different email=cy address null {city="Paris"}`,
		`different email=cy last_name "Cy" "Cyan"`,
		`extra email=dee  null {email="dee", last_name="Dee"}`,
		`missing email=eve  {email="eve", last_name="Eve"} null`,
	}
	if !slices.Equal(got, want) || total != 5 {
		t.Errorf("differences (%d):\n%s\nwant\n%s", total, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if diffs[0].Entity != "customer" || diffs[0].From != "shop" || diffs[0].To != "erp" {
		t.Errorf("difference %+v", diffs[0])
	}
	// the first room differences are kept, all are counted
	if _, diffs, total := compareFlow(f, from, to, 2); len(diffs) != 2 || total != 5 || diffs[1].Field != "address" {
		t.Errorf("room 2: %d kept of %d: %+v", len(diffs), total, diffs)
	}
	// equal both ways
	if res, diffs, _ := compareFlow(f, from, from, -1); res.drift() || res.Equal != 4 || len(diffs) != 0 {
		t.Errorf("equal: %+v %v", res, diffs)
	}
	// create: false: instances on one side only are not drift
	f.Creates = false
	if res, _, _ := compareFlow(f, from, to, -1); res.Missing+res.Extra != 0 || res.OneSided != 2 || res.Different != 2 {
		t.Errorf("create: false: %+v", res)
	}
}

func TestSameValue(t *testing.T) {
	for _, c := range []struct {
		a, b any
		want bool
	}{
		{dec("19.90"), dec("19.9"), true},
		{dec("1"), int64(1), false},
		{nil, "", false},
		{map[string]any{"a": int64(1)}, map[string]any{"a": int64(1), "b": nil}, true},
		{map[string]any{"a": int64(1)}, map[string]any{"a": int64(2)}, false},
		{map[string]any{}, nil, false},
		{"x", map[string]any{}, false},
		{[]any{map[string]any{"a": "x"}}, []any{map[string]any{"a": "x"}}, true},
		{[]any{"x"}, []any{"x", "y"}, false},
		// a DATETIME without fractions holds the other side's time to the second
		{time.Date(2026, 1, 2, 3, 4, 5, 330159000, time.UTC), time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), true},
		{time.Date(2026, 1, 2, 3, 4, 6, 0, time.UTC), time.Date(2026, 1, 2, 3, 4, 5, 330159000, time.UTC), false},
		{time.Date(2026, 1, 2, 3, 4, 5, 1000, time.UTC), time.Date(2026, 1, 2, 3, 4, 5, 2000, time.UTC), false},
	} {
		if got := sameValue(c.a, c.b); got != c.want {
			t.Errorf("sameValue(%#v, %#v) = %v", c.a, c.b, got)
		}
	}
}

// verifyConfig is a shop (MariaDB) and an ERP (PostgreSQL) exchanging
// customers and orders; the ERP's orders refer to their customer. Nothing
// listens at the DSNs.
const verifyConfig = `systems:
  shop:
    kind: mysql
    dsn: u:p@tcp(127.0.0.1:1)/shop
    capture: {server_id: 9}
    entities:
      customer:
        table: shop.customer
        id: customer_id
        fields: {email: email, last_name: last_name}
      order:
        table: shop.orders
        id: id
        create: false
        fields:
          number: {column: id, cast: string}
          customer_email: billing_email
          status: {column: status, map: {wc-pending: pending, wc-completed: completed}}
          total: total_amount
          currency: currency
  erp:
    kind: postgres
    dsn: postgres://u:p@127.0.0.1:1/erp
    entities:
      customer:
        table: public.partner
        id: id
        where: {type: contact}
        fields: {email: email, last_name: name}
      order:
        table: public.sale_order
        id: id
        fields:
          number: client_order_ref
          customer_email: {column: partner_id, ref: customer}
          status: {column: state, map: {draft: pending, done: completed}}
          total: amount_total
          currency: currency
` + verifyFlowsYAML + `kafka: {brokers: ["127.0.0.1:1"]}
schema_registry: {url: "http://127.0.0.1:1/apis/ccompat/v7"}
`

// verifyFlowsYAML is the ownership and flows of verify's tests: customers
// and orders go shop -> erp, order status comes back.
const verifyFlowsYAML = `ownership:
  customer: {owner: shop}
  order: {owner: shop, fields: {status: erp}}
flows:
  - {entity: customer, from: shop, to: erp}
  - {entity: order, from: shop, to: erp}
  - {entity: order, from: erp, to: shop, fields: [status]}
`

// fakeTables is a mapping.TableSource over tables in memory, by qualified
// name, each with its rows in key order.
type fakeTables map[string]*fakeTable

type fakeTable struct {
	t    *capture.Table
	rows []capture.Row
}

// table makes a table of columns "name kind", the first the key.
func table(qualified string, rows []capture.Row, cols ...string) *fakeTable {
	db, name := capture.SplitTable(qualified)
	t := &capture.Table{Database: db, Schema: db, Name: name, Version: 1}
	kinds := map[string]capture.Kind{"int": capture.KindInt64, "text": capture.KindString, "decimal": capture.KindDecimal}
	for i, c := range cols {
		n, k, _ := strings.Cut(c, " ")
		t.Columns = append(t.Columns, capture.Column{Name: n, Type: capture.Type{Kind: kinds[k]}, Key: i == 0})
	}
	return &fakeTable{t: t, rows: rows}
}

func (f fakeTables) Rows(_ context.Context, name, column string, values []string) (*capture.Table, []capture.Row, error) {
	ft := f[name]
	i := ft.t.ColumnIndex(column)
	var out []capture.Row
	for _, r := range ft.rows {
		if slices.Contains(values, fmt.Sprint(r[i])) {
			out = append(out, r)
		}
	}
	return ft.t, out, nil
}

func (f fakeTables) Scan(_ context.Context, name string, fn func(*capture.Table, capture.Row) error) error {
	ft := f[name]
	for _, r := range ft.rows {
		if err := fn(ft.t, r); err != nil {
			return err
		}
	}
	return nil
}

// verifyFakes are the shop's and the ERP's tables: a customer and an order
// equal on both sides (the order's total at another scale, its customer by
// reference), a customer and an order differing (a name; the customer the
// order refers to), one of each missing in the ERP and one of each extra.
func verifyFakes() map[string]mapping.TableSource {
	shop := fakeTables{
		"shop.customer": table("shop.customer", []capture.Row{
			{int64(1), "ann@example.com", "Lee"}, {int64(2), "bob@example.com", "Bee"},
			{int64(3), "cy@example.com", "Cy"}, {int64(4), "eve@example.com", "Eve"},
		}, "customer_id int", "email text", "last_name text"),
		"shop.orders": table("shop.orders", []capture.Row{
			{int64(1001), "ann@example.com", "wc-pending", dec("19.90000000"), "EUR"},
			{int64(1002), "bob@example.com", "wc-completed", dec("5"), "EUR"},
			{int64(1003), "ann@example.com", "wc-pending", dec("1"), "EUR"},
		}, "id int", "billing_email text", "status text", "total_amount decimal", "currency text"),
	}
	erp := fakeTables{
		"public.partner": table("public.partner", []capture.Row{
			{int64(10), "ann@example.com", "Lee", "contact"}, {int64(11), "bob@example.com", "Bee", "contact"},
			{int64(12), "cy@example.com", "Cyan", "contact"}, {int64(13), "dee@example.com", "Dee", "contact"},
			{int64(14), "org@example.com", "Org", "company"}, // not a customer
		}, "id int", "email text", "name text", "type text"),
		"public.sale_order": table("public.sale_order", []capture.Row{
			{int64(1), "1001", int64(10), "draft", dec("19.9"), "EUR"},
			{int64(2), "1002", int64(10), "done", dec("5"), "EUR"},
			{int64(3), "1004", int64(11), "draft", dec("2"), "EUR"},
		}, "id int", "client_order_ref text", "partner_id int", "state text", "amount_total decimal", "currency text"),
	}
	return map[string]mapping.TableSource{"shop": shop, "erp": erp}
}

func TestVerifyFakeSystems(t *testing.T) {
	cfg := loadTestConfig(t, "tandem.yaml", []byte(verifyConfig))
	flows, err := verifyFlows(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(flows); got != "[{customer shop erp [email last_name] map[] true} {order shop erp [currency customer_email number total] map[] true} {order erp shop [status] map[] false}]" {
		t.Errorf("flows %s", got)
	}
	rep, err := verify(context.Background(), cfg, flows, verifyFakes(), 0)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	printVerify(&out, rep)
	wantLines(t, out.String(),
		"ENTITY FROM TO FIELDS COMPARED EQUAL DIFFERENT MISSING EXTRA",
		"customer shop erp 2 3 2 1 1 1",
		"order shop erp 4 2 1 1 1 1",
		"order erp shop 1 2 2 0 - -",
		"order erp -> shop: shop never creates order rows (create: false): 2 on one side only, not compared",
		"KIND ENTITY FROM TO KEY FIELD FROM VALUE TO VALUE",
		`different customer shop erp email=cy@example.com last_name "Cy" "Cyan"`,
		`extra customer shop erp email=dee@example.com - (none) {email="dee@example.com", last_name="Dee"}`,
		`missing customer shop erp email=eve@example.com - {email="eve@example.com", last_name="Eve"} (none)`,
		// the reference compares by the customer's natural key; 19.90000000 equals 19.9
		`different order shop erp number=1002 customer_email "bob@example.com" "ann@example.com"`,
		`missing order shop erp number=1003 - {currency="EUR", customer_email="ann@example.com", number="1003", total=1} (none)`,
		`extra order shop erp number=1004 - (none) {currency="EUR", customer_email="bob@example.com", number="1004", total=2}`,
		"Drift in 2 of 3 flows: 2 missing, 2 extra, 2 different (6 differences).",
	)
	if strings.Contains(out.String(), "number=1001") || strings.Contains(out.String(), "org@example.com") {
		t.Errorf("an equal order or a non-customer is listed:\n%s", out.String())
	}

	// the first differences only, and JSON
	rep, err = verify(context.Background(), cfg, flows, verifyFakes(), 2)
	if err != nil {
		t.Fatal(err)
	}
	out.Reset()
	printVerify(&out, rep)
	wantLines(t, out.String(), "Showing the first 2 of 6 differences; --limit 0 shows all.")
	out.Reset()
	if err := printVerifyJSON(&out, rep); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Drift       bool `json:"drift"`
		Total       int  `json:"total_differences"`
		Flows       []flowResult
		Differences []map[string]any
	}
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if !doc.Drift || doc.Total != 6 || len(doc.Flows) != 3 || doc.Flows[2].OneSided != 2 || len(doc.Differences) != 2 ||
		doc.Differences[0]["kind"] != "different" || doc.Differences[0]["to_value"] != "Cyan" {
		t.Errorf("json %+v\n%s", doc, out.String())
	}

	// equal sides
	same := verifyFakes()
	same["erp"] = fakeTables{
		"public.partner": table("public.partner", []capture.Row{
			{int64(10), "ann@example.com", "Lee", "contact"}, {int64(11), "bob@example.com", "Bee", "contact"},
			{int64(12), "cy@example.com", "Cy", "contact"}, {int64(13), "eve@example.com", "Eve", "contact"},
		}, "id int", "email text", "name text", "type text"),
		"public.sale_order": table("public.sale_order", []capture.Row{
			{int64(1), "1001", int64(10), "draft", dec("19.9"), "EUR"},
			{int64(2), "1002", int64(11), "done", dec("5.00"), "EUR"},
			{int64(3), "1003", int64(10), "draft", dec("1"), "EUR"},
		}, "id int", "client_order_ref text", "partner_id int", "state text", "amount_total decimal", "currency text"),
	}
	rep, err = verify(context.Background(), cfg, flows, same, 20)
	if err != nil || rep.Drift {
		t.Fatalf("equal sides: %v %+v", err, rep)
	}
	out.Reset()
	printVerify(&out, rep)
	wantLines(t, out.String(), "order erp shop 1 3 3 0 - -", "No drift: 3 flows, 10 instances compared, all equal.")

	// what was skipped, at most maxNotes reasons per system and entity
	skipped := map[string]int{}
	for i := range maxNotes + 3 {
		skipped[fmt.Sprintf("field sku refers to product %d, which cannot be found", 10+i)] = 1
	}
	rep.Flows[0].Skipped = map[string]map[string]int{"shop": skipped, "erp": {mapping.ReasonNoKey: 2}}
	out.Reset()
	printVerify(&out, rep)
	wantLines(t, out.String(), "erp customer: 2 skipped: no natural key",
		"shop customer: 1 skipped: field sku refers to product 10, which cannot be found",
		"shop customer: 3 more reasons (--format json lists them)")
	if strings.Contains(out.String(), "product 22") {
		t.Errorf("more than %d reasons:\n%s", maxNotes, out.String())
	}
}

func TestVerifyUsage(t *testing.T) {
	path := tempConfig(t, verifyConfig)
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--format", "xml"}, exitBadUsage, `--format "xml" is not one of text, json`},
		{[]string{"--limit", "-1"}, exitBadUsage, "--limit -1: give 0 (all) or more"},
		{[]string{"--entity", "customer,invoice"}, exitBadUsage, "--entity invoice: no flow carries it (entities that flow: customer, order)"},
		{[]string{"extra"}, exitBadUsage, `unexpected argument "extra"`},
		{[]string{"--nope"}, exitBadUsage, "unknown flag: --nope"},
		// nothing listens: the connection fails
		{[]string{"--entity", "customer"}, exitFailed, "system shop: row source: nothing accepts connections"},
	} {
		out, code := run(t, append([]string{"verify", "--config", path}, c.args...)...)
		if code != c.code || !strings.Contains(out, c.want) {
			t.Errorf("%v: exit %d, want %d and %q:\n%s", c.args, code, c.code, c.want, out)
		}
	}
	out, code := run(t, "verify", "--help")
	for _, want := range []string{"missing    an instance in the from-system", "create: false", "Exit code 0 when both sides are equal", "--entity", "--limit"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("verify --help lacks %q", want)
		}
	}
}
