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
	subs  map[eventSubject]*subjectSeq

	// Publish failures are logged once when they start and once when they
	// end (with how many), not once per event: an outage must not flood.
	failMu  sync.Mutex
	failing atomic.Uint64 // events refused since the first failure; 0: all well
}

// eventSubject is one event subject: an application on a node.
type eventSubject struct{ app, node string }

// subjectSeq is the count of one event subject, with what its events are
// published with, made once rather than per event.
type subjectSeq struct {
	subject string
	n       uint64
	// header is the headers of the latest event, rewritten for each: a
	// Publisher keeps no header once PublishMsg returns, and the events
	// of a server are published one at a time.
	header map[string]string
}

func newSequencer() *sequencer {
	return &sequencer{epoch: wire.NewID(), subs: make(map[eventSubject]*subjectSeq)}
}

// stamp returns the subject and the headers of the next event of app on
// node; the headers are valid until the next call.
func (q *sequencer) stamp(subj wire.Subjects, app, node string) (string, map[string]string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	k := eventSubject{app, node}
	c := q.subs[k]
	if c == nil {
		c = &subjectSeq{subject: subj.Event(app, node), header: map[string]string{bus.HeaderEpoch: q.epoch}}
		q.subs[k] = c
	}
	c.n++
	c.header[bus.HeaderSeq] = strconv.FormatUint(c.n, 10)
	return c.subject, c.header
}

// publishSeq publishes one event of app on node on its event subject,
// with its sequence headers. An event the bus refuses keeps its number,
// so the gap shows. Events are published one at a time (the WebSocket
// reader's order).
func (s *Server) publishSeq(ctx context.Context, app, node string, payload []byte) error {
	subject, header := s.seq.stamp(s.subj, app, node)
	err := s.events.PublishMsg(ctx, bus.Msg{Subject: subject, Header: header, Data: payload})
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
