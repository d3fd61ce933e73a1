package main

import (
	"fmt"
	"html"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The chart: every ratio of the targets table across the reports kept in bench/results/, one panel per target,
// drawn as SVG by hand (no plotting tool to install).

// history is one report's ratios, by series (what — reference).
type history struct {
	file   string
	commit string
	date   time.Time
	ratios map[string]float64
	order  []string // the keys of ratios, in the report's order
}

// series is one panel: its key, and the current target (from the newest report that has it).
type series struct {
	key       string
	threshold float64
	atMost    bool // the target is ≤ threshold (lower is better)
	hasTarget bool
}

var (
	reRatioCell  = regexp.MustCompile(`^([0-9]+(?:\.[0-9]+)?)×$`)
	reTargetCell = regexp.MustCompile(`^(≥|≤) ([0-9]+(?:\.[0-9]+)?)×$`)
	reOldTarget  = regexp.MustCompile(`^- \*\*(?:PASS|FAIL)\*\* (.+?): ([0-9]+(?:\.[0-9]+)?)×`)
	reDateLine   = regexp.MustCompile(`^- date: (.+)$`)
	reCommitLine = regexp.MustCompile("^- commit: `([^`]+)`")
)

// seriesKey names a series as the chart and the targets table do.
func seriesKey(what, reference string) string { return what + " — " + reference }

// oldSeries maps the targets of the first reports (a list, before the table) to today's series.
func oldSeries(name string) (string, bool) {
	switch {
	case strings.HasPrefix(name, "GET by id"):
		return seriesKey(whatGetCached, refPgRead), true
	case strings.HasPrefix(name, "deep page"):
		return seriesKey(whatDeep, refFirstPage), true
	case strings.HasPrefix(name, "POST"):
		return seriesKey(whatPostFlows, refPgInsert), true
	case strings.HasPrefix(name, "PUT"):
		return seriesKey(whatPutFlows, "pgbench insert (the first reports' reference)"), true
	case strings.HasPrefix(name, "SQLite GET"):
		return seriesKey(whatSQLite, refPostgresGet), true
	}
	return "", false
}

// splitRow splits a Markdown table row into its trimmed cells.
func splitRow(line string) []string {
	line = strings.TrimSpace(line)
	if !strings.HasPrefix(line, "|") || !strings.HasSuffix(line, "|") {
		return nil
	}
	cells := strings.Split(line[1:len(line)-1], "|")
	for i := range cells {
		cells[i] = strings.TrimSpace(cells[i])
	}
	return cells
}

// readHistory parses one report: the targets table (what | reference | ratio | target | result | …), or the
// first reports' list of targets.
func readHistory(path string, targets map[string]series) (history, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return history{}, err
	}
	h := history{file: filepath.Base(path), ratios: map[string]float64{}}
	inTargets := false
	for line := range strings.SplitSeq(string(b), "\n") {
		if m := reDateLine.FindStringSubmatch(line); m != nil && h.date.IsZero() {
			h.date, _ = time.Parse(dateLayout, strings.TrimSpace(m[1]))
		}
		if m := reCommitLine.FindStringSubmatch(line); m != nil && h.commit == "" {
			h.commit = m[1]
		}
		if strings.HasPrefix(line, "## ") {
			inTargets = strings.TrimSpace(line) == "## Targets"
			continue
		}
		if !inTargets {
			continue
		}
		if m := reOldTarget.FindStringSubmatch(line); m != nil {
			if key, ok := oldSeries(m[1]); ok {
				h.ratios[key], _ = strconv.ParseFloat(m[2], 64)
				h.order = append(h.order, key)
			}
			continue
		}
		cells := splitRow(line)
		if len(cells) < 5 {
			continue
		}
		m := reRatioCell.FindStringSubmatch(cells[2])
		if m == nil {
			continue // the header, the separator, and rows that are not ratios (RSS)
		}
		key := seriesKey(cells[0], cells[1])
		h.ratios[key], _ = strconv.ParseFloat(m[1], 64)
		h.order = append(h.order, key)
		if t := reTargetCell.FindStringSubmatch(cells[3]); t != nil {
			v, _ := strconv.ParseFloat(t[2], 64)
			targets[key] = series{key: key, threshold: v, atMost: t[1] == "≤", hasTarget: true}
		}
	}
	if h.date.IsZero() {
		if st, err := os.Stat(path); err == nil {
			h.date = st.ModTime()
		}
	}
	if h.commit == "" {
		h.commit = strings.TrimSuffix(h.file, ".md")
	}
	return h, nil
}

// writeChart reads every report of dir and draws dir/ratios.svg.
func writeChart(dir string) (string, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.md"))
	if err != nil {
		return "", err
	}
	targets := map[string]series{}
	var hs []history
	for _, f := range files { // oldest first by name (date-commit), so that the newest report's targets win
		h, err := readHistory(f, targets)
		if err != nil {
			return "", err
		}
		if len(h.ratios) > 0 {
			hs = append(hs, h)
		}
	}
	slices.SortStableFunc(hs, func(a, b history) int { return a.date.Compare(b.date) })
	// Series in the newest report's order; those only older reports have after them.
	var keys []string
	seen := map[string]bool{}
	for i := len(hs) - 1; i >= 0; i-- {
		for _, k := range hs[i].order {
			if !seen[k] {
				seen[k] = true
				keys = append(keys, k)
			}
		}
	}
	svg := drawChart(hs, keys, targets)
	path := filepath.Join(dir, "ratios.svg")
	return path, os.WriteFile(path, []byte(svg), 0o644)
}

