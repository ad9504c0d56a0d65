package main

import (
	"fmt"
	"html"
	"io"
	"math"
	"strings"
)

// The plot: one panel of throughput (tandem against its limits) and one of
// latency percentiles, horizontal bars of the median with min-max whiskers
// and the target as a red tick.

const (
	svgWidth   = 960.0
	labelWidth = 280.0
	plotLeft   = labelWidth + 10
	plotRight  = svgWidth - 70
	barHeight  = 13.0
	barGap     = 2.0
	groupGap   = 10.0
)

type bar struct {
	label  string
	color  string
	st     Stat
	target float64 // 0: none
}

type group struct {
	name string
	bars []bar
}

type panel struct {
	title  string
	log    bool
	groups []group
	legend [][2]string // label, color
}

var (
	tandemColor = "#1f77b4"
	targetColor = "#dd0000"
	limitColors = []string{"#8c8c8c", "#c7c7c7"}
	limitLegend = []string{"limit: bare client library", "limit: Kafka ProducerPerformance"}
	pctColors   = map[string]string{"p50-ms": "#2ca02c", "p95-ms": "#ff7f0e", "p99-ms": "#9467bd"}
)

func throughputPanel(s *Set) panel {
	p := panel{title: "Throughput, rows/s: median, min-max whiskers, red tick = target"}
	p.legend = append(p.legend, [2]string{"tandem", tandemColor}, [2]string{"target (DESIGN)", targetColor})
	legendDone := map[int]bool{}
	for _, r := range s.Results {
		if !isThroughput(s, r) {
			continue
		}
		st, _ := r.Stat(throughputUnit)
		g := group{name: strings.TrimPrefix(r.Name, "Benchmark")}
		tb := bar{label: "tandem", color: tandemColor, st: st}
		for _, t := range TargetsOf(r.Name) {
			if t.Unit == throughputUnit && t.Op != "" {
				tb.target = t.Value
			}
		}
		g.bars = append(g.bars, tb)
		for i, l := range LimitsOf(r.Name) {
			ls, ok := s.Get(l.Name).Stat(throughputUnit)
			if !ok {
				continue
			}
			c := limitColors[min(i, len(limitColors)-1)]
			g.bars = append(g.bars, bar{label: l.Label, color: c, st: ls})
			if !legendDone[i] {
				legendDone[i] = true
				p.legend = append(p.legend, [2]string{limitLegend[min(i, len(limitLegend)-1)], c})
			}
		}
		p.groups = append(p.groups, g)
	}
	return p
}

func latencyPanel(s *Set) panel {
	p := panel{title: "Latency percentiles, ms (log scale): median, min-max whiskers, red tick = target", log: true}
	p.legend = append(p.legend, [2]string{"target (DESIGN)", targetColor})
	for _, u := range []string{"p50-ms", "p95-ms", "p99-ms"} {
		p.legend = append(p.legend, [2]string{strings.TrimSuffix(u, "-ms"), pctColors[u]})
	}
	for _, r := range s.Results {
		g := group{name: strings.TrimPrefix(r.Name, "Benchmark")}
		for _, u := range []string{"p50-ms", "p95-ms", "p99-ms"} {
			st, ok := r.Stat(u)
			if !ok || st.Max <= 0 {
				continue
			}
			b := bar{label: strings.TrimSuffix(u, "-ms"), color: pctColors[u], st: st}
			for _, t := range TargetsOf(r.Name) {
				if t.Unit == u && t.Op != "" {
					b.target = t.Value
				}
			}
			g.bars = append(g.bars, b)
		}
		if len(g.bars) > 0 {
			p.groups = append(p.groups, g)
		}
	}
	return p
}

// scale maps values to x within [plotLeft, plotRight].
type scale struct {
	lo, hi float64
	log    bool
}

func (sc scale) x(v float64) float64 {
	f := (v - sc.lo) / (sc.hi - sc.lo)
	if sc.log {
		f = (math.Log10(math.Max(v, sc.lo)) - math.Log10(sc.lo)) / (math.Log10(sc.hi) - math.Log10(sc.lo))
	}
	return plotLeft + math.Max(0, math.Min(1, f))*(plotRight-plotLeft)
}

// ticks returns the axis ticks: powers of ten on a log scale, else about
// five steps of 1, 2 or 5 times a power of ten.
func (sc scale) ticks() []float64 {
	var out []float64
	if sc.log {
		for v := sc.lo; v <= sc.hi*1.0001; v *= 10 {
			out = append(out, v)
		}
		return out
	}
	raw := (sc.hi - sc.lo) / 5
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{1, 2, 5, 10} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	for v := sc.lo; v <= sc.hi*1.0001; v += step {
		out = append(out, v)
	}
	return out
}

