package config

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Env gives Decode what it may read from outside the file. Only cmd/ builds
// one from the real environment; tests pass maps.
type Env struct {
	// Lookup returns an environment variable for ${NAME} expansion.
	Lookup func(name string) (string, bool)
	// ReadFile reads a secret for a "<key>_file" entry.
	ReadFile func(path string) ([]byte, error)
}

// Index maps the dotted key paths of a decoded file to their lines.
type Index struct {
	File  string
	lines map[string]int
	files map[string]string // paths grafted from another file (Graft)
	bad   []string          // paths Decode reported problems at
}

// Line returns the line of path, or of its nearest ancestor present in the
// file (a missing key is reported where its parent is), or 0.
func (ix *Index) Line(path string) int {
	_, line := ix.Where(path)
	return line
}

// Where returns the file and line of path, or of its nearest ancestor that
// has one: a path grafted from an included file is in that file.
func (ix *Index) Where(path string) (string, int) {
	if ix == nil {
		return "", 0
	}
	for p := path; p != ""; p = parent(p) {
		if l, ok := ix.lines[p]; ok {
			if f, ok := ix.files[p]; ok {
				return f, l
			}
			return ix.File, l
		}
	}
	return ix.File, 0
}

// Graft adds the key paths of other (an included file's index) to ix, each
// renamed by rename (e.g. to shift list indexes), keeping its file, so that
// Locate places problems at those paths in the included file. Paths ix has
// already keep their place.
func (ix *Index) Graft(other *Index, rename func(string) string) {
	if ix.files == nil {
		ix.files = map[string]string{}
	}
	for p, l := range other.lines {
		np := rename(p)
		if _, have := ix.lines[np]; have {
			continue
		}
		ix.lines[np] = l
		ix.files[np] = other.File
	}
	for _, b := range other.bad {
		ix.bad = append(ix.bad, rename(b))
	}
}

// Has reports whether path was written in the file.
func (ix *Index) Has(path string) bool {
	_, ok := ix.lines[path]
	return ok
}

// Locate fills in the file and line of every problem in err, sorted by line.
// Errors that are not Problems come back unchanged.
func (ix *Index) Locate(err error) error {
	if err == nil {
		return nil
	}
	var ps Problems
	if !errors.As(err, &ps) {
		return err
	}
	out := make(Problems, len(ps))
	for i, p := range ps {
		if p.File == "" || p.Line == 0 {
			file, line := ix.Where(p.Path)
			if p.File == "" {
				p.File = file
			}
			if p.Line == 0 && p.File == file {
				p.Line = line
			}
		}
		out[i] = p
	}
	out.Sort()
	return out
}

func parent(p string) string {
	i := strings.LastIndexAny(p, ".[")
	if i < 0 {
		return ""
	}
	return p[:i]
}

// Decode parses src (the contents of file) into out, a pointer to a struct
// whose fields carry yaml tags. Unlike a plain yaml.Unmarshal it:
//   - rejects keys that match no field, naming the line and the key path;
//   - expands ${NAME} and ${NAME:-default} in scalar values ($$ is a literal $);
//   - accepts "<key>_file" for any Secret field <key> and reads the file;
//   - reports every problem at once, each with file, line and key path.
//
// Fields already set in out are defaults: keys absent from the file leave
// them alone. The returned Index locates later validation problems.
func Decode(file string, src []byte, env Env, out any) (*Index, error) {
	ix := &Index{File: file, lines: map[string]int{}}
	var root yaml.Node
	if err := yaml.Unmarshal(src, &root); err != nil {
		return ix, Problems{syntaxProblem(file, err)}
	}
	if root.Kind == 0 || len(root.Content) == 0 {
		return ix, Problems{{File: file, Line: 1, Msg: "the file is empty"}}
	}
	w := walker{env: env, ix: ix}
	w.walk(root.Content[0], reflect.TypeOf(out), "")
	// Keys with problems were taken out of the tree, so the rest still
	// decodes and later validation can report its problems too.
	if err := root.Content[0].Decode(out); err != nil {
		w.problems = append(w.problems, w.typeProblems(err)...)
	}
	for _, p := range w.problems {
		ix.bad = append(ix.bad, p.Path)
	}
	return ix, ix.Locate(w.problems.Err())
}

