package status

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"html/template"
	"net/http"
)

//go:embed page.html
var pageSource string

var page = template.Must(template.New("status").Funcs(template.FuncMap{
	"rate":    fmtRate,
	"int":     fmtInt,
	"secs":    fmtSecs,
	"opt":     fmtOpt,
	"scope":   fmtScope,
	"clock":   fmtClock,
	"lag":     fmtLag,
	"waiting": waitingText,
}).Parse(pageSource))

// flowOutcomes are the outcomes the page's flow table shows: a loop is
// the target's own change, never a flow's.
var flowOutcomes = []string{"applied", "noop", "skipped", "duplicate", "dlq"}

type pageData struct {
	View         View
	FlowOutcomes []string
	SVG          template.HTML
	Mermaid      string
}

// Register serves the page at /status and its data at /status.json.
func (s *Status) Register(mux *http.ServeMux) {
	mux.Handle("/status", s.PageHandler())
	mux.Handle("/status.json", s.JSONHandler())
}

// PageHandler serves the HTML page. It needs nothing from outside: its
// script fetches status.json beside it every 2 seconds.
func (s *Status) PageHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			http.Error(w, "GET only", http.StatusMethodNotAllowed)
			return
		}
		d := pageData{View: s.View(), FlowOutcomes: flowOutcomes, Mermaid: s.opts.Diagram.Mermaid}
		if svg := s.opts.Diagram.SVG; len(svg) > 0 {
			// inline: drop the XML declaration and doctype before <svg
			if i := bytes.Index(svg, []byte("<svg")); i >= 0 {
				svg = svg[i:]
			}
			d.SVG = template.HTML(svg) // Graphviz's output for our own config
		}
		var buf bytes.Buffer
		if err := page.Execute(&buf, d); err != nil {
			http.Error(w, "status page: "+err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write(buf.Bytes())
	})
}

// JSONHandler serves the current View as JSON.
func (s *Status) JSONHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			http.Error(w, "GET only", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		enc := json.NewEncoder(w)
		enc.SetIndent("", " ")
		_ = enc.Encode(s.View())
	})
}
