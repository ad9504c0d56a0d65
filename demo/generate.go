package demo

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tandem-sync/tandem/deploy/fixtures"
)

// The traffic generator (Generate) plays both applications of the demo at a
// steady rate: shoppers and the WooCommerce checkout on the shop's MariaDB,
// warehouse and accounting staff working in Odoo on the ERP's PostgreSQL.
// It writes plain SQL the way those applications do, one realistic
// transaction per operation, and knows nothing of tandem: it only reads the
// rows it acts on. Money is kept in integer cents and written as exact
// decimal strings.

// Op is one kind of operation of the traffic generator.
type Op string

// The operations. Shop operations write the WooCommerce tables, ERP
// operations the Odoo tables; each ERP operation acts on rows that exist
// (random ones, found with cheap indexed queries) and is idle when there are
// none, for example no draft sale order to confirm before tandem brought the
// shop's orders over.
const (
	// OpRegisterCustomer: a shopper creates an account (a
	// wp_wc_customer_lookup row with the next WordPress user id).
	OpRegisterCustomer Op = "register_customer"
	// OpPlaceOrder: a checkout, in one transaction: the HPOS placeholder
	// post, the wp_wc_orders row (shop_order, wc-processing when paid by card
	// or PayPal, wc-pending for a bank transfer), both addresses, the
	// operational data, 1-5 line items with their itemmeta, the tax, shipping
	// and coupon items and a little order meta. About one guest checkout in
	// ten also creates the guest's customer lookup row, as WooCommerce's
	// analytics does.
	OpPlaceOrder Op = "place_order"
	// OpRequestReturn: a customer sends back a paid order's goods: a
	// shop_order_refund order (wc-pending, parent_order_id = the order, a
	// positive total_amount = the line items' totals and taxes).
	OpRequestReturn Op = "request_return"
	// OpReceiveStock: goods arrive: stock_quant.quantity goes up (mostly at
	// the main stock location WH/Stock, the one the preset syncs).
	OpReceiveStock Op = "receive_stock"
	// OpChangePrice: a fixed variant price of the default pricelist changes.
	OpChangePrice Op = "change_price"
	// OpConfirmOrder: a sale order that came from the shop (it has a
	// client_order_ref) goes from draft to sale, with its lines.
	OpConfirmOrder Op = "confirm_order"
	// OpShipOrder: a confirmed order without a delivery is shipped: a done
	// stock_picking (origin = the sale order's name, sale_id = the order, a
	// carrier tracking number), qty_delivered on the lines, and the stock
	// leaves the warehouse.
	OpShipOrder Op = "ship_order"
	// OpIssueInvoice: a confirmed order without an invoice is invoiced: a
	// posted out_invoice (invoice_origin = the sale order's name, ref = its
	// client_order_ref, as Odoo copies them) with balanced journal items,
	// qty_invoiced on the lines.
	OpIssueInvoice Op = "issue_invoice"
	// OpApproveReturn: a draft credit note (out_refund, as tandem's sink
	// creates one for a shop return request: ref = the shop's refund number,
	// invoice_origin = the shop's order number) is completed and posted for
	// the order's full amount, reversing its invoice when there is one.
	OpApproveReturn Op = "approve_return"
)

var allOps = []Op{OpRegisterCustomer, OpPlaceOrder, OpRequestReturn,
	OpReceiveStock, OpChangePrice, OpConfirmOrder, OpShipOrder, OpIssueInvoice, OpApproveReturn}

// Ops lists every operation kind, shop operations first.
func Ops() []Op { return slices.Clone(allOps) }

// Shop reports whether the operation writes the shop (else the ERP).
func (o Op) Shop() bool {
	return o == OpRegisterCustomer || o == OpPlaceOrder || o == OpRequestReturn
}

// DefaultMix is the default operation mix, as relative weights: roughly what
// a small shop sees, where every order is confirmed, shipped and invoiced
// and a few come back.
func DefaultMix() map[Op]int {
	return map[Op]int{
		OpRegisterCustomer: 6,
		OpPlaceOrder:       24,
		OpRequestReturn:    4,
		OpReceiveStock:     10,
		OpChangePrice:      6,
		OpConfirmOrder:     18,
		OpShipOrder:        14,
		OpIssueInvoice:     14,
		OpApproveReturn:    4,
	}
}

// ParseMix reads a mix such as "place_order=30,confirm_order=20" (a CLI
// flag's value). The result is the whole mix: operations it does not name
// have weight 0 and do not run.
func ParseMix(s string) (map[Op]int, error) {
	mix := map[Op]int{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, weight, ok := strings.Cut(part, "=")
		if !ok {
			return nil, fmt.Errorf("demo: mix %q: want op=weight", part)
		}
		op := Op(strings.TrimSpace(name))
		if !slices.Contains(allOps, op) {
			return nil, fmt.Errorf("demo: mix: unknown operation %q (known: %s)", op, opList(allOps))
		}
		w, err := strconv.Atoi(strings.TrimSpace(weight))
		if err != nil || w < 0 {
			return nil, fmt.Errorf("demo: mix %q: the weight must be a whole number >= 0", part)
		}
		mix[op] = w
	}
	return mix, nil
}

func opList(ops []Op) string {
	s := make([]string, len(ops))
	for i, o := range ops {
		s[i] = string(o)
	}
	return strings.Join(s, ", ")
}

// GenerateOptions configures Generate. The zero value of a field means its
// default (DefaultGenerateOptions).
type GenerateOptions struct {
	// Rate is the number of operations started per second, over all kinds
	// (default 10). When the databases cannot keep up, operations start
	// later; Generate catches up at most a second's worth.
	Rate float64
	// Duration stops starting operations after this long; 0 runs until ctx
	// ends (or MaxOps). Operations in flight then finish.
	Duration time.Duration
	// MaxOps stops after this many operations; 0 means no limit.
	MaxOps int
	// Seed makes the run deterministic: the sequence of operation kinds and
	// every random value they use (names, quantities, which row they pick,
	// tracking numbers) come from it. With one worker and the same starting
	// data two runs make the same changes, timestamps aside. 0 picks a seed
	// from the clock; GenerateStats.Seed reports it.
	Seed int64
	// Mix is the relative weight of each operation kind (default DefaultMix);
	// kinds not in it, or with weight 0, never run. A mix of only shop (or
	// only ERP) operations needs only that database.
	Mix map[Op]int
	// Workers is how many operations may run at once, like concurrent users
	// (default 4). More workers make lock conflicts, and so retries, likelier.
	Workers int
	// MaxRetries is how often an operation is retried after a deadlock, a
	// serialization failure or a lock wait timeout, as an application
	// would (default 5).
	MaxRetries int
	// MaxConsecutiveErrors stops Generate with an error after this many
	// operations in a row failed for another reason (default 20); single
	// failures are counted, logged and skipped.
	MaxConsecutiveErrors int
	// Currency is the shop's currency (default "EUR").
	Currency string
	// Logger receives a warning for each failed operation and a debug line
	// for each one done (default: discard).
	Logger *slog.Logger
	// Progress, when set, is called with the running totals every
	// ProgressEvery (default 5s) and once at the end.
	Progress      func(GenerateStats)
	ProgressEvery time.Duration
}

// DefaultGenerateOptions are the defaults Generate uses for zero fields.
func DefaultGenerateOptions() GenerateOptions {
	return GenerateOptions{
		Rate:                 10,
		Mix:                  DefaultMix(),
		Workers:              4,
		MaxRetries:           5,
		MaxConsecutiveErrors: 20,
		Currency:             "EUR",
		ProgressEvery:        5 * time.Second,
	}
}

