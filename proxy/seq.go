package proxy

import (
	"context"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/ariproxy/ari-proxy/bus"
	"github.com/ariproxy/ari-proxy/wire"
)

// sequencer numbers the events of each event subject (one application on
// one node), so that subscribers can tell when they missed one. The
// number travels in a header (bus.HeaderSeq), never in the event, which
// stays the bytes Asterisk sent; bus.HeaderEpoch names this run of the
// server, whose count starts at 1.
type sequencer struct {
	epoch string
	mu    sync.Mutex
	next  map[string]uint64

	// Publish failures are logged once when they start and once when they
	// end (with how many), not once per event: an outage must not flood.
	failMu  sync.Mutex
	failing atomic.Uint64 // events refused since the first failure; 0: all well
}

func newSequencer() *sequencer {
	return &sequencer{epoch: wire.NewID(), next: make(map[string]uint64)}
}

// stamp returns the headers of the next event on subject.
func (q *sequencer) stamp(subject string) map[string]string {
	q.mu.Lock()
	q.next[subject]++
	n := q.next[subject]
	q.mu.Unlock()
	return map[string]string{bus.HeaderSeq: strconv.FormatUint(n, 10), bus.HeaderEpoch: q.epoch}
}

// publishSeq publishes one event on its event subject with its sequence
// headers. An event the bus refuses keeps its number, so the gap shows.
func (s *Server) publishSeq(ctx context.Context, subject string, payload []byte) error {
	err := s.events.PublishMsg(ctx, bus.Msg{Subject: subject, Header: s.seq.stamp(subject), Data: payload})
	if err != nil {
		s.metrics.publishFail.Inc()
	}
	s.seq.published(s.log, err)
	return err
}

// published logs the start and the end of a run of publish failures.
func (q *sequencer) published(log *slog.Logger, err error) {
	if err == nil && q.failing.Load() == 0 {
		return // the hot path: all well
	}
	q.failMu.Lock()
	defer q.failMu.Unlock()
	switch n := q.failing.Load(); {
	case err != nil && n == 0:
		q.failing.Store(1)
		log.Warn("publishing events fails; they are lost until the bus takes them again (counted in ariproxy_events_publish_failed_total)", "err", err)
	case err != nil:
		q.failing.Add(1)
	case n > 0:
		log.Info("publishing events again", "lost", n)
		q.failing.Store(0)
	}
}
