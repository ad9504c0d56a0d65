package demo

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"time"
)

// The seed's data is planned first, in memory and from the RNG alone (this
// file), and written afterwards (seed.go), so the same SeedOptions always give
// the same data, whatever ids the databases hand out. Money is kept in cents.

// seedTax is one of the three sale taxes, in both systems.
type seedTax struct {
	name    string // Odoo account_tax.name (en_US) = WooCommerce tax_rate_name
	percent int64
	class   string // WooCommerce tax class: "" is the standard class
}

var seedTaxes = []seedTax{{"19%", 19, ""}, {"7%", 7, "reduced-rate"}, {"0%", 0, "zero-rate"}}

// seedCategories are the product categories below "All / Saleable".
var seedCategories = []string{"Drinkware", "Apparel", "Stationery", "Books", "Food & Drink", "Bags", "Home", "Gifts"}

// seedWarehouses: the fixtures' main warehouse WH and two more.
var seedWarehouses = []struct{ code, name string }{{"WH", "My Company"}, {"HAM", "Hamburg"}, {"MUC", "Munich"}}

type seedKind struct {
	code, noun string
	category   int
	minC, maxC int64 // list price range, cents
	minG, maxG int   // weight range, grams
	tax        int   // index into seedTaxes
	colors     bool
	sizes      []string
	service    bool // no stock (a gift card)
}

var seedKinds = []seedKind{
	{code: "MUG", noun: "Mug", category: 0, minC: 890, maxC: 1990, minG: 280, maxG: 420, colors: true, sizes: []string{"S", "L"}},
	{code: "CUP", noun: "Espresso Cup", category: 0, minC: 690, maxC: 1490, minG: 90, maxG: 160, colors: true},
	{code: "BOTTLE", noun: "Water Bottle", category: 0, minC: 1490, maxC: 3490, minG: 180, maxG: 420, colors: true, sizes: []string{"500ML", "750ML"}},
	{code: "TUMBLER", noun: "Tumbler", category: 0, minC: 1290, maxC: 2990, minG: 220, maxG: 380, colors: true},
	{code: "TEE", noun: "T-Shirt", category: 1, minC: 1990, maxC: 3490, minG: 150, maxG: 220, colors: true, sizes: []string{"S", "M", "L", "XL"}},
	{code: "HOODIE", noun: "Hoodie", category: 1, minC: 4490, maxC: 7990, minG: 480, maxG: 720, colors: true, sizes: []string{"S", "M", "L", "XL"}},
	{code: "CAP", noun: "Cap", category: 1, minC: 1490, maxC: 2990, minG: 80, maxG: 140, colors: true},
	{code: "SOCKS", noun: "Socks", category: 1, minC: 890, maxC: 1490, minG: 60, maxG: 90, colors: true, sizes: []string{"39-42", "43-46"}},
	{code: "SCARF", noun: "Scarf", category: 1, minC: 2490, maxC: 4990, minG: 120, maxG: 260, colors: true},
	{code: "NOTEBOOK", noun: "Notebook", category: 2, minC: 590, maxC: 1890, minG: 180, maxG: 420, sizes: []string{"A5", "A4"}},
	{code: "PEN", noun: "Pen", category: 2, minC: 290, maxC: 2490, minG: 15, maxG: 40, colors: true},
	{code: "PLANNER", noun: "Planner", category: 2, minC: 1490, maxC: 2990, minG: 320, maxG: 520},
	{code: "BOOK", noun: "Cookbook", category: 3, minC: 1990, maxC: 3990, minG: 600, maxG: 1100, tax: 1},
	{code: "GUIDE", noun: "Travel Guide", category: 3, minC: 1490, maxC: 2490, minG: 300, maxG: 520, tax: 1},
	{code: "COFFEE", noun: "Coffee Beans", category: 4, minC: 890, maxC: 2490, minG: 250, maxG: 1000, tax: 1, sizes: []string{"250G", "1KG"}},
	{code: "TEA", noun: "Tea", category: 4, minC: 590, maxC: 1690, minG: 100, maxG: 250, tax: 1},
	{code: "CHOC", noun: "Chocolate", category: 4, minC: 290, maxC: 890, minG: 100, maxG: 200, tax: 1},
	{code: "TOTE", noun: "Tote Bag", category: 5, minC: 990, maxC: 2490, minG: 120, maxG: 240, colors: true},
	{code: "BACKPACK", noun: "Backpack", category: 5, minC: 4990, maxC: 12990, minG: 600, maxG: 1300, colors: true},
	{code: "POUCH", noun: "Pouch", category: 5, minC: 790, maxC: 1990, minG: 40, maxG: 110, colors: true},
	{code: "CANDLE", noun: "Candle", category: 6, minC: 990, maxC: 2990, minG: 180, maxG: 600},
	{code: "POSTER", noun: "Poster", category: 6, minC: 1290, maxC: 3990, minG: 80, maxG: 200, sizes: []string{"A3", "A2"}},
	{code: "CUSHION", noun: "Cushion", category: 6, minC: 2490, maxC: 4990, minG: 350, maxG: 700, colors: true},
	{code: "BLANKET", noun: "Blanket", category: 6, minC: 4990, maxC: 9990, minG: 900, maxG: 1600, colors: true},
	{code: "GIFTCARD", noun: "Gift Card", category: 7, minC: 2500, maxC: 2500, tax: 2, service: true, sizes: []string{"25", "50", "100"}},
}