// Reported says whether Decode already reported a problem at path, at one
// of its ancestors or under it, so validation need not report it again.
func (ix *Index) Reported(path string) bool {
	for _, b := range ix.bad {
		if b == path || strings.HasPrefix(path, b+".") || strings.HasPrefix(path, b+"[") ||
			strings.HasPrefix(b, path+".") || strings.HasPrefix(b, path+"[") {
			return true
		}
	}
	return false
}

var yamlLineRE = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

func syntaxProblem(file string, err error) Problem {
	msg := err.Error()
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return Problem{File: file, Line: line, Msg: "invalid YAML: " + m[2]}
	}
	return Problem{File: file, Msg: "invalid YAML: " + strings.TrimPrefix(msg, "yaml: ")}
}

type walker struct {
	env      Env
	ix       *Index
	problems Problems
}

func (w *walker) add(line int, path, msg string) {
	w.problems = append(w.problems, Problem{Line: line, Path: path, Msg: msg})
}

var (
	durationType = reflect.TypeOf(time.Duration(0))
	secretType   = reflect.TypeOf(Secret(""))
	scalarType   = reflect.TypeOf((*ScalarForm)(nil)).Elem()
)

// ScalarForm is implemented by config types (structs) that also accept a
// single value in YAML, a short form their UnmarshalYAML expands.
type ScalarForm interface{ AcceptsScalar() }

// walk checks node n against type t at path. It returns false when n itself
// is wrong (so the caller drops it from the tree); problems further down
// have already been dropped there.
func (w *walker) walk(n *yaml.Node, t reflect.Type, path string) bool {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	switch {
	case n.Kind == yaml.ScalarNode:
		if !w.scalar(n, path) {
			return false
		}
		if n.Tag == "!!null" {
			return true
		}
		if reflect.PointerTo(t).Implements(scalarType) {
			return true
		}
		if t.Kind() == reflect.Struct || t.Kind() == reflect.Map || t.Kind() == reflect.Slice {
			w.add(n.Line, path, fmt.Sprintf("expected %s, got the value %q", kindName(t), n.Value))
			return false
		}
	case t.Kind() == reflect.Struct && t != durationType:
		if n.Kind != yaml.MappingNode {
			w.add(n.Line, path, "expected a mapping of keys")
			return false
		}
		w.structFields(n, t, path)
	case t.Kind() == reflect.Map:
		if n.Kind != yaml.MappingNode {
			w.add(n.Line, path, "expected a mapping of keys")
			return false
		}
		kept := n.Content[:0:0]
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := Join(path, k.Value)
			w.ix.lines[p] = k.Line
			if w.walk(v, t.Elem(), p) {
				kept = append(kept, k, v)
			}
		}
		n.Content = kept
	case t.Kind() == reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			w.add(n.Line, path, "expected a list")
			return false
		}
		kept := n.Content[:0:0]
		for i, item := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			w.ix.lines[p] = item.Line
			if w.walk(item, t.Elem(), p) {
				kept = append(kept, item)
			}
		}
		n.Content = kept
	default:
		w.add(n.Line, path, "expected a single value, got a "+nodeKind(n))
		return false
	}
	return true
}

func (w *walker) structFields(n *yaml.Node, t reflect.Type, path string) {
	fields := yamlFields(t)
	seen := map[string]int{}
	kept := n.Content[:0:0]
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if w.structField(fields, seen, k, v, path) {
			kept = append(kept, k, v)
		}
	}
	n.Content = kept
}

// structField checks one key of a struct's mapping. It returns false when
// the key must be dropped from the tree.
func (w *walker) structField(fields map[string]field, seen map[string]int, k, v *yaml.Node, path string) bool {
	name := k.Value
	p := Join(path, name)
	w.ix.lines[p] = k.Line
	f, ok := fields[name]
	if !ok {
		base, isFile := strings.CutSuffix(name, "_file")
		bf, has := fields[base]
		if !isFile || !has || bf.Type != secretType {
			w.add(k.Line, p, unknownKey(name, fields))
			return false
		}
		basePath := Join(path, base)
		if line, dup := seen[base]; dup {
			w.add(k.Line, p, fmt.Sprintf("give either %s or %s, not both (%s is on line %d)", base, name, base, line))
			w.ix.bad = append(w.ix.bad, basePath)
			return false
		}
		seen[base] = k.Line
		w.ix.lines[basePath] = k.Line
		if !w.secretFile(k, v, base, p) {
			w.ix.bad = append(w.ix.bad, basePath)
			return false
		}
		return true
	}
	if line, dup := seen[name]; dup {
		w.add(k.Line, p, fmt.Sprintf("give either %s or %s_file, not both (line %d)", name, name, line))
		return false
	}
	seen[name] = k.Line
	return w.walk(v, f.Type, p)
}