func (o GenerateOptions) withDefaults() (GenerateOptions, error) {
	d := DefaultGenerateOptions()
	switch {
	case o.Rate < 0:
		return o, fmt.Errorf("demo: rate %v: must be > 0", o.Rate)
	case o.Duration < 0 || o.MaxOps < 0 || o.Workers < 0 || o.MaxRetries < 0 || o.MaxConsecutiveErrors < 0 || o.ProgressEvery < 0:
		return o, errors.New("demo: duration, max ops, workers, retries and progress interval must not be negative")
	}
	if o.Rate == 0 {
		o.Rate = d.Rate
	}
	if o.Mix == nil {
		o.Mix = d.Mix
	}
	if o.Workers == 0 {
		o.Workers = d.Workers
	}
	if o.MaxRetries == 0 {
		o.MaxRetries = d.MaxRetries
	}
	if o.MaxConsecutiveErrors == 0 {
		o.MaxConsecutiveErrors = d.MaxConsecutiveErrors
	}
	if o.Currency == "" {
		o.Currency = d.Currency
	}
	if o.ProgressEvery == 0 {
		o.ProgressEvery = d.ProgressEvery
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Seed == 0 {
		o.Seed = time.Now().UnixNano()
	}
	for op, w := range o.Mix {
		if !slices.Contains(allOps, op) {
			return o, fmt.Errorf("demo: mix: unknown operation %q", op)
		}
		if w < 0 {
			return o, fmt.Errorf("demo: mix: %s has a negative weight", op)
		}
	}
	return o, nil
}

// GenerateStats counts what Generate did.
type GenerateStats struct {
	// Seed is the seed the run used (GenerateOptions.Seed, or the one picked).
	Seed int64
	// Ops counts the committed operations per kind.
	Ops map[Op]int
	// Idle counts operations that found nothing to act on (no draft order
	// to confirm, no paid order to return, ...) and wrote nothing.
	Idle map[Op]int
	// Errors counts operations that failed (after their retries).
	Errors map[Op]int
	// Retries counts transactions retried after a deadlock, a serialization
	// failure or a lock wait timeout.
	Retries int
	// Elapsed is the time from the first operation to the last one's end.
	Elapsed time.Duration
}

// Total is the number of committed operations.
func (s GenerateStats) Total() int {
	n := 0
	for _, c := range s.Ops {
		n += c
	}
	return n
}

// String renders the stats as a small table, one operation kind a line.
func (s GenerateStats) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-18s %7s %6s %6s\n", "OPERATION", "DONE", "IDLE", "ERRORS")
	for _, op := range allOps {
		if s.Ops[op]+s.Idle[op]+s.Errors[op] == 0 {
			continue
		}
		fmt.Fprintf(&b, "%-18s %7d %6d %6d\n", op, s.Ops[op], s.Idle[op], s.Errors[op])
	}
	rate := 0.0
	if s.Elapsed > 0 {
		rate = float64(s.Total()) / s.Elapsed.Seconds()
	}
	fmt.Fprintf(&b, "%d operations in %s (%.1f/s), %d retries, seed %d\n",
		s.Total(), s.Elapsed.Round(time.Millisecond), rate, s.Retries, s.Seed)
	return b.String()
}

func (s GenerateStats) clone() GenerateStats {
	s.Ops, s.Idle, s.Errors = cloneCounts(s.Ops), cloneCounts(s.Idle), cloneCounts(s.Errors)
	return s
}

func cloneCounts(m map[Op]int) map[Op]int {
	c := make(map[Op]int, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// opMix draws operation kinds by weight, in the fixed order of allOps so that
// a seed always gives the same sequence.
type opMix struct {
	ops   []Op
	cum   []int
	total int
}

func newOpMix(weights map[Op]int) (opMix, error) {
	var m opMix
	for _, op := range allOps {
		if w := weights[op]; w > 0 {
			m.total += w
			m.ops = append(m.ops, op)
			m.cum = append(m.cum, m.total)
		}
	}
	if m.total == 0 {
		return m, errors.New("demo: the operation mix has no operation with a weight > 0")
	}
	return m, nil
}

func (m opMix) pick(r *rand.Rand) Op {
	n := r.IntN(m.total)
	i := sort.SearchInts(m.cum, n+1)
	return m.ops[i]
}

// opTimeout bounds one operation (with its retries' transactions), so that a
// hung database shows up as errors instead of a silent stall.
const opTimeout = 30 * time.Second

// Generate acts like the shop and the ERP at opts.Rate operations per second
// until opts.Duration has passed, opts.MaxOps operations ran or ctx ends,
// and returns what it did. shop is the WooCommerce database (MariaDB, the
// fixture's wp_ tables), erp the Odoo database (PostgreSQL, a database/sql
// handle of the pgx driver github.com/jackc/pgx/v5/stdlib), as LoadFixtures
// and Seed set them up; either may be nil when the mix has no operation on it. Ending through ctx or Duration is
// a normal end (the error is nil); the error reports bad options or too many
// failed operations in a row (opts.MaxConsecutiveErrors).
func Generate(ctx context.Context, shop *sql.DB, erp *sql.DB, opts GenerateOptions) (GenerateStats, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return GenerateStats{}, err
	}
	mix, err := newOpMix(o.Mix)
	if err != nil {
		return GenerateStats{}, err
	}
	for _, op := range mix.ops {
		if op.Shop() && shop == nil {
			return GenerateStats{}, fmt.Errorf("demo: the mix has %s but there is no shop database", op)
		}
		if !op.Shop() && erp == nil {
			return GenerateStats{}, fmt.Errorf("demo: the mix has %s but there is no ERP database", op)
		}
	}
	g := &generator{shop: shop, erp: erp, opts: o, stats: GenerateStats{
		Seed: o.Seed, Ops: map[Op]int{}, Idle: map[Op]int{}, Errors: map[Op]int{}}}
	g.ops = g.opFuncs()
	runCtx, stopRun := context.WithCancelCause(ctx)
	defer stopRun(nil)
	g.fatal = stopRun

	type job struct {
		op   Op
		seed uint64
	}
	jobs := make(chan job)
	var wg sync.WaitGroup
	for range o.Workers {
		wg.Go(func() {
			for j := range jobs {
				g.do(runCtx, j.op, j.seed)
			}
		})
	}
	start := time.Now()
	progressDone := make(chan struct{})
	var progressWG sync.WaitGroup
	if o.Progress != nil {
		progressWG.Go(func() {
			t := time.NewTicker(o.ProgressEvery)
			defer t.Stop()
			for {
				select {
				case <-t.C:
					o.Progress(g.snapshot(time.Since(start)))
				case <-progressDone:
					return
				}
			}
		})
	}

	var stop <-chan time.Time
	if o.Duration > 0 {
		timer := time.NewTimer(o.Duration)
		defer timer.Stop()
		stop = timer.C
	}
	r := rand.New(rand.NewPCG(uint64(o.Seed), 0x74616e64656d2d67)) // "tandem-g"
	interval := time.Duration(float64(time.Second) / o.Rate)
	next := start
	wait := time.NewTimer(0)
	defer wait.Stop()
dispatch:
	for n := 0; o.MaxOps == 0 || n < o.MaxOps; n++ {
		wait.Reset(time.Until(next))
		select {
		case <-wait.C:
		case <-stop:
			break dispatch
		case <-runCtx.Done():
			break dispatch
		}
		j := job{op: mix.pick(r), seed: r.Uint64()}
		select {
		case jobs <- j:
		case <-stop:
			break dispatch
		case <-runCtx.Done():
			break dispatch
		}
		next = next.Add(interval)
		if now := time.Now(); now.Sub(next) > time.Second {
			next = now // fell behind: go on at the rate from here, no burst
		}
	}
	close(jobs)
	wg.Wait()
	close(progressDone)
	progressWG.Wait()
	stats := g.snapshot(time.Since(start))
	if o.Progress != nil {
		o.Progress(stats)
	}
	if cause := context.Cause(runCtx); cause != nil && ctx.Err() == nil {
		return stats, cause
	}
	return stats, nil
}

type generator struct {
	shop  *sql.DB
	erp   *sql.DB
	opts  GenerateOptions
	ops   map[Op]opFunc
	fatal context.CancelCauseFunc

	signup sync.Mutex // one registration at a time, see registerCustomer

	mu          sync.Mutex
	stats       GenerateStats
	consecutive int
}

func (g *generator) snapshot(elapsed time.Duration) GenerateStats {
	g.mu.Lock()
	defer g.mu.Unlock()
	s := g.stats.clone()
	s.Elapsed = elapsed
	return s
}

// errIdle says an operation found nothing to act on; it wrote nothing.
var errIdle = errors.New("nothing to act on")

// retryable marks an error as worth retrying the operation for (besides
// deadlocks and serialization failures, which are recognized by code).
type retryable struct{ error }

func (e retryable) Unwrap() error { return e.error }

// transient reports whether a transaction failed only because of another
// one, so that running it again is what an application does.
func transient(err error) bool {
	var rt retryable
	if errors.As(err, &rt) {
		return true
	}
	var my *mysql.MySQLError
	if errors.As(err, &my) {
		// deadlock, lock wait timeout, record changed since last read
		return my.Number == 1213 || my.Number == 1205 || my.Number == 1020
	}
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		// serialization_failure, deadlock_detected, lock_not_available
		return pg.Code == "40001" || pg.Code == "40P01" || pg.Code == "55P03"
	}
	return false
}

func (g *generator) do(runCtx context.Context, op Op, seed uint64) {
	ctx, cancel := context.WithTimeout(runCtx, opTimeout)
	defer cancel()
	var err error
	for attempt := 0; ; attempt++ {
		// every attempt draws the same values: a retry repeats the operation
		r := rand.New(rand.NewPCG(seed, 0x6f70))
		err = g.ops[op](ctx, r)
		if err == nil || errors.Is(err, errIdle) || !transient(err) || attempt >= g.opts.MaxRetries || ctx.Err() != nil {
			break
		}
		g.mu.Lock()
		g.stats.Retries++
		g.mu.Unlock()
		backoff := time.Duration(5*(attempt+1)+rand.IntN(20)) * time.Millisecond
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
		}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	switch {
	case err == nil:
		g.stats.Ops[op]++
		g.consecutive = 0
		g.opts.Logger.Debug("demo: operation done", "op", op)
	case errors.Is(err, errIdle):
		g.stats.Idle[op]++
		g.consecutive = 0
	case runCtx.Err() != nil:
		// stopped from outside while it ran: not the operation's failure
	default:
		g.stats.Errors[op]++
		g.consecutive++
		g.opts.Logger.Warn("demo: operation failed", "op", op, "err", err)
		if g.consecutive >= g.opts.MaxConsecutiveErrors {
			g.fatal(fmt.Errorf("demo: %d operations in a row failed, the last (%s): %w", g.consecutive, op, err))
		}
	}
}

