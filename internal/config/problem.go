package config

import (
	"sort"
	"strconv"
	"strings"
)

// Problem is one thing wrong with a configuration. Path is the dotted key path
// (for example "systems.shop.kind"); File and Line are filled in by
// Index.Locate once the problem is tied to the file it came from.
type Problem struct {
	File string
	Line int
	Path string
	Msg  string
}

func (p Problem) String() string {
	var b strings.Builder
	if p.File != "" {
		b.WriteString(p.File)
		if p.Line > 0 {
			b.WriteByte(':')
			b.WriteString(strconv.Itoa(p.Line))
		}
		b.WriteString(": ")
	}
	if p.Path != "" {
		b.WriteString(p.Path)
		b.WriteString(": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// Problems is a list of configuration problems. It is an error so that
// Validate methods can return every problem at once.
type Problems []Problem

func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// Add appends a problem at path.
func (ps *Problems) Add(path, msg string) {
	*ps = append(*ps, Problem{Path: path, Msg: msg})
}

// Addf appends a problem whose message is built from parts.
func (ps *Problems) Addf(path string, parts ...string) {
	ps.Add(path, strings.Join(parts, ""))
}

// Merge appends the problems of err under prefix. A nil err adds nothing; an
// error that is not Problems is added as one problem at prefix.
func (ps *Problems) Merge(prefix string, err error) {
	if err == nil {
		return
	}
	other, ok := err.(Problems)
	if !ok {
		ps.Add(prefix, err.Error())
		return
	}
	for _, p := range other {
		p.Path = Join(prefix, p.Path)
		*ps = append(*ps, p)
	}
}

// Err returns ps as an error, or nil when there are none.
func (ps Problems) Err() error {
	if len(ps) == 0 {
		return nil
	}
	return ps
}

// Sort orders problems by line, then by path, so output follows the file.
func (ps Problems) Sort() {
	sort.SliceStable(ps, func(i, j int) bool {
		if ps[i].File != ps[j].File {
			return ps[i].File < ps[j].File
		}
		if ps[i].Line != ps[j].Line {
			return ps[i].Line < ps[j].Line
		}
		return ps[i].Path < ps[j].Path
	})
}

// Join joins key path segments with dots, skipping empty ones.
func Join(parts ...string) string {
	out := make([]string, 0, len(parts))
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, ".")
}

// OneOf reports whether v is one of allowed, and if not returns the message
// `"v" is not one of a, b, c`.
func OneOf(v string, allowed ...string) (string, bool) {
	for _, a := range allowed {
		if v == a {
			return "", true
		}
	}
	return strconv.Quote(v) + " is not one of " + strings.Join(allowed, ", "), false
}