// secretFile replaces "<base>_file: PATH" by "<base>: <contents of PATH>".
func (w *walker) secretFile(k, v *yaml.Node, base, path string) bool {
	if v.Kind != yaml.ScalarNode {
		w.add(v.Line, path, "expected a file path")
		return false
	}
	if !w.scalar(v, path) {
		return false
	}
	if w.env.ReadFile == nil {
		w.add(v.Line, path, "reading secret files is not available here")
		return false
	}
	data, err := w.env.ReadFile(v.Value)
	if err != nil {
		w.add(v.Line, path, fmt.Sprintf("cannot read secret file: %v", err))
		return false
	}
	k.Value = base
	v.Value = strings.TrimRight(string(data), "\r\n")
	v.Tag = "!!str"
	v.Style = yaml.DoubleQuotedStyle
	return true
}

// scalar expands ${NAME} references in a scalar node in place, and reports
// whether that worked.
func (w *walker) scalar(n *yaml.Node, path string) bool {
	if !strings.Contains(n.Value, "$") {
		return true
	}
	out, err := Expand(n.Value, w.env.Lookup)
	if err != nil {
		w.add(n.Line, path, err.Error())
		return false
	}
	n.Value = out
	if n.Style == 0 || n.Style == yaml.FlowStyle {
		n.Tag = "" // let the expanded plain value resolve to int, bool, ...
	}
	return true
}

var lineMsgRE = regexp.MustCompile(`^line (\d+): (.*)$`)

// typeProblems turns yaml.v3 decode errors into located problems.
func (w *walker) typeProblems(err error) Problems {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return Problems{{Msg: err.Error()}}
	}
	byLine := map[int]string{}
	for p, l := range w.ix.lines {
		if cur, ok := byLine[l]; !ok || len(p) > len(cur) {
			byLine[l] = p
		}
	}
	var ps Problems
	for _, e := range te.Errors {
		m := lineMsgRE.FindStringSubmatch(e)
		if m == nil {
			ps = append(ps, Problem{Msg: e})
			continue
		}
		line, _ := strconv.Atoi(m[1])
		ps = append(ps, Problem{Line: line, Path: byLine[line], Msg: tidyTypeMsg(m[2])})
	}
	return ps
}

var unmarshalRE = regexp.MustCompile("^cannot unmarshal !!(\\w+) `(.*)` into (.+)$")

func tidyTypeMsg(msg string) string {
	m := unmarshalRE.FindStringSubmatch(msg)
	if m == nil {
		return msg
	}
	want := m[3]
	switch {
	case strings.HasSuffix(want, "Duration"):
		want = "a duration such as 10s or 5m"
	case strings.Contains(want, "int"):
		want = "a whole number"
	case want == "bool":
		want = "true or false"
	case want == "float64":
		want = "a number"
	}
	return fmt.Sprintf("%q is not %s", m[2], want)
}

type field struct {
	Type reflect.Type
}

func yamlFields(t reflect.Type) map[string]field {
	out := map[string]field{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out[name] = field{Type: f.Type}
	}
	return out
}

func unknownKey(name string, fields map[string]field) string {
	names := make([]string, 0, len(fields))
	known := make([]string, 0, len(fields))
	for k, f := range fields {
		names = append(names, k)
		known = append(known, k)
		if f.Type == secretType {
			known = append(known, k+"_file")
		}
	}
	sort.Strings(names)
	sort.Strings(known)
	if best := Suggest(name, names); best != "" {
		return fmt.Sprintf("unknown key %q (did you mean %q?)", name, best)
	}
	return fmt.Sprintf("unknown key %q; known keys here: %s", name, strings.Join(known, ", "))
}

// Suggest returns the candidate closest to name, within two edits, for a
// "did you mean" (the first of equals, in candidates' order), or "".
func Suggest(name string, candidates []string) string {
	best, bestD := "", 3
	for _, c := range candidates {
		if d := Distance(name, c); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// Distance is the Levenshtein distance between a and b, for "did you mean"
// suggestions.
func Distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func kindName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		return "a mapping of keys"
	case reflect.Slice:
		return "a list"
	}
	return "a value"
}

func nodeKind(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	}
	return "value"
}
