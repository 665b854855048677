package dashboard

import (
	"strings"
	"time"

	"github.com/luminous-healing/luminous-healing/internal/client"
)

// seriesPoints is how many readings the dashboard keeps per resource: two
// hours at the default one check a minute, and more than a sparkline shows.
const seriesPoints = 120

// seriesRing keeps the readings the dashboard itself has seen, one per
// daemon check. The D-Bus API has no series history (ListResources carries
// the latest reading only), so a dashboard's sparklines start empty and fill
// as it runs; docs/dashboard.md says so.
type seriesRing struct {
	last   time.Time // LastCheck of the newest readings kept
	points map[string][]float64
}

func newSeriesRing() *seriesRing { return &seriesRing{points: map[string][]float64{}} }

// observe keeps a status's readings if they come from a check not seen yet:
// polls and signal refreshes between two checks add nothing. Before its
// first check a daemon reports the readings it took when it started.
func (s *seriesRing) observe(st client.Status) {
	at := st.LastCheck
	if at.IsZero() {
		at = st.Started
	}
	if at.IsZero() || !at.After(s.last) {
		return
	}
	s.last = at
	seen := make(map[string]bool, len(st.Resources))
	for _, r := range st.Resources {
		seen[r.ID] = true
		p := append(s.points[r.ID], r.Value)
		if len(p) > seriesPoints {
			p = p[len(p)-seriesPoints:]
		}
		s.points[r.ID] = p
	}
	// A mount no longer watched takes its history with it.
	for id := range s.points {
		if !seen[id] {
			delete(s.points, id)
		}
	}
}

// sparkBlocks are the eight heights of a sparkline cell.
var sparkBlocks = []rune("▁▂▃▄▅▆▇█")

// sparkline draws the newest width points, right-aligned, on a scale from
// 0 to the threshold or the highest point, whichever is higher: a full
// block is at or above the threshold, so the line reads "how close to
// trouble" rather than magnifying noise.
func sparkline(points []float64, threshold float64, width int) string {
	if width <= 0 {
		return ""
	}
	if len(points) > width {
		points = points[len(points)-width:]
	}
	top := threshold
	for _, p := range points {
		top = max(top, p)
	}
	var b strings.Builder
	b.WriteString(strings.Repeat(" ", width-len(points)))
	for _, p := range points {
		i := 0
		if top > 0 {
			i = int(p / top * float64(len(sparkBlocks)-1))
		}
		b.WriteRune(sparkBlocks[min(max(i, 0), len(sparkBlocks)-1)])
	}
	return b.String()
}
