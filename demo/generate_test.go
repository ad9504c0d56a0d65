package demo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
)

func TestMoneyParseExact(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int64
	}{
		{"12.34", 1234}, {"12.3", 1230}, {"20", 2000}, {"0", 0}, {".5", 50}, {"7.", 700},
		{"47.36000000", 4736}, {"-0.05", -5}, {"+3.10", 310}, {" 19.90 ", 1990},
		{"0.005", 1}, {"0.00499999", 0}, {"-0.005", -1}, {"19.994", 1999}, {"19.995", 2000},
		{"999999999999999.99", 99999999999999999},
	} {
		got, err := parseCents(c.in)
		if err != nil || got != c.want {
			t.Errorf("parseCents(%q) = %d, %v; want %d", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{"", "-", ".", "abc", "1e3", "1.2.3", "12,50", "0x10", "1 000", "1234567890123456"} {
		if got, err := parseCents(bad); err == nil {
			t.Errorf("parseCents(%q) = %d, want an error", bad, got)
		}
	}
}

func TestMoneyFormatExact(t *testing.T) {
	// decimal columns (seedDec) and WooCommerce meta values (seedWC)
	for _, c := range []struct {
		cents   int64
		dec, wc string
	}{
		{1234, "12.34", "12.34"}, {1990, "19.90", "19.9"}, {5000, "50.00", "50"}, {0, "0.00", "0"},
		{5, "0.05", "0.05"}, {-5, "-0.05", "-0.05"}, {-123456, "-1234.56", "-1234.56"},
		{99999999999999999, "999999999999999.99", "999999999999999.99"},
	} {
		if got := seedDec(c.cents); got != c.dec {
			t.Errorf("seedDec(%d) = %q, want %q", c.cents, got, c.dec)
		}
		if got := seedWC(c.cents); got != c.wc {
			t.Errorf("seedWC(%d) = %q, want %q", c.cents, got, c.wc)
		}
		for _, s := range []string{seedDec(c.cents), seedWC(c.cents)} {
			if back, err := parseCents(s); err != nil || back != c.cents {
				t.Errorf("parseCents(%q) = %d, %v; want %d back", s, back, err, c.cents)
			}
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 10000 {
		c := r.Int64N(2e12) - 1e12
		if back, err := parseCents(seedDec(c)); err != nil || back != c {
			t.Fatalf("round trip of %d: %q -> %d, %v", c, seedDec(c), back, err)
		}
	}
}

func TestMulDivRound(t *testing.T) {
	for _, c := range []struct{ a, b, d, want int64 }{
		{1990, 190000, 1_000_000, 378}, // 378.1
		{450, 70000, 1_000_000, 32},    // 31.5 rounds up
		{-450, 70000, 1_000_000, -32},  // and away from zero
		{1, 1, 3, 0}, {2, 1, 3, 1}, {10, 1, 4, 3}, {-10, 1, 4, -3}, {10, -1, 4, -3},
		{math.MaxInt64 / 2, 4, 4, math.MaxInt64 / 2}, // no overflow in between
	} {
		if got := mulDivRound(c.a, c.b, c.d); got != c.want {
			t.Errorf("mulDivRound(%d, %d, %d) = %d, want %d", c.a, c.b, c.d, got, c.want)
		}
	}
}

func TestTaxRate(t *testing.T) {
	pct, err := parseScaled("19.0000", 4)
	if err != nil || pct != 190000 {
		t.Fatalf("parseScaled(19.0000) = %d, %v", pct, err)
	}
	r := taxRate{id: 3, country: "DE", name: "19%", priority: 1, percent: pct}
	if got := r.code(); got != "DE-19%-1" {
		t.Errorf("code = %q", got)
	}
	if got := (taxRate{priority: 2, percent: 72500}).code(); got != "TAX-2" {
		t.Errorf("code without country and name = %q", got)
	}
	if got := r.percentString(); got != "19" {
		t.Errorf("percentString = %q", got)
	}
	if got := (taxRate{percent: 72500}).percentString(); got != "7.25" {
		t.Errorf("percentString 7.25 = %q", got)
	}
	rates := []taxRate{
		{id: 1, country: "DE", class: "", percent: 190000},
		{id: 2, country: "DE", class: "reduced-rate", percent: 70000},
		{id: 3, country: "", class: "zero-rate", percent: 0},
	}
	for _, c := range []struct {
		class, country string
		want           int64
	}{{"", "DE", 1}, {"standard", "de", 1}, {"reduced-rate", "DE", 2}, {"zero-rate", "FR", 3}, {"", "FR", 0}} {
		got, ok := rateFor(rates, c.class, c.country)
		if got.id != c.want || ok != (c.want != 0) {
			t.Errorf("rateFor(%q, %q) = %d, %v; want %d", c.class, c.country, got.id, ok, c.want)
		}
	}
}

func TestPriceOrderTotalsFromLines(t *testing.T) {
	std := taxRate{id: 1, name: "19%", percent: 190000}
	red := taxRate{id: 2, name: "7%", percent: 70000}
	ship := shippingRule{flat: 490, freeFrom: 5000, rate: std}
	o := priceOrder([]lineInput{
		{productID: 10, qty: 2, unitCents: 1290, rate: std}, // 25.80, tax 4.90
		{productID: 11, qty: 1, unitCents: 450, rate: red},  // 4.50, tax 0.32 (0.315 rounds up)
		{productID: 12, qty: 3, unitCents: 100},             // untaxed
	}, 0, ship)
	want := []pricedLine{
		{subtotal: 2580, subtotalTax: 490, total: 2580, tax: 490},
		{subtotal: 450, subtotalTax: 32, total: 450, tax: 32},
		{subtotal: 300, total: 300},
	}
	for i, l := range o.lines {
		if l.subtotal != want[i].subtotal || l.subtotalTax != want[i].subtotalTax || l.total != want[i].total || l.tax != want[i].tax {
			t.Errorf("line %d = %+v, want %+v", i, l, want[i])
		}
	}
	// net 33.30 < 50: flat shipping 4.90 with 0.93 tax
	if o.shipping != 490 || o.shippingTax != 93 {
		t.Errorf("shipping = %d + %d", o.shipping, o.shippingTax)
	}
	if o.tax != 490+32+93 || o.total != 2580+490+450+32+300+490+93 {
		t.Errorf("tax = %d, total = %d", o.tax, o.total)
	}
	if seedDec(o.total) != "44.35" || seedDec(o.tax) != "6.15" {
		t.Errorf("formatted: total %s, tax %s", seedDec(o.total), seedDec(o.tax))
	}

	// a 10 % coupon comes off each line before tax; free shipping from 50.00
	o = priceOrder([]lineInput{{qty: 3, unitCents: 1999, rate: std}}, 10, ship)
	l := o.lines[0]
	if l.subtotal != 5997 || l.total != 5397 || l.subtotalTax != 1139 || l.tax != 1025 {
		t.Errorf("coupon line = %+v", l)
	}
	if o.discount != 600 || o.discountTax != 114 || o.shipping != 0 || o.total != 5397+1025 {
		t.Errorf("coupon order = %+v", o)
	}

	// property: whatever the lines, the order adds up
	r := rand.New(rand.NewPCG(7, 7))
	for range 2000 {
		var in []lineInput
		for range 1 + r.IntN(5) {
			in = append(in, lineInput{qty: 1 + r.Int64N(4), unitCents: 1 + r.Int64N(20000),
				rate: []taxRate{{}, std, red}[r.IntN(3)]})
		}
		o := priceOrder(in, []int64{0, 10, 15}[r.IntN(3)], ship)
		var total, tax, discount int64
		for _, l := range o.lines {
			if l.subtotal != l.unitCents*l.qty || l.total > l.subtotal || l.tax != l.rate.of(l.total) {
				t.Fatalf("line %+v", l)
			}
			total += l.total + l.tax
			tax += l.tax
			discount += l.subtotal - l.total
		}
		if o.total != total+o.shipping+o.shippingTax || o.tax != tax+o.shippingTax || o.discount != discount {
			t.Fatalf("order %+v does not add up: lines %d, tax %d", o, total, tax)
		}
		if items := taxItems(o); sumTaxItems(items) != o.tax-taxOfUnrated(o) {
			t.Fatalf("tax items %+v do not add up to %d", items, o.tax)
		}
	}
}

func sumTaxItems(items []taxItem) int64 {
	var n int64
	for _, t := range items {
		n += t.tax + t.shippingTax
	}
	return n
}

func taxOfUnrated(o pricedOrder) int64 {
	var n int64
	for _, l := range o.lines {
		if l.rate.id == 0 {
			n += l.tax
		}
	}
	return n
}

func TestTaxItemsPerRate(t *testing.T) {
	std := taxRate{id: 4, percent: 190000}
	red := taxRate{id: 2, percent: 70000}
	o := priceOrder([]lineInput{{qty: 1, unitCents: 1000, rate: std}, {qty: 1, unitCents: 1000, rate: red},
		{qty: 1, unitCents: 2000, rate: std}}, 0, shippingRule{flat: 490, freeFrom: 99999, rate: std})
	items := taxItems(o)
	if len(items) != 2 || items[0].rate.id != 2 || items[0].tax != 70 || items[1].rate.id != 4 ||
		items[1].tax != 570 || items[1].shippingTax != 93 {
		t.Errorf("tax items = %+v", items)
	}
}

func TestLineTaxDataIsPHP(t *testing.T) {
	l := pricedLine{lineInput: lineInput{rate: taxRate{id: 1}}, subtotalTax: 190, tax: 171}
	want := `a:2:{s:5:"total";a:1:{i:1;s:4:"1.71";}s:8:"subtotal";a:1:{i:1;s:3:"1.9";}}`
	if got := lineTaxData(l); got != want {
		t.Errorf("lineTaxData = %s\nwant          %s", got, want)
	}
	if got := lineTaxData(pricedLine{}); got != `a:2:{s:5:"total";a:0:{}s:8:"subtotal";a:0:{}}` {
		t.Errorf("untaxed lineTaxData = %s", got)
	}
}

func TestOpMixRespectsWeights(t *testing.T) {
	weights := map[Op]int{OpPlaceOrder: 50, OpConfirmOrder: 30, OpShipOrder: 15, OpApproveReturn: 5, OpChangePrice: 0}
	m, err := newOpMix(weights)
	if err != nil {
		t.Fatal(err)
	}
	const n = 200000
	r := rand.New(rand.NewPCG(42, 1))
	got := map[Op]int{}
	for range n {
		got[m.pick(r)]++
	}
	for op, w := range weights {
		want := float64(n) * float64(w) / 100
		if math.Abs(float64(got[op])-want) > 0.02*n {
			t.Errorf("%s drawn %d times, want about %.0f", op, got[op], want)
		}
	}
	if got[OpChangePrice] != 0 || len(got) != 4 {
		t.Errorf("drawn: %v (weight 0 and unlisted ops must never run)", got)
	}
	// the same seed gives the same sequence
	a, b := rand.New(rand.NewPCG(9, 9)), rand.New(rand.NewPCG(9, 9))
	for range 1000 {
		if m.pick(a) != m.pick(b) {
			t.Fatal("the same seed gave two sequences")
		}
	}
	if _, err := newOpMix(map[Op]int{OpPlaceOrder: 0}); err == nil {
		t.Error("a mix without weights must be refused")
	}
	def, _ := newOpMix(DefaultMix())
	if len(def.ops) != len(Ops()) {
		t.Errorf("the default mix runs %v, want every op", def.ops)
	}
}

func TestParseMix(t *testing.T) {
	m, err := ParseMix(" place_order=30, confirm_order = 20,ship_order=0 ")
	if err != nil {
		t.Fatal(err)
	}
	if len(m) != 3 || m[OpPlaceOrder] != 30 || m[OpConfirmOrder] != 20 || m[OpShipOrder] != 0 {
		t.Errorf("ParseMix = %v", m)
	}
	for _, bad := range []string{"place_order", "fly=3", "place_order=-1", "place_order=x"} {
		if _, err := ParseMix(bad); err == nil {
			t.Errorf("ParseMix(%q) must fail", bad)
		}
	}
}

func TestNewPrice(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	for range 5000 {
		old := 50 + r.Int64N(20000)
		p := newPrice(r, old)
		if p == old || p < 99 || p%100 != 99 {
			t.Fatalf("newPrice(%d) = %d", old, p)
		}
		if p != old+100 && (p > old*112/100+51 || p < old*88/100-101) {
			t.Fatalf("newPrice(%d) = %d: too far", old, p)
		}
	}
}

func TestMoveLinesBalance(t *testing.T) {
	inc, rec, tx := int64(2), int64(1), int64(3)
	j := &journal{income: &inc, receivable: &rec, taxAcc: &tx, taxes: map[int64]int64{19: 7, 7: 8}, name: "INV/2026/00001"}
	lines := []erpLine{
		{name: "Mug", qtyCents: 200, unitCents: 1290, untaxed: 2580, tax: 490, total: 3070},
		{name: "Tea", qtyCents: 100, unitCents: 450, untaxed: 450, tax: 32, total: 482},
		{name: "Book", qtyCents: 100, unitCents: 2000, untaxed: 2000, tax: 140, total: 2140},
		{name: "Gift card", qtyCents: 100, unitCents: 2500, untaxed: 2500, total: 2500},
	}
	for _, sign := range []int64{1, -1} {
		ml := moveLines(j, lines, sign)
		var sum, receivable int64
		taxes := map[int64]int64{}
		for _, l := range ml {
			sum += l.balance
			switch l.displayType {
			case "payment_term":
				receivable = l.balance
			case "tax":
				taxes[*l.taxLine] += -sign * l.balance
			}
		}
		if sum != 0 {
			t.Errorf("sign %d: the journal items do not balance: %+v", sign, ml)
		}
		if receivable != sign*(2580+490+450+32+2000+140+2500) {
			t.Errorf("sign %d: receivable %d", sign, receivable)
		}
		if len(taxes) != 2 || taxes[7] != 490 || taxes[8] != 172 {
			t.Errorf("sign %d: tax lines by tax %v", sign, taxes)
		}
	}
}

func TestPickSQL(t *testing.T) {
	my := pickSQL(false, "t.id", "wp_wc_orders", "id", "t.type = ?", 1)
	if strings.Count(my, "?") != 3 || !strings.Contains(my, "FLOOR(? *") || !strings.HasSuffix(my, "ORDER BY t.id LIMIT 1") {
		t.Errorf("MySQL pick: %s", my)
	}
	pg := pickSQL(true, "t.id", "sale_order", "id", "t.state = $1", 1)
	if !strings.Contains(pg, "floor($2::float8 *") || strings.Contains(pg, "?") {
		t.Errorf("PostgreSQL pick: %s", pg)
	}
}

func TestTransient(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{&mysql.MySQLError{Number: 1213}, true},
		{fmt.Errorf("wrapped: %w", &mysql.MySQLError{Number: 1205}), true},
		{&mysql.MySQLError{Number: 1062}, false},
		{retryable{&mysql.MySQLError{Number: 1062}}, true},
		{&pgconn.PgError{Code: "40001"}, true},
		{&pgconn.PgError{Code: "40P01"}, true},
		{&pgconn.PgError{Code: "23505"}, false},
		{errors.New("boom"), false},
		{errIdle, false},
	} {
		if got := transient(c.err); got != c.want {
			t.Errorf("transient(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

func TestTrackingRefs(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	seen := map[int]bool{}
	for range 200 {
		ref := trackingRef(r)
		seen[len(ref)] = true
		if ref == "" || strings.ContainsAny(ref, " -/") {
			t.Fatalf("tracking ref %q", ref)
		}
	}
	if len(seen) < 3 {
		t.Errorf("tracking refs of lengths %v: want several carriers", seen)
	}
}

func TestGenerateOptions(t *testing.T) {
	d := DefaultGenerateOptions()
	if d.Rate <= 0 || d.Workers <= 0 || d.MaxRetries <= 0 || len(d.Mix) != len(Ops()) {
		t.Errorf("defaults %+v", d)
	}
	o, err := GenerateOptions{}.withDefaults()
	if err != nil || o.Rate != d.Rate || o.Workers != d.Workers || o.Seed == 0 || o.Logger == nil || o.Currency != "EUR" {
		t.Errorf("zero options with defaults = %+v, %v", o, err)
	}
	if o, _ := (GenerateOptions{Seed: 7}).withDefaults(); o.Seed != 7 {
		t.Errorf("seed %d", o.Seed)
	}
	for _, bad := range []GenerateOptions{{Rate: -1}, {Workers: -1}, {Mix: map[Op]int{"fly": 1}}, {Mix: map[Op]int{OpPlaceOrder: -2}}} {
		if _, err := bad.withDefaults(); err == nil {
			t.Errorf("%+v must be refused", bad)
		}
	}
	ctx := context.Background()
	if _, err := Generate(ctx, nil, nil, GenerateOptions{Mix: map[Op]int{OpPlaceOrder: 1}}); err == nil || !strings.Contains(err.Error(), "shop") {
		t.Errorf("a shop op without a shop database: %v", err)
	}
	if _, err := Generate(ctx, nil, nil, GenerateOptions{Mix: map[Op]int{OpShipOrder: 1}}); err == nil || !strings.Contains(err.Error(), "ERP") {
		t.Errorf("an ERP op without an ERP database: %v", err)
	}
	if _, err := Generate(ctx, nil, nil, GenerateOptions{Mix: map[Op]int{}}); err == nil {
		t.Error("an empty mix must be refused")
	}
	for _, op := range Ops() {
		if op.Shop() != (op == OpRegisterCustomer || op == OpPlaceOrder || op == OpRequestReturn) {
			t.Errorf("%s.Shop() = %v", op, op.Shop())
		}
	}
}

func TestGenerateStatsString(t *testing.T) {
	s := GenerateStats{Seed: 3, Ops: map[Op]int{OpPlaceOrder: 7, OpShipOrder: 2}, Idle: map[Op]int{OpShipOrder: 1},
		Errors: map[Op]int{}, Retries: 1}
	out := s.String()
	if s.Total() != 9 || !strings.Contains(out, "place_order") || !strings.Contains(out, "seed 3") || strings.Contains(out, "confirm_order") {
		t.Errorf("stats:\n%s", out)
	}
}

func TestOperationRetriesAndOutcomes(t *testing.T) {
	calls := map[Op]int{}
	var fatal error
	g := &generator{opts: GenerateOptions{MaxRetries: 3, MaxConsecutiveErrors: 2, Logger: slog.New(slog.DiscardHandler)},
		stats: GenerateStats{Ops: map[Op]int{}, Idle: map[Op]int{}, Errors: map[Op]int{}},
		fatal: func(err error) { fatal = err }}
	var draws []float64
	g.ops = map[Op]opFunc{
		// a deadlock twice, then it goes through: the same values each time
		OpShipOrder: func(ctx context.Context, r *rand.Rand) error {
			calls[OpShipOrder]++
			draws = append(draws, r.Float64())
			if calls[OpShipOrder] <= 2 {
				return fmt.Errorf("update: %w", &pgconn.PgError{Code: "40P01"})
			}
			return nil
		},
		OpConfirmOrder: func(context.Context, *rand.Rand) error { calls[OpConfirmOrder]++; return errIdle },
		// always a lock wait timeout: given up after MaxRetries
		OpPlaceOrder: func(context.Context, *rand.Rand) error {
			calls[OpPlaceOrder]++
			return &mysql.MySQLError{Number: 1205}
		},
		// a real failure is not retried
		OpIssueInvoice: func(context.Context, *rand.Rand) error { calls[OpIssueInvoice]++; return errors.New("no such table") },
	}
	ctx := context.Background()
	g.do(ctx, OpShipOrder, 77)
	g.do(ctx, OpConfirmOrder, 1)
	if calls[OpShipOrder] != 3 || g.stats.Ops[OpShipOrder] != 1 || g.stats.Retries != 2 || draws[0] != draws[2] {
		t.Errorf("deadlocked op: %d calls, stats %+v, draws %v", calls[OpShipOrder], g.stats, draws)
	}
	if calls[OpConfirmOrder] != 1 || g.stats.Idle[OpConfirmOrder] != 1 {
		t.Errorf("idle op: %d calls, stats %+v", calls[OpConfirmOrder], g.stats)
	}
	g.do(ctx, OpPlaceOrder, 2)
	if calls[OpPlaceOrder] != 4 || g.stats.Errors[OpPlaceOrder] != 1 || fatal != nil {
		t.Errorf("op that keeps timing out: %d calls, stats %+v, fatal %v", calls[OpPlaceOrder], g.stats, fatal)
	}
	g.do(ctx, OpIssueInvoice, 3)
	if calls[OpIssueInvoice] != 1 || g.stats.Errors[OpIssueInvoice] != 1 {
		t.Errorf("failing op: %d calls, stats %+v", calls[OpIssueInvoice], g.stats)
	}
	if fatal == nil || !strings.Contains(fatal.Error(), "2 operations in a row failed") {
		t.Errorf("two failures in a row: fatal = %v", fatal)
	}
	// an operation cut off by the caller's context is no failure
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	g.ops[OpIssueInvoice] = func(ctx context.Context, _ *rand.Rand) error { return ctx.Err() }
	g.do(cancelled, OpIssueInvoice, 4)
	if g.stats.Errors[OpIssueInvoice] != 1 {
		t.Errorf("cancelled op counted as an error: %+v", g.stats)
	}
}