// opFunc performs one operation: nil when done, errIdle when there was
// nothing to act on.
type opFunc func(ctx context.Context, r *rand.Rand) error

func (g *generator) opFuncs() map[Op]opFunc {
	return map[Op]opFunc{
		OpRegisterCustomer: g.registerCustomer,
		OpPlaceOrder:       g.placeOrder,
		OpRequestReturn:    g.requestReturn,
		OpReceiveStock:     g.receiveStock,
		OpChangePrice:      g.changePrice,
		OpConfirmOrder:     g.confirmOrder,
		OpShipOrder:        g.shipOrder,
		OpIssueInvoice:     g.issueInvoice,
		OpApproveReturn:    g.approveReturn,
	}
}

// ---------------------------------------------------------------------------
// money

// parseCents reads a decimal string ("12.3", "-0.05", "47.36000000", "20")
// exactly into cents, rounding half away from zero past two places.
func parseCents(s string) (int64, error) {
	v, err := parseScaled(s, 2)
	if err != nil {
		return 0, fmt.Errorf("demo: money %q: %w", s, err)
	}
	return v, nil
}

// parseScaled reads a plain decimal string into an integer of 10^-places
// units, rounding half away from zero.
func parseScaled(s string, places int) (int64, error) {
	s = strings.TrimSpace(s)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(strings.TrimPrefix(s, "-"), "+")
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" && frac == "" || !digits(whole) || !digits(frac) || len(whole) > 15 {
		return 0, errors.New("not a decimal number")
	}
	var v int64
	for _, c := range whole {
		v = v*10 + int64(c-'0')
	}
	for i := range places {
		v *= 10
		if i < len(frac) {
			v += int64(frac[i] - '0')
		}
	}
	if len(frac) > places && frac[places] >= '5' {
		v++
	}
	if neg {
		v = -v
	}
	return v, nil
}

func digits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// mulDivRound is a*b/c rounded half away from zero, exact for any int64s.
func mulDivRound(a, b, c int64) int64 {
	n := new(big.Int).Mul(big.NewInt(a), big.NewInt(b))
	d := big.NewInt(c)
	q, m := new(big.Int).QuoRem(n, d, new(big.Int))
	if new(big.Int).Abs(new(big.Int).Mul(m, big.NewInt(2))).Cmp(new(big.Int).Abs(d)) >= 0 {
		if (n.Sign() < 0) != (d.Sign() < 0) {
			q.Sub(q, big.NewInt(1))
		} else {
			q.Add(q, big.NewInt(1))
		}
	}
	return q.Int64()
}

// taxRate is a WooCommerce tax rate (wp_woocommerce_tax_rates).
type taxRate struct {
	id       int64
	country  string
	state    string
	name     string
	class    string
	priority int64
	// percent in 1/10000 of a percent: "19.0000" -> 190000
	percent int64
}

// of is the tax on cents at this rate, rounded to the cent (WooCommerce's
// default: taxes rounded per line).
func (t taxRate) of(cents int64) int64 { return mulDivRound(cents, t.percent, 1_000_000) }

// code is WooCommerce's rate code (WC_Tax::get_rate_code), the tax item's
// name: COUNTRY-STATE-NAME-PRIORITY without the empty parts.
func (t taxRate) code() string {
	name := t.name
	if name == "" {
		name = "TAX"
	}
	var parts []string
	for _, p := range []string{t.country, t.state, name, strconv.FormatInt(t.priority, 10)} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	return strings.ToUpper(strings.Join(parts, "-"))
}

// percentString is the rate as WooCommerce's rate_percent item meta: "19".
func (t taxRate) percentString() string {
	s := strconv.FormatInt(t.percent/10000, 10)
	if f := t.percent % 10000; f != 0 {
		s += strings.TrimRight(fmt.Sprintf(".%04d", f), "0")
	}
	return s
}

// rateFor picks the rate WooCommerce applies to a product of tax class class
// shipped to country: the first by priority whose class matches and whose
// country is the customer's or any. ok is false when no rate applies.
func rateFor(rates []taxRate, class, country string) (taxRate, bool) {
	if class == "standard" {
		class = ""
	}
	for _, t := range rates {
		if t.class == class && (t.country == "" || strings.EqualFold(t.country, country)) {
			return t, true
		}
	}
	return taxRate{}, false
}

// ---------------------------------------------------------------------------
// order totals (pure)

type lineInput struct {
	productID int64
	name      string
	qty       int64
	unitCents int64
	taxClass  string
	rate      taxRate // zero: not taxed
}

type pricedLine struct {
	lineInput
	subtotal, subtotalTax int64 // before the coupon
	total, tax            int64 // after it
}

type pricedOrder struct {
	lines                 []pricedLine
	couponPercent         int64
	discount, discountTax int64
	shipping, shippingTax int64
	shippingRate          taxRate
	tax, total            int64 // all taxes; the grand total
}

// shippingRule is a flat rate that is free from a net order value on.
type shippingRule struct {
	flat, freeFrom int64
	rate           taxRate
}

// priceOrder computes line and order totals the way WooCommerce's cart does
// with prices excluding tax and taxes rounded per line: subtotal = unit price
// x quantity, the coupon takes couponPercent off each line, tax per line on
// the discounted total, then shipping; the order total is the sum of the
// lines' totals and taxes plus shipping and its tax.
func priceOrder(in []lineInput, couponPercent int64, ship shippingRule) pricedOrder {
	o := pricedOrder{couponPercent: couponPercent}
	var net int64
	for _, l := range in {
		p := pricedLine{lineInput: l, subtotal: l.unitCents * l.qty}
		p.total = p.subtotal - mulDivRound(p.subtotal, couponPercent, 100)
		p.subtotalTax, p.tax = l.rate.of(p.subtotal), l.rate.of(p.total)
		o.discount += p.subtotal - p.total
		o.discountTax += p.subtotalTax - p.tax
		o.tax += p.tax
		o.total += p.total + p.tax
		net += p.total
		o.lines = append(o.lines, p)
	}
	if ship.flat > 0 && net < ship.freeFrom {
		o.shipping, o.shippingRate = ship.flat, ship.rate
		o.shippingTax = ship.rate.of(ship.flat)
		o.tax += o.shippingTax
		o.total += o.shipping + o.shippingTax
	}
	return o
}

// phpTaxes is a PHP-serialized array of one rate's tax, as WooCommerce keeps
// _line_tax_data and a shipping item's taxes: a:1:{i:1;s:3:"1.9";}.
func phpTaxes(rateID, cents int64) string {
	if rateID == 0 {
		return "a:0:{}"
	}
	return fmt.Sprintf(`a:1:{i:%d;%s}`, rateID, seedPHPString(seedWC(cents)))
}

// lineTaxData is a line item's _line_tax_data meta value.
func lineTaxData(l pricedLine) string {
	return fmt.Sprintf(`a:2:{s:5:"total";%ss:8:"subtotal";%s}`, phpTaxes(l.rate.id, l.tax), phpTaxes(l.rate.id, l.subtotalTax))
}

// newPrice is a price change the way a pricing manager makes one: up or down
// by 1-12 %, to a .99 price, never the same as before and never below 0.99.
func newPrice(r *rand.Rand, old int64) int64 {
	d := int64(1 + r.IntN(12))
	if r.IntN(5) < 2 {
		d = -d
	}
	p := mulDivRound(old, 100+d, 100)
	p = mulDivRound(p, 1, 100)*100 - 1
	if p < 99 {
		p = 99
	}
	if p == old {
		p += 100
	}
	return p
}

// ---------------------------------------------------------------------------
// picking random rows

