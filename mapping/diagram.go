package mapping

import (
	"fmt"
	"html"
	"sort"
	"strings"
)

// Diagram formats.
const (
	FormatMermaid = "mermaid"
	FormatDOT     = "dot"
)

// Diagram draws the config's data flow: one cluster per system holding the
// tables its entity mappings name (root, meta and joined tables), one node
// per entity listing its Kafka topic for each system that captures it, an
// edge from each captured table to the entity (the fields it contributes
// that flow) and from the entity to each table a flow applies it to (the
// fields that flow there). Fields both systems may change are marked
// "(both)": the last writer wins.
//
// format is FormatMermaid or FormatDOT (Graphviz). The output depends only
// on the config, so the same config always gives the same text. Diagram
// reads nothing and runs nothing; it is safe to call concurrently.
func (c *Config) Diagram(format string) (string, error) {
	d := c.diagramModel()
	switch format {
	case FormatMermaid:
		return d.mermaid(), nil
	case FormatDOT:
		return d.dot(), nil
	}
	return "", fmt.Errorf("diagram format %q is not one of %s, %s", format, FormatMermaid, FormatDOT)
}

// rowOnly labels an edge to or from a root table that holds none of the
// fields that flow: only the row itself (its id, its where values) does.
const rowOnly = "(row)"

// maxLabelFields is how many field names an edge label shows before it
// abbreviates the rest as "+N more".
const maxLabelFields = 6

// fieldsPerLine is how many field names an edge label puts on one line.
const fieldsPerLine = 3

type diagram struct {
	prefix   string
	systems  []*dgSystem
	entities []*dgEntity
	edges    []dgEdge
}

type dgSystem struct {
	name, kind, id string
	left           bool // drawn left of the entities (DOT), else right
	color          int  // index into the palettes: edges of changes captured here
	tables         []*dgTable
}

// port is the port of the system's topic row within an entity node; unique
// since system ids are.
func (s *dgSystem) port() string { return "p_" + strings.TrimPrefix(s.id, "sys_") }

type dgTable struct {
	name, id string
}

type dgEntity struct {
	name, id  string
	parent    string    // aggregate root of a child entity
	topics    []dgTopic // by capturing system, sorted
	ownership []string  // lines summarising who owns which field
}

type dgTopic struct {
	system, name, port string
}

// dgEdge is one edge between a table and an entity. Capture edges go from
// the table to the entity, apply edges from the entity to the table; both
// attach to the topic of source, the system the change is captured in.
type dgEdge struct {
	capture bool
	source  *dgSystem // where the change is captured
	system  *dgSystem // the table's system
	table   *dgTable
	entity  *dgEntity
	topic   string
	port    string
	fields  []string // the fields on the edge, "(both)" marked, sorted
}

// tableUse is one table of an entity mapping and the fields it holds.
type tableUse struct {
	table  string
	root   bool
	fields []string
}

// tableUses returns the tables the mapping names, by name, with the entity
// fields each holds (a joined table that fills a record or list field holds
// that field). A table named twice (the same table joined with two where
// filters) is listed once with the fields of both.
func (m *EntityMapping) tableUses() []tableUse {
	byName := map[string]*tableUse{}
	add := func(table string, root bool, fields []string) {
		if table == "" {
			return
		}
		u := byName[table]
		if u == nil {
			u = &tableUse{table: table}
			byName[table] = u
		}
		u.root = u.root || root
		u.fields = append(u.fields, fields...)
	}
	add(m.Table, true, sortedKeys(m.Fields))
	for _, mt := range m.Meta {
		add(mt.Table, false, sortedKeys(mt.Fields))
	}
	for _, jt := range m.Joins {
		if jt.Into != "" { // the joined rows fill one record or list field
			add(jt.Table, false, []string{jt.Into})
			continue
		}
		add(jt.Table, false, sortedKeys(jt.Fields))
	}
	out := make([]tableUse, 0, len(byName))
	for _, name := range sortedKeys(byName) {
		u := byName[name]
		sort.Strings(u.fields)
		u.fields = dedup(u.fields)
		out = append(out, *u)
	}
	return out
}

