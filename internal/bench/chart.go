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

// WriteSVG draws the report's chart: latency percentiles of direct ARI,
// proxied requests and the bare bus round trip (channel data, at both
// concurrencies), and the event rates of the floods.
func (r *Report) WriteSVG(w io.Writer) error {
	lat, err := r.latencyPlot()
	if err != nil {
		return err
	}
	plots := [][]*plot.Plot{{lat}}
	if r.Events.ProxiedRaw.Sent > 0 {
		ev, err := r.eventsPlot()
		if err != nil {
			return err
		}
		plots[0] = append(plots[0], ev)
	}
	width := vg.Length(len(plots[0])) * 4.5 * vg.Inch
	c := vgsvg.New(width, 3.6*vg.Inch)
	dc := draw.New(c)
	t := draw.Tiles{Rows: 1, Cols: len(plots[0]), PadX: vg.Millimeter * 4, PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2,
		PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 2}
	canvases := plot.Align(plots, t, dc)
	for i, p := range plots[0] {
		p.Draw(canvases[0][i])
	}
	_, err = c.WriteTo(w)
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

// latencyPlot is grouped bars of p50 and p99 for each series.
func (r *Report) latencyPlot() (*plot.Plot, error) {
	name := nameChannelData
	if len(r.Simulator.REST) == 0 {
		name = nameAsteriskInfo
	}
	var labels []string
	var p50, p99 plotter.Values
	add := func(label string, l Latency) {
		labels = append(labels, label)
		p50 = append(p50, l.P50)
		p99 = append(p99, l.P99)
	}
	for _, c := range []int{r.Settings.Concurrency, r.Settings.HighConcurrency} {
		if rtt, ok := r.busRTT(c); ok {
			add(fmt.Sprintf("bus RTT\n%d in flight", c), rtt.Latency)
		}
		if cmp, ok := r.comparison(name, c); ok {
			add(fmt.Sprintf("direct\n%d in flight", c), cmp.Direct.Latency)
			add(fmt.Sprintf("proxied\n%d in flight", c), cmp.Proxied.Latency)
		}
	}
	if len(labels) == 0 {
		return nil, fmt.Errorf("bench: chart: no latency figures")
	}
	p := plot.New()
	p.Title.Text = "Latency: " + name
	p.Y.Label.Text = "milliseconds"
	w := vg.Points(12)
	b50, err := plotter.NewBarChart(p50, w)
	if err != nil {
		return nil, err
	}
	b99, err := plotter.NewBarChart(p99, w)
	if err != nil {
		return nil, err
	}
	b50.Color, b99.Color = plotutil.Color(0), plotutil.Color(1)
	b50.Offset, b99.Offset = -w/2, w/2
	b50.LineStyle.Width, b99.LineStyle.Width = 0, 0
	p.Add(b50, b99)
	p.Legend.Add("p50", b50)
	p.Legend.Add("p99", b99)
	p.Legend.Top = true
	p.NominalX(labels...)
	p.X.Tick.Label.Font.Size = vg.Points(7)
	return p, nil
}

// eventsPlot is one bar per flood.
func (r *Report) eventsPlot() (*plot.Plot, error) {
	e := r.Events
	labels := []string{"plain\nWebSocket reader", "bus subscriber\nvia proxy", "direct app\n(decoding)", "client Subscribe\n(decoding)"}
	vals := plotter.Values{r.Simulator.Events.PerSecond / 1000, e.ProxiedRaw.PerSecond / 1000, e.Direct.PerSecond / 1000, e.Proxied.PerSecond / 1000}
	p := plot.New()
	p.Title.Text = "Events: one flood each"
	p.Y.Label.Text = "thousand events per second"
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