// pickSQL is a query for one row of table (alias t) matching cond, at a random
// place of its id range: the first row whose id is at least min + f*(max-min+1)
// for a fraction f. It takes the index's two ends and one range probe, so it
// stays cheap on large tables (ids after gaps are a little likelier).
// MySQL's form takes cond's arguments, f, cond's arguments again; PostgreSQL's
// cond uses $1..$n and f is $n+1.
func pickSQL(postgres bool, cols, table, id, cond string, nargs int) string {
	if postgres {
		return fmt.Sprintf("SELECT %[1]s FROM %[2]s t WHERE %[4]s AND t.%[3]s >= "+
			"(SELECT min(t.%[3]s) + floor($%[5]d::float8 * (max(t.%[3]s) - min(t.%[3]s) + 1))::bigint FROM %[2]s t WHERE %[4]s) "+
			"ORDER BY t.%[3]s LIMIT 1", cols, table, id, cond, nargs+1)
	}
	return fmt.Sprintf("SELECT %[1]s FROM %[2]s t WHERE %[4]s AND t.%[3]s >= "+
		"(SELECT MIN(t.%[3]s) + FLOOR(? * (MAX(t.%[3]s) - MIN(t.%[3]s) + 1)) FROM %[2]s t WHERE %[4]s) "+
		"ORDER BY t.%[3]s LIMIT 1", cols, table, id, cond)
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// pick scans one random row of a table into dest (see pickSQL), errIdle when
// no row matches.
func pick(ctx context.Context, q querier, postgres bool, r *rand.Rand, cols, table, id, cond string, args []any, dest ...any) error {
	all := append(append([]any{}, args...), r.Float64())
	if !postgres {
		all = append(all, args...)
	}
	err := q.QueryRowContext(ctx, pickSQL(postgres, cols, table, id, cond, len(args)), all...).Scan(dest...)
	if errors.Is(err, sql.ErrNoRows) {
		return errIdle
	}
	return err
}

// inTx runs fn in one transaction, committed when fn returns nil.
func inTx(ctx context.Context, db *sql.DB, fn func(*sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// ---------------------------------------------------------------------------
// the shop: shoppers and the WooCommerce checkout

type shopCustomer struct {
	lookupID                       int64
	userID                         int64 // 0: a guest
	first, last, email             string
	country, postcode, city, state string
}

// demoPlace is a random country (by seedCountries' weights), place and street.
func demoPlace(r *rand.Rand) (country, city, postcode, state, street, phone string) {
	total := 0
	for _, c := range seedCountries {
		total += c.weight
	}
	w, ci := r.IntN(total), 0
	for w >= seedCountries[ci].weight {
		w -= seedCountries[ci].weight
		ci++
	}
	c := seedCountries[ci]
	p := c.places[r.IntN(len(c.places))]
	streets := c.street
	if streets == nil {
		streets = seedStreets
	}
	street = fmt.Sprintf("%s %d", streets[r.IntN(len(streets))], 1+r.IntN(140))
	if c.code == "US" || c.code == "FR" {
		street = fmt.Sprintf("%d %s", 1+r.IntN(980), streets[r.IntN(len(streets))])
	}
	phone = fmt.Sprintf("%s %d %07d", c.phone, 20+r.IntN(880), r.IntN(10_000_000))
	return c.code, p.city, p.postcode, p.state, street, phone
}

func pickName(r *rand.Rand) (first, last string) {
	return seedFirstNames[r.IntN(len(seedFirstNames))], seedLastNames[r.IntN(len(seedLastNames))]
}

func (g *generator) registerCustomer(ctx context.Context, r *rand.Rand) error {
	first, last := pickName(r)
	country, city, postcode, state, _, _ := demoPlace(r)
	local := seedASCII(first) + "." + seedASCII(last) + "."
	domain := "@" + seedDomains[r.IntN(len(seedDomains))]
	// WordPress hands out the user id from wp_users' auto-increment (not
	// part of the fixture): here the next one after the highest known, taken
	// one signup at a time like that auto-increment. Another process taking
	// the same id meanwhile makes the unique key refuse it; that retries.
	g.signup.Lock()
	defer g.signup.Unlock()
	var uid int64
	if err := g.shop.QueryRowContext(ctx, "SELECT COALESCE(MAX(user_id), 1) + 1 FROM wp_wc_customer_lookup").Scan(&uid); err != nil {
		return err
	}
	_, err := g.shop.ExecContext(ctx, `INSERT INTO wp_wc_customer_lookup (user_id, username, first_name, last_name, email,
		date_last_active, date_registered, country, postcode, city, state)
		VALUES (?, ?, ?, ?, ?, UTC_TIMESTAMP(), UTC_TIMESTAMP(), ?, ?, ?, ?)`,
		uid, fmt.Sprint(strings.TrimSuffix(local, "."), uid), first, last, fmt.Sprint(local, uid, domain), country, postcode, city, state)
	var my *mysql.MySQLError
	if errors.As(err, &my) && my.Number == 1062 {
		return retryable{err}
	}
	return err
}

// pickCustomer is a random known customer (registered or a returning guest).
func (g *generator) pickCustomer(ctx context.Context, r *rand.Rand) (shopCustomer, error) {
	var c shopCustomer
	var userID sql.NullInt64
	err := pick(ctx, g.shop, false, r,
		"t.customer_id, t.user_id, t.first_name, t.last_name, t.email, t.country, t.postcode, t.city, t.state",
		"wp_wc_customer_lookup", "customer_id", "t.email IS NOT NULL AND t.email <> ''", nil,
		&c.lookupID, &userID, &c.first, &c.last, &c.email, &c.country, &c.postcode, &c.city, &c.state)
	c.userID = userID.Int64
	return c, err
}

type shopProduct struct {
	id       int64
	name     string
	cents    int64
	taxClass string
	taxable  bool
}

// pickProducts is up to n different random published products that are in
// stock and have a price (what a shopper can put in the cart).
func (g *generator) pickProducts(ctx context.Context, r *rand.Rand, n int) ([]shopProduct, error) {
	var out []shopProduct
	seen := map[int64]bool{}
	for tries := 0; len(out) < n && tries < 3*n; tries++ {
		var p shopProduct
		err := pick(ctx, g.shop, false, r, "t.ID, t.post_title", "wp_posts", "ID",
			"t.post_type = 'product' AND t.post_status = 'publish'", nil, &p.id, &p.name)
		if errors.Is(err, errIdle) {
			break
		}
		if err != nil {
			return nil, err
		}
		if seen[p.id] {
			continue
		}
		seen[p.id] = true
		rows, err := g.shop.QueryContext(ctx, `SELECT meta_key, meta_value FROM wp_postmeta WHERE post_id = ?
			AND meta_key IN ('_regular_price', '_sale_price', '_price', '_tax_class', '_tax_status', '_stock_status')`, p.id)
		if err != nil {
			return nil, err
		}
		meta := map[string]string{}
		for rows.Next() {
			var k string
			var v sql.NullString
			if err := rows.Scan(&k, &v); err != nil {
				rows.Close()
				return nil, err
			}
			meta[k] = v.String
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
		if meta["_stock_status"] == "outofstock" {
			continue
		}
		// the active price, as WooCommerce's checkout charges it (tandem
		// writes it from the ERP's default pricelist), else the sale or
		// the regular price
		for _, k := range []string{"_price", "_sale_price", "_regular_price"} {
			if c, err := parseCents(meta[k]); err == nil && c > 0 {
				p.cents = c
				break
			}
		}
		if p.cents == 0 {
			continue
		}
		p.taxClass, p.taxable = meta["_tax_class"], meta["_tax_status"] != "none"
		out = append(out, p)
	}
	return out, nil
}

func (g *generator) shopTaxRates(ctx context.Context) ([]taxRate, error) {
	rows, err := g.shop.QueryContext(ctx, `SELECT tax_rate_id, tax_rate_country, tax_rate_state, tax_rate_name,
		tax_rate_class, tax_rate_priority, tax_rate FROM wp_woocommerce_tax_rates
		ORDER BY tax_rate_priority, tax_rate_order, tax_rate_id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []taxRate
	for rows.Next() {
		var t taxRate
		var pct string
		if err := rows.Scan(&t.id, &t.country, &t.state, &t.name, &t.class, &t.priority, &pct); err != nil {
			return nil, err
		}
		if t.percent, err = parseScaled(pct, 4); err != nil {
			continue // WooCommerce treats a bad rate as no rate
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

type paymentMethod struct{ id, title, status string }

var paymentMethods = []paymentMethod{
	{"stripe", "Credit Card (Stripe)", "wc-processing"},
	{"stripe", "Credit Card (Stripe)", "wc-processing"},
	{"ppcp-gateway", "PayPal", "wc-processing"},
	{"bacs", "Direct bank transfer", "wc-pending"},
}

var couponCodes = []string{"welcome10", "summer10", "newsletter10"}

func (g *generator) placeOrder(ctx context.Context, r *rand.Rand) error {
	guest := r.IntN(10) == 0
	var c shopCustomer
	if !guest {
		var err error
		if c, err = g.pickCustomer(ctx, r); errors.Is(err, errIdle) {
			guest = true
		} else if err != nil {
			return err
		}
	}
	gFirst, gLast := pickName(r)
	gCountry, gCity, gPostcode, gState, street, phone := demoPlace(r)
	if guest {
		c = shopCustomer{first: gFirst, last: gLast, country: gCountry, city: gCity, postcode: gPostcode, state: gState}
	}
	n := 1 + []int{0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 3, 4}[r.IntN(15)]
	products, err := g.pickProducts(ctx, r, n)
	if err != nil {
		return err
	}
	if len(products) == 0 {
		return errIdle
	}
	rates, err := g.shopTaxRates(ctx)
	if err != nil {
		return err
	}
	in := make([]lineInput, len(products))
	for i, p := range products {
		in[i] = lineInput{productID: p.id, name: p.name, qty: 1, unitCents: p.cents, taxClass: p.taxClass}
		if q := r.IntN(10); q >= 7 {
			in[i].qty = int64(q - 5)
		}
		if p.taxable {
			in[i].rate, _ = rateFor(rates, p.taxClass, c.country)
		}
	}
	var coupon int64
	var couponCode string
	if r.IntN(8) == 0 {
		coupon, couponCode = 10, couponCodes[r.IntN(len(couponCodes))]
	}
	shipRate, _ := rateFor(rates, "", c.country)
	o := priceOrder(in, coupon, shippingRule{flat: 490, freeFrom: 5000, rate: shipRate})

	pay := paymentMethods[r.IntN(len(paymentMethods))]
	txID := ""
	switch pay.id {
	case "stripe":
		txID = "pi_" + seedToken(r, 24)
	case "ppcp-gateway":
		txID = strings.ToUpper(seedHex(r, 17))
	}
	ip := fmt.Sprintf("%d.%d.%d.%d", 31+r.IntN(187), r.IntN(256), r.IntN(256), 1+r.IntN(254))
	agent := seedUserAgents[r.IntN(len(seedUserAgents))]
	note := ""
	if r.IntN(8) == 0 {
		note = seedNotes[r.IntN(len(seedNotes))]
	}
	giftFirst, giftLast := pickName(r)
	gift := r.IntN(7) == 0
	orderKey, cartHash := "wc_order_"+seedToken(r, 13), seedHex(r, 32)
	source := []string{"typein", "organic", "referral", "utm"}[r.IntN(4)]
	guestDomain := seedDomains[r.IntN(len(seedDomains))]
	paid := pay.status == "wc-processing"

	return inTx(ctx, g.shop, func(tx *sql.Tx) error {
		// HPOS: the order id is the id of a placeholder post
		res, err := tx.ExecContext(ctx, `INSERT INTO wp_posts (post_author, post_date, post_date_gmt, post_modified,
			post_modified_gmt, post_status, post_type, comment_status, ping_status)
			VALUES (1, NOW(), UTC_TIMESTAMP(), NOW(), UTC_TIMESTAMP(), 'draft', 'shop_order_placehold', 'closed', 'closed')`)
		if err != nil {
			return err
		}
		id, err := res.LastInsertId()
		if err != nil {
			return err
		}
		if guest {
			c.email = fmt.Sprintf("%s.%s+%d@%s", seedASCII(c.first), seedASCII(c.last), id, guestDomain)
			// WooCommerce's analytics keeps a lookup row for guests too
			if _, err := tx.ExecContext(ctx, `INSERT INTO wp_wc_customer_lookup (user_id, username, first_name, last_name,
				email, date_last_active, date_registered, country, postcode, city, state)
				VALUES (NULL, '', ?, ?, ?, UTC_TIMESTAMP(), NULL, ?, ?, ?, ?)`,
				c.first, c.last, c.email, c.country, c.postcode, c.city, c.state); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO wp_wc_orders (id, status, currency, type, tax_amount, total_amount,
			customer_id, billing_email, date_created_gmt, date_updated_gmt, parent_order_id, payment_method,
			payment_method_title, transaction_id, ip_address, user_agent, customer_note)
			VALUES (?, ?, ?, 'shop_order', ?, ?, ?, ?, UTC_TIMESTAMP(), UTC_TIMESTAMP(), 0, ?, ?, ?, ?, ?, ?)`,
			id, pay.status, g.opts.Currency, seedDec(o.tax), seedDec(o.total), c.userID, c.email,
			pay.id, pay.title, txID, ip, agent, note); err != nil {
			return err
		}
		shipFirst, shipLast := c.first, c.last
		if gift {
			shipFirst, shipLast = giftFirst, giftLast
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO wp_wc_order_addresses (order_id, address_type, first_name, last_name,
			company, address_1, address_2, city, state, postcode, country, email, phone)
			VALUES (?, 'billing', ?, ?, '', ?, '', ?, ?, ?, ?, ?, ?), (?, 'shipping', ?, ?, '', ?, '', ?, ?, ?, ?, NULL, ?)`,
			id, c.first, c.last, street, c.city, c.state, c.postcode, c.country, c.email, phone,
			id, shipFirst, shipLast, street, c.city, c.state, c.postcode, c.country, phone); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO wp_wc_order_operational_data (order_id, created_via,
			woocommerce_version, prices_include_tax, coupon_usages_are_counted, download_permission_granted, cart_hash,
			new_order_email_sent, order_key, order_stock_reduced, date_paid_gmt, date_completed_gmt,
			shipping_tax_amount, shipping_total_amount, discount_tax_amount, discount_total_amount, recorded_sales)
			VALUES (?, 'checkout', ?, 0, ?, ?, ?, ?, ?, 0, IF(?, UTC_TIMESTAMP(), NULL), NULL, ?, ?, ?, ?, ?)`,
			id, seedWCVersion, coupon > 0, paid, cartHash, paid, orderKey, paid,
			seedDec(o.shippingTax), seedDec(o.shipping), seedDec(o.discountTax), seedDec(o.discount), paid); err != nil {
			return err
		}
		var meta []any
		addItem := func(name, typ string, kv ...string) error {
			res, err := tx.ExecContext(ctx, `INSERT INTO wp_woocommerce_order_items (order_item_name, order_item_type, order_id)
				VALUES (?, ?, ?)`, name, typ, id)
			if err != nil {
				return err
			}
			item, err := res.LastInsertId()
			if err != nil {
				return err
			}
			for i := 0; i+1 < len(kv); i += 2 {
				meta = append(meta, item, kv[i], kv[i+1])
			}
			return nil
		}
		for _, l := range o.lines {
			if err := addItem(l.name, "line_item",
				"_product_id", strconv.FormatInt(l.productID, 10),
				"_variation_id", "0",
				"_qty", strconv.FormatInt(l.qty, 10),
				"_tax_class", l.taxClass,
				"_line_subtotal", seedWC(l.subtotal),
				"_line_subtotal_tax", seedWC(l.subtotalTax),
				"_line_total", seedWC(l.total),
				"_line_tax", seedWC(l.tax),
				"_line_tax_data", lineTaxData(l)); err != nil {
				return err
			}
		}
		if o.shipping > 0 {
			if err := addItem("Flat rate", "shipping", "method_id", "flat_rate", "instance_id", "1",
				"cost", seedWC(o.shipping), "total_tax", seedWC(o.shippingTax),
				"taxes", fmt.Sprintf(`a:1:{s:5:"total";%s}`, phpTaxes(o.shippingRate.id, o.shippingTax))); err != nil {
				return err
			}
		}
		for _, t := range taxItems(o) {
			if err := addItem(t.rate.code(), "tax", "rate_id", strconv.FormatInt(t.rate.id, 10), "label", t.rate.name,
				"compound", "", "tax_amount", seedWC(t.tax), "shipping_tax_amount", seedWC(t.shippingTax),
				"rate_percent", t.rate.percentString()); err != nil {
				return err
			}
		}
		if coupon > 0 {
			if err := addItem(couponCode, "coupon", "discount_amount", seedWC(o.discount),
				"discount_amount_tax", seedWC(o.discountTax)); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO wp_woocommerce_order_itemmeta (order_item_id, meta_key, meta_value)
			VALUES `+strings.TrimSuffix(strings.Repeat("(?, ?, ?), ", len(meta)/3), ", "), meta...); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO wp_wc_orders_meta (order_id, meta_key, meta_value)
			VALUES (?, 'is_vat_exempt', 'no'), (?, '_wc_order_attribution_source_type', ?)`, id, id, source)
		return err
	})
}

type taxItem struct {
	rate             taxRate
	tax, shippingTax int64
}

// taxItems are the order's tax items, one per rate used, in rate id order.
func taxItems(o pricedOrder) []taxItem {
	by := map[int64]*taxItem{}
	var out []*taxItem
	get := func(t taxRate) *taxItem {
		if by[t.id] == nil {
			by[t.id] = &taxItem{rate: t}
			out = append(out, by[t.id])
		}
		return by[t.id]
	}
	for _, l := range o.lines {
		if l.rate.id != 0 {
			get(l.rate).tax += l.tax
		}
	}
	if o.shippingRate.id != 0 && o.shipping > 0 {
		get(o.shippingRate).shippingTax += o.shippingTax
	}
	sort.Slice(out, func(i, j int) bool { return out[i].rate.id < out[j].rate.id })
	items := make([]taxItem, len(out))
	for i, t := range out {
		items[i] = *t
	}
	return items
}

var returnReasons = []string{"Wrong size", "Damaged in transit", "Not as described", "Changed my mind",
	"Arrived too late", "Ordered by mistake", "Falsche Größe", "Beschädigt angekommen"}

// requestReturn writes a return request the way the shop's returns form
// does: a refund order (type shop_order_refund, status wc-pending,
// parent_order_id = the order) with WooCommerce's _refund_amount and
// _refund_reason meta, for all the goods: the line items' totals and taxes,
// not the shipping. The preset carries no requested amount to the ERP (the
// return's refund_amount is the ERP's), whose approval credits the order's
// lines; a request for one line would be overwritten with the whole amount.
//
// total_amount is positive. WooCommerce itself stores a refund's total as a
// negative number; the preset maps total_amount straight to the return's
// refund_amount, which the ERP keeps positive (an out_refund's amount_total)
// and owns: a negative total here would be flipped by the first approval.
func (g *generator) requestReturn(ctx context.Context, r *rand.Rand) error {
	var orderID int64
	if err := pick(ctx, g.shop, false, r, "t.id", "wp_wc_orders", "id",
		`t.type = 'shop_order' AND t.status IN ('wc-processing', 'wc-completed')
		AND NOT EXISTS (SELECT 1 FROM wp_wc_orders x WHERE x.parent_order_id = t.id AND x.type = 'shop_order_refund')`,
		nil, &orderID); err != nil {
		return err
	}
	reason := returnReasons[r.IntN(len(returnReasons))]
	return inTx(ctx, g.shop, func(tx *sql.Tx) error {
		var currency, email sql.NullString
		var customer sql.NullInt64
		err := tx.QueryRowContext(ctx, `SELECT currency, customer_id, billing_email FROM wp_wc_orders
			WHERE id = ? FOR UPDATE`, orderID).Scan(&currency, &customer, &email)
		if errors.Is(err, sql.ErrNoRows) {
			return errIdle
		}
		if err != nil {
			return err
		}
		// A plain read: its snapshot starts now, after the order's lock, so it
		// sees a request committed meanwhile (a locking read would take gap
		// locks that deadlock with every other return's insert).
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM wp_wc_orders WHERE parent_order_id = ?
			AND type = 'shop_order_refund'`, orderID).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return errIdle // someone was quicker
		}
		amount, amountTax, err := shopGoodsAmount(ctx, tx, orderID)
		if err != nil {
			return err
		}
		if amount <= 0 {
			return errIdle
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO wp_posts (post_author, post_date, post_date_gmt, post_modified,
			post_modified_gmt, post_status, post_type, post_parent, comment_status, ping_status)
			VALUES (1, NOW(), UTC_TIMESTAMP(), NOW(), UTC_TIMESTAMP(), 'draft', 'shop_order_placehold', ?, 'closed', 'closed')`, orderID)
		if err != nil {
			return err
		}
		id, err := res.LastInsertId()
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO wp_wc_orders (id, status, currency, type, tax_amount, total_amount,
			customer_id, billing_email, date_created_gmt, date_updated_gmt, parent_order_id, payment_method,
			payment_method_title, transaction_id, customer_note)
			VALUES (?, 'wc-pending', ?, 'shop_order_refund', ?, ?, ?, ?, UTC_TIMESTAMP(), UTC_TIMESTAMP(), ?, '', '', '', ?)`,
			id, currency, seedDec(amountTax), seedDec(amount), customer, email, orderID, reason); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO wp_wc_orders_meta (order_id, meta_key, meta_value)
			VALUES (?, '_refund_amount', ?), (?, '_refund_reason', ?), (?, '_refunded_by', '0'), (?, '_refunded_payment', '')`,
			id, seedWC(amount), id, reason, id, id)
		return err
	})
}

