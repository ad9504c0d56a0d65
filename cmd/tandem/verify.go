package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math/big"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/tandem-sync/tandem/capture"
	capmysql "github.com/tandem-sync/tandem/capture/mysql"
	cappg "github.com/tandem-sync/tandem/capture/postgres"
	"github.com/tandem-sync/tandem/mapping"
)

func newVerifyCmd(g *globals) *cobra.Command {
	var (
		entities []string
		limit    int
		format   string
	)
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Compare both sides entity by entity through the mapping and print the drift",
		Long: `Read every instance of each entity that flows, in both systems of each flow,
through the mapping (as the capture reads them), and compare them by natural
key. For each flow (entity, from, to) it reports:

  missing    an instance in the from-system that the to-system lacks
  extra      an instance in the to-system that the from-system lacks
  different  an instance in both whose field values differ

Only the fields that flow are compared (the flow's fields:, or those the
from-system owns or shares), and of those only the ones both systems map
and the to-system does not hold as a constant. Values are compared as the
events carry them: decimals by value (19.9 equals 19.90), timestamps in
UTC, status values through the value maps, a ref field by the natural key
of the instance it refers to, a child's aggregate key from its parent.

When the to-system's mapping says create: false (the entity lives on
another entity's row, e.g. a shipment kept on its order), an instance
present on one side only is not drift: only the instances in both are
compared, and the others counted as "one side only".

It prints a summary per flow (instances compared, equal, different,
missing, extra), what was skipped (rows without a natural key, references
that cannot be found, values that cannot be converted), then the first
--limit differences with the key and both values. --format json prints
the same as one JSON document.

The tables are read in primary key order, 5,000 rows per query, with
lookups of meta, joined, parent and referenced rows per 1,000 instances;
it only reads, and holds one entry per instance of the entity being
compared in memory. The reads are not one consistent snapshot: while
tandem runs, a change in flight can show as a difference; verify again to
confirm. A difference between two systems that both change an entity
(ownership both, or flows both ways) shows in each flow's direction.

Exit code 0 when both sides are equal, 1 when there is drift or a
database fails, 2 for bad flags, an unknown entity or an invalid config.`,
		Example: `  tandem verify --config tandem.yaml
  tandem verify -c tandem.yaml --entity customer --entity order --limit 100
  tandem verify -c tandem.yaml --format json > drift.json`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return &exitError{code: exitBadUsage, err: fmt.Errorf("unexpected argument %q\nrun '%s --help' for usage", args[0], cmd.CommandPath())}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format != "text" && format != "json" {
				return &exitError{code: exitBadUsage, err: fmt.Errorf("--format %q is not one of text, json", format)}
			}
			if limit < 0 {
				return &exitError{code: exitBadUsage, err: fmt.Errorf("--limit %d: give 0 (all) or more", limit)}
			}
			cfg, err := g.loadConfig()
			if err != nil {
				return err
			}
			flows, err := verifyFlows(cfg, entities)
			if err != nil {
				return &exitError{code: exitBadUsage, err: err}
			}
			ctx := cmd.Context()
			sources, err := openTableSources(ctx, cfg, flows)
			if err != nil {
				return &exitError{code: exitFailed, err: err}
			}
			defer func() {
				for _, s := range sources {
					s.Close()
				}
			}()
			report, err := verify(ctx, cfg, flows, tableSources(sources), limit)
			if err != nil {
				return &exitError{code: exitFailed, err: err}
			}
			if format == "json" {
				err = printVerifyJSON(g.stdout, report)
			} else {
				printVerify(g.stdout, report)
			}
			if err != nil {
				return err
			}
			if report.Drift {
				return &exitError{code: exitFailed, quiet: true}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&entities, "entity", nil, "compare only this entity (repeat or separate by commas; default: every entity that flows)")
	f.IntVar(&limit, "limit", 20, "print at most this many differences (0: all)")
	f.StringVar(&format, "format", "text", "text or json")
	return cmd
}

// verifyFlow is one flow to compare.
type verifyFlow struct {
	Entity, From, To string
	Fields           []string            // mapping.Config.ComparableFields
	Sub              map[string][]string // per record field, the fields both map (mapping.Config.ComparableSubfields)
	Creates          bool                // the to-system inserts missing rows (not create: false)
}