var seedStyles = [][2]string{
	{"CLASSIC", "Classic"}, {"ENAMEL", "Enamel"}, {"STONE", "Stoneware"}, {"LINEN", "Linen"}, {"ORGANIC", "Organic"},
	{"VINTAGE", "Vintage"}, {"URBAN", "Urban"}, {"ALPINE", "Alpine"}, {"NORDIC", "Nordic"}, {"COASTAL", "Coastal"},
	{"FOREST", "Forest"}, {"RETRO", "Retro"}, {"MINIMAL", "Minimal"}, {"TRAVEL", "Travel"}, {"STUDIO", "Studio"},
	{"HERITAGE", "Heritage"}, {"SUMMIT", "Summit"}, {"HARBOR", "Harbor"}, {"MEADOW", "Meadow"}, {"CANYON", "Canyon"},
	{"AURORA", "Aurora"}, {"PIXEL", "Pixel"}, {"BOTANIC", "Botanic"}, {"DELTA", "Delta"},
}

var seedColors = [][2]string{
	{"BLACK", "Black"}, {"WHITE", "White"}, {"NAVY", "Navy"}, {"GREY", "Grey"}, {"RED", "Red"},
	{"GREEN", "Green"}, {"BLUE", "Blue"}, {"YELLOW", "Yellow"}, {"PINK", "Pink"}, {"SAND", "Sand"},
}

var seedFirstNames = []string{
	"Anna", "Lena", "Marie", "Sophie", "Laura", "Julia", "Lea", "Hannah", "Emma", "Mia", "Clara", "Katharina",
	"Sarah", "Johanna", "Paula", "Charlotte", "Nina", "Jana", "Franziska", "Sabine", "Claudia", "Petra", "Emily",
	"Olivia", "Chloé", "Camille", "Sanne", "Fleur", "Ingrid", "Zoë",
	"Lukas", "Jonas", "Felix", "Leon", "Maximilian", "Paul", "Elias", "Noah", "Tim", "Jan", "David", "Simon",
	"Moritz", "Niklas", "Florian", "Tobias", "Stefan", "Thomas", "Michael", "Andreas", "Jürgen", "Matthias",
	"James", "Daniel", "Ethan", "Lucas", "Hugo", "Bram", "Daan", "René",
}

var seedLastNames = []string{
	"Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz", "Hoffmann",
	"Schäfer", "Koch", "Bauer", "Richter", "Klein", "Wolf", "Schröder", "Neumann", "Schwarz", "Zimmermann",
	"Braun", "Krüger", "Hofmann", "Hartmann", "Lange", "Schmitt", "Werner", "Krause", "Meier", "Lehmann",
	"Huber", "Gruber", "Steiner", "Brunner", "Keller", "Frei", "de Vries", "Jansen", "van Dijk", "Bakker",
	"Martin", "Bernard", "Dubois", "Lefèvre", "Smith", "Johnson", "Miller", "Brown", "Davis", "Wilson",
	"Vogel", "Friedrich", "Günther", "Roth", "Peters", "Sommer", "Berger", "Kaiser", "Fuchs", "Scholz",
}