// drawChart draws one panel per series: its ratio in each report (x, oldest to newest), and its target as a
// dashed line; the area on the wrong side of the target is tinted.
func drawChart(hs []history, keys []string, targets map[string]series) string {
	const (
		cols    = 2
		panelW  = 520
		panelH  = 200
		padL    = 56
		padR    = 44
		padT    = 34
		padB    = 40
		marginX = 16
		headerH = 56
	)
	rows := (len(keys) + cols - 1) / cols
	width := cols*(panelW+marginX) + marginX
	height := headerH + rows*(panelH+marginX) + marginX
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	esc := html.EscapeString
	p(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="11">`+"\n",
		width, height, width, height)
	p(`<rect width="100%%" height="100%%" fill="#ffffff"/>` + "\n")
	p(`<text x="%d" y="24" font-size="16" font-weight="bold">flowbin: each target's ratio in every report of bench/results/</text>`+"\n", marginX)
	p(`<text x="%d" y="44" fill="#555">x: the reports, oldest to newest (commit); y: the ratio; dashed: the target (green side passes). Written by make bench.</text>`+"\n", marginX)
	for i, key := range keys {
		x0 := marginX + (i%cols)*(panelW+marginX)
		y0 := headerH + (i/cols)*(panelH+marginX)
		p(`<g transform="translate(%d,%d)">`+"\n", x0, y0)
		p(`<rect width="%d" height="%d" fill="#fafafa" stroke="#ccc"/>`+"\n", panelW, panelH)
		p(`<text x="8" y="16" font-weight="bold">%s</text>`+"\n", esc(truncate(key, 86)))
		// The points of this series.
		type pt struct {
			i int
			v float64
		}
		var pts []pt
		hi := 0.0
		for j, h := range hs {
			if v, ok := h.ratios[key]; ok {
				pts = append(pts, pt{j, v})
				hi = max(hi, v)
			}
		}
		t, hasT := targets[key]
		if hasT && t.hasTarget {
			hi = max(hi, t.threshold)
		}
		hi = niceCeil(hi * 1.15)
		plotW, plotH := panelW-padL-padR, panelH-padT-padB
		xOf := func(j int) float64 {
			if len(hs) == 1 {
				return float64(padL) + float64(plotW)/2
			}
			return float64(padL) + float64(j)*float64(plotW)/float64(len(hs)-1)
		}
		yOf := func(v float64) float64 { return float64(padT) + float64(plotH)*(1-v/hi) }
		if hasT && t.hasTarget {
			ty := yOf(t.threshold)
			good, bad := "#e8f5e9", "#fdecea"
			top, bottom := good, bad // ≥: above passes
			if t.atMost {
				top, bottom = bad, good
			}
			p(`<rect x="%d" y="%d" width="%d" height="%.1f" fill="%s"/>`+"\n", padL, padT, plotW, ty-float64(padT), top)
			p(`<rect x="%d" y="%.1f" width="%d" height="%.1f" fill="%s"/>`+"\n", padL, ty, plotW, float64(padT+plotH)-ty, bottom)
		}
		// Axes and y ticks.
		p(`<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#888"/>`+"\n", padL, padT+plotH, padL+plotW, padT+plotH)
		p(`<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#888"/>`+"\n", padL, padT, padL, padT+plotH)
		for k := 0; k <= 4; k++ {
			v := hi * float64(k) / 4
			y := yOf(v)
			p(`<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/>`+"\n", padL+1, y, padL+plotW, y)
			p(`<text x="%d" y="%.1f" text-anchor="end" fill="#555">%s×</text>`+"\n", padL-4, y+4, trimFloat(v))
		}
		for j, h := range hs {
			label := h.commit
			if len(label) > 12 {
				label = label[:12]
			}
			p(`<text x="%.1f" y="%d" text-anchor="middle" fill="#555">%s</text>`+"\n", xOf(j), padT+plotH+14, esc(label))
			p(`<text x="%.1f" y="%d" text-anchor="middle" fill="#999">%s</text>`+"\n", xOf(j), padT+plotH+27, h.date.Format("01-02"))
		}
		if hasT && t.hasTarget {
			ty := yOf(t.threshold)
			op := "≥"
			if t.atMost {
				op = "≤"
			}
			p(`<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#c62828" stroke-dasharray="5,4"/>`+"\n", padL, ty, padL+plotW, ty)
			p(`<text x="%d" y="%.1f" fill="#c62828" text-anchor="end">target %s %s×</text>`+"\n", padL+plotW-4, ty-4, op, trimFloat(t.threshold))
		}
		// The line and its points, each labelled with its value.
		if len(pts) > 1 {
			var path []string
			for _, q := range pts {
				path = append(path, fmt.Sprintf("%.1f,%.1f", xOf(q.i), yOf(q.v)))
			}
			p(`<polyline points="%s" fill="none" stroke="#1565c0" stroke-width="2"/>`+"\n", strings.Join(path, " "))
		}
		for _, q := range pts {
			p(`<circle cx="%.1f" cy="%.1f" r="3.5" fill="#1565c0"/>`+"\n", xOf(q.i), yOf(q.v))
			p(`<text x="%.1f" y="%.1f" text-anchor="middle" font-weight="bold">%.2f×</text>`+"\n", xOf(q.i), yOf(q.v)-7, q.v)
		}
		p("</g>\n")
	}
	p("</svg>\n")
	return b.String()
}

// niceCeil rounds a positive bound up to 1, 2 or 5 times a power of ten (times 0.5 steps).
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	for _, step := range []float64{0.1, 0.2, 0.25, 0.5, 1, 2, 2.5, 5, 10, 20, 25, 50, 100} {
		if v <= step*4 {
			return step * 4
		}
	}
	return v
}

// trimFloat writes v to two decimals at most: 0.6, 1.25, 2.
func trimFloat(v float64) string { return strconv.FormatFloat(math.Round(v*100)/100, 'f', -1, 64) }
