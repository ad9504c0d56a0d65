package schema

import (
	"fmt"
	"slices"
	"strings"
)

// checkEvolution returns an *IncompatibleError when next, a new shape of
// the table published on topic, cannot replace prev under BACKWARD
// compatibility: a consumer holding next's schema must read every event
// written with prev's. Columns are matched by Avro field name.
func checkEvolution(topic string, prev, next *layout) error {
	old := make(map[string]int, len(prev.fields))
	for i, f := range prev.fields {
		old[f] = i
	}
	for i, f := range next.fields {
		j, ok := old[f]
		if !ok {
			continue // added: nullable with a null default
		}
		if !promotes(prev.types[j], next.types[i]) {
			return &IncompatibleError{
				Topic:  topic,
				Column: next.table.Columns[i].Name,
				From:   describeColumn(prev, j),
				To:     describeColumn(next, i),
			}
		}
	}
	// The key chooses the partition: a different set of key columns would
	// scatter one row's events over partitions and break their order.
	pk, nk := keyFields(prev), keyFields(next)
	if !slices.Equal(pk, nk) {
		return &IncompatibleError{
			Topic:  topic,
			Column: columnOf(firstDifference(pk, nk), next, prev),
			From:   "key (" + strings.Join(pk, ", ") + ")",
			To:     "key (" + strings.Join(nk, ", ") + ")",
		}
	}
	return nil
}

// promotes reports whether data written as from can be read as to: the same
// Avro type (logical type included; tandem.type may differ), an Avro
// promotion between plain types, or a decimal whose precision grew at the
// same scale. Promotions keep the binary form of a key the same, so a key
// column may take them too.
func promotes(from, to *avroType) bool {
	if from.prim == "array" || to.prim == "array" {
		return from.prim == to.prim && promotes(from.elem, to.elem)
	}
	if from.logical != to.logical {
		return false
	}
	if from.logical == "decimal" {
		return from.scale == to.scale && to.precision >= from.precision
	}
	if from.prim == to.prim {
		return true
	}
	if from.logical != "" {
		return false // date, timestamps, time and uuid promote to nothing
	}
	switch from.prim + ">" + to.prim {
	case "int>long", "int>float", "int>double", "long>float", "long>double", "float>double",
		"string>bytes", "bytes>string":
		return true
	}
	return false
}

func describeColumn(l *layout, i int) string {
	a := l.types[i].String()
	if src := l.table.Columns[i].Type.Source; src != "" {
		return fmt.Sprintf("%s (Avro %s)", src, a)
	}
	return a
}

func keyFields(l *layout) []string {
	out := make([]string, len(l.keys))
	for j, i := range l.keys {
		out[j] = l.fields[i]
	}
	return out
}

// columnOf returns the source name of the column with Avro field name f.
func columnOf(f string, ls ...*layout) string {
	for _, l := range ls {
		if i := slices.Index(l.fields, f); i >= 0 {
			return l.table.Columns[i].Name
		}
	}
	return f
}

func firstDifference(a, b []string) string {
	for i := range max(len(a), len(b)) {
		switch {
		case i >= len(a):
			return b[i]
		case i >= len(b):
			return a[i]
		case a[i] != b[i]:
			return b[i]
		}
	}
	return ""
}
