package amqpbus

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// Stats counts what happened to a Bus's published messages and its
// connection since Connect.
type Stats struct {
	Published  uint64 // confirmed by the broker
	Refused    uint64 // refused by the broker (negative confirm)
	Dropped    uint64 // dropped: the buffer was full
	Resent     uint64 // sent again: unconfirmed when their channel closed
	Reconnects uint64 // connections re-established after a loss
}

// counter is a Prometheus counter that can also be read back (Stats).
type counter struct {
	n atomic.Uint64
	c prometheus.Counter
}

func (c *counter) add(n int) {
	c.n.Add(uint64(n))
	c.c.Add(float64(n))
}

func (c *counter) Inc() { c.add(1) }

// metrics count what happened to published messages and the connection.
type metrics struct {
	published, refused, dropped, resent, reconnects counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	c := func(name, help string) counter {
		return counter{c: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "ariproxy", Subsystem: "amqp", Name: name, Help: help})}
	}
	m := &metrics{
		published:  c("published_total", "Messages published and confirmed by the broker."),
		refused:    c("refused_total", "Messages the broker refused (negative publisher confirm)."),
		dropped:    c("dropped_total", "Messages dropped because the publish buffer was full (broker unreachable too long)."),
		resent:     c("resent_total", "Messages sent again because their channel closed before the broker confirmed them."),
		reconnects: c("reconnects_total", "Connections re-established after a loss."),
	}
	if reg != nil {
		for _, col := range []*counter{&m.published, &m.refused, &m.dropped, &m.resent, &m.reconnects} {
			// A second Bus on the same registry keeps its counts to itself.
			_ = reg.Register(col.c)
		}
	}
	return m
}

// Stats returns the Bus's counts so far.
func (b *Bus) Stats() Stats {
	return Stats{
		Published: b.m.published.n.Load(), Refused: b.m.refused.n.Load(), Dropped: b.m.dropped.n.Load(),
		Resent: b.m.resent.n.Load(), Reconnects: b.m.reconnects.n.Load(),
	}
}
