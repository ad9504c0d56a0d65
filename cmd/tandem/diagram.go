package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tandem-sync/tandem/mapping"
)

// formatSVG renders the DOT diagram with Graphviz.
const formatSVG = "svg"

func newDiagramCmd(g *globals) *cobra.Command {
	var format, output string
	cmd := &cobra.Command{
		Use:   "diagram",
		Short: "Draw the data flow: tables, entities, Kafka topics and who owns which field",
		Long: `Draw what goes where, from the config file alone (nothing is contacted):

  - one box per system, "name (kind)", holding every table its entity
    mappings name: root tables, EAV meta tables and joined tables;
  - one node per entity, listing its Kafka topic <prefix>.<system>.<entity>
    for each system it is captured from (a child entity travels in its
    aggregate root's topic), and its ownership: the owner, the fields other
    systems own, and the fields both sides change;
  - an arrow from each captured table to the entity's topic, labelled with
    the fields of that table that flow (at most 6 names, then "+N more"),
    and a bold arrow from the topic to each table of the system the flow
    applies to, labelled with the fields written there. A flow reads
    from-system -> topic -> to-system. "(both)" marks a field both systems
    may change (the last writer wins); "(row)" a root table none of whose
    own columns flow. Arrows are coloured by the system a change comes from.

Formats: mermaid (the default; GitHub renders it in a Markdown block
` + "```mermaid" + `), dot (Graphviz source) and svg (dot rendered by the Graphviz
'dot' program, which must be installed: apt-get install graphviz).
Without --format, an --output file ending in .svg, .dot, .gv or .mmd picks
the format.

Exit code 0 when the diagram is written, 1 when rendering or writing it
fails, 2 for bad flags or an invalid config.`,
		Example: `  tandem diagram --config tandem.yaml > flow.mmd
  tandem diagram -c tandem.yaml --format dot | dot -Tpng -o flow.png
  tandem diagram -c tandem.yaml --output flow.svg`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return &exitError{code: exitBadUsage, err: fmt.Errorf("unexpected argument %q\nrun '%s --help' for usage", args[0], cmd.CommandPath())}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !cmd.Flags().Changed("format") {
				format = formatFromName(output, format)
			}
			if format != mapping.FormatMermaid && format != mapping.FormatDOT && format != formatSVG {
				return &exitError{code: exitBadUsage, err: fmt.Errorf("--format %q is not one of mermaid, dot, svg", format)}
			}
			cfg, err := g.loadConfig()
			if err != nil {
				return err
			}
			src := format
			if format == formatSVG {
				src = mapping.FormatDOT
			}
			text, err := cfg.Diagram(src)
			if err != nil {
				return err
			}
			out := []byte(text)
			if format == formatSVG {
				if out, err = renderSVG(cmd.Context(), text); err != nil {
					return &exitError{code: exitFailed, err: err}
				}
			}
			if output == "" || output == "-" {
				_, err = g.stdout.Write(out)
				return err
			}
			if err := os.WriteFile(output, out, 0o644); err != nil {
				return &exitError{code: exitFailed, err: fmt.Errorf("write diagram: %w", err)}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&format, "format", "f", mapping.FormatMermaid, "mermaid, dot (Graphviz source) or svg (needs Graphviz's dot)")
	f.StringVarP(&output, "output", "o", "", "write the diagram to this file instead of stdout")
	return cmd
}

// formatFromName picks the format from an output file's extension, or
// returns def.
func formatFromName(name, def string) string {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".svg":
		return formatSVG
	case ".dot", ".gv":
		return mapping.FormatDOT
	case ".mmd", ".mermaid":
		return mapping.FormatMermaid
	}
	return def
}

// dotProgram is Graphviz's layout program; tests replace it.
var dotProgram = "dot"

// errNoGraphviz says that Graphviz's dot program is missing.
var errNoGraphviz = errors.New("install Graphviz: apt-get install graphviz (macOS: brew install graphviz), or use --format dot or mermaid")

// renderSVG pipes a DOT graph through 'dot -Tsvg' and returns the SVG. It
// lives here rather than in mapping because it runs a program found on
// PATH, and only cmd/ touches the environment. It blocks until dot exits;
// cancelling ctx kills dot.
func renderSVG(ctx context.Context, dot string) ([]byte, error) {
	path, err := exec.LookPath(dotProgram)
	if err != nil {
		return nil, fmt.Errorf("render SVG: Graphviz's %q program is not on PATH: %w", dotProgram, errNoGraphviz)
	}
	cmd := exec.CommandContext(ctx, path, "-Tsvg")
	cmd.Stdin = strings.NewReader(dot)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if msg := strings.TrimSpace(stderr.String()); msg != "" {
			return nil, fmt.Errorf("render SVG with %s: %w: %s", path, err, msg)
		}
		return nil, fmt.Errorf("render SVG with %s: %w", path, err)
	}
	return stdout.Bytes(), nil
}