func panelScale(p panel) scale {
	lo, hi := math.Inf(1), 0.0
	for _, g := range p.groups {
		for _, b := range g.bars {
			hi = math.Max(hi, math.Max(b.st.Max, b.target))
			if b.st.Min > 0 {
				lo = math.Min(lo, b.st.Min)
			}
		}
	}
	if hi <= 0 {
		hi = 1
	}
	if !p.log {
		sc := scale{lo: 0, hi: hi * 1.05}
		t := sc.ticks()
		sc.hi = math.Max(sc.hi, t[len(t)-1])
		return sc
	}
	if math.IsInf(lo, 1) {
		lo = 1
	}
	return scale{lo: math.Pow(10, math.Floor(math.Log10(lo))), hi: math.Pow(10, math.Ceil(math.Log10(hi))), log: true}
}

func panelHeight(p panel) float64 {
	h := 60.0 // title, legend
	for _, g := range p.groups {
		h += float64(len(g.bars))*(barHeight+barGap) + groupGap
	}
	return h + 30 // axis
}

// drawPanel draws p with its top at y0.
func drawPanel(b *strings.Builder, p panel, y0 float64) {
	sc := panelScale(p)
	fmt.Fprintf(b, `<text x="10" y="%.1f" font-size="15" font-weight="bold">%s</text>`+"\n", y0+18, html.EscapeString(p.title))
	lx := plotLeft
	for _, l := range p.legend {
		fmt.Fprintf(b, `<rect x="%.1f" y="%.1f" width="12" height="12" fill="%s"/><text x="%.1f" y="%.1f">%s</text>`+"\n",
			lx, y0+30, l[1], lx+16, y0+40, html.EscapeString(l[0]))
		lx += 26 + 6.5*float64(len(l[0]))
	}
	y := y0 + 52
	top := y
	for _, g := range p.groups {
		gh := float64(len(g.bars)) * (barHeight + barGap)
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="end" font-weight="bold">%s</text>`+"\n", labelWidth, y+gh/2+4, html.EscapeString(g.name))
		for _, br := range g.bars {
			x1 := sc.x(br.st.Median)
			fmt.Fprintf(b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s: %s (%s-%s)</title></rect>`+"\n",
				plotLeft, y, math.Max(1, x1-plotLeft), barHeight, br.color, html.EscapeString(g.name+" "+br.label),
				human(br.st.Median), human(br.st.Min), human(br.st.Max))
			if br.st.Max > br.st.Min {
				ym := y + barHeight/2
				fmt.Fprintf(b, `<path d="M%.1f %.1fH%.1fM%.1f %.1fV%.1fM%.1f %.1fV%.1f" stroke="#000" fill="none"/>`+"\n",
					sc.x(br.st.Min), ym, sc.x(br.st.Max), sc.x(br.st.Min), ym-4, ym+4, sc.x(br.st.Max), ym-4, ym+4)
			}
			if br.target > 0 {
				tx := sc.x(br.target)
				fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="2"/>`+"\n", tx, y-1, tx, y+barHeight+1, targetColor)
			}
			label := html.EscapeString(human(br.st.Median) + " " + br.label)
			lx := math.Max(x1, sc.x(br.st.Max)) + 4
			if br.target > 0 {
				lx = math.Max(lx, sc.x(br.target)+4)
			}
			if lx+textWidth(label) > svgWidth { // no room on the right: inside the bar
				fmt.Fprintf(b, `<text x="%.1f" y="%.1f" font-size="11" text-anchor="end" fill="#fff">%s</text>`+"\n", math.Min(x1, sc.x(br.st.Min))-4, y+barHeight-3, label)
			} else {
				fmt.Fprintf(b, `<text x="%.1f" y="%.1f" font-size="11">%s</text>`+"\n", lx, y+barHeight-3, label)
			}
			y += barHeight + barGap
		}
		y += groupGap
	}
	fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#000"/>`+"\n", plotLeft, y, plotRight, y)
	for _, t := range sc.ticks() {
		tx := sc.x(t)
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ddd"/><text x="%.1f" y="%.1f" text-anchor="middle" font-size="11">%s</text>`+"\n",
			tx, top, tx, y+4, tx, y+16, human(t))
	}
}

// textWidth estimates the width of a label in 11-pixel sans-serif.
func textWidth(s string) float64 { return 6 * float64(len(s)) }

// WriteSVG writes the plot; a panel without data is left out.
func WriteSVG(w io.Writer, s *Set, title string) error {
	var panels []panel
	for _, p := range []panel{throughputPanel(s), latencyPanel(s)} {
		if len(p.groups) > 0 {
			panels = append(panels, p)
		}
	}
	h := 40.0
	for _, p := range panels {
		h += panelHeight(p)
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" font-family="sans-serif" font-size="12">`+"\n",
		svgWidth, h, svgWidth, h)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="#fff"/><text x="10" y="24" font-size="17" font-weight="bold">%s</text>`+"\n",
		html.EscapeString("tandem benchmarks, "+title))
	y := 40.0
	for _, p := range panels {
		drawPanel(&b, p, y)
		y += panelHeight(p)
	}
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}
