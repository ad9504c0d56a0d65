package entities

import (
	"bytes"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"
)

const (
	readmeBegin = "<!-- BEGIN GENERATED: go test ./schema/entities -run TestReadme -update -->\n"
	readmeEnd   = "<!-- END GENERATED -->\n"
)

// TestReadme keeps the field tables of README.md equal to the schemas.
func TestReadme(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	begin := bytes.Index(readme, []byte(readmeBegin))
	end := bytes.Index(readme, []byte(readmeEnd))
	if begin < 0 || end < begin {
		t.Fatalf("README.md lacks the markers %q and %q", readmeBegin, readmeEnd)
	}
	begin += len(readmeBegin)
	got := readme[begin:end]
	want := []byte(entityTables(Builtin()))
	if bytes.Equal(got, want) {
		return
	}
	if *update {
		out := slices.Concat(readme[:begin], want, readme[end:])
		if err := os.WriteFile("README.md", out, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("README.md's tables differ from the schemas (run go test ./schema/entities -run TestReadme -update); want:\n%s", want)
}

// entityTables renders a section per entity and one per nested record.
func entityTables(all []Entity) string {
	var b strings.Builder
	nested := map[string]Field{}
	var nestedOrder []string
	for _, e := range all {
		fmt.Fprintf(&b, "### %s\n\n%s\n\n", e.Name, cell(e.Doc))
		fmt.Fprintf(&b, "- natural key: %s\n", codes(e.NaturalKey))
		if e.Root() {
			fmt.Fprintf(&b, "- aggregate: its own, topic `<prefix>.<system>.%s`, Kafka key %s\n", e.Aggregate, codes(e.AggregateKey))
		} else {
			fmt.Fprintf(&b, "- aggregate: child of `%s`, in topic `<prefix>.<system>.%s`, Kafka key %s\n", e.Aggregate, e.Aggregate, codes(e.AggregateKey))
		}
		if len(e.References) == 0 {
			b.WriteString("- references: none\n\n")
		} else {
			var refs []string
			for _, from := range slices.Sorted(maps.Keys(e.References)) {
				refs = append(refs, fmt.Sprintf("`%s` -> `%s`", from, e.References[from]))
			}
			fmt.Fprintf(&b, "- references: %s\n\n", strings.Join(refs, ", "))
		}
		fieldTable(&b, e.Fields, e.NaturalKey)
		walk(e.Fields, "", func(_ string, f Field) {
			if f.Record != "" {
				if _, ok := nested[f.Record]; !ok {
					nested[f.Record] = f
					nestedOrder = append(nestedOrder, f.Record)
				}
			}
		})
	}
	for _, name := range nestedOrder {
		f := nested[name]
		fmt.Fprintf(&b, "### %s (nested record)\n\n", name)
		if len(f.NaturalKey) > 0 {
			fmt.Fprintf(&b, "- key within its parent: %s\n\n", codes(f.NaturalKey))
		}
		fieldTable(&b, f.Fields, f.NaturalKey)
	}
	return b.String()
}

func fieldTable(b *strings.Builder, fields []Field, key []string) {
	b.WriteString("| field | type | meaning | canonical values |\n|---|---|---|---|\n")
	for _, f := range fields {
		typ := typeName(f)
		if slices.Contains(key, f.Name) {
			typ += ", **key**"
		} else if f.Required {
			typ += ", required"
		}
		doc := f.Doc
		if len(f.Values) > 0 {
			doc = strings.TrimSuffix(doc, " One of: "+strings.Join(f.Values, ", ")+".")
		}
		fmt.Fprintf(b, "| `%s` | %s | %s | %s |\n", f.Name, typ, cell(doc), codes(f.Values))
	}
	b.WriteString("\n")
}

func typeName(f Field) string {
	switch f.Type {
	case "decimal":
		return fmt.Sprintf("decimal(%d,%d) %s", f.Precision, f.Scale, f.Kind)
	case "record":
		return f.Record
	case "array":
		if f.Record != "" {
			return "array of " + f.Record
		}
		return "array of " + f.Items
	}
	return f.Type
}

func codes(ss []string) string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = "`" + s + "`"
	}
	return strings.Join(out, ", ")
}

// cell escapes text for a Markdown table cell.
func cell(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	s = strings.ReplaceAll(s, "*", `\*`)
	return strings.ReplaceAll(s, "\n", " ")
}
