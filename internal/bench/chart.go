package bench

import (
	"fmt"
	"io"
	"os"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"
)

// WriteSVG draws the report's chart: median and p99 latency of direct
// ARI, proxied requests and the bare bus round trip (channel data, at both
// concurrencies), one panel each since the tails dwarf the medians, and
// the event rates of the floods.
func (r *Report) WriteSVG(w io.Writer) error {
	var row []*plot.Plot
	for _, pick := range []struct {
		title string
		of    func(Latency) float64
	}{{"median (p50)", func(l Latency) float64 { return l.P50 }}, {"p99", func(l Latency) float64 { return l.P99 }}} {
		p, err := r.latencyPlot(pick.title, pick.of)
		if err != nil {
			return err
		}
		row = append(row, p)
	}
	if r.Events.ProxiedRaw.Sent > 0 {
		ev, err := r.eventsPlot()
		if err != nil {
			return err
		}
		row = append(row, ev)
	}
	plots := [][]*plot.Plot{row}
	c := vgsvg.New(vg.Length(len(row))*3.6*vg.Inch, 3.4*vg.Inch)
	dc := draw.New(c)
	t := draw.Tiles{Rows: 1, Cols: len(row), PadX: vg.Millimeter * 6, PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2,
		PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 4}
	canvases := plot.Align(plots, t, dc)
	for i, p := range row {
		p.Draw(canvases[0][i])
	}
	_, err := c.WriteTo(w)
	return err
}

// WriteSVGFile writes the chart to path.
func (r *Report) WriteSVGFile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("bench: chart: %w", err)
	}
	if err := r.WriteSVG(f); err != nil {
		f.Close()
		return fmt.Errorf("bench: chart: %w", err)
	}
	return f.Close()
}

// latencyPlot is one bar per series, in groups by concurrency.
func (r *Report) latencyPlot(title string, of func(Latency) float64) (*plot.Plot, error) {
	name := nameChannelData
	if len(r.Simulator.REST) == 0 {
		name = nameAsteriskInfo
	}
	var labels []string
	var vals plotter.Values
	add := func(label string, l Latency) {
		labels = append(labels, label)
		vals = append(vals, of(l))
	}
	for _, c := range []int{r.Settings.Concurrency, r.Settings.HighConcurrency} {
		if rtt, ok := r.busRTT(c); ok {
			add(fmt.Sprintf("bus RTT\n%d", c), rtt.Latency)
		}
		if cmp, ok := r.comparison(name, c); ok {
			add(fmt.Sprintf("direct\n%d", c), cmp.Direct.Latency)
			add(fmt.Sprintf("proxied\n%d", c), cmp.Proxied.Latency)
		}
	}
	if len(labels) == 0 {
		return nil, fmt.Errorf("bench: chart: no latency figures")
	}
	p := plot.New()
	p.Title.Text = "Channel data latency, " + title
	p.Title.TextStyle.Font.Size = vg.Points(10)
	p.Y.Label.Text = "ms"
	p.X.Label.Text = "requests in flight"
	bars, err := plotter.NewBarChart(vals, vg.Points(14))
	if err != nil {
		return nil, err
	}
	bars.LineStyle.Width = 0
	bars.Color = plotutil.Color(0)
	p.Add(bars)
	p.NominalX(labels...)
	p.X.Tick.Label.Font.Size = vg.Points(7)
	return p, nil
}

// eventsPlot is one bar per flood.
func (r *Report) eventsPlot() (*plot.Plot, error) {
	e := r.Events
	labels := []string{"plain\nreader", "bus sub.\nvia proxy", "direct app\ndecoding", "Subscribe\ndecoding"}
	vals := plotter.Values{r.Simulator.Events.PerSecond / 1000, e.ProxiedRaw.PerSecond / 1000, e.Direct.PerSecond / 1000, e.Proxied.PerSecond / 1000}
	p := plot.New()
	p.Title.Text = "Events, one flood each"
	p.Title.TextStyle.Font.Size = vg.Points(10)
	p.Y.Label.Text = "thousand events/s"
	b, err := plotter.NewBarChart(vals, vg.Points(20))
	if err != nil {
		return nil, err
	}
	b.Color = plotutil.Color(2)
	b.LineStyle.Width = 0
	p.Add(b)
	p.NominalX(labels...)
	p.X.Tick.Label.Font.Size = vg.Points(7)
	return p, nil
}
