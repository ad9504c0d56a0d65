// Command report turns the output of go test -bench (as bench/run.sh
// records it) into a markdown table and an SVG plot.
//
//	go run ./bench/report -in bench/results/2026-11-30.txt
//
// It groups the result lines by benchmark over the -count runs, takes the
// median, minimum and maximum of every metric, pairs each tandem benchmark
// with its raw limits (rules.go), compares with the targets of DESIGN.md
// section 9, and documents each workload with its benchmark's doc comment.
// Metrics it does not know are listed as they are.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	in := fs.String("in", "", "go test -bench output (required)")
	md := fs.String("md", "", "markdown to write (default: -in with .md)")
	svg := fs.String("svg", "", "plot to write (default: -in with .svg)")
	src := fs.String("src", ".", "folder whose test files document the benchmarks")
	notesPath := fs.String("notes", "bench/profiling.md", "markdown of what the profiles showed and what changed, included in the report (if it exists)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *in == "" {
		return fmt.Errorf("-in is required")
	}
	base := strings.TrimSuffix(*in, filepath.Ext(*in))
	if *md == "" {
		*md = base + ".md"
	}
	if *svg == "" {
		*svg = base + ".svg"
	}
	f, err := os.Open(*in)
	if err != nil {
		return err
	}
	set, err := Parse(f)
	f.Close()
	if err != nil {
		return fmt.Errorf("read %s: %w", *in, err)
	}
	if len(set.Results) == 0 {
		return fmt.Errorf("%s holds no benchmark results", *in)
	}
	docs, err := Workloads(*src)
	if err != nil {
		return fmt.Errorf("read the benchmarks' doc comments: %w", err)
	}
	notes, err := os.ReadFile(*notesPath)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	title := filepath.Base(base)
	if err := writeFile(*svg, func(f *os.File) error { return WriteSVG(f, set, title) }); err != nil {
		return err
	}
	rel, err := filepath.Rel(filepath.Dir(*md), *svg)
	if err != nil {
		rel = *svg
	}
	return writeFile(*md, func(f *os.File) error { return WriteMarkdown(f, set, title, rel, docs, string(notes)) })
}

func writeFile(path string, write func(*os.File) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Close()
}