// flowFields returns the fields a flow carries: its own list, or every
// field the from-system owns or shares. Without the entity in the catalog,
// the from-system's mapped fields stand in for the entity's fields.
func (c *Config) flowFields(f Flow, info *EntityInfo) []string {
	if len(f.Fields) > 0 {
		out := append([]string(nil), f.Fields...)
		sort.Strings(out)
		return dedup(out)
	}
	var candidates []string
	if info != nil {
		candidates = sortedKeys(info.Fields)
	} else if s := c.Systems[f.From]; s != nil && s.Entities[f.Entity] != nil {
		for _, u := range s.Entities[f.Entity].tableUses() {
			candidates = append(candidates, u.fields...)
		}
		sort.Strings(candidates)
		candidates = dedup(candidates)
	}
	var out []string
	for _, name := range candidates {
		if owner, both := c.Owner(f.Entity, name); owner == f.From || both {
			out = append(out, name)
		}
	}
	return out
}

func (c *Config) diagramModel() *diagram {
	d := &diagram{prefix: c.Kafka.TopicPrefix}
	cat := c.Catalog()
	ids := newIDs()

	systems := map[string]*dgSystem{}
	tables := map[string]map[string]*dgTable{} // system -> table name -> node
	entityNames := map[string]bool{}
	for i, name := range c.SystemNames() {
		s := c.Systems[name]
		ds := &dgSystem{name: name, id: ids.make("sys_" + name), left: i%2 == 0, color: i}
		if s != nil {
			ds.kind = s.Kind
		}
		systems[name] = ds
		tables[name] = map[string]*dgTable{}
		d.systems = append(d.systems, ds)
		if s == nil {
			continue
		}
		for _, ent := range sortedKeys(s.Entities) {
			m := s.Entities[ent]
			if m == nil {
				continue
			}
			entityNames[ent] = true
			for _, u := range m.tableUses() {
				if tables[name][u.table] == nil {
					tables[name][u.table] = &dgTable{name: u.table}
				}
			}
		}
		for _, tn := range sortedKeys(tables[name]) {
			t := tables[name][tn]
			t.id = ids.make("t_" + name + "_" + tn)
			ds.tables = append(ds.tables, t)
		}
	}

	// The flows that can be drawn: both systems exist and map the entity.
	mappingOf := func(sys, ent string) *EntityMapping {
		if s := c.Systems[sys]; s != nil {
			return s.Entities[ent]
		}
		return nil
	}
	var flows []Flow
	for _, f := range c.Flows {
		if mappingOf(f.From, f.Entity) != nil && mappingOf(f.To, f.Entity) != nil && f.From != f.To {
			flows = append(flows, f)
		}
	}

	entities := map[string]*dgEntity{}
	for _, name := range sortedKeys(entityNames) {
		e := &dgEntity{name: name, id: ids.make("e_" + name)}
		if info := cat[name]; info != nil {
			e.parent = info.Parent
		}
		e.ownership = c.ownershipLines(name)
		entities[name] = e
		d.entities = append(d.entities, e)
	}

	// Capture side: per entity and from-system, the union of the fields of
	// the flows from that system.
	captured := map[string]map[string][]string{} // entity -> system -> fields
	for _, f := range flows {
		if captured[f.Entity] == nil {
			captured[f.Entity] = map[string][]string{}
		}
		captured[f.Entity][f.From] = append(captured[f.Entity][f.From], c.flowFields(f, cat[f.Entity])...)
	}
	for _, ent := range sortedKeys(captured) {
		e := entities[ent]
		for _, sys := range sortedKeys(captured[ent]) {
			fields := captured[ent][sys]
			sort.Strings(fields)
			fields = dedup(fields)
			topic := c.Kafka.Topic(sys, aggregateRoot(ent, cat))
			port := systems[sys].port()
			e.topics = append(e.topics, dgTopic{system: sys, name: topic, port: port})
			for _, u := range mappingOf(sys, ent).tableUses() {
				on := intersect(fields, u.fields)
				if len(on) == 0 && !u.root {
					continue
				}
				d.edges = append(d.edges, dgEdge{
					capture: true, source: systems[sys], system: systems[sys],
					table: tables[sys][u.table], entity: e, topic: topic, port: port,
					fields: c.markBoth(ent, on),
				})
			}
		}
	}

	// Apply side: per flow, the flow's fields each table of the to-system
	// holds. The root table always gets an edge: rows are created there.
	for _, f := range flows {
		fields := c.flowFields(f, cat[f.Entity])
		topic := c.Kafka.Topic(f.From, aggregateRoot(f.Entity, cat))
		for _, u := range mappingOf(f.To, f.Entity).tableUses() {
			on := intersect(fields, u.fields)
			if len(on) == 0 && !u.root {
				continue
			}
			d.edges = append(d.edges, dgEdge{
				source: systems[f.From], system: systems[f.To],
				table: tables[f.To][u.table], entity: entities[f.Entity], topic: topic, port: systems[f.From].port(),
				fields: c.markBoth(f.Entity, on),
			})
		}
	}
	d.edges = mergeEdges(d.edges)
	return d
}