// verifyFlows returns the config's flows, each (entity, from, to) once, in
// config order, of the given entities only when any are given.
func verifyFlows(cfg *mapping.Config, entities []string) ([]verifyFlow, error) {
	var out []verifyFlow
	var flowing []string
	for _, f := range cfg.Flows {
		if !slices.Contains(flowing, f.Entity) {
			flowing = append(flowing, f.Entity)
		}
		if len(entities) > 0 && !slices.Contains(entities, f.Entity) ||
			slices.ContainsFunc(out, func(v verifyFlow) bool { return v.Entity == f.Entity && v.From == f.From && v.To == f.To }) {
			continue
		}
		vf := verifyFlow{Entity: f.Entity, From: f.From, To: f.To, Fields: cfg.ComparableFields(f.Entity, f.From, f.To),
			Creates: cfg.Systems[f.To].Entities[f.Entity].Creates(), Sub: map[string][]string{}}
		for _, field := range vf.Fields {
			if sub := cfg.ComparableSubfields(f.Entity, f.From, f.To, field); sub != nil {
				vf.Sub[field] = sub
			}
		}
		out = append(out, vf)
	}
	for _, e := range entities {
		if !slices.Contains(flowing, e) {
			slices.Sort(flowing)
			return nil, fmt.Errorf("--entity %s: no flow carries it (entities that flow: %s)", e, strings.Join(flowing, ", "))
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("the config has no flows: nothing to compare")
	}
	return out, nil
}

// tableSource is a system's row source for verify.
type tableSource interface {
	mapping.TableSource
	io.Closer
}

// openTableSources connects to every system of flows.
func openTableSources(ctx context.Context, cfg *mapping.Config, flows []verifyFlow) (map[string]tableSource, error) {
	out := map[string]tableSource{}
	for _, f := range flows {
		for _, name := range []string{f.From, f.To} {
			if out[name] != nil {
				continue
			}
			s, err := openTableSource(ctx, cfg.Systems[name])
			if err != nil {
				for _, o := range out {
					o.Close()
				}
				return nil, fmt.Errorf("system %s: %w", name, err)
			}
			out[name] = s
		}
	}
	return out, nil
}

func openTableSource(ctx context.Context, sys *mapping.System) (tableSource, error) {
	if sys.Kind == mapping.KindPostgres {
		s, err := cappg.NewRowSource(ctx, sys.DSN)
		if err != nil {
			return nil, err
		}
		return s, nil
	}
	s, err := capmysql.NewRowSource(ctx, sys.DSN)
	if err != nil {
		return nil, err
	}
	return s, nil
}

func tableSources(m map[string]tableSource) map[string]mapping.TableSource {
	out := make(map[string]mapping.TableSource, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// verifyReport is what verify found.
type verifyReport struct {
	Drift       bool           `json:"drift"`
	Flows       []*flowResult  `json:"flows"`
	Total       int            `json:"total_differences"` // all, beyond those listed
	Differences []verifyDiffer `json:"differences"`       // the first --limit
}

// flowResult is the summary of one flow.
type flowResult struct {
	Entity    string   `json:"entity"`
	From      string   `json:"from"`
	To        string   `json:"to"`
	Fields    []string `json:"fields"`
	Creates   bool     `json:"creates"`
	Compared  int      `json:"compared"` // instances in both: equal + different
	Equal     int      `json:"equal"`
	Different int      `json:"different"`
	Missing   int      `json:"missing"`
	Extra     int      `json:"extra"`
	// OneSided counts, for a to-system that does not create rows, the
	// instances on one side only: not compared, not drift.
	OneSided int `json:"one_sided"`
	// Skipped is what each system's reading left out, by reason.
	Skipped map[string]map[string]int `json:"skipped,omitempty"`
}

func (r *flowResult) drift() bool { return r.Different+r.Missing+r.Extra > 0 }

// verifyDiffer is one difference: an instance missing or extra, or one
// field of an instance in both.
type verifyDiffer struct {
	Kind      string `json:"kind"` // missing, extra or different
	Entity    string `json:"entity"`
	From      string `json:"from"`
	To        string `json:"to"`
	Key       string `json:"key"`
	Field     string `json:"field,omitempty"` // different only
	FromValue any    `json:"from_value"`      // missing: the instance's compared fields
	ToValue   any    `json:"to_value"`        // extra: the instance's compared fields
}

// verify compares the flows, reading each entity's instances once per
// system (the systems of an entity at once), one entity at a time. It
// lists the first limit differences (0: all).
func verify(ctx context.Context, cfg *mapping.Config, flows []verifyFlow, sources map[string]mapping.TableSource, limit int) (*verifyReport, error) {
	rep := &verifyReport{Differences: []verifyDiffer{}}
	var entities []string
	for _, f := range flows {
		if !slices.Contains(entities, f.Entity) {
			entities = append(entities, f.Entity)
		}
	}
	for _, ent := range entities {
		sets := map[string]*mapping.InstanceSet{}
		var systems []string
		for _, f := range flows {
			for _, s := range []string{f.From, f.To} {
				if f.Entity == ent && !slices.Contains(systems, s) {
					systems = append(systems, s)
				}
			}
		}
		results := make([]*mapping.InstanceSet, len(systems))
		eg, ectx := errgroup.WithContext(ctx)
		for i, s := range systems {
			eg.Go(func() (err error) {
				results[i], err = mapping.Instances(ectx, cfg, s, ent, sources[s])
				return err
			})
		}
		if err := eg.Wait(); err != nil {
			return nil, err
		}
		for i, s := range systems {
			sets[s] = results[i]
		}
		for _, f := range flows {
			if f.Entity != ent {
				continue
			}
			room := -1
			if limit > 0 {
				room = max(limit-len(rep.Differences), 0)
			}
			res, diffs, total := compareFlow(f, sets[f.From].ByKey, sets[f.To].ByKey, room)
			res.Skipped = skippedBySystem(sets[f.From], sets[f.To])
			rep.Flows = append(rep.Flows, res)
			rep.Differences = append(rep.Differences, diffs...)
			rep.Total += total
			rep.Drift = rep.Drift || res.drift()
		}
	}
	return rep, nil
}

// compareFlow compares the instances of a flow's from- and to-system by
// natural key, in key order, and returns its summary, its first room
// differences (-1: all) and how many it found.
func compareFlow(f verifyFlow, from, to map[string]map[string]any, room int) (*flowResult, []verifyDiffer, int) {
	res := &flowResult{Entity: f.Entity, From: f.From, To: f.To, Fields: f.Fields, Creates: f.Creates}
	if res.Fields == nil {
		res.Fields = []string{}
	}
	var diffs []verifyDiffer
	total := 0
	add := func(d verifyDiffer) {
		total++
		if room < 0 || len(diffs) < room {
			d.Entity, d.From, d.To = f.Entity, f.From, f.To
			diffs = append(diffs, d)
		}
	}
	keys := make([]string, 0, max(len(from), len(to)))
	for k := range from {
		keys = append(keys, k)
	}
	for k := range to {
		if _, ok := from[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		fv, inFrom := from[k]
		tv, inTo := to[k]
		switch {
		case inFrom && inTo:
			res.Compared++
			differs := false
			for _, field := range f.Fields {
				a, b := fv[field], tv[field]
				if sub, ok := f.Sub[field]; ok {
					a, b = pickRecord(a, sub), pickRecord(b, sub)
				}
				if !sameValue(a, b) {
					differs = true
					add(verifyDiffer{Kind: "different", Key: k, Field: field, FromValue: a, ToValue: b})
				}
			}
			if differs {
				res.Different++
			} else {
				res.Equal++
			}
		case !f.Creates:
			res.OneSided++
		case inFrom:
			res.Missing++
			add(verifyDiffer{Kind: "missing", Key: k, FromValue: pick(fv, f.Fields)})
		default:
			res.Extra++
			add(verifyDiffer{Kind: "extra", Key: k, ToValue: pick(tv, f.Fields)})
		}
	}
	return res, diffs, total
}

// sameValue compares two canonical values: capture.Equal, and records
// (joined rows, into) field by field, a missing field equal to null.
func sameValue(a, b any) bool {
	switch x := a.(type) {
	case time.Time:
		y, ok := b.(time.Time)
		if !ok {
			return false
		}
		// a column without fractions of a second (MariaDB DATETIME, as
		// WooCommerce has) holds the other side's time to the second
		if x.Nanosecond() == 0 || y.Nanosecond() == 0 {
			return x.Truncate(time.Second).Equal(y.Truncate(time.Second))
		}
		return x.Equal(y)
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok {
			return false
		}
		for k, v := range x {
			if !sameValue(v, y[k]) {
				return false
			}
		}
		for k, v := range y {
			if _, ok := x[k]; !ok && v != nil {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !sameValue(x[i], y[i]) {
				return false
			}
		}
		return true
	}
	switch b.(type) {
	case map[string]any, []any:
		return false
	}
	return capture.Equal(a, b)
}

// pickRecord keeps the fields of a record value; other values stay.
func pickRecord(v any, fields []string) any {
	rec, ok := v.(map[string]any)
	if !ok {
		return v
	}
	return pick(rec, fields)
}

// pick returns the values of fields that vals holds.
func pick(vals map[string]any, fields []string) map[string]any {
	out := map[string]any{}
	for _, f := range fields {
		if v, ok := vals[f]; ok {
			out[f] = v
		}
	}
	return out
}

// skippedBySystem is what reading a flow's two systems left out, or nil.
func skippedBySystem(sets ...*mapping.InstanceSet) map[string]map[string]int {
	var out map[string]map[string]int
	for _, s := range sets {
		if len(s.Skipped) > 0 {
			if out == nil {
				out = map[string]map[string]int{}
			}
			out[s.System] = s.Skipped
		}
	}
	return out
}

// maxNotes is how many reasons for skipping printVerify prints per system
// and entity (a dangling reference's names the id it refers to).
const maxNotes = 10

// printVerify prints the report as text: the summary per flow, what was
// skipped, the differences, and a closing line.
func printVerify(w io.Writer, rep *verifyReport) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ENTITY\tFROM\tTO\tFIELDS\tCOMPARED\tEQUAL\tDIFFERENT\tMISSING\tEXTRA")
	var notes []string
	instances, drifting := 0, 0
	var missing, extra, different int
	for _, r := range rep.Flows {
		miss, ext := fmt.Sprint(r.Missing), fmt.Sprint(r.Extra)
		if !r.Creates {
			miss, ext = "-", "-"
			if r.OneSided > 0 {
				notes = append(notes, fmt.Sprintf("%s %s -> %s: %s never creates %s rows (create: false): %d on one side only, not compared",
					r.Entity, r.From, r.To, r.To, r.Entity, r.OneSided))
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%d\t%s\t%s\n", r.Entity, r.From, r.To, len(r.Fields), r.Compared, r.Equal, r.Different, miss, ext)
		for _, sys := range slices.Sorted(maps.Keys(r.Skipped)) {
			reasons := slices.Sorted(maps.Keys(r.Skipped[sys]))
			for i, reason := range reasons {
				note := fmt.Sprintf("%s %s: %d skipped: %s", sys, r.Entity, r.Skipped[sys][reason], reason)
				if i == maxNotes {
					note = fmt.Sprintf("%s %s: %d more reasons (--format json lists them)", sys, r.Entity, len(reasons)-maxNotes)
				}
				if !slices.Contains(notes, note) {
					notes = append(notes, note)
				}
				if i == maxNotes {
					break
				}
			}
		}
		instances += r.Compared
		missing, extra, different = missing+r.Missing, extra+r.Extra, different+r.Different
		if r.drift() {
			drifting++
		}
	}
	tw.Flush()
	if len(notes) > 0 {
		fmt.Fprintln(w)
		for _, n := range notes {
			fmt.Fprintln(w, n)
		}
	}
	if len(rep.Differences) > 0 {
		fmt.Fprintln(w)
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "KIND\tENTITY\tFROM\tTO\tKEY\tFIELD\tFROM VALUE\tTO VALUE")
		for _, d := range rep.Differences {
			field, fv, tv := d.Field, mapping.ValueText(d.FromValue), mapping.ValueText(d.ToValue)
			switch d.Kind {
			case "missing":
				field, tv = "-", "(none)"
			case "extra":
				field, fv = "-", "(none)"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", d.Kind, d.Entity, d.From, d.To, d.Key, field, fv, tv)
		}
		tw.Flush()
	}
	fmt.Fprintln(w)
	if !rep.Drift {
		fmt.Fprintf(w, "No drift: %d flows, %d instances compared, all equal.\n", len(rep.Flows), instances)
		return
	}
	fmt.Fprintf(w, "Drift in %d of %d flows: %d missing, %d extra, %d different (%d differences).\n",
		drifting, len(rep.Flows), missing, extra, different, rep.Total)
	if len(rep.Differences) < rep.Total {
		fmt.Fprintf(w, "Showing the first %d of %d differences; --limit 0 shows all.\n", len(rep.Differences), rep.Total)
	}
}

// printVerifyJSON prints the report as one JSON document, decimals and
// timestamps as strings.
func printVerifyJSON(w io.Writer, rep *verifyReport) error {
	out := *rep
	out.Differences = make([]verifyDiffer, len(rep.Differences))
	for i, d := range rep.Differences {
		d.FromValue, d.ToValue = jsonValue(d.FromValue), jsonValue(d.ToValue)
		out.Differences[i] = d
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// jsonValue turns a canonical value into one JSON encodes exactly: a
// decimal as its exact text, a timestamp in RFC 3339.
func jsonValue(v any) any {
	switch x := v.(type) {
	case *big.Rat:
		return mapping.ValueText(x)
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = jsonValue(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = jsonValue(e)
		}
		return out
	}
	return v
}
