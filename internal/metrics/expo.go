package metrics

import (
	"bytes"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// The Prometheus text exposition format (version 0.0.4), written by hand:
// the daemon's metrics are a few dozen families of counters, gauges and
// histograms, and client_golang linked 2.5 MB of binary (its protobuf data
// model, which the daemon never serves) whose pages every start maps, and
// gathered each scrape through that data model (docs/performance.md).
// The tests parse what this writes with Prometheus's own parser, and
// promtool checks it.

// kind is a family's TYPE.
type kind string

const (
	counterKind   kind = "counter"
	gaugeKind     kind = "gauge"
	histogramKind kind = "histogram"
)

// family is one metric family: its series by label values.
type family struct {
	name, help string
	kind       kind
	labels     []string
	order      []int     // indices of labels in name order: the order they are written in
	buckets    []float64 // histograms: the upper bounds, ascending, +Inf left out
	constant   string    // constant labels, written first: `version="1.2"`
	fn         func() float64

	mu     sync.Mutex
	series map[string]*series
}

// series is one set of label values' figures.
type series struct {
	values []string
	v      float64  // counter or gauge
	counts []uint64 // histogram: observations per bucket, not cumulative
	sum    float64
	count  uint64
}

func newFamily(k kind, name, help string, labels ...string) *family {
	f := &family{name: name, help: help, kind: k, labels: labels, series: map[string]*series{}}
	f.order = make([]int, len(labels))
	for i := range labels {
		f.order[i] = i
	}
	slices.SortFunc(f.order, func(a, b int) int { return strings.Compare(labels[a], labels[b]) })
	return f
}

func newHistogram(name, help string, buckets []float64, labels ...string) *family {
	f := newFamily(histogramKind, name, help, labels...)
	f.buckets = buckets
	return f
}

// get returns the series of values, made at zero when it does not exist
// yet. The caller holds f.mu.
func (f *family) get(values []string) *series {
	key := strings.Join(values, "\xff")
	s := f.series[key]
	if s == nil {
		s = &series{values: slices.Clone(values)}
		if f.kind == histogramKind {
			s.counts = make([]uint64, len(f.buckets))
		}
		f.series[key] = s
	}
	return s
}

// with makes the series of values exist, at zero.
func (f *family) with(values ...string) {
	f.mu.Lock()
	f.get(values)
	f.mu.Unlock()
}

func (f *family) add(d float64, values ...string) {
	f.mu.Lock()
	f.get(values).v += d
	f.mu.Unlock()
}

func (f *family) set(v float64, values ...string) {
	f.mu.Lock()
	f.get(values).v = v
	f.mu.Unlock()
}

func (f *family) remove(values ...string) {
	f.mu.Lock()
	delete(f.series, strings.Join(values, "\xff"))
	f.mu.Unlock()
}

func (f *family) observe(v float64, values ...string) {
	f.mu.Lock()
	s := f.get(values)
	if i, _ := slices.BinarySearch(f.buckets, v); i < len(f.buckets) {
		s.counts[i]++
	}
	s.sum += v
	s.count++
	f.mu.Unlock()
}

// write appends the family in the text format, its series sorted by their
// label values; a family without series is left out, as Prometheus's
// client does.
func (f *family) write(b *bytes.Buffer) {
	if f.fn != nil {
		f.header(b)
		line(b, f.name, f.fn())
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.series) == 0 {
		return
	}
	all := make([]*series, 0, len(f.series))
	for _, s := range f.series {
		all = append(all, s)
	}
	// Sorted by label value, label by label in name order, as
	// Prometheus's client writes them.
	slices.SortFunc(all, func(x, y *series) int {
		for _, i := range f.order {
			if c := strings.Compare(x.values[i], y.values[i]); c != 0 {
				return c
			}
		}
		return 0
	})
	f.header(b)
	for _, s := range all {
		if f.kind != histogramKind {
			f.sample(b, "", s.values, "", s.v)
			continue
		}
		var cum uint64
		for i, le := range f.buckets {
			cum += s.counts[i]
			f.sample(b, "_bucket", s.values, strconv.FormatFloat(le, 'g', -1, 64), float64(cum))
		}
		f.sample(b, "_bucket", s.values, "+Inf", float64(s.count))
		f.sample(b, "_sum", s.values, "", s.sum)
		f.sample(b, "_count", s.values, "", float64(s.count))
	}
}

func (f *family) header(b *bytes.Buffer) { header(b, f.name, f.help, string(f.kind)) }

// sample writes one line: name+suffix, the labels in name order (with le
// last for a bucket), the value.
func (f *family) sample(b *bytes.Buffer, suffix string, values []string, le string, v float64) {
	b.WriteString(f.name)
	b.WriteString(suffix)
	if len(values) > 0 || le != "" || f.constant != "" {
		b.WriteByte('{')
		sep := false
		if f.constant != "" {
			b.WriteString(f.constant)
			sep = true
		}
		for _, i := range f.order {
			if sep {
				b.WriteByte(',')
			}
			sep = true
			b.WriteString(f.labels[i])
			b.WriteString(`="`)
			writeEscaped(b, values[i], true)
			b.WriteByte('"')
		}
		if le != "" {
			if sep {
				b.WriteByte(',')
			}
			b.WriteString(`le="`)
			b.WriteString(le)
			b.WriteByte('"')
		}
		b.WriteByte('}')
	}
	b.WriteByte(' ')
	writeFloat(b, v)
	b.WriteByte('\n')
}

// writeEscaped escapes a label value (\, " and newline) or a HELP text
// (\ and newline), as the format asks.
func writeEscaped(b *bytes.Buffer, s string, quote bool) {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			b.WriteString(`\\`)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '"' && quote:
			b.WriteString(`\"`)
		default:
			b.WriteByte(c)
		}
	}
}

func writeFloat(b *bytes.Buffer, v float64) {
	switch {
	case math.IsNaN(v):
		b.WriteString("NaN")
	case math.IsInf(v, 1):
		b.WriteString("+Inf")
	case math.IsInf(v, -1):
		b.WriteString("-Inf")
	default:
		b.Write(strconv.AppendFloat(b.AvailableBuffer(), v, 'g', -1, 64))
	}
}