// mergeEdges sorts the edges and merges duplicates (two flows from the same
// system applying to the same table), uniting their fields.
func mergeEdges(edges []dgEdge) []dgEdge {
	key := func(e dgEdge) string {
		dir := "1apply"
		if e.capture {
			dir = "0capture"
		}
		return e.entity.name + "\x00" + dir + "\x00" + e.source.name + "\x00" + e.system.name + "\x00" + e.table.name
	}
	sort.SliceStable(edges, func(i, j int) bool { return key(edges[i]) < key(edges[j]) })
	var out []dgEdge
	for _, e := range edges {
		if n := len(out); n > 0 && key(out[n-1]) == key(e) {
			merged := append(append([]string(nil), out[n-1].fields...), e.fields...)
			sort.Strings(merged)
			out[n-1].fields = dedup(merged)
			continue
		}
		out = append(out, e)
	}
	return out
}

// aggregateRoot returns the entity whose topic carries ent: its aggregate
// root, or ent itself.
func aggregateRoot(ent string, cat map[string]*EntityInfo) string {
	seen := map[string]bool{}
	for !seen[ent] {
		seen[ent] = true
		info := cat[ent]
		if info == nil || info.Parent == "" {
			break
		}
		ent = info.Parent
	}
	return ent
}

// markBoth suffixes the fields both systems may change with " (both)".
func (c *Config) markBoth(entity string, fields []string) []string {
	out := make([]string, len(fields))
	for i, f := range fields {
		out[i] = f
		if _, both := c.Owner(entity, f); both {
			out[i] = f + " (both)"
		}
	}
	return out
}

// ownershipLines summarises the ownership of an entity: the default owner,
// the fields other systems own, and the fields both sides change.
func (c *Config) ownershipLines(entity string) []string {
	o := c.Ownership[entity]
	if o == nil || o.Owner == "" {
		return nil
	}
	lines := []string{"owner: " + o.Owner}
	bySystem := map[string][]string{}
	for f, s := range o.Fields {
		if s != o.Owner && !contains(o.Both, f) {
			bySystem[s] = append(bySystem[s], f)
		}
	}
	for _, s := range sortedKeys(bySystem) {
		fs := bySystem[s]
		sort.Strings(fs)
		lines = append(lines, s+" owns: "+strings.Join(fs, ", "))
	}
	if len(o.Both) > 0 {
		both := append([]string(nil), o.Both...)
		sort.Strings(both)
		lines = append(lines, "both: "+strings.Join(dedup(both), ", ")+" (last writer wins)")
	}
	return lines
}