var seedDomains = []string{"gmail.com", "web.de", "gmx.de", "outlook.com", "icloud.com", "posteo.de", "t-online.de", "yahoo.com", "mailbox.org", "proton.me"}

var seedStreets = []string{
	"Hauptstraße", "Bahnhofstraße", "Gartenweg", "Lindenallee", "Schillerstraße", "Goethestraße", "Bergstraße",
	"Am Markt", "Kirchgasse", "Mühlenweg", "Rosenstraße", "Ringstraße", "Dorfstraße", "Wiesenweg", "Parkstraße",
}

type seedPlace struct{ city, postcode, state string }

var seedCountries = []struct {
	code   string
	name   string
	weight int
	phone  string
	places []seedPlace
	street []string
}{
	{"DE", "Germany", 70, "+49", []seedPlace{{"Berlin", "10115", "BE"}, {"Hamburg", "20095", "HH"}, {"München", "80331", "BY"},
		{"Köln", "50667", "NW"}, {"Frankfurt am Main", "60311", "HE"}, {"Stuttgart", "70173", "BW"}, {"Leipzig", "04109", "SN"},
		{"Dresden", "01067", "SN"}, {"Bremen", "28195", "HB"}, {"Hannover", "30159", "NI"}, {"Nürnberg", "90402", "BY"},
		{"Freiburg im Breisgau", "79098", "BW"}, {"Münster", "48143", "NW"}, {"Kiel", "24103", "SH"}}, nil},
	{"AT", "Austria", 10, "+43", []seedPlace{{"Wien", "1010", "9"}, {"Graz", "8010", "6"}, {"Linz", "4020", "4"}, {"Salzburg", "5020", "5"}, {"Innsbruck", "6020", "7"}}, nil},
	{"CH", "Switzerland", 5, "+41", []seedPlace{{"Zürich", "8001", "ZH"}, {"Bern", "3011", "BE"}, {"Basel", "4051", "BS"}, {"Luzern", "6003", "LU"}}, nil},
	{"NL", "Netherlands", 5, "+31", []seedPlace{{"Amsterdam", "1012 AB", "NH"}, {"Utrecht", "3511 AA", "UT"}, {"Rotterdam", "3011 AA", "ZH"}},
		[]string{"Keizersgracht", "Oudegracht", "Coolsingel", "Dorpsstraat"}},
	{"FR", "France", 4, "+33", []seedPlace{{"Paris", "75003", "75"}, {"Lyon", "69002", "69"}, {"Strasbourg", "67000", "67"}},
		[]string{"Rue de Rivoli", "Rue de la République", "Avenue Jean Jaurès", "Rue Victor Hugo"}},
	{"US", "United States", 6, "+1", []seedPlace{{"New York", "10001", "NY"}, {"San Francisco", "94103", "CA"}, {"Austin", "78701", "TX"}, {"Seattle", "98101", "WA"}, {"Chicago", "60601", "IL"}},
		[]string{"Main Street", "Oak Avenue", "Market Street", "Pine Street", "Maple Avenue"}},
}

var seedCompanies = []string{"Nordlicht GmbH", "Kaffeewerk UG", "Studio Berg", "Atelier Sommer", "Hafen & Co. KG", "Pixelwerk GmbH", "Grünraum e.K."}

var seedUserAgents = []string{
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
	"Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
	"Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
	"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36",
}

var seedNotes = []string{"Bitte beim Nachbarn abgeben.", "Please leave the parcel at the door.", "Geschenk: bitte ohne Rechnung im Paket.",
	"Bitte nicht vor 10 Uhr klingeln.", "Gift wrap if possible, thanks!"}