// shopGoodsAmount is the sum of an order's line items' _line_total +
// _line_tax, and of their _line_tax, in cents.
func shopGoodsAmount(ctx context.Context, tx *sql.Tx, orderID int64) (amount, tax int64, err error) {
	rows, err := tx.QueryContext(ctx, `SELECT m.meta_key, m.meta_value FROM wp_woocommerce_order_items i
		JOIN wp_woocommerce_order_itemmeta m ON m.order_item_id = i.order_item_id AND m.meta_key IN ('_line_total', '_line_tax')
		WHERE i.order_id = ? AND i.order_item_type = 'line_item'`, orderID)
	if err != nil {
		return 0, 0, err
	}
	defer rows.Close()
	for rows.Next() {
		var k string
		var v sql.NullString
		if err := rows.Scan(&k, &v); err != nil {
			return 0, 0, err
		}
		c, err := parseCents(v.String)
		if err != nil {
			return 0, 0, err
		}
		amount += c
		if k == "_line_tax" {
			tax += c
		}
	}
	return amount, tax, rows.Err()
}

// ---------------------------------------------------------------------------
// the ERP: warehouse, sales and accounting staff in Odoo

// odooUser is the res.users id the ERP operations write as
// (create_uid/write_uid): Odoo's admin.
const odooUser = 2