// labelLines abbreviates a field list to at most maxLabelFields names,
// keeping the "(both)" ones, and breaks it into lines.
func labelLines(fields []string) []string {
	shown := fields
	more := 0
	if len(fields) > maxLabelFields {
		keep := maxLabelFields - 1
		shown = nil
		for _, f := range fields { // the shared fields first: they matter most
			if strings.HasSuffix(f, " (both)") && len(shown) < keep {
				shown = append(shown, f)
			}
		}
		for _, f := range fields {
			if !strings.HasSuffix(f, " (both)") && len(shown) < keep {
				shown = append(shown, f)
			}
		}
		sort.Strings(shown)
		more = len(fields) - len(shown)
	}
	if len(shown) == 0 {
		return []string{rowOnly}
	}
	var lines []string
	for i := 0; i < len(shown); i += fieldsPerLine {
		end := min(i+fieldsPerLine, len(shown))
		lines = append(lines, strings.Join(shown[i:end], ", "))
	}
	if more > 0 {
		lines = append(lines, fmt.Sprintf("+%d more", more))
	}
	return lines
}

// ids hands out node ids of [A-Za-z0-9_] only, unique within a diagram.
type idSet struct {
	used map[string]bool
}

func newIDs() *idSet { return &idSet{used: map[string]bool{}} }

// make returns a safe, unused id for name. Names that differ only in
// characters outside [A-Za-z0-9_] get a numeric suffix, in call order.
func (s *idSet) make(name string) string {
	id := safeID(name)
	base := id
	for n := 2; s.used[id]; n++ {
		id = fmt.Sprintf("%s_%d", base, n)
	}
	s.used[id] = true
	return id
}

func safeID(name string) string {
	var b strings.Builder
	for _, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}

func intersect(a, b []string) []string {
	in := map[string]bool{}
	for _, x := range b {
		in[x] = true
	}
	var out []string
	for _, x := range a {
		if in[x] {
			out = append(out, x)
		}
	}
	return out
}

// dedup removes adjacent duplicates of a sorted list.
func dedup(list []string) []string {
	out := list[:0]
	for i, s := range list {
		if i == 0 || s != list[i-1] {
			out = append(out, s)
		}
	}
	return out
}

// The palettes colour the edges of a change by the system it is captured
// in: DOT colour names, the same colours for Mermaid, and their names for
// the legend.
var (
	dotPalette     = []string{"royalblue3", "firebrick3", "forestgreen", "darkorange3", "purple3", "goldenrod4"}
	mermaidPalette = []string{"#3a5fcd", "#cd2626", "#228b22", "#cd6600", "#7d26cd", "#8b6914"}
	paletteNames   = []string{"blue", "red", "green", "orange", "purple", "brown"}
)

// dot renders the diagram for Graphviz. Systems alternate left and right
// of the entities; an edge whose arrow points against the ranking is drawn
// with dir=back, so every capture arrow points into the topic and every
// apply arrow out of it.
func (d *diagram) dot() string {
	var b strings.Builder
	b.WriteString("// tandem data flow, generated by 'tandem diagram'. Render: dot -Tsvg -o flow.svg\n")
	b.WriteString("digraph tandem {\n")
	fmt.Fprintf(&b, "  graph [rankdir=LR, fontname=\"Helvetica\", fontsize=12, nodesep=0.25, ranksep=1.1, newrank=true, labelloc=b, labeljust=l, label=%s];\n",
		dotQuoteLeft(dotLegend(d)))
	b.WriteString("  node [fontname=\"Helvetica\", fontsize=10];\n")
	b.WriteString("  edge [fontname=\"Helvetica\", fontsize=9, arrowsize=0.7];\n")
	for _, s := range d.systems {
		fmt.Fprintf(&b, "\n  subgraph cluster_%s {\n", s.id)
		label := s.name
		if s.kind != "" {
			label += " (" + s.kind + ")"
		}
		fmt.Fprintf(&b, "    label=%s; labelloc=t; fontsize=13; style=\"rounded,filled\"; fillcolor=\"#f3f5f9\"; color=\"#8a9bb8\";\n", dotQuote(label))
		if len(s.tables) == 0 {
			fmt.Fprintf(&b, "    %s_none [label=\"no entities mapped\", shape=plaintext, fontcolor=\"#666666\"];\n", s.id)
		}
		for _, t := range s.tables {
			fmt.Fprintf(&b, "    %s [label=%s, shape=box, style=\"rounded,filled\", fillcolor=white, color=\"#5b7db1\"];\n", t.id, dotQuote(t.name))
		}
		b.WriteString("  }\n")
	}
	b.WriteString("\n")
	colorOf := map[string]int{}
	for _, s := range d.systems {
		colorOf[s.name] = s.color
	}
	for _, e := range d.entities {
		fmt.Fprintf(&b, "  %s [shape=plain, label=<%s>];\n", e.id, dotEntityLabel(e, colorOf))
	}
	b.WriteString("\n")
	for _, e := range d.edges {
		color := dotPalette[e.source.color%len(dotPalette)]
		attrs := fmt.Sprintf("color=%s, fontcolor=%s", color, color)
		attrs = fmt.Sprintf("label=%s, %s", dotQuote(strings.Join(labelLines(e.fields), "\n")), attrs)
		if !e.capture {
			attrs += ", style=bold"
		}
		topic := e.entity.id + ":" + e.port
		// Tables of a left system rank before the entity, of a right one after.
		switch {
		case e.system.left && e.capture:
			fmt.Fprintf(&b, "  %s -> %s:w [%s];\n", e.table.id, topic, attrs)
		case e.system.left:
			fmt.Fprintf(&b, "  %s -> %s:w [dir=back, %s];\n", e.table.id, topic, attrs)
		case e.capture:
			fmt.Fprintf(&b, "  %s:e -> %s [dir=back, %s];\n", topic, e.table.id, attrs)
		default:
			fmt.Fprintf(&b, "  %s:e -> %s [%s];\n", topic, e.table.id, attrs)
		}
	}
	b.WriteString("}\n")
	return b.String()
}