// seedTemplate is an Odoo product template; its variants are the products.
type seedTemplate struct {
	code, name, description string
	kind                    *seedKind
	listCents, usdCents     int64
	weightG, volumeML       int
	active                  bool
	created, updated        time.Time
	variants                []int // indexes into seedPlan.products
}

// seedProduct is one product variant: an Odoo product_product and, in the
// shop, a post of type product with the same SKU (the preset maps every
// variant to a WooCommerce simple product).
type seedProduct struct {
	tmpl        int
	sku         string
	barcode     string
	combination string
	attrs       string // "Blue, L"
	saleCents   int64  // the shop's _sale_price, 0 when not on sale
	listCents   int64  // the variant's price in EUR (the template's list price)
	usdCents    int64
	stock       [3]int64 // on hand per warehouse (WH, HAM, MUC)
	reserved    [3]int64
	sold        int64 // total_sales in the shop
}

// priceCents is what the shop charges (its _price, the ERP's default
// pricelist price): the sale price when on sale, else the list price.
func (pr *seedProduct) priceCents() int64 {
	if pr.saleCents > 0 {
		return pr.saleCents
	}
	return pr.listCents
}

type seedCustomer struct {
	userID                         int64 // 0: a guest
	username, first, last, email   string
	phone, company                 string
	country, postcode, city, state string
	street, street2                string
	registered, lastActive         time.Time
	ordered                        bool
}

type seedLine struct {
	product          int
	qty              int64
	unitCents        int64
	subtotal, total  int64 // before / after the coupon
	subtotalTax, tax int64
	taxIdx           int
}

type seedOrder struct {
	customer                            int
	status                              string // WooCommerce, without "wc-"
	currency                            string
	created, updated                    time.Time
	paid, completed                     time.Time // zero: not yet
	method, methodTitle                 string
	ip, userAgent, note, orderKey, cart string
	coupon                              string
	lines                               []seedLine
	shipping, shippingTax               int64
	shipTo                              *seedCustomer // a different shipping address (a gift), or nil
	source                              string
}

func (o *seedOrder) taxTotal() int64 {
	t := o.shippingTax
	for _, l := range o.lines {
		t += l.tax
	}
	return t
}

func (o *seedOrder) total() int64 {
	t := o.shipping + o.shippingTax
	for _, l := range o.lines {
		t += l.total + l.tax
	}
	return t
}

func (o *seedOrder) discount() (net, tax int64) {
	for _, l := range o.lines {
		net += l.subtotal - l.total
		tax += l.subtotalTax - l.tax
	}
	return net, tax
}

// seedPlan is everything Seed writes, before ids are assigned.
type seedPlan struct {
	now       time.Time
	templates []seedTemplate
	products  []seedProduct
	customers []seedCustomer
	orders    []seedOrder
}

// seedTaxOf is round-half-up cents of percent% of cents.
func seedTaxOf(cents, percent int64) int64 { return (cents*percent + 50) / 100 }