// nowUTC is how Odoo's ORM stamps create_date / write_date.
const nowUTC = "(now() AT TIME ZONE 'UTC')"

func (g *generator) receiveStock(ctx context.Context, r *rand.Rand) error {
	cond, args := "t.location_id = $1", []any{fixtures.MainStockLocation}
	if r.IntN(5) == 0 { // now and then another warehouse
		cond, args = "t.location_id IN (SELECT id FROM stock_location WHERE usage = 'internal')", nil
	}
	qty := int64(6 * (1 + r.IntN(10))) // cartons of six
	return inTx(ctx, g.erp, func(tx *sql.Tx) error {
		var id int64
		if err := pick(ctx, tx, true, r, "t.id", "stock_quant", "id", cond, args, &id); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE stock_quant SET quantity = COALESCE(quantity, 0) + $1, in_date = `+nowUTC+`,
			write_date = `+nowUTC+`, write_uid = $2 WHERE id = $3`, qty, odooUser, id)
		return err
	})
}

func (g *generator) changePrice(ctx context.Context, r *rand.Rand) error {
	return inTx(ctx, g.erp, func(tx *sql.Tx) error {
		var id int64
		var old string
		if err := pick(ctx, tx, true, r, "t.id, t.fixed_price::text", "product_pricelist_item", "id",
			"t.pricelist_id = 1 AND t.applied_on = '0_product_variant' AND t.compute_price = 'fixed' AND t.fixed_price IS NOT NULL",
			nil, &id, &old); err != nil {
			return err
		}
		cents, err := parseCents(old)
		if err != nil || cents <= 0 {
			cents = 999
		}
		_, err = tx.ExecContext(ctx, `UPDATE product_pricelist_item SET fixed_price = $1, write_date = `+nowUTC+`, write_uid = $2
			WHERE id = $3`, seedDec(newPrice(r, cents)), odooUser, id)
		return err
	})
}

func (g *generator) confirmOrder(ctx context.Context, r *rand.Rand) error {
	return inTx(ctx, g.erp, func(tx *sql.Tx) error {
		var id int64
		if err := pick(ctx, tx, true, r, "t.id", "sale_order", "id",
			"t.state = 'draft' AND t.client_order_ref IS NOT NULL", nil, &id); err != nil {
			return err
		}
		tag, err := tx.ExecContext(ctx, `UPDATE sale_order SET state = 'sale', date_order = `+nowUTC+`,
			invoice_status = 'to invoice', write_date = `+nowUTC+`, write_uid = $1 WHERE id = $2 AND state = 'draft'`, odooUser, id)
		if err != nil {
			return err
		}
		if n, err := tag.RowsAffected(); err != nil || n == 0 {
			return errIdle // confirmed meanwhile
		}
		// sale_order_line.state is a stored related field of the order's
		_, err = tx.ExecContext(ctx, `UPDATE sale_order_line SET state = 'sale', invoice_status = 'to invoice',
			qty_to_invoice = product_uom_qty - COALESCE(qty_invoiced, 0), write_date = `+nowUTC+`, write_uid = $1
			WHERE order_id = $2`, odooUser, id)
		return err
	})
}

var carriers = []func(r *rand.Rand) string{
	func(r *rand.Rand) string { return fmt.Sprintf("JJD%018d", r.Int64N(1e18)) }, // DHL
	func(r *rand.Rand) string { // UPS
		return "1Z" + strings.ToUpper(seedHex(r, 6)) + "03" + fmt.Sprintf("%08d", r.IntN(1e8))
	},
	func(r *rand.Rand) string { return fmt.Sprintf("%014d", r.Int64N(1e14)) }, // DPD
	func(r *rand.Rand) string { return fmt.Sprintf("%011d", r.Int64N(1e11)) }, // GLS
}

// trackingRef is a carrier tracking number of a random carrier's format.
func trackingRef(r *rand.Rand) string { return carriers[r.IntN(len(carriers))](r) }

func (g *generator) shipOrder(ctx context.Context, r *rand.Rand) error {
	tracking := trackingRef(r)
	return inTx(ctx, g.erp, func(tx *sql.Tx) error {
		var id int64
		if err := pick(ctx, tx, true, r, "t.id", "sale_order", "id",
			"t.state = 'sale' AND NOT EXISTS (SELECT 1 FROM stock_picking p WHERE p.sale_id = t.id AND p.state <> 'cancel')",
			nil, &id); err != nil {
			return err
		}
		var name string
		var partner, warehouse int64
		err := tx.QueryRowContext(ctx, `SELECT name, partner_shipping_id, warehouse_id FROM sale_order
			WHERE id = $1 AND state = 'sale' FOR NO KEY UPDATE`, id).Scan(&name, &partner, &warehouse)
		if errors.Is(err, sql.ErrNoRows) {
			return errIdle
		}
		if err != nil {
			return err
		}
		var shipped bool
		if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM stock_picking WHERE sale_id = $1 AND state <> 'cancel')`,
			id).Scan(&shipped); err != nil {
			return err
		}
		if shipped {
			return errIdle // shipped meanwhile
		}
		var pickType, from, to int64
		if err := tx.QueryRowContext(ctx, `SELECT id, default_location_src_id, default_location_dest_id FROM stock_picking_type
			WHERE code = 'outgoing' AND active AND (warehouse_id = $1 OR warehouse_id IS NULL)
			ORDER BY warehouse_id NULLS LAST, sequence, id LIMIT 1`, warehouse).Scan(&pickType, &from, &to); err != nil {
			return fmt.Errorf("demo: no delivery operation type for warehouse %d: %w", warehouse, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO stock_picking (location_id, location_dest_id, picking_type_id, partner_id,
			company_id, sale_id, origin, move_type, state, scheduled_date, date_deadline, date, date_done,
			carrier_tracking_ref, create_uid, write_uid)
			VALUES ($1, $2, $3, $4, 1, $5, $6, 'direct', 'done', `+nowUTC+`, `+nowUTC+`, `+nowUTC+`, `+nowUTC+`, $7, $8, $8)`,
			from, to, pickType, partner, id, name, tracking, odooUser); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `UPDATE sale_order_line SET qty_delivered = product_uom_qty, write_date = `+nowUTC+`,
			write_uid = $1 WHERE order_id = $2 AND display_type IS NULL AND product_id IS NOT NULL
			RETURNING product_id, product_uom_qty::text`, odooUser, id)
		if err != nil {
			return err
		}
		type move struct {
			product int64
			qty     string
		}
		var moves []move
		for rows.Next() {
			var m move
			if err := rows.Scan(&m.product, &m.qty); err != nil {
				rows.Close()
				return err
			}
			moves = append(moves, m)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		// the goods leave the shelf; products in one order, against deadlocks
		sort.Slice(moves, func(i, j int) bool { return moves[i].product < moves[j].product })
		for _, m := range moves {
			if _, err := tx.ExecContext(ctx, `UPDATE stock_quant SET quantity = quantity - $1::numeric, write_date = `+nowUTC+`,
				write_uid = $2 WHERE id = (SELECT id FROM stock_quant WHERE product_id = $3 AND location_id = $4
				ORDER BY id LIMIT 1)`, m.qty, odooUser, m.product, from); err != nil {
				return err
			}
		}
		return nil
	})
}

// erpSaleOrder is what invoicing and credit notes need of a sale order.
type erpSaleOrder struct {
	id                int64
	name              string
	clientRef         *string
	partner, shipping int64 // the invoice and delivery addresses
	customer          int64 // partner_id
	currency          int64
}

// erpLine is a sale order line's invoiceable amounts.
type erpLine struct {
	product             *int64
	name                string
	qtyCents            int64 // the quantity in hundredths
	untaxed, tax, total int64
	unitCents           int64
}

// saleLines reads an order's product lines. The untaxed amount is
// price_subtotal when set (the shop's line total, as tandem writes it), else
// price_unit x quantity.
func saleLines(ctx context.Context, tx *sql.Tx, orderID int64) ([]erpLine, error) {
	rows, err := tx.QueryContext(ctx, `SELECT product_id, name, product_uom_qty::text, price_unit::text, price_subtotal::text,
		price_tax::text FROM sale_order_line WHERE order_id = $1 AND display_type IS NULL ORDER BY sequence, id`, orderID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []erpLine
	for rows.Next() {
		var l erpLine
		var qty string
		var unit, subtotal, tax *string
		if err := rows.Scan(&l.product, &l.name, &qty, &unit, &subtotal, &tax); err != nil {
			return nil, err
		}
		if l.qtyCents, err = parseCents(qty); err != nil {
			return nil, err
		}
		if unit != nil {
			if l.unitCents, err = parseCents(*unit); err != nil {
				return nil, err
			}
		}
		l.untaxed = mulDivRound(l.unitCents, l.qtyCents, 100)
		if subtotal != nil {
			if l.untaxed, err = parseCents(*subtotal); err != nil {
				return nil, err
			}
		}
		if tax != nil {
			if l.tax, err = parseCents(*tax); err != nil {
				return nil, err
			}
		}
		if l.unitCents == 0 && l.qtyCents != 0 {
			l.unitCents = mulDivRound(l.untaxed, 100, l.qtyCents)
		}
		l.total = l.untaxed + l.tax
		out = append(out, l)
	}
	return out, rows.Err()
}

// journal is the sales journal, locked for numbering, with the accounts and
// taxes its entries use.
type journal struct {
	id                         int64
	income, receivable, taxAcc *int64
	taxes                      map[int64]int64 // percent (whole) -> account_tax id
	prefix                     string          // "INV/2025/"
	number                     int64
	name                       string // "INV/2025/00042"
	commercial, currency       int64  // of the entry being written
}

// openJournal locks the sales journal (Odoo serializes a journal's numbers)
// and gives the next number of prefix ("INV/" or "RINV/") this year.
func openJournal(ctx context.Context, tx *sql.Tx, prefix string) (*journal, error) {
	j := &journal{taxes: map[int64]int64{}}
	err := tx.QueryRowContext(ctx, `SELECT j.id, j.default_account_id,
		(SELECT id FROM account_account WHERE account_type = 'asset_receivable' AND company_id = j.company_id ORDER BY id LIMIT 1),
		(SELECT id FROM account_account WHERE account_type = 'liability_current' AND company_id = j.company_id ORDER BY id LIMIT 1)
		FROM account_journal j WHERE j.type = 'sale' AND j.company_id = 1 AND j.active
		ORDER BY j.sequence, j.id LIMIT 1 FOR NO KEY UPDATE OF j`).Scan(&j.id, &j.income, &j.receivable, &j.taxAcc)
	if err != nil {
		return nil, fmt.Errorf("demo: the sales journal: %w", err)
	}
	rows, err := tx.QueryContext(ctx, `SELECT id, amount::text FROM account_tax WHERE type_tax_use = 'sale' AND active
		AND amount_type = 'percent' ORDER BY sequence, id`)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var id int64
		var amount string
		if err := rows.Scan(&id, &amount); err != nil {
			rows.Close()
			return nil, err
		}
		if pct, err := parseCents(amount); err == nil && pct%100 == 0 {
			if _, dup := j.taxes[pct/100]; !dup {
				j.taxes[pct/100] = id
			}
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	err = tx.QueryRowContext(ctx, `SELECT s.p, COALESCE((SELECT max(sequence_number) FROM account_move
		WHERE journal_id = $1 AND sequence_prefix = s.p), 0) + 1
		FROM (SELECT $2 || to_char(`+nowUTC+`, 'YYYY') || '/' AS p) s`, j.id, prefix).Scan(&j.prefix, &j.number)
	if err != nil {
		return nil, err
	}
	j.name = fmt.Sprintf("%s%05d", j.prefix, j.number)
	return j, nil
}

// moveLine is one journal item; balance > 0 is a debit.
type moveLine struct {
	account, product, taxLine *int64
	name, displayType         string
	qtyCents, unitCents       int64
	subtotal, total           int64
	balance                   int64
}

// moveLines are the journal items of an invoice (sign +1) or credit note
// (sign -1) over lines: income per line, tax per tax rate, the receivable.
// They balance to zero.
func moveLines(j *journal, lines []erpLine, sign int64) []moveLine {
	var out []moveLine
	taxBy := map[int64]int64{} // tax id (0: none found) -> amount
	var taxIDs []int64
	var untaxed, tax int64
	for _, l := range lines {
		out = append(out, moveLine{account: j.income, product: l.product, name: l.name, displayType: "product",
			qtyCents: l.qtyCents, unitCents: l.unitCents, subtotal: l.untaxed, total: l.total, balance: -sign * l.untaxed})
		untaxed += l.untaxed
		tax += l.tax
		if l.tax == 0 {
			continue
		}
		var id int64
		if l.untaxed != 0 {
			id = j.taxes[mulDivRound(l.tax, 100, l.untaxed)]
		}
		if _, seen := taxBy[id]; !seen {
			taxIDs = append(taxIDs, id)
		}
		taxBy[id] += l.tax
	}
	for _, id := range taxIDs {
		ml := moveLine{account: j.taxAcc, name: "Tax", displayType: "tax", balance: -sign * taxBy[id]}
		if id != 0 {
			ml.taxLine = &id
		}
		out = append(out, ml)
	}
	out = append(out, moveLine{account: j.receivable, name: j.name, displayType: "payment_term", balance: sign * (untaxed + tax)})
	return out
}

func insertMoveLines(ctx context.Context, tx *sql.Tx, moveID int64, j *journal, lines []moveLine) error {
	for _, l := range lines {
		var qty, unit, subtotal, total *string
		if l.displayType == "product" {
			q, u, s, t := seedDec(l.qtyCents), seedDec(l.unitCents), seedDec(l.subtotal), seedDec(l.total)
			qty, unit, subtotal, total = &q, &u, &s, &t
		}
		debit, credit := max(l.balance, 0), max(-l.balance, 0)
		residual := int64(0) // what is still to be paid: the receivable
		if l.displayType == "payment_term" {
			residual = l.balance
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO account_move_line (move_id, journal_id, company_id, company_currency_id,
			account_id, currency_id, partner_id, product_id, product_uom_id, tax_line_id, move_name, parent_state, name,
			display_type, date, quantity, price_unit, price_subtotal, price_total, balance, amount_currency, debit, credit,
			amount_residual, create_uid, write_uid)
			VALUES ($1, $2, 1, 1, $3, $4, $5, $6, CASE WHEN $6::int4 IS NULL THEN NULL ELSE 1 END, $7, $8, 'posted', $9, $10,
			(`+nowUTC+`)::date, $11::numeric, $12::numeric, $13::numeric, $14::numeric, $15::numeric, $15::numeric,
			$16::numeric, $17::numeric, $18::numeric, $19, $19)`,
			moveID, j.id, l.account, j.currency, j.commercial, l.product, l.taxLine, j.name, l.name, l.displayType,
			qty, unit, subtotal, total, seedDec(l.balance), seedDec(debit), seedDec(credit), seedDec(residual), odooUser); err != nil {
			return err
		}
	}
	return nil
}

// loadSaleOrder reads the sale order id, locked against a concurrent
// confirmation, delivery or invoice.
func loadSaleOrder(ctx context.Context, tx *sql.Tx, where string, arg any) (erpSaleOrder, error) {
	var so erpSaleOrder
	err := tx.QueryRowContext(ctx, `SELECT id, name, client_order_ref, partner_invoice_id, partner_shipping_id, partner_id,
		COALESCE(currency_id, 1) FROM sale_order WHERE `+where+` ORDER BY id LIMIT 1 FOR NO KEY UPDATE`, arg).
		Scan(&so.id, &so.name, &so.clientRef, &so.partner, &so.shipping, &so.customer, &so.currency)
	if errors.Is(err, sql.ErrNoRows) {
		return so, errIdle
	}
	return so, err
}

// commercialPartner is Odoo's commercial_partner_id of a partner.
func commercialPartner(ctx context.Context, tx *sql.Tx, partner int64) (int64, error) {
	var c *int64
	if err := tx.QueryRowContext(ctx, `SELECT commercial_partner_id FROM res_partner WHERE id = $1`, partner).Scan(&c); err != nil {
		return 0, err
	}
	if c == nil {
		return partner, nil
	}
	return *c, nil
}

func (g *generator) issueInvoice(ctx context.Context, r *rand.Rand) error {
	return inTx(ctx, g.erp, func(tx *sql.Tx) error {
		var id int64
		if err := pick(ctx, tx, true, r, "t.id", "sale_order", "id",
			`t.state = 'sale' AND NOT EXISTS (SELECT 1 FROM account_move m WHERE m.invoice_origin = t.name
			AND m.move_type = 'out_invoice' AND m.state <> 'cancel')`, nil, &id); err != nil {
			return err
		}
		so, err := loadSaleOrder(ctx, tx, "id = $1 AND state = 'sale'", id)
		if err != nil {
			return err
		}
		var invoiced bool
		if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM account_move WHERE invoice_origin = $1
			AND move_type = 'out_invoice' AND state <> 'cancel')`, so.name).Scan(&invoiced); err != nil {
			return err
		}
		if invoiced {
			return errIdle
		}
		lines, err := saleLines(ctx, tx, so.id)
		if err != nil {
			return err
		}
		if len(lines) == 0 {
			return errIdle // Odoo: "there is no invoiceable line"
		}
		j, err := openJournal(ctx, tx, "INV/")
		if err != nil {
			return err
		}
		// the invoice goes to the invoice address; its commercial partner is
		// the customer's (an address partner tandem created for a shop
		// order has no parent to take it from)
		if j.commercial, err = commercialPartner(ctx, tx, so.customer); err != nil {
			return err
		}
		j.currency = so.currency
		ml := moveLines(j, lines, 1)
		untaxed, tax := sumLines(lines)
		var moveID int64
		err = tx.QueryRowContext(ctx, `INSERT INTO account_move (journal_id, company_id, partner_id, commercial_partner_id,
			partner_shipping_id, currency_id, name, sequence_prefix, sequence_number, ref, state, move_type,
			payment_state, invoice_origin, date, invoice_date, invoice_date_due, amount_untaxed, amount_tax,
			amount_total, amount_residual, amount_untaxed_signed, amount_tax_signed, amount_total_signed,
			amount_residual_signed, create_uid, write_uid)
			VALUES ($1, 1, $2, $3, $4, $5, $6, $7, $8, $9, 'posted', 'out_invoice', 'not_paid', $10,
			(`+nowUTC+`)::date, (`+nowUTC+`)::date, (`+nowUTC+`)::date + 30, $11::numeric, $12::numeric, $13::numeric,
			$13::numeric, $11::numeric, $12::numeric, $13::numeric, $13::numeric, $14, $14) RETURNING id`,
			j.id, so.partner, j.commercial, so.shipping, so.currency, j.name, j.prefix, j.number, so.clientRef, so.name,
			seedDec(untaxed), seedDec(tax), seedDec(untaxed+tax), odooUser).Scan(&moveID)
		if err != nil {
			return err
		}
		if err := insertMoveLines(ctx, tx, moveID, j, ml); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE sale_order_line SET qty_invoiced = product_uom_qty, qty_to_invoice = 0,
			invoice_status = 'invoiced', untaxed_amount_invoiced = price_subtotal, untaxed_amount_to_invoice = 0,
			write_date = `+nowUTC+`, write_uid = $1 WHERE order_id = $2 AND display_type IS NULL`, odooUser, so.id); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE sale_order SET invoice_status = 'invoiced', amount_to_invoice = 0,
			write_date = `+nowUTC+`, write_uid = $1 WHERE id = $2`, odooUser, so.id)
		return err
	})
}

func sumLines(lines []erpLine) (untaxed, tax int64) {
	for _, l := range lines {
		untaxed += l.untaxed
		tax += l.tax
	}
	return untaxed, tax
}

func (g *generator) approveReturn(ctx context.Context, r *rand.Rand) error {
	return inTx(ctx, g.erp, func(tx *sql.Tx) error {
		var id int64
		if err := pick(ctx, tx, true, r, "t.id", "account_move", "id",
			"t.move_type = 'out_refund' AND t.state = 'draft'", nil, &id); err != nil {
			return err
		}
		var origin *string
		var partner *int64
		err := tx.QueryRowContext(ctx, `SELECT invoice_origin, partner_id FROM account_move
			WHERE id = $1 AND state = 'draft' FOR UPDATE`, id).Scan(&origin, &partner)
		if errors.Is(err, sql.ErrNoRows) {
			return errIdle // approved meanwhile
		}
		if err != nil {
			return err
		}
		if origin == nil {
			return errIdle // a return of an order nobody can find: left for a human
		}
		so, err := loadSaleOrder(ctx, tx, "client_order_ref = $1", *origin)
		if err != nil {
			return err // errIdle: the order has not arrived yet
		}
		lines, err := saleLines(ctx, tx, so.id)
		if err != nil {
			return err
		}
		if len(lines) == 0 {
			return errIdle
		}
		var invoice *int64
		if err := tx.QueryRowContext(ctx, `SELECT (SELECT id FROM account_move WHERE move_type = 'out_invoice'
			AND state = 'posted' AND invoice_origin = $1 ORDER BY id LIMIT 1)`, so.name).Scan(&invoice); err != nil {
			return err
		}
		j, err := openJournal(ctx, tx, "RINV/")
		if err != nil {
			return err
		}
		p := so.partner
		if partner != nil {
			p = *partner
		}
		if j.commercial, err = commercialPartner(ctx, tx, so.customer); err != nil {
			return err
		}
		j.currency = so.currency
		untaxed, tax := sumLines(lines)
		if _, err := tx.ExecContext(ctx, `UPDATE account_move SET journal_id = $1, name = $2, sequence_prefix = $3,
			sequence_number = $4, state = 'posted', partner_id = $5, commercial_partner_id = $6, partner_shipping_id = $7,
			currency_id = $8, reversed_entry_id = $9, payment_state = 'not_paid', date = (`+nowUTC+`)::date,
			invoice_date = (`+nowUTC+`)::date, invoice_date_due = (`+nowUTC+`)::date,
			amount_untaxed = $10::numeric, amount_tax = $11::numeric, amount_total = $12::numeric, amount_residual = $12::numeric,
			amount_untaxed_signed = -$10::numeric, amount_tax_signed = -$11::numeric, amount_total_signed = -$12::numeric,
			amount_residual_signed = -$12::numeric, write_date = `+nowUTC+`, write_uid = $13 WHERE id = $14`,
			j.id, j.name, j.prefix, j.number, p, j.commercial, so.shipping, so.currency, invoice,
			seedDec(untaxed), seedDec(tax), seedDec(untaxed+tax), odooUser, id); err != nil {
			return err
		}
		var hasLines bool
		if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM account_move_line WHERE move_id = $1)`, id).Scan(&hasLines); err != nil {
			return err
		}
		if hasLines {
			_, err = tx.ExecContext(ctx, `UPDATE account_move_line SET parent_state = 'posted', move_name = $1 WHERE move_id = $2`, j.name, id)
			return err
		}
		return insertMoveLines(ctx, tx, id, j, moveLines(j, lines, -1))
	})
}