func dotLegend(d *diagram) string {
	var parts []string
	for _, s := range d.systems {
		parts = append(parts, fmt.Sprintf("%s %s", paletteNames[s.color%len(paletteNames)], s.name))
	}
	return "tandem data flow (topics " + d.prefix + ".<system>.<entity>)\n" +
		"table -> topic: row changes captured from that system and published on the topic\n" +
		"topic -> table (bold): applied to the other system\n" +
		"edge labels: the fields that flow; (both): both systems may change the field, the last writer wins\n" +
		rowOnly + ": the root table of the entity, where its row is matched or created, though none of its columns flow\n" +
		"edge colour, by the system a change comes from: " + strings.Join(parts, ", ")
}

// dotEntityLabel is the HTML-like label of an entity: its name, a row per
// topic (the port its edges attach to) and its ownership.
func dotEntityLabel(e *dgEntity, colorOf map[string]int) string {
	var b strings.Builder
	b.WriteString(`<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="0" CELLPADDING="4" BGCOLOR="white">`)
	title := "<B>" + html.EscapeString(e.name) + "</B>"
	if e.parent != "" {
		title += `<BR/><FONT POINT-SIZE="9">child of ` + html.EscapeString(e.parent) + "</FONT>"
	}
	fmt.Fprintf(&b, `<TR><TD BGCOLOR="#fff4c2">%s</TD></TR>`, title)
	for _, t := range e.topics {
		color := dotPalette[colorOf[t.system]%len(dotPalette)]
		fmt.Fprintf(&b, `<TR><TD PORT="%s"><FONT COLOR="%s">%s</FONT></TD></TR>`, t.port, color, html.EscapeString(t.name))
	}
	if len(e.topics) == 0 {
		b.WriteString(`<TR><TD><FONT COLOR="#666666">not in any flow</FONT></TD></TR>`)
	}
	if len(e.ownership) > 0 {
		lines := make([]string, len(e.ownership))
		for i, l := range e.ownership {
			lines[i] = html.EscapeString(l)
		}
		fmt.Fprintf(&b, `<TR><TD ALIGN="LEFT" BALIGN="LEFT"><FONT POINT-SIZE="8">%s</FONT></TD></TR>`, strings.Join(lines, "<BR/>"))
	}
	b.WriteString("</TABLE>")
	return b.String()
}

// dotQuote quotes s as a DOT string; "\n" becomes a centred line break.
func dotQuote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\r", "")
	return `"` + r.Replace(s) + `"`
}