func planSeed(opts SeedOptions) *seedPlan {
	r := rand.New(rand.NewPCG(uint64(opts.Seed), 0x7a6e64656d2d5345))
	p := &seedPlan{now: opts.Now}
	between := func(lo, hi int64) int64 { return lo + r.Int64N(hi-lo+1) }
	ago := func(minDays, maxDays int) time.Time {
		secs := between(int64(minDays)*86400, int64(maxDays)*86400)
		return p.now.Add(-time.Duration(secs) * time.Second)
	}
	pick := func(list []string) string { return list[r.IntN(len(list))] }

	// products: unique kind x style pairs
	type pair struct{ k, s int }
	pairs := make([]pair, 0, len(seedKinds)*len(seedStyles))
	for k := range seedKinds {
		for s := range seedStyles {
			pairs = append(pairs, pair{k, s})
		}
	}
	r.Shuffle(len(pairs), func(i, j int) { pairs[i], pairs[j] = pairs[j], pairs[i] })
	n := min(opts.Templates, len(pairs))
	barcode := int64(0)
	for _, pr := range pairs[:n] {
		kind, style := &seedKinds[pr.k], seedStyles[pr.s]
		price := between(kind.minC/100, kind.maxC/100)*100 + []int64{90, 99, 50, 0}[r.IntN(4)]
		if price > kind.maxC {
			price = kind.maxC
		}
		t := seedTemplate{
			code:      kind.code + "-" + style[0],
			name:      style[1] + " " + kind.noun,
			kind:      kind,
			listCents: price,
			usdCents:  ((price*110/100)/100)*100 + 99,
			weightG:   int(between(int64(kind.minG), int64(kind.maxG))),
			active:    r.IntN(50) != 0,
		}
		t.volumeML = t.weightG * 3
		t.description = fmt.Sprintf("<p>The %s %s: %s.</p>", strings.ToLower(style[1]), strings.ToLower(kind.noun),
			pick([]string{"made to last", "designed in Hamburg", "a customer favourite", "made from recycled materials", "a perfect gift"}))
		t.created = ago(200, 720)
		t.updated = t.created.Add(time.Duration(between(0, 180*86400)) * time.Second)
		if kind.service {
			t.weightG, t.volumeML = 0, 0
		}
		// variants: colours x sizes, at most 8
		var colors [][2]string
		if kind.colors && r.IntN(10) < 7 {
			perm := r.Perm(len(seedColors))
			for _, c := range perm[:1+r.IntN(3)] {
				colors = append(colors, seedColors[c])
			}
		}
		sizes := kind.sizes
		switch {
		case kind.service:
			// one value per gift card: the preset takes a product's price
			// from its template, so a template's variants share one price
			sizes = []string{sizes[r.IntN(len(sizes))]}
		case len(sizes) > 0 && r.IntN(10) < 3:
			sizes = nil
		}
		type variant struct{ sku, attrs, comb string }
		var vs []variant
		add := func(c [2]string, ci int, s string, si int) {
			v := variant{sku: t.code}
			var attrs, comb []string
			if c[0] != "" {
				v.sku += "-" + c[0]
				attrs = append(attrs, c[1])
				comb = append(comb, fmt.Sprint(ci+1))
			}
			if s != "" {
				v.sku += "-" + s
				attrs = append(attrs, s)
				comb = append(comb, fmt.Sprint(100+si))
			}
			v.attrs, v.comb = strings.Join(attrs, ", "), strings.Join(comb, ",")
			vs = append(vs, v)
		}
		switch {
		case len(colors) > 0 && len(sizes) > 0:
			for ci, c := range colors {
				for si, s := range sizes {
					add(c, ci, s, si)
				}
			}
		case len(colors) > 0:
			for ci, c := range colors {
				add(c, ci, "", 0)
			}
		case len(sizes) > 0:
			for si, s := range sizes {
				add([2]string{}, 0, s, si)
			}
		default:
			add([2]string{}, 0, "", 0)
		}
		if len(vs) > 8 {
			vs = vs[:8]
		}
		ti := len(p.templates)
		for _, v := range vs {
			barcode++
			pr := seedProduct{tmpl: ti, sku: v.sku, combination: v.comb, attrs: v.attrs,
				barcode: seedEAN13(400638100000 + barcode), listCents: t.listCents, usdCents: t.usdCents}
			if kind.service {
				// a gift card's value is its price
				var val int64
				fmt.Sscan(sizes[0], &val)
				pr.listCents, pr.usdCents = val*100, val*100
			} else {
				pr.stock = [3]int64{between(0, 200), between(0, 80), between(0, 60)}
				if r.IntN(12) == 0 {
					pr.stock[0] = 0
				}
				for w := range pr.stock {
					if pr.stock[w] > 0 {
						pr.reserved[w] = between(0, pr.stock[w]/10)
					}
				}
				if r.IntN(12) == 0 {
					pr.saleCents = pr.listCents * 8 / 10 / 10 * 10
				}
			}
			t.variants = append(t.variants, len(p.products))
			p.products = append(p.products, pr)
		}
		if kind.service && len(t.variants) > 0 {
			t.listCents = p.products[t.variants[0]].listCents
			t.usdCents = t.listCents
		}
		p.templates = append(p.templates, t)
	}

	// customers: unique e-mail addresses
	totalWeight := 0
	for _, c := range seedCountries {
		totalWeight += c.weight
	}
	emails := map[string]bool{}
	var userID int64 = 1 // 1 is the shop's admin
	for range opts.Customers {
		c := seedCustomer{first: pick(seedFirstNames), last: pick(seedLastNames)}
		w := r.IntN(totalWeight)
		ci := 0
		for w >= seedCountries[ci].weight {
			w -= seedCountries[ci].weight
			ci++
		}
		country := seedCountries[ci]
		place := country.places[r.IntN(len(country.places))]
		c.country, c.city, c.postcode, c.state = country.code, place.city, place.postcode, place.state
		streets := country.street
		if streets == nil {
			streets = seedStreets
		}
		if country.code == "US" || country.code == "FR" {
			c.street = fmt.Sprintf("%d %s", between(1, 980), pick(streets))
		} else {
			c.street = fmt.Sprintf("%s %d", pick(streets), between(1, 140))
		}
		if r.IntN(8) == 0 {
			c.street2 = fmt.Sprintf("%s %d", pick([]string{"Apt", "Wohnung", "c/o", "Hinterhaus"}), between(1, 40))
		}
		if r.IntN(15) == 0 {
			c.company = pick(seedCompanies)
		}
		local := seedASCII(c.first) + "." + seedASCII(c.last)
		if r.IntN(3) == 0 {
			local = seedASCII(c.first)[:1] + seedASCII(c.last)
		}
		domain := pick(seedDomains)
		email := local + "@" + domain
		for k := 2; emails[email]; k++ {
			email = fmt.Sprintf("%s%d@%s", local, k, domain)
		}
		emails[email] = true
		c.email = email
		c.phone = fmt.Sprintf("%s %d %07d", country.phone, between(20, 899), between(0, 9999999))
		c.registered = ago(5, 900)
		c.lastActive = c.registered.Add(time.Duration(between(0, int64(p.now.Sub(c.registered)/time.Second))) * time.Second)
		if r.IntN(4) != 0 { // a registered account; the rest checked out as guests
			userID++
			c.userID = userID
			c.username = strings.SplitN(email, "@", 2)[0]
		}
		p.customers = append(p.customers, c)
	}

	// orders, in the order they were placed
	var sellable []int
	for i, pr := range p.products {
		if p.templates[pr.tmpl].active {
			sellable = append(sellable, i)
		}
	}
	for range opts.Orders {
		o := seedOrder{customer: r.IntN(len(p.customers))}
		cust := &p.customers[o.customer]
		o.created = ago(0, 180)
		if o.created.Before(cust.registered) {
			o.created = cust.registered.Add(time.Hour)
		}
		age := p.now.Sub(o.created)
		roll := r.IntN(100)
		switch {
		case age < 2*24*time.Hour:
			o.status = map[bool]string{true: "pending", false: "processing"}[roll < 25]
			if roll >= 25 && roll < 35 {
				o.status = "on-hold"
			}
		case age < 14*24*time.Hour:
			o.status = "completed"
			switch {
			case roll < 30:
				o.status = "processing"
			case roll < 35:
				o.status = "on-hold"
			case roll < 40:
				o.status = "cancelled"
			}
		default:
			o.status = map[bool]string{true: "cancelled", false: "completed"}[roll < 8]
		}
		o.currency = "EUR"
		if cust.country == "US" {
			o.currency = "USD"
		}
		switch m := r.IntN(100); {
		case m < 50:
			o.method, o.methodTitle = "stripe", "Credit Card (Stripe)"
		case m < 85:
			o.method, o.methodTitle = "ppcp-gateway", "PayPal"
		default:
			o.method, o.methodTitle = "bacs", "Direct bank transfer"
		}
		if o.status == "on-hold" {
			o.method, o.methodTitle = "bacs", "Direct bank transfer"
		}
		o.ip = fmt.Sprintf("%d.%d.%d.%d", between(31, 217), r.IntN(256), r.IntN(256), between(1, 254))
		o.userAgent = pick(seedUserAgents)
		if r.IntN(10) == 0 {
			o.note = pick(seedNotes)
		}
		o.orderKey = "wc_order_" + seedToken(r, 13)
		o.cart = seedHex(r, 32)
		o.source = pick([]string{"typein", "organic", "referral", "utm"})
		if r.IntN(8) == 0 {
			o.coupon = "welcome10"
		}
		if r.IntN(7) == 0 {
			gift := p.customers[r.IntN(len(p.customers))]
			gift.email = ""
			o.shipTo = &gift
		}
		nLines := 1 + []int{0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 2, 2, 2, 3, 3, 4, 4}[r.IntN(20)]
		seen := map[int]bool{}
		var net int64
		for len(o.lines) < nLines {
			pi := sellable[r.IntN(len(sellable))]
			if seen[pi] {
				continue
			}
			seen[pi] = true
			pr := &p.products[pi]
			l := seedLine{product: pi, qty: 1, taxIdx: p.templates[pr.tmpl].kind.tax}
			if q := r.IntN(10); q >= 7 {
				l.qty = 2 + int64(q-7)/2
			}
			l.unitCents = pr.listCents
			if pr.saleCents > 0 {
				l.unitCents = pr.saleCents
			}
			if o.currency == "USD" {
				l.unitCents = pr.usdCents
			}
			l.subtotal = l.unitCents * l.qty
			l.total = l.subtotal
			if o.coupon != "" {
				l.total = l.subtotal - seedTaxOf(l.subtotal, 10)
			}
			pct := seedTaxes[l.taxIdx].percent
			l.subtotalTax, l.tax = seedTaxOf(l.subtotal, pct), seedTaxOf(l.total, pct)
			net += l.total
			o.lines = append(o.lines, l)
		}
		if net < 5000 {
			o.shipping = map[bool]int64{true: 590, false: 490}[o.currency == "USD"]
			o.shippingTax = seedTaxOf(o.shipping, seedTaxes[0].percent)
		}
		o.updated = o.created.Add(time.Duration(between(5, 600)) * time.Second)
		if o.status == "processing" || o.status == "completed" {
			o.paid = o.created.Add(time.Duration(between(5, 90)) * time.Second)
			o.updated = o.paid
		}
		if o.status == "completed" {
			o.completed = o.created.Add(time.Duration(between(20*3600, 5*86400)) * time.Second)
			if o.completed.After(p.now) {
				o.completed = p.now.Add(-time.Minute)
			}
			o.updated = o.completed
		}
		if o.status == "cancelled" {
			o.updated = o.created.Add(time.Duration(between(3600, 3*86400)) * time.Second)
		}
		if o.updated.After(p.now) {
			o.updated = p.now
		}
		if o.status == "processing" || o.status == "completed" {
			for _, l := range o.lines {
				p.products[l.product].sold += l.qty
			}
		}
		cust.ordered = true
		p.orders = append(p.orders, o)
	}
	sort.SliceStable(p.orders, func(i, j int) bool { return p.orders[i].created.Before(p.orders[j].created) })
	return p
}

// seedEAN13 is the EAN-13 barcode of a 12-digit number, with its check digit.
func seedEAN13(n int64) string {
	s := fmt.Sprintf("%012d", n)
	sum := 0
	for i, c := range s {
		d := int(c - '0')
		if i%2 == 1 {
			d *= 3
		}
		sum += d
	}
	return s + fmt.Sprint((10-sum%10)%10)
}

// seedASCII is a name as an e-mail address's local part.
func seedASCII(s string) string {
	s = strings.ToLower(s)
	s = strings.NewReplacer("ä", "ae", "ö", "oe", "ü", "ue", "ß", "ss", "é", "e", "è", "e", "ë", "e", " ", "").Replace(s)
	return s
}

func seedToken(r *rand.Rand, n int) string {
	const alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	b := make([]byte, n)
	for i := range b {
		b[i] = alnum[r.IntN(len(alnum))]
	}
	return string(b)
}

func seedHex(r *rand.Rand, n int) string {
	const hex = "0123456789abcdef"
	b := make([]byte, n)
	for i := range b {
		b[i] = hex[r.IntN(16)]
	}
	return string(b)
}
