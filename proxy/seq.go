package proxy

import (
	"context"
	"strconv"
	"sync"

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
	return err
}