// dotQuoteLeft quotes s as a DOT string of left-justified lines.
func dotQuoteLeft(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\l`, "\r", "")
	return `"` + r.Replace(s) + `\l"`
}

// mermaid renders the diagram as a Mermaid flowchart (GitHub renders it
// in Markdown inside a ```mermaid block).
func (d *diagram) mermaid() string {
	var b strings.Builder
	b.WriteString("%% tandem data flow, generated by 'tandem diagram'\n")
	fmt.Fprintf(&b, "%%%% %s\n", mermaidComment(strings.ReplaceAll(dotLegend(d), "\n", "; ")))
	b.WriteString("flowchart LR\n")
	var tableIDs, entityIDs []string
	for _, s := range d.systems {
		label := s.name
		if s.kind != "" {
			label += " (" + s.kind + ")"
		}
		fmt.Fprintf(&b, "  subgraph %s[\"%s\"]\n", s.id, mermaidEscape(label))
		if len(s.tables) == 0 {
			fmt.Fprintf(&b, "    %s_none[\"no entities mapped\"]\n", s.id)
		}
		for _, t := range s.tables {
			fmt.Fprintf(&b, "    %s[\"%s\"]\n", t.id, mermaidEscape(t.name))
			tableIDs = append(tableIDs, t.id)
		}
		b.WriteString("  end\n")
	}
	for _, e := range d.entities {
		lines := []string{"<b>" + mermaidEscape(e.name) + "</b>"}
		if e.parent != "" {
			lines = append(lines, "<i>child of "+mermaidEscape(e.parent)+"</i>")
		}
		for _, t := range e.topics {
			lines = append(lines, "topic "+mermaidEscape(t.name))
		}
		if len(e.topics) == 0 {
			lines = append(lines, "<i>not in any flow</i>")
		}
		for _, l := range e.ownership {
			lines = append(lines, "<i>"+mermaidEscape(l)+"</i>")
		}
		fmt.Fprintf(&b, "  %s[\"%s\"]\n", e.id, strings.Join(lines, "<br/>"))
		entityIDs = append(entityIDs, e.id)
	}
	byColor := map[int][]string{}
	for i, e := range d.edges {
		var label []string
		if !e.capture {
			label = append(label, "from "+mermaidEscape(e.topic))
		}
		for _, l := range labelLines(e.fields) {
			label = append(label, mermaidEscape(l))
		}
		arrow := " --> "
		if len(label) > 0 {
			arrow = " -->|\"" + strings.Join(label, "<br/>") + "\"| "
		}
		if e.capture {
			fmt.Fprintf(&b, "  %s%s%s\n", e.table.id, arrow, e.entity.id)
		} else {
			fmt.Fprintf(&b, "  %s%s%s\n", e.entity.id, strings.Replace(arrow, "-->", "==>", 1), e.table.id)
		}
		c := e.source.color % len(mermaidPalette)
		byColor[c] = append(byColor[c], fmt.Sprint(i))
	}
	b.WriteString("  classDef table fill:#ffffff,stroke:#5b7db1\n")
	b.WriteString("  classDef entity fill:#fff4c2,stroke:#b8860b\n")
	if len(tableIDs) > 0 {
		fmt.Fprintf(&b, "  class %s table\n", strings.Join(tableIDs, ","))
	}
	if len(entityIDs) > 0 {
		fmt.Fprintf(&b, "  class %s entity\n", strings.Join(entityIDs, ","))
	}
	for c := range mermaidPalette {
		if links := byColor[c]; len(links) > 0 {
			fmt.Fprintf(&b, "  linkStyle %s stroke:%s,color:%s\n", strings.Join(links, ","), mermaidPalette[c], mermaidPalette[c])
		}
	}
	return b.String()
}

// mermaidEscape makes s safe inside a quoted Mermaid label: quotes, markup
// and Mermaid's own entity marker become entity codes.
func mermaidEscape(s string) string {
	r := strings.NewReplacer("#", "#35;", `"`, "#quot;", "<", "#lt;", ">", "#gt;", "\n", " ", "\r", "", "|", "#124;")
	return r.Replace(s)
}

// mermaidComment keeps a comment on one line.
func mermaidComment(s string) string {
	return strings.NewReplacer("\n", " ", "\r", "").Replace(s)
}
